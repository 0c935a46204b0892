"""Tolerant-teacher loss: cross-entropy plus the top-score difference (TSD).

Yang, Xie, Qiao, Yuille, "Knowledge Distillation in Generations: More
Tolerant Teachers Educate Better Students" (arXiv:1805.05551, 2018; AAAI-19
"Training Deep Neural Networks in Generations"). With ``p = softmax(z)`` and
``a1..aK`` the classes of the K highest scores of a sample (``a1`` the top
prediction, not necessarily the label):

    TSD(p) = p[a1] - 1/(K-1) * sum_{k=2..K} p[ak]
    L_T    = eta * CE(y, p) + (1 - eta) * TSD(p)

Minimising TSD lets a few secondary classes rise toward the primary one, so
the teacher becomes "tolerant" and its outputs carry more secondary
information for the next generation. ``eta = 1`` is the ordinary (strict)
teacher; the paper's tolerant teacher is ``eta = 0.6``, with K = 5.

Not known from the paper: the exact reparameterisation ``u(eta)`` it uses for
stability. mmfsp's default (``reparam='none'``) is the formula above with
plain weights ``eta`` and ``1 - eta``. ``reparam='unit_ce'`` divides the loss
by ``eta`` (weights 1 and ``(1 - eta) / eta``): the same minimiser, but the
gradient scale of the label term, and so the effective learning rate, stays
that of plain cross-entropy for every ``eta``. ``tsd_weight`` overrides the
TSD coefficient of either form.
"""
from typing import Optional

import torch
from torch import Tensor

from mmfsp.registry import MODELS
from .head_loss import HeadLoss, cross_entropy_per_sample

_REPARAMS = ('none', 'unit_ce')


def top_score_difference(cls_score: Tensor, k: int = 5) -> Tensor:
    """TSD of each sample, shape (N,): the top softmax score minus the mean
    of the next ``k - 1`` scores. Differentiable in ``cls_score`` (the
    selected classes are fixed by the forward pass, as in any top-k)."""
    num_classes = cls_score.size(1)
    if not 2 <= k <= num_classes:
        raise ValueError(f'TSD needs 2 <= k <= number of classes '
                         f'({num_classes}), got k={k}')
    top = torch.softmax(cls_score, dim=1).topk(k, dim=1).values
    return top[:, 0] - top[:, 1:].mean(dim=1)


def tolerant_teacher_weights(eta: float,
                             reparam: str = 'none',
                             tsd_weight: Optional[float] = None
                             ) -> tuple[float, float]:
    """The (CE weight, TSD weight) pair for ``eta`` under ``reparam``; an
    explicit ``tsd_weight`` replaces the TSD weight."""
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f'eta must lie in [0, 1], got {eta}')
    if reparam == 'none':
        weights = (eta, 1.0 - eta)
    elif reparam == 'unit_ce':
        if eta == 0:
            raise ValueError("reparam='unit_ce' divides by eta; eta must be "
                             '> 0 (use reparam=\'none\' for eta = 0)')
        weights = (1.0, (1.0 - eta) / eta)
    else:
        raise ValueError(
            f'reparam must be one of {_REPARAMS}, got {reparam!r}')
    if tsd_weight is not None:
        weights = (weights[0], float(tsd_weight))
    return weights


@MODELS.register_module()
class TolerantTeacherLoss(HeadLoss):
    """``eta * CE(y, p) + (1 - eta) * TSD(p)`` for an mmpretrain head.

    Use as ``head=dict(..., loss=dict(type='TolerantTeacherLoss', eta=0.6))``.
    The formula, the paper and the reparameterisation choices are in the
    module docstring.

    Args:
        eta: weight of the label term, in [0, 1]. Defaults to 0.6 (the
            paper's tolerant teacher D(0.6, lam)); 1.0 is plain CE.
        k: number of top classes in TSD (the paper's K). Defaults to 5.
        reparam: 'none' (weights eta, 1 - eta; the default) or 'unit_ce'
            (weights 1, (1 - eta) / eta).
        tsd_weight: explicit TSD coefficient overriding the one from
            ``eta`` and ``reparam``. Defaults to None.
        reduction: 'mean', 'sum' or 'none'. Defaults to 'mean'.
        loss_weight: factor on the whole loss. Defaults to 1.0.
    """

    def __init__(self,
                 eta: float = 0.6,
                 k: int = 5,
                 reparam: str = 'none',
                 tsd_weight: Optional[float] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__(reduction=reduction, loss_weight=loss_weight)
        if k < 2:
            raise ValueError(f'TSD needs k >= 2, got k={k}')
        self.eta = float(eta)
        self.k = int(k)
        self.reparam = reparam
        self.ce_weight, self.tsd_weight = tolerant_teacher_weights(
            self.eta, reparam, tsd_weight)

    def per_sample(self, cls_score: Tensor, label: Tensor) -> Tensor:
        loss = self.tsd_weight * top_score_difference(cls_score, self.k)
        if self.ce_weight != 0:
            loss = loss + self.ce_weight * cross_entropy_per_sample(
                cls_score, label)
        return loss

    def extra_repr(self) -> str:
        return (f'eta={self.eta}, k={self.k}, reparam={self.reparam!r}, '
                f'ce_weight={self.ce_weight}, tsd_weight={self.tsd_weight}')
