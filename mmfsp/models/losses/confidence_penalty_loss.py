"""Confidence penalty: cross-entropy minus a multiple of the output entropy.

Pereyra, Tucker, Chorowski, Kaiser, Hinton, "Regularizing Neural Networks by
Penalizing Confident Output Distributions" (ICLR workshop 2017):

    L = CE(y, p) - beta * H(p),    H(p) = -sum_c p_c log p_c,  p = softmax(z)

Low-entropy (over-confident) outputs are penalised. In the tolerant-teacher
paper (Yang et al. 2018) it is one of the alternatives compared with the TSD
teacher loss; mmpretrain's ``LabelSmoothLoss`` is the other. Only the plain
form above is provided (the paper's annealed and hinge variants are not).
"""
import torch
from torch import Tensor

from mmfsp.registry import MODELS
from .head_loss import HeadLoss, cross_entropy_per_sample


def softmax_entropy(cls_score: Tensor) -> Tensor:
    """``H(softmax(cls_score))`` per sample, shape (N,), in nats, computed
    from ``log_softmax`` so that saturated outputs stay finite."""
    log_p = torch.log_softmax(cls_score, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1)


@MODELS.register_module()
class ConfidencePenaltyLoss(HeadLoss):
    """``CE(y, p) - beta * H(p)`` for an mmpretrain head.

    Use as ``head=dict(..., loss=dict(type='ConfidencePenaltyLoss',
    beta=0.1))``.

    Args:
        beta: strength of the entropy bonus, >= 0 (no default: the paper tunes
            it per task).
        reduction: 'mean', 'sum' or 'none'. Defaults to 'mean'.
        loss_weight: factor on the whole loss. Defaults to 1.0.
    """

    def __init__(self,
                 beta: float,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__(reduction=reduction, loss_weight=loss_weight)
        if beta < 0:
            raise ValueError(f'beta must be >= 0, got {beta}')
        self.beta = float(beta)

    def per_sample(self, cls_score: Tensor, label: Tensor) -> Tensor:
        return cross_entropy_per_sample(
            cls_score, label) - self.beta * softmax_entropy(cls_score)

    def extra_repr(self) -> str:
        return f'beta={self.beta}'
