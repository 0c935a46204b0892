"""Installation script of mmfsp.

``pip install -e .`` installs mmfsp on top of torch / torchvision / mmengine /
mmpretrain. mmcv is needed only for its pure-Python parts, so ``mmcv-lite`` is
required unless a full ``mmcv`` (which contains everything ``mmcv-lite`` has) is
already installed: a second copy next to a full mmcv would shadow it.
"""
from importlib import metadata

from setuptools import find_packages, setup


def _has_distribution(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def _requirements() -> list[str]:
    with open('requirements.txt', encoding='utf-8') as f:
        reqs = [line.split('#')[0].strip() for line in f]
    reqs = [r for r in reqs if r]
    if not _has_distribution('mmcv'):
        reqs.append('mmcv-lite>=2.0.0,<2.3')
    return reqs


def _version() -> str:
    scope: dict = {}
    with open('mmfsp/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmfsp',
    version=_version(),
    description='FSP knowledge distillation and tolerant-teacher generations '
    'for the OpenMMLab training loop',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    install_requires=_requirements(),
    extras_require={'tests': ['pytest']},
    license='Apache License 2.0',
    zip_safe=False,
)
