"""mmfsp.models.utils.conv_bn_rescale: which convs feed a batch norm, the
rescaling keeps the function (train and eval mode) and sets the norms, fresh
initial norms, and the errors."""
import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModule
from torch import nn

from mmfsp.models.utils import (conv_bn_pairs, fresh_init_conv_norms,
                                rescale_conv_bn_norms)
from mmfsp.models.utils.conv_bn_rescale import conv_weight_norms_of
from mmfsp.registry import MODELS
from tests.conftest import REPO_ROOT

R8 = str(REPO_ROOT / 'configs/resnet/resnet8_1xb128_fashion-mnist.py')


def _resnet8():
    torch.manual_seed(0)
    model = MODELS.build(dict(Config.fromfile(R8).model))
    model.init_weights()
    return model


class _Shared(nn.Module):
    """conv a feeds a BN and a ReLU (not scale-free); conv b feeds a BN."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 3, 3, padding=1)
        self.bn_a = nn.BatchNorm2d(3)
        self.b = nn.Conv2d(3, 3, 1, bias=True)
        self.bn_b = nn.BatchNorm2d(3)

    def forward(self, x):
        y = self.a(x)
        return self.bn_b(self.b(self.bn_a(y) + y.relu()))


def test_pairs_of_a_cifar_resnet_cover_every_conv():
    backbone = _resnet8().backbone
    pairs = conv_bn_pairs(backbone)
    convs = [n for n, m in backbone.named_modules()
             if isinstance(m, nn.Conv2d)]
    assert sorted(c for c, _ in pairs) == sorted(convs) and len(convs) == 9
    assert ('layer2.0.downsample.0', 'layer2.0.downsample.1') in pairs
    assert ('conv1', 'bn1') in pairs


def test_a_conv_with_another_consumer_is_not_a_pair():
    assert conv_bn_pairs(_Shared()) == [('b', 'bn_b')]
    with pytest.raises(ValueError, match=r"cannot rescale \['a'\].*"
                       r"Those that do: \['b'\]"):
        rescale_conv_bn_norms(_Shared(), {'a': 1.0})


@pytest.mark.parametrize('grow', [0.1, 7.0])
def test_rescaling_keeps_the_function_and_sets_the_norms(grow):
    model = _resnet8().double()
    backbone = model.backbone
    for module in backbone.modules():  # exact up to BN's eps: make it tiny
        if isinstance(module, nn.BatchNorm2d):
            module.eps = 1e-12
    x = torch.randn(6, 1, 28, 28, dtype=torch.float64)
    with torch.no_grad():  # norms changed as a stage 1 would, and BN stats
        for name, module in backbone.named_modules():
            if isinstance(module, nn.Conv2d):
                module.weight.mul_(grow)
        backbone.train()
        backbone(x)
    convs = [c for c, _ in conv_bn_pairs(backbone)]
    targets = {c: 1.0 + i for i, c in enumerate(convs)}
    with torch.no_grad():  # (a train-mode forward updates the BN stats)
        train_before = backbone(x)[-1]
        backbone.eval()
        eval_before = backbone(x)[-1]
    factors = rescale_conv_bn_norms(backbone, targets)
    norms = conv_weight_norms_of(backbone, convs)
    assert norms == pytest.approx(targets)
    assert set(factors) == set(convs)
    with torch.no_grad():
        eval_after = backbone(x)[-1]
        backbone.train()
        train_after = backbone(x)[-1]
    torch.testing.assert_close(train_after, train_before, rtol=1e-6,
                               atol=1e-6)
    torch.testing.assert_close(eval_after, eval_before, rtol=1e-6,
                               atol=1e-6)


def test_conv_bias_and_running_stats_follow():
    torch.manual_seed(0)
    module = _Shared().double().eval()
    module.bn_b.running_mean.fill_(2.0)
    module.bn_b.running_var.fill_(8.0)
    bias = module.b.bias.detach().clone()
    c = module.b.weight.norm().item() / 0.5
    rescale_conv_bn_norms(module, {'b': 0.5})
    torch.testing.assert_close(module.b.bias, bias / c)
    torch.testing.assert_close(module.bn_b.running_mean,
                               torch.full((3, ), 2.0 / c,
                                          dtype=torch.float64))
    torch.testing.assert_close(module.bn_b.running_var,
                               torch.full((3, ), 8.0 / c**2,
                                          dtype=torch.float64))


def test_fresh_init_norms_are_those_of_an_init_and_keep_the_rng():
    model = _resnet8()
    convs = [f'backbone.{c}' for c, _ in conv_bn_pairs(model.backbone)]
    with torch.no_grad():
        for name in convs:
            model.get_submodule(name).weight.mul_(10)
    grown = conv_weight_norms_of(model, convs)
    torch.manual_seed(5)
    expected_next = torch.rand(3)
    torch.manual_seed(5)
    fresh = fresh_init_conv_norms(model, convs)
    assert torch.equal(torch.rand(3), expected_next)
    assert conv_weight_norms_of(model, convs) == grown  # model untouched
    # Kaiming normal, fan_out: ||w||^2 ~ 2 * in_channels
    assert fresh['backbone.layer3.0.conv2'] == pytest.approx(
        (2 * 64)**0.5, rel=0.05)
    assert all(grown[c] / fresh[c] > 8 for c in convs)


def test_fresh_init_that_does_not_cover_a_conv_is_refused():

    class NoInit(BaseModule):

        def __init__(self):
            super().__init__(init_cfg=None)
            self.conv = nn.Conv2d(1, 2, 3)
            self.bn = nn.BatchNorm2d(2)

        def forward(self, x):
            return self.bn(self.conv(x))

    with pytest.raises(ValueError, match=r"did not re-initialise "
                       r"\['conv'\].*init_cfg"):
        fresh_init_conv_norms(NoInit(), ['conv'])
    # a plain module re-initialises with reset_parameters
    plain = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    assert set(fresh_init_conv_norms(plain, ['0'])) == {'0'}


def test_an_untraceable_module_is_named():

    class Dynamic(nn.Module):

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)

        def forward(self, x):
            return self.conv(x) if x.sum() > 0 else x

    with pytest.raises(TypeError, match='Dynamic: torch.fx cannot trace'):
        conv_bn_pairs(Dynamic())
