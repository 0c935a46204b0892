"""mmfsp is packaged the OpenMMLab way (setup.py's ``add_mim_extension``,
MANIFEST.in): the wheel carries ``mmfsp/.mim`` with the configs, the tools
and model-index.yml, an editable install links them, and a config anywhere
inherits an mmfsp config by package name (``mmfsp::``)."""
import os.path as osp
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import torch
from mmengine.config import Config

import mmfsp
from mmfsp.registry import MODELS
from tests.conftest import run_tool

REPO = Path(__file__).resolve().parents[1]
BASE = 'fsp/fsp-paper_resnet26_resnet8_1xb128_fashion-mnist.py'
#: what setup.py needs to build a wheel, copied so that the build (which
#: writes mmfsp/.mim, build/ and *.egg-info) never touches the checkout
SOURCES = ('setup.py', 'MANIFEST.in', 'requirements.txt', 'README.md',
           'model-index.yml', 'mmfsp', 'configs', 'tools')


def test_wheel_contains_configs_tools_and_model_index(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name,
                src / name,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc',
                                              '.mim'))
        else:
            shutil.copy(REPO / name, src / name)
    subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', str(src), '--no-deps',
        '--no-build-isolation', '--no-cache-dir', '-q', '-w',
        str(tmp_path / 'dist')
    ], check=True, cwd=tmp_path, capture_output=True)
    wheel, = (tmp_path / 'dist').glob('mmfsp-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    assert f'mmfsp/.mim/configs/{BASE}' in names
    assert 'mmfsp/.mim/configs/_base_/default_runtime.py' in names
    assert 'mmfsp/.mim/configs/fsp/metafile.yml' in names
    assert 'mmfsp/.mim/tools/train.py' in names
    assert 'mmfsp/.mim/tools/dist_train.sh' in names
    assert 'mmfsp/.mim/model-index.yml' in names
    assert not [n for n in names if '__pycache__' in n or n.startswith(
        ('tests/', 'configs/', 'tools/'))]
    shipped = {
        f'mmfsp/.mim/{p.relative_to(REPO)}'
        for p in (REPO / 'configs').rglob('*.py')
    }
    assert shipped <= names


def test_this_install_links_the_checkout_s_configs():
    """An editable install (``pip install -e .``) symlinks mmfsp/.mim/* to
    the checkout, so ``mmfsp::`` finds the configs being edited."""
    mim = Path(mmfsp.__file__).parent / '.mim'
    assert (mim / 'configs' / BASE).is_file(), (
        f'{mim} has no configs: reinstall mmfsp (pip install -e .)')
    assert (mim / 'model-index.yml').is_file()
    assert (mim / 'tools' / 'train.py').is_file()
    if Path(mmfsp.__file__).parent == REPO / 'mmfsp':  # the checkout
        assert osp.samefile(mim / 'configs', REPO / 'configs')


def _without_scope(value):
    """mmengine tags what a config inherits from a package's base with
    ``_scope_='<package>'``; mmfsp's scope is the default one anyway."""
    if isinstance(value, dict):
        return {k: _without_scope(v) for k, v in value.items()
                if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return type(value)(_without_scope(v) for v in value)
    return value


def _write_user_config(folder: Path) -> Path:
    path = folder / 'my_fsp.py'
    path.write_text(f"_base_ = ['mmfsp::{BASE}']\n"
                    'model = dict(architecture=dict(backbone=dict('
                    'depth=14)))\n')
    return path


def test_config_outside_the_checkout_inherits_by_package_name(tmp_path):
    mine = Config.fromfile(str(_write_user_config(tmp_path))).to_dict()
    original = Config.fromfile(str(REPO / 'configs' / BASE)).to_dict()
    assert original['model']['architecture']['backbone']['depth'] == 8
    original['model']['architecture']['backbone']['depth'] = 14
    assert _without_scope(mine) == _without_scope(original)
    assert 'work_dir' not in mine  # tools/train.py: work_dirs/my_fsp


def test_train_tool_checks_a_config_inheriting_by_package_name(
        tmp_path, monkeypatch, capsys, fashion_mnist_root):
    cfg = _write_user_config(tmp_path)
    teacher = Config.fromfile(str(REPO / 'configs' / BASE)).model.teacher
    ckpt = tmp_path / 'teacher.pth'
    torch.save({'state_dict': MODELS.build(teacher).state_dict()}, ckpt)
    run_tool('train.py',
             [cfg, '--check', '--cfg-options', f'model.teacher_ckpt={ckpt}'],
             monkeypatch)
    assert 'no error found' in capsys.readouterr().out
