"""Tolerant-teacher loss: cross-entropy plus the top-score difference (TSD).

Yang, Xie, Qiao, Yuille, "Training Deep Neural Networks in Generations: A
More Tolerant Teacher Educates Better Students" (AAAI 2019;
arXiv:1805.05551). With ``p = softmax(z)`` and ``a1..aK`` the classes of
the K highest scores of a sample (``a1`` the top prediction)::

    TSD(p) = p[a1] - 1/(K-1) * sum_{k=2..K} p[ak]
    L_T    = eta * CE(y, p) + (1 - eta) * TSD(p)

The paper's reparameterisation ``u(eta)`` is not known; mmfsp's choices
(``reparam``, ``tsd_weight``): docs/losses_and_metrics.md ("Head losses").
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

    Minimising TSD lets a few secondary classes rise toward the primary
    one, so the teacher becomes "tolerant" and its outputs carry more
    secondary information for the next generation (see the module
    docstring for the formula).

    Args:
        eta (float): Weight of the label term, in [0, 1]. Defaults to 0.6
            (the paper's tolerant teacher D(0.6, lam)); 1.0 is plain CE.
        k (int): Number of top classes in TSD (the paper's K). Defaults
            to 5.
        reparam (str): ``'none'`` (weights ``eta``, ``1 - eta``) or
            ``'unit_ce'`` (the loss divided by ``eta``: weights 1 and
            ``(1 - eta) / eta``, the same minimiser with the gradient scale
            of plain cross-entropy for every ``eta``). Defaults to
            ``'none'``.
        tsd_weight (float, optional): Explicit TSD coefficient overriding
            the one from ``eta`` and ``reparam``. Defaults to None.
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'``. Defaults to
            ``'mean'``.
        loss_weight (float): Factor on the whole loss. Defaults to 1.0.

    Example:
        >>> model = dict(head=dict(
        >>>     loss=dict(type='TolerantTeacherLoss', eta=0.6, k=5)))
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
