"""Installation script of mmfsp.

``pip install -e .`` installs mmfsp on top of torch / torchvision / mmengine /
mmpretrain. Like mmpretrain, mmfsp does not require mmcv in
``install_requires``: which mmcv a machine has (a full ``mmcv`` built for its
CUDA, or the pure-Python ``mmcv-lite``, which is all mmfsp needs) is the
user's choice, and a requirement decided inside pip's isolated build
environment cannot see what is installed. ``pip install mmfsp[lite]`` adds
``mmcv-lite``; ``pip install mmfsp[mim]`` (or ``mim install mmcv``) the full
one.

Like mmpretrain's, the package carries OpenMMLab's ``.mim`` layout:
``mmfsp/.mim/{configs,tools,model-index.yml}``, which ``mim`` (``mim train
mmfsp CONFIG``, ``mim search mmfsp``) and mmengine (``_base_ =
['mmfsp::fsp/<config>.py']``) read. :func:`add_mim_extension` copies the
three into ``mmfsp/.mim`` for a wheel or an sdist and symlinks them there for
an editable install (``pip install -e .`` runs ``editable_wheel``, the old
``setup.py develop`` ``develop``), so that the configs a user edits in the
checkout are the ones ``mmfsp::`` finds. ``mmfsp/.mim`` is not tracked.
"""
import os
import os.path as osp
import platform
import shutil
import sys
import warnings

from setuptools import find_packages, setup

MIM_FILES = ('tools', 'configs', 'model-index.yml')

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


def add_mim_extension() -> None:
    """Add the files that MIM needs into the package (mmpretrain's
    ``add_mim_extension``): symlinks to the originals for an editable
    install, copies for a wheel or an sdist; nothing for other commands."""
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        # pip install -e . (PEP 660: editable_wheel; legacy: develop);
        # symlinks fail on Windows
        mode = 'copy' if platform.system() == 'Windows' else 'symlink'
    elif 'sdist' in sys.argv or 'bdist_wheel' in sys.argv:
        mode = 'copy'  # pip install . / pip wheel . / python -m build
    else:
        return

    repo_path = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo_path, 'mmfsp', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for filename in MIM_FILES:
        src_path = osp.join(repo_path, filename)
        if not osp.exists(src_path):
            continue
        tar_path = osp.join(mim_path, filename)
        if osp.isfile(tar_path) or osp.islink(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)
        if mode == 'symlink':
            os.symlink(osp.relpath(src_path, osp.dirname(tar_path)), tar_path)
        elif osp.isfile(src_path):
            shutil.copyfile(src_path, tar_path)
        elif osp.isdir(src_path):
            shutil.copytree(
                src_path,
                tar_path,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            warnings.warn(f'Cannot copy file {src_path}.')


add_mim_extension()
setup(
    name='mmfsp',
    version=_version(),
    description='FSP knowledge distillation and tolerant-teacher generations '
    'for the OpenMMLab training loop',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    # mmfsp/.mim (MANIFEST.in): configs, tools, model-index.yml
    include_package_data=True,
    install_requires=_requirements(),
    extras_require={'tests': ['pytest'], **MMCV},
    license='Apache License 2.0',
    zip_safe=False,
)
