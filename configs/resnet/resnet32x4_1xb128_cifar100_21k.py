# ResNet-32x4 alone with one third of the iterations (fast-optimisation
# baseline on CIFAR-100, the paper's 61.32%).
_base_ = [
    '../_base_/models/resnet32x4_cifar.py',
    '../_base_/datasets/cifar100_bs128_noaug.py',
    '../_base_/schedules/cifar_sgd_21k.py',
    '../_base_/default_runtime.py',
]
