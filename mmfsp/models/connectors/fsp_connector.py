"""FSP matrix of two feature maps.

Yim, Joo, Bae, Kim, "A Gift from Knowledge Distillation: Fast Optimization,
Network Minimization and Transfer Learning", CVPR 2017, eq. (1).

For ``F1`` of shape (B, m, h, w) and ``F2`` of shape (B, n, h', w') of one
network and one input:

* if the spatial sizes differ, the larger map is max-pooled down to the smaller
  one (the paper's choice); ``adaptive_max_pool2d`` handles non-integer ratios.
  In general each map is pooled to ``(min(h, h'), min(w, w'))``;
* ``G[b, i, j] = sum_{s,t} F1[b, i, s, t] * F2[b, j, s, t] / (h * w)``, with
  ``h * w`` the common (pooled) spatial size, i.e. one batched matmul
  ``(B, m, hw) @ (B, hw, n) / hw`` giving ``G`` of shape (B, m, n).

The matrix describes how the network turns the first feature into the second
(the "flow of solution procedure"), not the features themselves.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmfsp.registry import MODELS


def fsp_matrix(f1: Tensor, f2: Tensor) -> Tensor:
    """The FSP matrix ``G`` (B, m, n) of ``f1`` (B, m, h, w) and ``f2``
    (B, n, h', w'); see the module docstring for the formula. Inputs are not
    checked beforehand: when torch cannot compute ``G`` (not two 4-D maps of
    one batch), a ValueError says why."""
    try:
        size = (min(f1.shape[2], f2.shape[2]), min(f1.shape[3], f2.shape[3]))
        if f1.shape[2:] != size:
            f1 = F.adaptive_max_pool2d(f1, size)
        if f2.shape[2:] != size:
            f2 = F.adaptive_max_pool2d(f2, size)
        # (B, m, hw) @ (B, hw, n)
        return torch.bmm(f1.flatten(2), f2.flatten(2).transpose(1, 2)) / (
            size[0] * size[1])
    except (RuntimeError, IndexError) as err:
        if f1.dim() != 4 or f2.dim() != 4:
            raise ValueError(f'FSP needs two (B, C, H, W) feature maps, got '
                             f'shapes {tuple(f1.shape)} and '
                             f'{tuple(f2.shape)}') from err
        if f1.shape[0] != f2.shape[0]:
            raise ValueError(f'FSP feature maps come from different batches: '
                             f'{tuple(f1.shape)} and {tuple(f2.shape)}'
                             ) from err
        raise


@MODELS.register_module()
class FSPConnector(BaseModule):
    """Turn a recorded feature pair into its FSP matrix.

    Parameter-free by default, as in the paper. As an mmfsp extension (off
    by default) it can first map a student's channels to the teacher's with
    a learned 1x1 convolution per feature, so that a thinner student can be
    paired with a wider teacher (docs/fsp.md, "A config for a new teacher /
    student pair").

    Args:
        in_channels (Sequence[int], optional): Channels of the two student
            features. Give together with ``out_channels``. Defaults to None.
        out_channels (Sequence[int], optional): Channels of the two teacher
            features they are mapped to. Defaults to None.
        init_cfg (dict, optional): Initialisation of the 1x1 convolutions.
            Defaults to ``dict(type='Kaiming', layer='Conv2d')``.

    Example:
        >>> # a student pair of 16 / 32 channels against a teacher's 64 / 128
        >>> fsp_pairs = [
        >>>     dict(name='layer1', first=..., second=...,
        >>>          student_connector=dict(type='FSPConnector',
        >>>                                 in_channels=(16, 32),
        >>>                                 out_channels=(64, 128)))
        >>> ]
    """

    def __init__(self,
                 in_channels: Optional[Sequence[int]] = None,
                 out_channels: Optional[Sequence[int]] = None,
                 init_cfg: Optional[dict] = dict(
                     type='Kaiming', layer='Conv2d')) -> None:
        super().__init__(init_cfg=init_cfg)
        if (in_channels is None) != (out_channels is None):
            raise ValueError('FSPConnector: give both in_channels and '
                             'out_channels, or neither')
        self.align = None
        if in_channels is not None:
            if len(in_channels) != 2 or len(out_channels) != 2:
                raise ValueError(
                    'FSPConnector: in_channels and out_channels are pairs '
                    '(first feature, second feature), got '
                    f'{in_channels} and {out_channels}')
            self.align = nn.ModuleList([
                nn.Conv2d(int(c_in), int(c_out), kernel_size=1, bias=False)
                for c_in, c_out in zip(in_channels, out_channels)
            ])

    def forward(self, first: Tensor, second: Tensor) -> Tensor:
        if self.align is not None:
            first = self.align[0](first)
            second = self.align[1](second)
        return fsp_matrix(first, second)
