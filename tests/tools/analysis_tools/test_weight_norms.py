"""tools/analysis_tools/weight_norms.py: the scale invariance it rests on,
the norms, the ratios against a fresh initialisation, and its errors."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import nn

from analysis_tools.weight_norms import (conv_norm_ratios, conv_weight_norms,
                                         initial_conv_weight_norms,
                                         ratio_summary)
from tests.conftest import REPO_ROOT

R8 = str(REPO_ROOT / 'configs/resnet/resnet8_1xb128_fashion-mnist.py')
R26 = str(REPO_ROOT / 'configs/resnet/resnet26_1xb128_fashion-mnist.py')


def test_conv_then_batch_norm_is_scale_invariant_with_shrinking_grads():
    # the premise: w and 3w give the same output, and the gradient at 3w is
    # a third of the one at w (so the effective learning rate is 1/9)
    # (exact up to BN's eps, made negligible here)
    torch.manual_seed(0)
    x = torch.randn(8, 4, 6, 6, dtype=torch.float64)
    target = torch.randn(8, 5, 6, 6, dtype=torch.float64)
    grads, outs = [], []
    for scale in (1.0, 3.0):
        torch.manual_seed(1)
        net = nn.Sequential(nn.Conv2d(4, 5, 3, padding=1, bias=False),
                            nn.BatchNorm2d(5, eps=1e-12)).double()
        with torch.no_grad():
            net[0].weight *= scale
        out = net(x)
        (out - target).pow(2).sum().backward()
        outs.append(out.detach())
        grads.append(net[0].weight.grad.clone())
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(grads[1], grads[0] / 3)


def test_conv_weight_norms_strips_prefix_and_skips_teacher_and_others():
    state = {
        'architecture.backbone.conv1.weight': torch.full((2, 1, 1, 2), 2.0),
        'architecture.backbone.bn1.weight': torch.ones(2),
        'architecture.head.fc.weight': torch.ones(3, 2),
        'teacher.backbone.conv1.weight': torch.ones(2, 1, 1, 2),
        'backbone.layer1.0.conv1.weight': torch.ones(1, 1, 3, 3),
    }
    assert conv_weight_norms(state) == {
        'backbone.conv1.weight': pytest.approx(4.0),
        'backbone.layer1.0.conv1.weight': pytest.approx(3.0)}


def test_initial_norms_are_seeded_and_leave_the_rng_alone():
    cfg = Config.fromfile(R8).model
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = initial_conv_weight_norms(cfg, seed=0)
    after = torch.rand(1)
    assert torch.equal(before, after)  # the caller's RNG is untouched
    assert a == initial_conv_weight_norms(cfg, seed=0)
    # also when no Runner has set the mmfsp scope (a reproduction whose
    # runs were all finished before builds no runner)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert initial_conv_weight_norms(cfg, seed=0) == a
    b = initial_conv_weight_norms(cfg, seed=1)
    assert set(a) == set(b) and a != b
    # Kaiming normal, fan_out: E||w||^2 = 2 * in_channels; draws agree to
    # within a few per cent on the 3x3x16x16 convs
    name = 'backbone.layer1.0.conv1.weight'
    assert a[name] == pytest.approx((2 * 16) ** 0.5, rel=0.1)
    assert b[name] == pytest.approx(a[name], rel=0.1)


def test_ratios_of_a_checkpoint_with_scaled_weights(tmp_path):
    from mmfsp.registry import MODELS
    cfg = Config.fromfile(R8).model
    initial = initial_conv_weight_norms(cfg, seed=0)
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg))
    model.init_weights()
    state = model.state_dict()
    state['backbone.layer2.0.conv1.weight'] *= 5.0
    # a distillation checkpoint: the student under architecture.
    path = tmp_path / 'stage1.pth'
    torch.save(dict(state_dict={f'architecture.{k}': v
                                for k, v in state.items()}), path)
    ratios = conv_norm_ratios(str(path), initial)
    assert ratios['backbone.layer2.0.conv1.weight'] == pytest.approx(5.0)
    others = [v for k, v in ratios.items()
              if k != 'backbone.layer2.0.conv1.weight']
    assert others == pytest.approx([1.0] * len(others))
    summary = ratio_summary(ratios)
    assert summary['max'] == pytest.approx(5.0)
    assert summary['max_layer'] == 'backbone.layer2.0.conv1.weight'
    assert summary['median'] == pytest.approx(1.0)
    assert summary['n'] == len(initial)
    assert ratio_summary({}) is None


def test_ratios_against_another_architecture_name_the_layers(tmp_path):
    from mmfsp.registry import MODELS
    model = MODELS.build(dict(Config.fromfile(R26).model))
    path = tmp_path / 'r26.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    initial = initial_conv_weight_norms(Config.fromfile(R8).model)
    with pytest.raises(ValueError, match=r'r26\.pth.*conv layers differ.*'
                       r'unexpected e\.g\. \[.backbone\.layer1\.1'):
        conv_norm_ratios(str(path), initial)
