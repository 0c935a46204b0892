"""ImageNet-style ResNet with a free number of blocks per stage.

He et al.'s ImageNet ResNet (7x7 stride-2 stem, 3x3 max pool, four stages of
64/128/256/512 channels with strides 1, 2, 2, 2) where ``stage_blocks`` is a
parameter instead of a depth lookup. The FSP paper's CUB-200-2011 student is
ResNet-20 with ``stage_blocks=(2, 2, 3, 2)`` BasicBlocks; ``(2, 2, 2, 2)`` and
``(3, 4, 6, 3)`` give ResNet-18 and ResNet-34 exactly as mmpretrain builds them
(the same modules and parameters). Initialisation is the paper's: MSRA
(Kaiming) convs and unit BN scales; unlike mmpretrain's ``ResNet``, the last BN
of each block is zero-initialised only with ``zero_init_residual=True`` (as in
mmfsp's ``CifarResNet``).

Module names: ``conv1`` / ``norm1`` / ``relu`` / ``maxpool`` (stem),
``layer1`` .. ``layer4`` (stages).
"""
from typing import Optional, Sequence

from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck, ResNet

from mmfsp.registry import MODELS

_BLOCKS = {'BasicBlock': BasicBlock, 'Bottleneck': Bottleneck}


@MODELS.register_module()
class StagedResNet(ResNet):
    """ResNet whose blocks per stage are given directly.

    Args:
        stage_blocks (Sequence[int]): number of blocks in each stage.
        block (str): ``'BasicBlock'`` or ``'Bottleneck'``.
        out_indices (Sequence[int], optional): stages whose outputs are
            returned; the last stage when omitted.
        zero_init_residual (bool): zero-init the last BN of each block (a
            later trick, not in the FSP paper). Defaults to False.
        **kwargs: the remaining arguments of mmpretrain's ``ResNet``
            (``in_channels``, ``strides``, ``norm_cfg``, ``init_cfg``...).
    """

    def __init__(self,
                 stage_blocks: Sequence[int] = (2, 2, 3, 2),
                 block: str = 'BasicBlock',
                 out_indices: Optional[Sequence[int]] = None,
                 zero_init_residual: bool = False,
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
        out_indices = (num_stages - 1, ) if out_indices is None else tuple(
            int(i) for i in out_indices)
        if not out_indices or not all(0 <= i < num_stages
                                      for i in out_indices):
            raise ValueError(f'out_indices must index the {num_stages} '
                             f'stages of stage_blocks={stage_blocks}, got '
                             f'{out_indices}')
        self.__dict__['arch_settings'] = {
            depth: (_BLOCKS[block], stage_blocks)
        }
        kwargs.setdefault('strides', (1, 2, 2, 2)[:num_stages])
        kwargs.setdefault('dilations', (1, ) * num_stages)
        super().__init__(
            depth,
            num_stages=num_stages,
            out_indices=out_indices,
            zero_init_residual=zero_init_residual,
            **kwargs)
