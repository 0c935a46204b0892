"""FSP loss.

Yim, Joo, Bae, Kim, "A Gift from Knowledge Distillation: Fast Optimization,
Network Minimization and Transfer Learning", CVPR 2017, eq. (2). For ``k``
layer pairs with teacher FSP matrices ``G_i^T`` and student matrices
``G_i^S`` (each of shape (B, m_i, n_i)):

    L_FSP = (1/B) * sum_b sum_i lambda_i * || G_i^T[b] - G_i^S[b] ||_F^2

the squared Frobenius norm per sample (summed over the matrix entries),
summed over the pairs with weights ``lambda_i``, averaged over the batch. The
paper uses equal weights (``lambda_i = 1``).

``reduction='sum'`` (the default) is the paper's loss. ``reduction='mean'``
divides each pair's term by its number of entries ``m_i * n_i`` (the mean
squared difference per matrix entry, as public FSP implementations compute it
with ``F.mse_loss``); its gradients are ``m_i * n_i`` times smaller, which is
what decides how far stage 1 inflates the student's conv weight norms (see
docs/fsp.md, "Weight-norm growth in stage 1").
"""
from typing import Optional, Sequence, Union

from torch import Tensor, nn

from mmfsp.registry import MODELS

Matrices = Union[Tensor, Sequence[Tensor]]


def _as_list(mats: Matrices) -> list:
    return [mats] if isinstance(mats, Tensor) else list(mats)


REDUCTIONS = ('sum', 'mean')


def fsp_loss(fsp_S: Matrices,
             fsp_T: Matrices,
             pair_weights: Optional[Sequence[float]] = None,
             reduction: str = 'sum') -> Tensor:
    """``(1/B) sum_b sum_i lambda_i ||G_i^T[b] - G_i^S[b]||_F^2``.

    Args:
        fsp_S: the student's FSP matrices, one (B, m_i, n_i) tensor per pair
            (or a single tensor for one pair).
        fsp_T: the teacher's, in the same order and shapes.
        pair_weights: ``lambda_i``; all 1 when omitted.
        reduction: ``'sum'`` over each matrix's entries (the paper) or
            ``'mean'`` (each pair's term divided by ``m_i * n_i``).

    Gradients flow into both arguments: the algorithm, not the loss, decides
    that the teacher is frozen. The matrices' shapes are not checked
    beforehand (the distiller checks its pairs once, at build): when torch
    cannot compute a pair's term, a ValueError names the pair and shapes.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"FSP loss reduction must be one of {REDUCTIONS}, "
                         f'got {reduction!r}')
    fsp_S, fsp_T = _as_list(fsp_S), _as_list(fsp_T)
    if len(fsp_S) != len(fsp_T) or not fsp_S:
        raise ValueError(f'FSP loss needs as many student as teacher '
                         f'matrices (at least one), got {len(fsp_S)} and '
                         f'{len(fsp_T)}')
    if pair_weights is None:
        pair_weights = [1.0] * len(fsp_S)
    if len(pair_weights) != len(fsp_S):
        raise ValueError(f'{len(pair_weights)} pair weights for '
                         f'{len(fsp_S)} FSP pairs')
    total = None
    for i, (g_s, g_t, weight) in enumerate(zip(fsp_S, fsp_T, pair_weights)):
        try:
            per_sample = (g_t - g_s).pow(2).sum(dim=(1, 2))  # (B,)
            if reduction == 'mean':
                per_sample = per_sample / (g_s.shape[1] * g_s.shape[2])
        except (RuntimeError, IndexError) as err:
            raise ValueError(
                f'FSP pair {i}: student matrix {tuple(g_s.shape)} and '
                f'teacher matrix {tuple(g_t.shape)} must have the same '
                f'(B, m, n) shape; the paired layers need the same channel '
                f'counts in teacher and student') from err
        term = weight * per_sample
        total = term if total is None else total + term
    return total.mean()


@MODELS.register_module()
class FSPLoss(nn.Module):
    """:func:`fsp_loss` times ``loss_weight``, called by the distiller as
    ``forward(fsp_S, fsp_T)`` with lists of FSP matrices.

    Args:
        loss_weight (float): factor on the whole loss. Defaults to 1.0.
        pair_weights (Sequence[float], optional): ``lambda_i`` per pair;
            equal (1.0) by default, as in the paper.
        reduction (str): ``'sum'`` over the matrix entries (the paper) or
            ``'mean'`` per entry. Defaults to ``'sum'``.

    Example:
        >>> # in a distiller config
        >>> fsp_loss = dict(type='FSPLoss', loss_weight=1.0,
        ...                 reduction='mean')
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 pair_weights: Optional[Sequence[float]] = None,
                 reduction: str = 'sum') -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f'FSPLoss reduction must be one of '
                             f'{REDUCTIONS}, got {reduction!r}')
        self.reduction = reduction
        self.loss_weight = float(loss_weight)
        self.pair_weights = None if pair_weights is None else [
            float(w) for w in pair_weights
        ]

    def forward(self, fsp_S: Matrices, fsp_T: Matrices) -> Tensor:
        return self.loss_weight * fsp_loss(fsp_S, fsp_T, self.pair_weights,
                                           self.reduction)

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, '
                f'pair_weights={self.pair_weights}, '
                f'reduction={self.reduction!r}')


__all__ = ['FSPLoss', 'fsp_loss']
