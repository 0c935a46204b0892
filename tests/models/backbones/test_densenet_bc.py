import math

import pytest
import torch
from mmengine.config import Config
from mmpretrain.models.backbones.densenet import DenseBlock, DenseTransition
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmfsp.models import DenseNetBC
from mmfsp.registry import MODELS
from tests.conftest import REPO_ROOT

MODEL_CFGS = REPO_ROOT / 'configs' / '_base_' / 'models'


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def densenet_bc_param_count(depth: int, growth: int, classes: int,
                            in_channels: int = 3) -> int:
    """DenseNet-BC counted by hand (Huang et al. 2017): convolutions without
    bias, BN (weight + bias) before each, a linear classifier."""
    n = (depth - 4) // 6
    channels = 2 * growth
    total = 9 * in_channels * channels  # the 3x3 stem
    for block in range(3):
        for _ in range(n):
            total += 2 * channels + channels * 4 * growth  # BN, 1x1
            total += 2 * 4 * growth + 9 * 4 * growth * growth  # BN, 3x3
            channels += growth
        total += 2 * channels  # BN of the transition / the final BN
        if block < 2:
            out = math.floor(channels * 0.5)
            total += channels * out  # 1x1 compression
            channels = out
    return total + channels * classes + classes


#: channels of the last dense block's output (after its BN-ReLU)
OUT_CHANNELS = {(100, 12): 342, (190, 40): 2190}


def classifier(depth: int, growth: int, classes: int = 100):
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='DenseNetBC', depth=depth, growth_rate=growth),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=classes,
                in_channels=OUT_CHANNELS[depth, growth])))


@pytest.mark.parametrize(
    'depth, growth, classes, exact, published',
    [
        # Huang et al. (2017), Table 2: DenseNet-BC (L=100, k=12) 0.8M,
        # DenseNet-BC (L=190, k=40) 25.6M parameters. The table gives one
        # count per network; 25.6M is the count with CIFAR-10's 10 classes,
        # a 100-class head adds 90 * 2190 + 90 weights (25.8M).
        (100, 12, 100, 800_032, 0.8e6),
        (100, 12, 10, 769_162, 0.8e6),
        (190, 40, 10, 25_624_430, 25.6e6),
        (190, 40, 100, 25_821_620, 25.6e6 + 90 * 2190 + 90),
    ])
def test_parameter_counts_as_published(depth, growth, classes, exact,
                                       published):
    model = classifier(depth, growth, classes)
    count = n_params(model)
    assert count == exact
    assert count == densenet_bc_param_count(depth, growth, classes)
    # published figures are rounded to 0.1M (0.05M either way)
    assert abs(count - published) <= 0.05e6


@pytest.mark.parametrize('depth, growth, channels, layers',
                         [(100, 12, 342, 16), (190, 40, 2190, 31)])
def test_structure_and_forward_on_cifar_input(depth, growth, channels,
                                              layers):
    net = DenseNetBC(depth=depth, growth_rate=growth)
    assert isinstance(net.stem, torch.nn.Conv2d)
    assert net.stem.kernel_size == (3, 3) and net.stem.stride == (1, 1)
    assert net.stem.out_channels == 2 * growth
    assert all(isinstance(s, DenseBlock) for s in net.stages)
    assert [len(s.block) for s in net.stages] == [layers] * 3
    assert all(isinstance(t, DenseTransition) for t in net.transitions[:2])
    # the bottleneck 1x1 convolution has 4k channels
    assert net.stages[0].block[0].conv1.out_channels == 4 * growth
    net.eval()
    with torch.no_grad():
        outs = net(torch.randn(2, 3, 32, 32))
    assert len(outs) == 1 and outs[0].shape == (2, channels, 8, 8)
    assert net.out_channels == [channels]
    assert (outs[0] >= 0).all()  # ends with BN-ReLU


def test_classifier_forward_and_every_block_output():
    model = classifier(100, 12)
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 32, 32), mode='tensor')
    assert logits.shape == (2, 100)
    net = DenseNetBC(
        depth=40, growth_rate=12, in_channels=1, out_indices=(0, 1, 2))
    outs = net(torch.randn(2, 1, 28, 28))
    # 24 + 6 * 12 = 96 -> 48; 48 + 72 = 120 -> 60; 60 + 72 = 132
    assert [tuple(o.shape[1:]) for o in outs] == [(48, 14, 14),
                                                  (60, 7, 7),
                                                  (132, 7, 7)]
    assert net.out_channels == [48, 60, 132]


def test_default_init_is_he_normal_fan_out():
    net = DenseNetBC(depth=40, growth_rate=12)
    net.init_weights()
    conv = net.stages[2].block[0].conv2  # 3x3, 48 -> 12 channels
    expected_std = math.sqrt(2 / (12 * 9))  # fan-out: out channels x 3 x 3
    assert conv.weight.std().item() == pytest.approx(expected_std, rel=0.1)


@pytest.mark.parametrize('kwargs, match', [
    (dict(depth=101), '6n\\+4'),
    (dict(depth=4), '6n\\+4'),
    (dict(growth_rate=0), 'growth_rate'),
    (dict(compression_factor=0), 'compression_factor'),
    (dict(out_indices=(3, )), 'out_indices'),
    (dict(frozen_stages=4), 'frozen_stages'),
])
def test_invalid_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DenseNetBC(**kwargs)


def test_frozen_stages_stop_gradients():
    net = DenseNetBC(depth=40, growth_rate=12, frozen_stages=1)
    net.train()
    assert not any(p.requires_grad for p in net.stages[0].parameters())
    assert not net.stages[0].training
    assert all(p.requires_grad for p in net.stages[1].parameters())


@pytest.mark.parametrize('name, depth, growth', [
    ('densenet-bc100-k12_cifar100.py', 100, 12),
    ('densenet-bc190-k40_cifar100.py', 190, 40),
])
def test_model_configs_build_in_both_scopes(name, depth, growth):
    cfg = Config.fromfile(str(MODEL_CFGS / name))
    assert cfg.model.backbone.depth == depth
    assert cfg.model.backbone.growth_rate == growth
    model = MODELS.build(cfg.model)
    assert model.head.fc.in_features == model.backbone.out_channels[-1]
    assert model.head.fc.out_features == 100
    # registered in mmpretrain's registry too (mmpretrain's own APIs)
    assert MMPRETRAIN_MODELS.get('DenseNetBC') is DenseNetBC
