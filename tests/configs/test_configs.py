"""Every shipped config loads (``_base_`` inheritance, ``mmpretrain::``
bases), its model builds, and its file name says what it trains, the
OpenMMLab way (configs/RENAMED.md): ``<algo>_<teacher>_<student>_<gpus>xb
<batch>_<dataset>[_<variant>]`` for distillation,
``<model>_<gpus>xb<batch>_<dataset>[_<schedule>]`` for plain classifiers,
``tolerant-<setting>_<model>_...`` for generations, with the real batch and
the metafile's entry."""
import re
from pathlib import Path

import pytest
import torch
import yaml
from mmengine.config import Config

from mmfsp.registry import MODELS

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
CONFIGS = sorted(
    p for p in CONFIG_DIR.rglob('*.py') if '_base_' not in p.parts)
DATASETS = {
    'CIFAR10': 'cifar10',
    'CIFAR100': 'cifar100',
    'CUB': 'cub',
    'FashionMNIST': 'fashion-mnist',
    'ImageNet': 'in1k',
}
DISTILL_FOLDERS = ('fsp', 'kd', 'fitnet')


def network_name(backbone) -> str:
    """The name field of a network: resnet<depth>[x<width>], or
    densenet-bc<depth>-k<growth rate>."""
    if backbone.type == 'DenseNetBC':
        return f'densenet-bc{backbone.depth}-k{backbone.growth_rate}'
    if backbone.type == 'StagedResNet':  # BasicBlocks: 2 convs per block
        depth = 2 * sum(backbone.stage_blocks) + 2
    else:
        depth = backbone.depth
    widen = backbone.get('widen_factor', 1)
    return f'resnet{depth}' + (f'x{widen}' if widen != 1 else '')


def metafile_entry(path: Path) -> dict:
    meta = yaml.safe_load((path.parent / 'metafile.yml').read_text())
    entry, = [m for m in meta['Models'] if m['Name'] == path.stem]
    return entry


def test_configs_exist():
    kinds = {p.parent.name for p in CONFIGS}
    assert 'resnet' in kinds
    assert len(CONFIGS) >= 14


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(
    p.relative_to(CONFIG_DIR)))
def test_config_loads_and_model_builds(path, tmp_path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmfsp'
    check_name(path, cfg)
    for key in ('train_dataloader', 'optim_wrapper', 'train_cfg'):
        assert key in cfg, f'{path.name} has no {key}'
    model_cfg = cfg.model
    if model_cfg.get('teacher_ckpt') is not None:
        # Distillation configs name a teacher checkpoint users train first;
        # stand in one with random weights of the teacher's architecture.
        teacher = MODELS.build(model_cfg.teacher)
        ckpt = tmp_path / 'teacher.pth'
        torch.save({'state_dict': teacher.state_dict()}, ckpt)
        model_cfg.teacher_ckpt = str(ckpt)
        _strip_pretrained(model_cfg.teacher)
    _strip_pretrained(model_cfg)
    model = MODELS.build(model_cfg)
    assert sum(p.numel() for p in model.parameters()) > 0


def check_name(path: Path, cfg: Config) -> None:
    folder, fields = path.parent.name, path.stem.split('_')
    model = cfg.model
    if folder in DISTILL_FOLDERS:
        algo, teacher, student, gpus_batch, data = fields[:5]
        assert algo.split('-')[0] == folder, path.stem
        if 'architecture' in model:
            assert teacher == network_name(model.teacher.backbone)
            assert student == network_name(model.architecture.backbone)
        else:  # a stage-2 config: the student as a plain classifier
            assert student == network_name(model.backbone)
    else:
        name, gpus_batch, data = fields[:3]
        if folder == 'tolerant':
            setting, name = name, fields[1]
            gpus_batch, data = fields[2:4]
            assert re.fullmatch(r'tolerant-[a-z0-9-]+', setting), path.stem
            assert 'generations' in cfg
        assert name == network_name(model.backbone), path.stem
    gpus, batch = map(int, re.fullmatch(r'(\d+)xb(\d+)', gpus_batch).groups())
    assert batch == cfg.train_dataloader.batch_size, path.stem
    assert data == DATASETS[cfg.train_dataloader.dataset.type], path.stem
    entry = metafile_entry(path)
    assert entry['Metadata']['Batch Size'] == gpus * batch
    key = 'max_epochs' if 'max_epochs' in cfg.train_cfg else 'max_iters'
    assert cfg.train_cfg[key] in entry['Metadata'].values(), path.stem
    teacher_ckpt = model.get('teacher_ckpt')
    if teacher_ckpt:  # work_dirs/<teacher config>/iter_N.pth
        teacher_cfg = teacher_ckpt.split('/')[1]
        assert entry['Metadata']['Teacher Config'] == \
            f'configs/resnet/{teacher_cfg}.py', path.stem


def _strip_pretrained(cfg) -> None:
    """Drop ImageNet ``Pretrained`` init (no download in tests)."""
    backbone = cfg.get('backbone') or cfg.get('architecture', {}).get(
        'backbone')
    if backbone is not None:
        backbone.pop('init_cfg', None)
