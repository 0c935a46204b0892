"""FitNet's convolutional regressor: the student's guided layer mapped onto
the teacher's hint layer (Romero et al., "FitNets: Hints for Thin Deep
Nets", ICLR 2015, section 2.2), used by the FSP paper's FitNet baseline
(docs/baselines.md, "FitNet"). It lives in the distiller, so it is trained
in the hint stage and is not part of the student's checkpoint keys.
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
        in_channels (int): Channels of the student's guided layer.
        out_channels (int): Channels of the teacher's hint layer.
        kernel_size (int): The convolution's kernel size (with bias, stride
            1). FitNet's own rule for a guided layer larger than the hint
            layer is a "valid" convolution with kernel ``N_g - N_h + 1``
            and ``padding=0``. Defaults to 1.
        padding (int, optional): Zero padding. Defaults to None:
            ``kernel_size // 2``, so guided and hint layers of equal
            spatial size stay equal.
        norm_cfg (dict, optional): A norm layer after the convolution, e.g.
            ``dict(type='BN')`` as in MMRazor's and torchdistill's FitNet
            recipes. Defaults to None.
        act_cfg (dict, optional): An activation, e.g. ``dict(type='ReLU')``
            for FitNet's hint-layer non-linearity on ResNet stage outputs.
            Defaults to None.
        init_cfg (dict, optional): Defaults to
            ``dict(type='Kaiming', layer='Conv2d')`` (MSRA, as the networks
            it connects).

    Example:
        >>> # the student's layer2 output (32 channels) regresses a wider
        >>> # teacher's (128 channels)
        >>> connectors = dict(hint=dict(type='ConvRegressorConnector',
        >>>                             in_channels=32, out_channels=128))
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
