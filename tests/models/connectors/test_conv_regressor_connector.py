"""ConvRegressorConnector: FitNet's regressor from the guided layer's
channels to the hint layer's, inside a distiller with the hint loss."""
import pytest
import torch

from mmfsp.models.connectors import ConvRegressorConnector
from mmfsp.models.distillers import ConfigurableDistiller
from mmfsp.registry import MODELS


@pytest.mark.parametrize('kernel_size', [1, 3])
def test_maps_channels_and_keeps_the_spatial_size(kernel_size):
    r = ConvRegressorConnector(16, 32, kernel_size=kernel_size)
    r.init_weights()
    out = r(torch.randn(2, 16, 8, 8))
    assert out.shape == (2, 32, 8, 8)
    assert r.regressor.conv.kernel_size == (kernel_size, kernel_size)
    assert r.regressor.conv.bias is not None
    assert r.regressor.norm_cfg is None and r.regressor.act_cfg is None


def test_fitnet_valid_convolution_and_norm_act_options():
    # FitNet's rule for a larger guided layer: kernel N_g - N_h + 1, no pad.
    r = ConvRegressorConnector(8, 4, kernel_size=5, padding=0,
                               norm_cfg=dict(type='BN'),
                               act_cfg=dict(type='ReLU'))
    out = r(torch.randn(2, 8, 12, 12))
    assert out.shape == (2, 4, 8, 8) and bool((out >= 0).all())


def test_wrong_channels_and_arguments_are_explained():
    r = ConvRegressorConnector(16, 32)
    with pytest.raises(ValueError, match='in_channels'):
        r(torch.randn(2, 32, 8, 8))
    with pytest.raises(ValueError, match='kernel_size'):
        ConvRegressorConnector(16, 32, kernel_size=0)


def test_hint_loss_through_the_regressor_trains_it():
    d = ConfigurableDistiller(
        student_recorders=dict(g=dict(type='ModuleOutputs', source='0')),
        teacher_recorders=dict(h=dict(type='ModuleOutputs', source='0')),
        connectors=dict(reg=dict(
            type='ConvRegressorConnector', in_channels=4, out_channels=8)),
        distill_losses=dict(loss_hint=dict(type='HintLoss')),
        loss_forward_mappings=dict(loss_hint=dict(
            s_feature=dict(from_student=True, recorder='g', connector='reg'),
            t_feature=dict(from_student=False, recorder='h'))))
    student = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1))
    teacher = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1))
    d.prepare_from_student(student)
    d.prepare_from_teacher(teacher)
    x = torch.randn(2, 1, 6, 6)
    with d.teacher_recorders, torch.no_grad():
        teacher(x)
    with d.student_recorders:
        student(x)
    loss = d.compute_distill_losses()['loss_hint']
    loss.backward()
    assert d.connectors['reg'].regressor.conv.weight.grad.abs().sum() > 0
    assert student[0].weight.grad.abs().sum() > 0
    assert MODELS.get('ConvRegressorConnector') is ConvRegressorConnector
