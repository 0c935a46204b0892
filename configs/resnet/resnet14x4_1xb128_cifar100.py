# ResNet-14 with 4x channels trained alone on CIFAR-100 (no augmentation,
# 64k iterations): the network-minimisation baseline (paper: 58.65%).
_base_ = [
    '../_base_/models/resnet14x4_cifar.py',
    '../_base_/datasets/cifar100_bs128_noaug.py',
    '../_base_/schedules/cifar_sgd_64k.py',
    '../_base_/default_runtime.py',
]
