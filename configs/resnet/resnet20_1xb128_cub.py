# The FSP paper's CUB-200-2011 student trained alone: ResNet-20 with
# (2, 2, 3, 2) BasicBlocks, same schedule as the teacher.
_base_ = [
    '../_base_/models/resnet20_staged_cub.py',
    '../_base_/datasets/cub_bs128.py',
    '../_base_/schedules/cub_sgd_30k.py',
    '../_base_/default_runtime.py',
]
