"""CIFAR ResNet-(6n+2) of He et al., "Deep Residual Learning for Image
Recognition" (CVPR 2016), section 4.2, built from mmpretrain's ResNet blocks.

A 3x3 stem convolution with ``16 * widen_factor`` channels, then three stages of
``n = (depth - 2) / 6`` BasicBlocks with ``16w, 32w, 64w`` channels and strides
1, 2, 2. Global pooling and the linear classifier are the neck and head of the
mmpretrain ``ImageClassifier`` around it. Shortcuts that change the shape are
1x1 convolutions with BN (He et al.'s option B, mmpretrain's ``ResLayer``).

Module names (used to pair layers for FSP): ``conv1`` / ``norm1`` / ``relu``
(stem), ``layer1`` .. ``layer3`` (stages), ``layer{k}.{i}`` (blocks).
"""
from typing import Sequence

from mmpretrain.models.backbones.resnet import BasicBlock
from mmpretrain.models.backbones.resnet_cifar import ResNet_CIFAR

from mmfsp.registry import MODELS


def cifar_resnet_blocks(depth: int) -> int:
    """Blocks per stage ``n`` of CIFAR ResNet-``depth`` (``depth = 6n + 2``)."""
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f'CIFAR ResNet depth must be 6n+2 with n >= 1 (8, 14, 20, 26, 32, '
            f'44, 56, 110, ...), got {depth!r}')
    return (depth - 2) // 6


def cifar_resnet_stem_channels(widen_factor: float) -> int:
    """Channels ``16 * widen_factor`` of the stem (and first stage) of a CIFAR
    ResNet; refused unless a whole number of at least 1."""
    stem = 16 * widen_factor
    if not stem >= 1 or stem != int(stem):
        raise ValueError(
            f'widen_factor must make 16 * widen_factor a whole number of '
            f'channels (1, 0.5, 0.25, 2, 4, ...), got {widen_factor}')
    return int(stem)


@MODELS.register_module()
class CifarResNet(ResNet_CIFAR):
    """CIFAR ResNet-(6n+2) with a width multiplier.

    Args:
        depth (int): ``6n + 2``, e.g. 8, 14, 20, 26, 32, 44, 56, 110.
        widen_factor (float): channel multiplier; stages have ``16w, 32w,
            64w`` channels (the FSP paper's CIFAR-100 nets use ``w = 4``;
            ``16w`` must be a whole number, e.g. ``w = 0.5`` for 8/16/32
            channels). Defaults to 1.
        in_channels (int): input channels (3 for CIFAR, 1 for Fashion-MNIST).
        out_indices (Sequence[int]): stages whose outputs are returned.
        zero_init_residual (bool): zero-init the last BN of each block. Off by
            default, as in He et al. (MSRA init and BN, no extra tricks).
        **kwargs: the remaining arguments of mmpretrain's ``ResNet``
            (``norm_cfg``, ``frozen_stages``, ``norm_eval``, ``init_cfg``...).
    """

    def __init__(self,
                 depth: int,
                 widen_factor: float = 1,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (2, ),
                 zero_init_residual: bool = False,
                 **kwargs) -> None:
        n = cifar_resnet_blocks(depth)
        stem = cifar_resnet_stem_channels(widen_factor)
        # mmpretrain's ResNet looks its stages up in ``arch_settings``; give
        # this instance the one entry it needs.
        self.__dict__['arch_settings'] = {depth: (BasicBlock, (n, n, n))}
        super().__init__(
            depth,
            in_channels=in_channels,
            stem_channels=stem,
            base_channels=stem,
            num_stages=3,
            strides=(1, 2, 2),
            dilations=(1, 1, 1),
            out_indices=tuple(out_indices),
            zero_init_residual=zero_init_residual,
            **kwargs)
        self.widen_factor = widen_factor
