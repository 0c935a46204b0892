"""FSP loss (Yim et al., CVPR 2017, eq. 2):
(1/B) sum_b sum_i lambda_i ||G_T - G_S||_F^2."""
import pytest
import torch
import torch.nn.functional as F

from mmfsp.models.losses import FSPLoss, fsp_loss
from mmfsp.registry import MODELS


def test_by_hand_one_pair():
    # B = 2, 1x2 matrices. Sample 0: diff (1, 2) -> 5; sample 1: (0, 3) -> 9.
    g_s = torch.tensor([[[0., 0.]], [[1., 1.]]])
    g_t = torch.tensor([[[1., 2.]], [[1., 4.]]])
    assert fsp_loss(g_s, g_t).item() == pytest.approx((5 + 9) / 2)


def test_by_hand_two_pairs_with_weights():
    s1 = torch.zeros(2, 1, 1)
    t1 = torch.tensor([[[1.]], [[3.]]])  # squared: 1, 9
    s2 = torch.zeros(2, 2, 1)
    t2 = torch.tensor([[[1.], [1.]], [[2.], [0.]]])  # squared sums: 2, 4
    # (1/2) * [(0.5*1 + 2*2) + (0.5*9 + 2*4)] = (4.5 + 12.5) / 2
    loss = fsp_loss([s1, s2], [t1, t2], pair_weights=[0.5, 2.0])
    assert loss.item() == pytest.approx(8.5)
    module = FSPLoss(loss_weight=3.0, pair_weights=[0.5, 2.0])
    assert module([s1, s2], [t1, t2]).item() == pytest.approx(25.5)


def test_matches_loop_and_differs_from_mean_variant():
    g = torch.Generator().manual_seed(0)
    shapes = [(3, 16, 16), (3, 16, 32), (3, 32, 64)]
    s = [torch.randn(*sh, generator=g) for sh in shapes]
    t = [torch.randn(*sh, generator=g) for sh in shapes]
    expected = 0.0
    for b in range(3):
        for gs, gt in zip(s, t):
            expected += float(((gt[b] - gs[b])**2).sum())
    expected /= 3
    assert fsp_loss(s, t).item() == pytest.approx(expected, rel=1e-5)
    # The "mean over entries" variant of other libraries is smaller.
    mean_variant = sum(F.mse_loss(a, b) for a, b in zip(s, t))
    assert mean_variant.item() < expected / 100


def test_gradient_and_registry():
    loss = MODELS.build(dict(type='FSPLoss'))
    s = torch.randn(2, 3, 4, requires_grad=True)
    t = torch.randn(2, 3, 4)
    out = loss([s], [t])
    out.backward()
    torch.testing.assert_close(s.grad, 2 * (s - t).detach() / 2)


def test_errors():
    with pytest.raises(ValueError, match='same'):
        fsp_loss([torch.zeros(2, 3, 4)], [torch.zeros(2, 4, 4)])
    with pytest.raises(ValueError, match='as many'):
        fsp_loss([torch.zeros(2, 3, 4)], [])
    with pytest.raises(ValueError, match='pair weights'):
        fsp_loss([torch.zeros(2, 3, 4)], [torch.zeros(2, 3, 4)], [1., 2.])


def test_mean_reduction_by_hand():
    # pair 1: 1x1 matrices, squared diffs 1 and 9 -> per entry 1, 9
    # pair 2: 2x1 matrices, squared sums 2 and 4 -> per entry 1, 2
    s1 = torch.zeros(2, 1, 1)
    t1 = torch.tensor([[[1.]], [[3.]]])
    s2 = torch.zeros(2, 2, 1)
    t2 = torch.tensor([[[1.], [1.]], [[2.], [0.]]])
    # (1/2) * [(0.5*1 + 2*1) + (0.5*9 + 2*2)] = (2.5 + 8.5) / 2
    loss = fsp_loss([s1, s2], [t1, t2], [0.5, 2.0], reduction='mean')
    assert loss.item() == pytest.approx(5.5)
    module = FSPLoss(loss_weight=2.0, pair_weights=[0.5, 2.0],
                     reduction='mean')
    assert module([s1, s2], [t1, t2]).item() == pytest.approx(11.0)
    assert "reduction='mean'" in repr(module)


def test_mean_reduction_equals_mse_of_other_libraries():
    g = torch.Generator().manual_seed(1)
    shapes = [(3, 16, 16), (3, 16, 32), (3, 32, 64)]
    s = [torch.randn(*sh, generator=g) for sh in shapes]
    t = [torch.randn(*sh, generator=g) for sh in shapes]
    expected = sum(F.mse_loss(a, b) for a, b in zip(s, t))
    torch.testing.assert_close(fsp_loss(s, t, reduction='mean'), expected)


def test_unknown_reduction_is_refused():
    with pytest.raises(ValueError, match="'sum', 'mean'"):
        FSPLoss(reduction='average')
    with pytest.raises(ValueError, match='reduction'):
        fsp_loss([torch.zeros(2, 3, 4)], [torch.zeros(2, 3, 4)],
                 reduction='none')
