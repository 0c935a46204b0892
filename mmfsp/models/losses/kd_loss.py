"""Hinton knowledge distillation, and its use as the generation student's
teacher term.

Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network"
(NIPS deep learning workshop 2015), with ``s`` and ``t`` the student's and
teacher's logits (the teacher's detached)::

    L_KD = tau^2 * KL( softmax(t / tau) || softmax(s / tau) )

summed over classes and averaged over the batch. The generation student of
Yang et al. (AAAI 2019), ``(1 - lam) * CE(y, p_S) + lam * KL(p_T || p_S)``,
is ``KDLoss(tau=1, loss_weight=lam)`` plus the head's cross-entropy
(:func:`generation_loss_cfgs`): docs/losses_and_metrics.md.
"""
import torch
from torch import Tensor, nn

from mmfsp.registry import MODELS

_REDUCTIONS = ('batchmean', 'sum', 'none')


def kd_kl_divergence(preds_S: Tensor, preds_T: Tensor,
                     tau: float = 1.0) -> Tensor:
    """``tau^2 * KL(softmax(t/tau) || softmax(s/tau))`` per sample, shape
    (N,). Pure: gradients flow into both arguments (detach the teacher
    yourself, or use :class:`KDLoss`)."""
    if preds_S.shape != preds_T.shape or preds_S.dim() != 2:
        raise ValueError(
            f'KD needs student and teacher logits of the same shape (N, C), '
            f'got student {tuple(preds_S.shape)} and teacher '
            f'{tuple(preds_T.shape)}')
    if tau <= 0:
        raise ValueError(f'tau must be > 0, got {tau}')
    log_p_s = torch.log_softmax(preds_S / tau, dim=1)
    log_p_t = torch.log_softmax(preds_T / tau, dim=1)
    return tau**2 * (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)


@MODELS.register_module()
class KDLoss(nn.Module):
    """Hinton KD loss ``tau^2 * KL(p_T^tau || p_S^tau)`` (see the module
    docstring). Called by the distiller as ``forward(preds_S, preds_T)``.

    Args:
        tau: temperature. Defaults to 1.0 (the generation student's term).
        reduction: 'batchmean' (sum over classes, mean over the batch; the
            default), 'sum' or 'none' (per-sample losses).
        loss_weight: factor on the loss (``lam`` of a generation).
            Defaults to 1.0.
    """

    def __init__(self,
                 tau: float = 1.0,
                 reduction: str = 'batchmean',
                 loss_weight: float = 1.0):
        super().__init__()
        if tau <= 0:
            raise ValueError(f'tau must be > 0, got {tau}')
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f'reduction must be one of {_REDUCTIONS}, got {reduction!r}')
        self.tau = float(tau)
        self.reduction = reduction
        self.loss_weight = float(loss_weight)

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        loss = kd_kl_divergence(preds_S, preds_T.detach(), self.tau)
        if self.reduction == 'batchmean':
            loss = loss.mean()
        elif self.reduction == 'sum':
            loss = loss.sum()
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'tau={self.tau}, reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}')


def generation_loss_cfgs(lam: float) -> tuple[dict, dict]:
    """The two loss configs of a generation student,
    ``(1 - lam) * CE(y, p_S) + lam * KL(p_T || p_S)``: the student head's
    ``loss=`` and the distiller's KD loss on the head logits (``fc``)."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f'lam must lie in [0, 1], got {lam}')
    return (dict(type='CrossEntropyLoss', loss_weight=1.0 - lam),
            dict(type='KDLoss', tau=1.0, loss_weight=lam))
