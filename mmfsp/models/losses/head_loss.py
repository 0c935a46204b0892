"""The interface shared by mmfsp's classification-head losses.

mmpretrain's ``ClsHead`` calls its loss as
``loss_module(cls_score, target, avg_factor=cls_score.size(0))`` where
``target`` holds class indices (N,) or, after batch augmentation, soft scores
(N, C). :class:`HeadLoss` gives the tolerant-teacher and confidence-penalty
losses exactly the signature and reduction of mmpretrain's
``CrossEntropyLoss``; a subclass only defines the per-sample loss.
"""
from abc import ABCMeta, abstractmethod
from typing import Optional

import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from torch import Tensor, nn

_REDUCTIONS = ('none', 'mean', 'sum')


def cross_entropy_per_sample(cls_score: Tensor, label: Tensor) -> Tensor:
    """Softmax cross-entropy of each sample, shape (N,).

    ``label`` is either class indices (N,) or target probabilities (N, C)
    (one-hot or mixed labels), as ``F.cross_entropy`` accepts both.
    """
    if label.dim() == 2:
        label = label.to(cls_score.dtype)
    return F.cross_entropy(cls_score, label, reduction='none')


class HeadLoss(nn.Module, metaclass=ABCMeta):
    """Base of a loss usable as an mmpretrain head's ``loss=``.

    Args:
        reduction: 'mean', 'sum' or 'none' over the batch. Defaults to 'mean'.
        loss_weight: factor applied to the reduced loss. Defaults to 1.0.
    """

    def __init__(self, reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f'reduction must be one of {_REDUCTIONS}, got {reduction!r}')
        self.reduction = reduction
        self.loss_weight = float(loss_weight)

    @abstractmethod
    def per_sample(self, cls_score: Tensor, label: Tensor) -> Tensor:
        """The loss of each sample, shape (N,); each subclass gives its
        formula."""

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """As mmpretrain's ``CrossEntropyLoss.forward``.

        Args:
            cls_score: logits, shape (N, C).
            label: class indices (N,) or target scores (N, C).
            weight: per-sample weights (N,), optional.
            avg_factor: divisor of the summed loss for 'mean' reduction
                (the head passes the batch size).
            reduction_override: 'none', 'mean' or 'sum' for this call.
        """
        if reduction_override not in (None, ) + _REDUCTIONS:
            raise ValueError(f'reduction_override must be None or one of '
                             f'{_REDUCTIONS}, got {reduction_override!r}')
        if cls_score.dim() != 2:
            raise ValueError(f'{type(self).__name__} expects logits of shape '
                             f'(N, C), got {tuple(cls_score.shape)}')
        reduction = reduction_override or self.reduction
        loss = self.per_sample(cls_score, label)
        if weight is not None:
            weight = weight.float()
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
