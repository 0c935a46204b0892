# ResNet-8 trained alone on CIFAR-10 with the teacher's 64k schedule (the
# network-minimisation baseline).
_base_ = [
    '../_base_/models/resnet8_cifar.py',
    '../_base_/datasets/cifar10_bs128.py',
    '../_base_/schedules/cifar_sgd_64k.py',
    '../_base_/default_runtime.py',
]
