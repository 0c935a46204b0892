"""FitNet hint loss: L2 distance between the student's regressed guided
feature and the teacher's hint feature.

Romero, Ballas, Kahou, Chassang, Gatta, Bengio, "FitNets: Hints for Thin Deep
Nets" (ICLR 2015), Eq. (3), with ``r(v_g)`` the regressor applied to the
student's guided layer and ``u_h`` the teacher's hint layer:

    L_HT = 1/2 * || u_h(x) - r(v_g(x)) ||^2

mmfsp's default normalisation (``reduction='batchmean'``) is the paper's: half
the squared L2 norm of each sample's difference (summed over channels and
positions), averaged over the batch, ``0.5 * ||s - t||^2 / B``.
``reduction='mean'`` is the element-wise mean squared error (``F.mse_loss``,
no 1/2) that torchdistill and MMRazor-style hint losses use; it is smaller by
a factor ``2 / (C*H*W)``, so learning rates do not carry over between the two.
The regressor is a connector (it has weights and lives in the distiller); the
teacher feature is detached here.
"""
import torch.nn.functional as F
from torch import Tensor, nn

from mmfsp.registry import MODELS

_REDUCTIONS = ('batchmean', 'mean')


def _check_shapes(s_feature: Tensor, t_feature: Tensor) -> None:
    if s_feature.shape != t_feature.shape:
        raise ValueError(
            f'hint loss needs the regressed student feature and the teacher '
            f'hint of the same shape, got student {tuple(s_feature.shape)} '
            f'and teacher {tuple(t_feature.shape)}; configure the '
            f'regressor to map one onto the other')


def hint_l2(s_feature: Tensor, t_feature: Tensor) -> Tensor:
    """``0.5 * ||s - t||^2`` per sample, shape (N,), summed over all
    non-batch dimensions."""
    _check_shapes(s_feature, t_feature)
    return 0.5 * (s_feature - t_feature).pow(2).flatten(1).sum(dim=1)


@MODELS.register_module()
class HintLoss(nn.Module):
    """FitNet hint loss (see the module docstring), called by the distiller
    as ``forward(s_feature, t_feature)``.

    Args:
        reduction: 'batchmean' (``0.5 * ||s - t||^2 / B``, the paper's; the
            default) or 'mean' (element-wise MSE).
        loss_weight: factor on the loss. Defaults to 1.0.
    """

    def __init__(self, reduction: str = 'batchmean',
                 loss_weight: float = 1.0):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f'reduction must be one of {_REDUCTIONS}, got {reduction!r}')
        self.reduction = reduction
        self.loss_weight = float(loss_weight)

    def forward(self, s_feature: Tensor, t_feature: Tensor) -> Tensor:
        t_feature = t_feature.detach()
        if self.reduction == 'batchmean':
            loss = hint_l2(s_feature, t_feature).mean()
        else:
            _check_shapes(s_feature, t_feature)
            loss = F.mse_loss(s_feature, t_feature)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}')
