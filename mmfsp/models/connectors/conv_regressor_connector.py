"""FitNet's convolutional regressor: the student's guided layer mapped onto
the teacher's hint layer.

Romero, Ballas, Kahou, Chassang, Gatta, Bengio, "FitNets: Hints for Thin Deep
Nets" (ICLR 2015), section 2.2: the hint loss compares the teacher's hint
feature ``u_h`` with ``r(v_g)``, a convolution ``r`` applied to the student's
guided feature ``v_g``, so that a thinner student can be guided by a wider
teacher. ``r`` belongs to the student side of stage 1 only: it is trained
with the student's layers up to the guided layer and discarded afterwards
(it lives in the distiller, not in the student's checkpoint keys
``architecture.``).

mmfsp's choices (the paper's regressor is tied to its maxout networks):

* a single ``kernel_size`` x ``kernel_size`` convolution with bias, stride 1,
  ``'same'`` padding (``kernel_size // 2``) by default, so guided and hint
  layers of equal spatial size stay equal; FitNet's own rule for a larger
  guided layer (a "valid" convolution with kernel ``N_g - N_h + 1``) is
  ``padding=0`` with that kernel;
* no normalisation and no non-linearity by default. FitNet applies the hint
  layer's non-linearity to the regressor's output; for ResNet stage outputs
  (after a ReLU) that is ``act_cfg=dict(type='ReLU')``. MMRazor's and
  torchdistill's FitNet recipes add a BN (``norm_cfg=dict(type='BN')``).

Initialisation: Kaiming (MSRA), as the networks it connects.
"""
from typing import Optional

from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmfsp.registry import MODELS


@MODELS.register_module()
class ConvRegressorConnector(BaseModule):
    """``r(v_g)``: conv (+ optional norm, activation) from the student's
    guided-layer channels to the teacher's hint-layer channels.

    Called by the distiller as ``connector(feature)`` on the student's
    recorded guided feature (B, in_channels, H, W); returns
    (B, out_channels, H', W').

    Args:
        in_channels (int): channels of the student's guided layer.
        out_channels (int): channels of the teacher's hint layer.
        kernel_size (int): 1 (default) or 3, or FitNet's ``N_g - N_h + 1``
            with ``padding=0``.
        padding (int, optional): zero padding; ``kernel_size // 2`` when
            None (output of the input's spatial size).
        norm_cfg (dict, optional): e.g. ``dict(type='BN')``; none by default.
        act_cfg (dict, optional): e.g. ``dict(type='ReLU')``; none by
            default.
        init_cfg (dict, optional): Kaiming init of the convolution by
            default.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 padding: Optional[int] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = dict(
                     type='Kaiming', layer='Conv2d')) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels),
                            ('kernel_size', kernel_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'ConvRegressorConnector: {name} must be an '
                                 f'int >= 1, got {value!r}')
        if padding is None:
            padding = kernel_size // 2
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(f'ConvRegressorConnector: padding must be an '
                             f'int >= 0, got {padding!r}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.regressor = ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            padding=padding,
            bias='auto',
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)

    def forward(self, feature: Tensor) -> Tensor:
        if feature.dim() != 4 or feature.shape[1] != self.in_channels:
            raise ValueError(
                f'ConvRegressorConnector expects a (B, {self.in_channels}, '
                f'H, W) student feature, got {tuple(feature.shape)}: set '
                f'in_channels to the guided layer\'s channels')
        return self.regressor(feature)
