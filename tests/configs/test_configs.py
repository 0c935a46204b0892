"""Every shipped config loads (``_base_`` inheritance, ``mmpretrain::``
bases) and its model builds and runs forward."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmfsp.registry import MODELS

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
CONFIGS = sorted(
    p for p in CONFIG_DIR.rglob('*.py') if '_base_' not in p.parts)


def test_configs_exist():
    kinds = {p.parent.name for p in CONFIGS}
    assert 'resnet' in kinds
    assert len(CONFIGS) >= 14


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(
    p.relative_to(CONFIG_DIR)))
def test_config_loads_and_model_builds(path, tmp_path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmfsp'
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


def _strip_pretrained(cfg) -> None:
    """Drop ImageNet ``Pretrained`` init (no download in tests)."""
    backbone = cfg.get('backbone') or cfg.get('architecture', {}).get(
        'backbone')
    if backbone is not None:
        backbone.pop('init_cfg', None)
