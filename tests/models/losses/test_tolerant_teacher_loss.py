import math

import pytest
import torch
import torch.nn.functional as F

from mmfsp.models.losses import (TolerantTeacherLoss, top_score_difference,
                                 tolerant_teacher_weights)
from mmfsp.registry import MODELS

# Two samples, 6 classes; softmax scores known in closed form.
LOGITS = torch.tensor([[3.0, 1.0, 2.0, 0.0, -1.0, 0.5],
                       [0.0, 0.2, -0.3, 2.5, 1.5, 1.0]])
LABELS = torch.tensor([0, 4])


def hand_tsd(logits: torch.Tensor, k: int) -> list[float]:
    out = []
    for row in logits.tolist():
        exps = [math.exp(v) for v in row]
        probs = sorted((e / sum(exps) for e in exps), reverse=True)
        out.append(probs[0] - sum(probs[1:k]) / (k - 1))
    return out


def hand_ce(logits: torch.Tensor, labels: torch.Tensor) -> list[float]:
    return [
        -row[y] + math.log(sum(math.exp(v) for v in row))
        for row, y in zip(logits.tolist(), labels.tolist())
    ]


@pytest.mark.parametrize('k', [2, 3, 5])
def test_tsd_matches_hand_computation(k):
    expected = torch.tensor(hand_tsd(LOGITS, k))
    torch.testing.assert_close(top_score_difference(LOGITS, k), expected)


def test_eta_mixture_matches_hand_computation():
    eta = 0.6
    per_sample = [
        eta * ce + (1 - eta) * tsd
        for ce, tsd in zip(hand_ce(LOGITS, LABELS), hand_tsd(LOGITS, 5))
    ]
    loss = TolerantTeacherLoss(eta=eta, k=5)
    torch.testing.assert_close(
        loss(LOGITS, LABELS, avg_factor=LOGITS.size(0)),
        torch.tensor(sum(per_sample) / 2))
    torch.testing.assert_close(
        loss(LOGITS, LABELS, reduction_override='none'),
        torch.tensor(per_sample))
    weight = torch.tensor([1.0, 0.0])
    torch.testing.assert_close(
        loss(LOGITS, LABELS, weight=weight), torch.tensor(per_sample[0] / 2))


def test_eta_one_is_cross_entropy():
    loss = TolerantTeacherLoss(eta=1.0)
    torch.testing.assert_close(
        loss(LOGITS, LABELS, avg_factor=2), F.cross_entropy(LOGITS, LABELS))
    ce = MODELS.build(dict(type='CrossEntropyLoss'))
    torch.testing.assert_close(
        loss(LOGITS, LABELS, avg_factor=2), ce(LOGITS, LABELS, avg_factor=2))


def test_soft_targets_as_after_batch_augmentation():
    soft = F.one_hot(LABELS, 6).float()
    loss = TolerantTeacherLoss(eta=0.6)
    torch.testing.assert_close(loss(LOGITS, soft), loss(LOGITS, LABELS))


def test_reparameterisations():
    assert tolerant_teacher_weights(0.6) == pytest.approx((0.6, 0.4))
    assert tolerant_teacher_weights(0.6, 'unit_ce') == pytest.approx(
        (1.0, 0.4 / 0.6))
    assert tolerant_teacher_weights(0.6, tsd_weight=2.0) == (0.6, 2.0)
    plain = TolerantTeacherLoss(eta=0.6)
    unit = TolerantTeacherLoss(eta=0.6, reparam='unit_ce')
    torch.testing.assert_close(unit(LOGITS, LABELS),
                               plain(LOGITS, LABELS) / 0.6)
    with pytest.raises(ValueError, match='eta must be > 0'):
        TolerantTeacherLoss(eta=0.0, reparam='unit_ce')
    with pytest.raises(ValueError, match='reparam'):
        TolerantTeacherLoss(reparam='sqrt')
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        TolerantTeacherLoss(eta=1.5)
    with pytest.raises(ValueError, match='k <= number of classes'):
        TolerantTeacherLoss(k=7)(LOGITS, LABELS)


def test_tsd_gradient_raises_secondary_scores():
    """One SGD step on the logits with the TSD term alone narrows the gap
    between the top score and each of the next K-1 scores."""
    k = 5
    logits = LOGITS.clone().requires_grad_(True)
    before = torch.softmax(logits, 1).detach()
    top_idx = before.topk(k, dim=1).indices
    TolerantTeacherLoss(eta=0.0, k=k)(logits, LABELS).backward()
    with torch.no_grad():
        after = torch.softmax(logits - 1.0 * logits.grad, 1)
    gap_before = before.gather(1, top_idx[:, :1]) - before.gather(
        1, top_idx[:, 1:])
    gap_after = after.gather(1, top_idx[:, :1]) - after.gather(
        1, top_idx[:, 1:])
    assert (gap_after < gap_before).all()
    assert (top_score_difference(logits.detach() - logits.grad, k) <
            top_score_difference(LOGITS, k)).all()


def test_built_from_registry_as_head_loss():
    head = MODELS.build(
        dict(
            type='LinearClsHead',
            num_classes=6,
            in_channels=4,
            loss=dict(type='TolerantTeacherLoss', eta=0.6, k=3)))
    from mmpretrain.structures import DataSample
    feats = (torch.randn(2, 4), )
    samples = [DataSample().set_gt_label(int(y)) for y in LABELS]
    losses = head.loss(feats, samples)
    expected = TolerantTeacherLoss(eta=0.6, k=3)(head(feats), LABELS)
    torch.testing.assert_close(losses['loss'], expected)
