import pytest
import torch
from mmpretrain.models import ImageClassifier

from mmfsp.models import CifarResNet
from mmfsp.registry import MODELS


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def cifar_resnet_param_count(depth: int, classes: int = 10, width: int = 1,
                             in_channels: int = 3,
                             projection_shortcuts: bool = True) -> int:
    """He et al.'s CIFAR ResNet-(6n+2) counted by hand: 3x3 convs without
    bias, BN (weight + bias) after each conv, a 1x1 conv + BN shortcut where
    the shape changes (option B) and a linear classifier."""
    n = (depth - 2) // 6
    ch = [16 * width, 32 * width, 64 * width]
    total = 9 * in_channels * ch[0] + 2 * ch[0]
    c_in = ch[0]
    for c in ch:
        for block in range(n):
            total += 9 * c_in * c + 2 * c + 9 * c * c + 2 * c
            if c_in != c and projection_shortcuts:
                total += c_in * c + 2 * c
            c_in = c
    return total + ch[2] * classes + classes


def cifar_classifier(depth: int, width: int = 1, classes: int = 10,
                     in_channels: int = 3) -> ImageClassifier:
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='CifarResNet',
                depth=depth,
                widen_factor=width,
                in_channels=in_channels),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=classes,
                in_channels=64 * width)))


@pytest.mark.parametrize('depth', [8, 14, 20, 26, 32, 44, 56, 110])
def test_every_depth_builds_and_runs(depth):
    net = CifarResNet(depth=depth)
    net.init_weights()
    feats = net(torch.randn(2, 3, 32, 32))
    assert len(feats) == 1 and feats[0].shape == (2, 64, 8, 8)
    n = (depth - 2) // 6
    assert [len(getattr(net, f'layer{i}')) for i in (1, 2, 3)] == [n] * 3


def test_width_multiplier_and_grey_input():
    net = CifarResNet(depth=14, widen_factor=4, in_channels=1,
                      out_indices=(0, 1, 2))
    outs = net(torch.randn(2, 1, 28, 28))
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 28, 28),
                                                  (128, 14, 14),
                                                  (256, 7, 7)]


def test_fractional_width():
    """widen_factor 0.5: 8/16/32 channels; a width that would not give a
    whole number of channels is refused with the rule."""
    net = CifarResNet(depth=8, widen_factor=0.5, in_channels=1,
                      out_indices=(0, 1, 2))
    outs = net(torch.randn(2, 1, 28, 28))
    assert [o.shape[1] for o in outs] == [8, 16, 32]
    assert net.conv1.out_channels == 8
    for bad in (0.3, 0, -1, 1 / 32):
        with pytest.raises(ValueError, match='whole number of channels'):
            CifarResNet(depth=8, widen_factor=bad)


@pytest.mark.parametrize('depth', [7, 9, 0, 21])
def test_invalid_depth_names_the_rule(depth):
    with pytest.raises(ValueError, match='6n\\+2'):
        CifarResNet(depth=depth)


def test_resnet20_matches_the_standard_count():
    model = cifar_classifier(20)
    assert n_params(model) == cifar_resnet_param_count(20)
    # He et al. (2016), Table 6: ResNet-20 has 0.27M parameters. Without the
    # two projection shortcuts (their option A) the count is 269,722.
    shortcuts = sum(
        p.numel() for name, p in model.named_parameters()
        if 'downsample' in name)
    assert n_params(model) - shortcuts == 269_722
    assert n_params(model) == 272_474


def test_resnet8_matches_the_standard_count():
    model = cifar_classifier(8)
    assert n_params(model) == cifar_resnet_param_count(8) == 78_042


def test_resnet32x4_cifar100_count():
    model = cifar_classifier(32, width=4, classes=100)
    assert n_params(model) == cifar_resnet_param_count(32, 100, 4)
