"""DenseNet-BC for CIFAR of Huang et al., "Densely Connected Convolutional
Networks" (CVPR 2017), section 3 ("Implementation Details") and Table 2,
built from mmpretrain's DenseNet blocks (``DenseBlock``, ``DenseTransition``).

A 3x3 stem convolution with ``2 * growth_rate`` channels (no BN, ReLU or
pooling after it: every dense layer starts with BN-ReLU), then three dense
blocks of ``n = (depth - 4) / 6`` bottleneck layers each (BN-ReLU-Conv1x1
with ``4 * growth_rate`` channels, BN-ReLU-Conv3x3 with ``growth_rate``),
on 32x32, 16x16 and 8x8 maps. Between the blocks, transitions
BN-ReLU-Conv1x1 compress the channels by ``compression_factor`` (0.5: the
"C" of BC) and halve the resolution by 2x2 average pooling; the last block
is followed by BN-ReLU. Global pooling and the linear classifier are the
neck and head of the mmpretrain ``ImageClassifier`` around it.

Yang et al. (AAAI 2019, "Training Deep Neural Networks in Generations")
train DenseNet-BC-100 (growth 12) and DenseNet-BC-190 (growth 40) in
generations on CIFAR-100 (docs/generations.md).

Module names (for recorders): ``stem`` (the 3x3 convolution),
``stages.{0,1,2}`` (dense blocks), ``transitions.{0,1,2}`` (the two
compressing transitions and the final BN-ReLU).
"""
import math
from typing import List, Optional, Sequence, Union

from mmpretrain.models.backbones.densenet import DenseNet
from torch import nn

from mmfsp.registry import MODELS


def densenet_bc_layers(depth: int) -> int:
    """Bottleneck layers per dense block ``n`` of DenseNet-BC-``depth``
    (``depth = 6n + 4``: two convolutions per layer in three blocks, the stem
    convolution, two transitions and the classifier)."""
    if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(
            f'DenseNet-BC depth must be 6n+4 with n >= 1 (10, 40, 100, 190, '
            f'250, ...), got {depth!r}')
    return (depth - 4) // 6


@MODELS.register_module()
class DenseNetBC(DenseNet):
    """DenseNet-BC (bottleneck + compression) for 32x32 inputs.

    Published sizes (Huang et al. 2017, Table 2): DenseNet-BC-100 with
    growth rate 12 has 0.8M parameters, DenseNet-BC-190 with growth rate 40
    has 25.6M (with a linear classifier).

    Args:
        depth (int): ``6n + 4``; 100 and 190 are the published CIFAR ones.
            Defaults to 100.
        growth_rate (int): channels each bottleneck layer adds (k).
            Defaults to 12.
        in_channels (int): input channels (3 for CIFAR, 1 for
            Fashion-MNIST). Defaults to 3.
        bn_size (int): the bottleneck 1x1 convolution has
            ``bn_size * growth_rate`` channels. Defaults to 4.
        compression_factor (float): transitions keep
            ``floor(compression_factor * channels)`` channels.
            Defaults to 0.5.
        drop_rate (float): dropout after each 3x3 convolution (Huang et
            al. use 0.2 only without data augmentation). Defaults to 0.
        memory_efficient (bool): recompute the bottleneck inputs in the
            backward pass (``torch.utils.checkpoint``) to save memory.
            Defaults to False.
        out_indices (Sequence[int] | int): dense blocks whose outputs
            (after their transition) are returned. Defaults to -1, the last.
        frozen_stages (int): dense blocks (with their transitions) frozen.
            Defaults to 0.
        norm_cfg (dict): norm layers. Defaults to ``dict(type='BN')``.
        act_cfg (dict): activations. Defaults to ``dict(type='ReLU')``.
        init_cfg (dict | list[dict], optional): initialisation. Defaults to
            He's normal initialisation of the convolutions (fan-out, as
            Huang et al.'s code) and BN weights 1, biases 0.

    Example:
        A CIFAR-100 classifier (``configs/_base_/models/``)::

            model = dict(
                type='ImageClassifier',
                backbone=dict(type='DenseNetBC', depth=100, growth_rate=12),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='LinearClsHead',
                    num_classes=100,
                    in_channels=342,  # DenseNetBC(100, 12).out_channels[-1]
                    loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
    """

    def __init__(self,
                 depth: int = 100,
                 growth_rate: int = 12,
                 in_channels: int = 3,
                 bn_size: int = 4,
                 compression_factor: float = 0.5,
                 drop_rate: float = 0.,
                 memory_efficient: bool = False,
                 out_indices: Union[Sequence[int], int] = -1,
                 frozen_stages: int = 0,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[Union[dict, List[dict]]] = [
                     dict(type='Kaiming', layer='Conv2d'),
                     dict(type='Constant', val=1, layer=['_BatchNorm'])
                 ]) -> None:
        n = densenet_bc_layers(depth)
        if not isinstance(growth_rate, int) or growth_rate < 1:
            raise ValueError(
                f'growth_rate must be a positive int, got {growth_rate!r}')
        if not 0 < compression_factor <= 1:
            raise ValueError(f'compression_factor must lie in (0, 1], got '
                             f'{compression_factor}')
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        out_indices = [i + 3 if i < 0 else i for i in out_indices]
        if not out_indices or any(i not in (0, 1, 2) for i in out_indices):
            raise ValueError(f'out_indices must name dense blocks 0..2 (or '
                             f'-3..-1), got {out_indices}')
        if not 0 <= frozen_stages <= 3:
            raise ValueError(
                f'frozen_stages must lie in [0, 3], got {frozen_stages}')
        super().__init__(
            arch=dict(
                growth_rate=growth_rate,
                depths=[n, n, n],
                init_channels=2 * growth_rate),
            in_channels=in_channels,
            bn_size=bn_size,
            drop_rate=drop_rate,
            compression_factor=compression_factor,
            memory_efficient=memory_efficient,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            init_cfg=init_cfg)
        # The CIFAR stem: one 3x3 convolution at full resolution, instead of
        # the ImageNet stem (7x7 stride 2, BN-ReLU, 3x3 max pooling).
        self.stem = nn.Conv2d(
            in_channels,
            2 * growth_rate,
            kernel_size=3,
            stride=1,
            padding=1,
            bias=False)
        self.depth = depth
        self.out_channels = self._block_channels(compression_factor)

    def _block_channels(self, compression_factor: float) -> List[int]:
        """Channels of each returned output (after its transition)."""
        channels, outs = self.init_channels, []
        for i, layers in enumerate(self.depths):
            channels += layers * self.growth_rate
            if i < len(self.depths) - 1:
                channels = math.floor(channels * compression_factor)
            outs.append(channels)
        return [outs[i] for i in self.out_indices]
