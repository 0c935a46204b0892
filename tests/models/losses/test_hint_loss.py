import pytest
import torch
import torch.nn.functional as F

from mmfsp.models.losses import HintLoss, hint_l2


def test_half_squared_norm_per_sample_over_batch():
    s = torch.zeros(2, 1, 2, 2)
    t = torch.ones(2, 1, 2, 2)
    t[1] = 2.0
    # sample 0: 0.5 * 4 * 1 = 2; sample 1: 0.5 * 4 * 4 = 8
    torch.testing.assert_close(hint_l2(s, t), torch.tensor([2.0, 8.0]))
    torch.testing.assert_close(HintLoss()(s, t), torch.tensor(5.0))
    torch.testing.assert_close(
        HintLoss(loss_weight=3.0)(s, t), torch.tensor(15.0))


def test_mean_reduction_is_mse():
    s, t = torch.randn(3, 4, 2, 2), torch.randn(3, 4, 2, 2)
    torch.testing.assert_close(
        HintLoss(reduction='mean')(s, t), F.mse_loss(s, t))
    torch.testing.assert_close(
        HintLoss()(s, t), F.mse_loss(s, t) * 16 / 2)


def test_teacher_gets_no_gradient():
    s = torch.randn(2, 3, 2, 2, requires_grad=True)
    t = torch.randn(2, 3, 2, 2, requires_grad=True)
    HintLoss()(s, t).backward()
    torch.testing.assert_close(s.grad, (s - t).detach() / 2)
    assert t.grad is None


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match=r'\(2, 3, 4, 4\).*\(2, 8, 4, 4\)'):
        HintLoss()(torch.zeros(2, 3, 4, 4), torch.zeros(2, 8, 4, 4))
    with pytest.raises(ValueError, match='reduction'):
        HintLoss(reduction='sum')
