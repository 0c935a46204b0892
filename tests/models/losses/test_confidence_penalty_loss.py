import math

import pytest
import torch
import torch.nn.functional as F

from mmfsp.models.losses import ConfidencePenaltyLoss, softmax_entropy

LOGITS = torch.tensor([[2.0, 0.0, -1.0], [0.1, 0.3, 0.2]])
LABELS = torch.tensor([0, 2])


def hand_entropy(row: list[float]) -> float:
    z = sum(math.exp(v) for v in row)
    probs = [math.exp(v) / z for v in row]
    return -sum(p * math.log(p) for p in probs)


def test_entropy_matches_hand_computation():
    expected = torch.tensor([hand_entropy(r) for r in LOGITS.tolist()])
    torch.testing.assert_close(softmax_entropy(LOGITS), expected)
    # uniform output: log C; saturated output stays finite and ~0
    assert softmax_entropy(torch.zeros(1, 4)).item() == pytest.approx(
        math.log(4))
    assert softmax_entropy(torch.tensor([[1e4, 0.0, 0.0]])).item() == 0.0


def test_loss_is_ce_minus_beta_entropy():
    beta = 0.3
    ce = F.cross_entropy(LOGITS, LABELS, reduction='none')
    expected = ce - beta * softmax_entropy(LOGITS)
    loss = ConfidencePenaltyLoss(beta=beta, loss_weight=2.0)
    torch.testing.assert_close(
        loss(LOGITS, LABELS, avg_factor=2), 2.0 * expected.mean())
    torch.testing.assert_close(
        loss(LOGITS, LABELS, reduction_override='sum'), 2.0 * expected.sum())
    torch.testing.assert_close(
        ConfidencePenaltyLoss(beta=0.0)(LOGITS, LABELS),
        F.cross_entropy(LOGITS, LABELS))


def test_penalty_lowers_confidence():
    """The entropy bonus pulls the top probability down where CE alone
    pushes it up."""
    logits = torch.tensor([[4.0, 0.0, 0.0]], requires_grad=True)
    ConfidencePenaltyLoss(beta=5.0)(logits, torch.tensor([0])).backward()
    assert logits.grad[0, 0] > 0


def test_negative_beta_refused():
    with pytest.raises(ValueError, match='beta'):
        ConfidencePenaltyLoss(beta=-0.1)
