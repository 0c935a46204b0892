"""ImageNet-style ResNet with a free number of blocks per stage.

He et al.'s ImageNet ResNet (7x7 stride-2 stem, 3x3 max pool, four stages of
64/128/256/512 channels with strides 1, 2, 2, 2) where ``stage_blocks`` is a
parameter instead of a depth lookup. The FSP paper's CUB-200-2011 student is
ResNet-20 with ``stage_blocks=(2, 2, 3, 2)`` BasicBlocks; ``(2, 2, 2, 2)`` and
``(3, 4, 6, 3)`` give ResNet-18 and ResNet-34 exactly as mmpretrain builds them.

Module names: ``conv1`` / ``norm1`` / ``relu`` / ``maxpool`` (stem),
``layer1`` .. ``layer4`` (stages).
"""
from typing import Sequence

from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck, ResNet

from mmfsp.registry import MODELS

_BLOCKS = {'BasicBlock': BasicBlock, 'Bottleneck': Bottleneck}


@MODELS.register_module()
class StagedResNet(ResNet):
    """ResNet whose blocks per stage are given directly.

    Args:
        stage_blocks (Sequence[int]): number of blocks in each stage.
        block (str): ``'BasicBlock'`` or ``'Bottleneck'``.
        **kwargs: the remaining arguments of mmpretrain's ``ResNet``
            (``in_channels``, ``out_indices``, ``strides``, ``init_cfg``...).
    """

    def __init__(self,
                 stage_blocks: Sequence[int] = (2, 2, 3, 2),
                 block: str = 'BasicBlock',
                 out_indices: Sequence[int] = (3, ),
                 **kwargs) -> None:
        if block not in _BLOCKS:
            raise ValueError(
                f'block must be one of {sorted(_BLOCKS)}, got {block!r}')
        stage_blocks = tuple(int(b) for b in stage_blocks)
        if not stage_blocks or min(stage_blocks) < 1 or len(stage_blocks) > 4:
            raise ValueError('stage_blocks must list 1 to 4 stages of at '
                             f'least one block each, got {stage_blocks}')
        layers_per_block = 2 if block == 'BasicBlock' else 3
        depth = layers_per_block * sum(stage_blocks) + 2
        num_stages = len(stage_blocks)
        self.__dict__['arch_settings'] = {
            depth: (_BLOCKS[block], stage_blocks)
        }
        kwargs.setdefault('strides', (1, 2, 2, 2)[:num_stages])
        kwargs.setdefault('dilations', (1, ) * num_stages)
        super().__init__(
            depth,
            num_stages=num_stages,
            out_indices=tuple(out_indices),
            **kwargs)
