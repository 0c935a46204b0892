import math

import pytest
import torch
import torch.nn.functional as F

from mmfsp.models.losses import KDLoss, generation_loss_cfgs, kd_kl_divergence
from mmfsp.registry import MODELS

S = torch.tensor([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]])
T = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, -1.0]])


def hand_kl(s_row: list[float], t_row: list[float], tau: float) -> float:
    def softmax(row):
        exps = [math.exp(v / tau) for v in row]
        return [e / sum(exps) for e in exps]

    p_s, p_t = softmax(s_row), softmax(t_row)
    return sum(pt * math.log(pt / ps) for pt, ps in zip(p_t, p_s))


@pytest.mark.parametrize('tau', [1.0, 3.0])
def test_matches_hand_kl_with_tau_squared(tau):
    per_sample = [
        tau**2 * hand_kl(s, t, tau) for s, t in zip(S.tolist(), T.tolist())
    ]
    torch.testing.assert_close(kd_kl_divergence(S, T, tau),
                               torch.tensor(per_sample))
    torch.testing.assert_close(
        KDLoss(tau=tau)(S, T), torch.tensor(sum(per_sample) / 2))
    torch.testing.assert_close(
        KDLoss(tau=tau, reduction='sum', loss_weight=0.5)(S, T),
        torch.tensor(0.5 * sum(per_sample)))


def test_tau_one_equals_torch_kl_div_batchmean():
    expected = F.kl_div(
        F.log_softmax(S, 1), F.softmax(T, 1), reduction='batchmean')
    torch.testing.assert_close(KDLoss()(S, T), expected)
    assert KDLoss()(T, T).item() == pytest.approx(0.0, abs=1e-7)


def test_teacher_gets_no_gradient():
    s = S.clone().requires_grad_(True)
    t = T.clone().requires_grad_(True)
    KDLoss(tau=2.0)(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_generation_loss_cfgs():
    lam = 0.6
    head_loss_cfg, kd_cfg = generation_loss_cfgs(lam)
    labels = torch.tensor([0, 1])
    total = MODELS.build(head_loss_cfg)(S, labels) + MODELS.build(kd_cfg)(S, T)
    p_t = F.softmax(T, 1)
    expected = (1 - lam) * F.cross_entropy(S, labels) + lam * (
        p_t * (p_t.log() - F.log_softmax(S, 1))).sum(1).mean()
    torch.testing.assert_close(total, expected)
    with pytest.raises(ValueError, match='lam'):
        generation_loss_cfgs(1.2)


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match=r'\(2, 3\).*\(2, 4\)'):
        KDLoss()(S, torch.zeros(2, 4))
