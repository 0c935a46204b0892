"""Installation script of mmfsp.

``pip install -e .`` installs mmfsp on top of torch / torchvision / mmengine /
mmpretrain. Like mmpretrain, mmfsp does not require mmcv in
``install_requires``: which mmcv a machine has (a full ``mmcv`` built for its
CUDA, or the pure-Python ``mmcv-lite``, which is all mmfsp needs) is the
user's choice, and a requirement decided inside pip's isolated build
environment cannot see what is installed. ``pip install mmfsp[lite]`` adds
``mmcv-lite``; ``pip install mmfsp[mim]`` (or ``mim install mmcv``) the full
one.
"""
from setuptools import find_packages, setup

MMCV = {
    'lite': ['mmcv-lite>=2.0.0,<2.3'],
    'mim': ['mmcv>=2.0.0,<2.3'],
}


def _requirements() -> list[str]:
    with open('requirements.txt', encoding='utf-8') as f:
        reqs = [line.split('#')[0].strip() for line in f]
    return [r for r in reqs if r]


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
    extras_require={'tests': ['pytest'], **MMCV},
    license='Apache License 2.0',
    zip_safe=False,
)
