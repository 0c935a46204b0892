# The FSP paper's CIFAR-10 teacher: ResNet-26, 64k iterations, lr 0.1 -> 0.01
# at 32k -> 0.001 at 48k, batch 128. Data in data/cifar10 (mmpretrain layout).
_base_ = [
    '../_base_/models/resnet26_cifar.py',
    '../_base_/datasets/cifar10_bs128.py',
    '../_base_/schedules/cifar_sgd_64k.py',
    '../_base_/default_runtime.py',
]
