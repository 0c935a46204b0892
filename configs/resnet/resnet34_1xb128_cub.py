# The FSP paper's CUB-200-2011 teacher: ResNet-34 pre-trained on ImageNet,
# fine-tuned with lr 0.1 -> 0.01 at 10k -> 0.001 at 20k, 30k iterations.
# Data in data/CUB_200_2011 (mmpretrain layout).
_base_ = [
    '../_base_/models/resnet34_cub.py',
    '../_base_/datasets/cub_bs128.py',
    '../_base_/schedules/cub_sgd_30k.py',
    '../_base_/default_runtime.py',
]
