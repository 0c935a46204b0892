import pytest
import torch
from mmpretrain.models import ResNet

from mmfsp.models import StagedResNet


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_resnet20_cub_student_builds_and_runs():
    net = StagedResNet(stage_blocks=(2, 2, 3, 2), out_indices=(0, 1, 2, 3))
    net.init_weights()
    outs = net(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512]
    assert [len(getattr(net, f'layer{i}')) for i in (1, 2, 3, 4)] == \
        [2, 2, 3, 2]


@pytest.mark.parametrize('blocks,depth', [((2, 2, 2, 2), 18),
                                          ((3, 4, 6, 3), 34)])
def test_same_as_mmpretrain_resnet(blocks, depth):
    ours, theirs = StagedResNet(stage_blocks=blocks), ResNet(depth=depth)
    assert n_params(ours) == n_params(theirs)
    assert [n for n, _ in ours.named_parameters()] == \
        [n for n, _ in theirs.named_parameters()]


def test_bottleneck_and_bad_blocks():
    net = StagedResNet(stage_blocks=(3, 4, 6, 3), block='Bottleneck')
    assert n_params(net) == n_params(ResNet(depth=50))
    with pytest.raises(ValueError, match='block must be one of'):
        StagedResNet(block='Dense')
    with pytest.raises(ValueError, match='stage_blocks'):
        StagedResNet(stage_blocks=(2, 0, 2, 2))


def test_fewer_stages_and_out_indices():
    net = StagedResNet(stage_blocks=(2, 2))  # the last stage by default
    assert net.out_indices == (1, )
    assert net(torch.randn(2, 3, 32, 32))[0].shape == (2, 128, 4, 4)
    with pytest.raises(ValueError, match='out_indices must index the 2'):
        StagedResNet(stage_blocks=(2, 2), out_indices=(3, ))


def test_paper_init_no_zero_init_residual():
    """MSRA convs and unit BN scales, as the FSP paper's nets (and mmfsp's
    CifarResNet); mmpretrain's ResNet zero-inits each block's last BN."""
    net = StagedResNet(stage_blocks=(2, 2, 3, 2))
    net.init_weights()
    gammas = [net.layer1[0].norm2.weight, net.layer4[1].norm2.weight]
    assert all(bool((g == 1).all()) for g in gammas)
    zeroed = StagedResNet(stage_blocks=(2, 2, 3, 2), zero_init_residual=True)
    zeroed.init_weights()
    assert bool((zeroed.layer1[0].norm2.weight == 0).all())
