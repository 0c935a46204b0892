# The FSP paper's CIFAR-100 teacher: ResNet-32 with 4x channels, no
# augmentation, 64k iterations. Data in data/cifar100 (mmpretrain layout).
_base_ = [
    '../_base_/models/resnet32x4_cifar.py',
    '../_base_/datasets/cifar100_bs128_noaug.py',
    '../_base_/schedules/cifar_sgd_64k.py',
    '../_base_/default_runtime.py',
]
