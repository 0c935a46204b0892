# ResNet-26 trained alone for one third of the teacher's iterations (21k):
# the baseline of the FSP paper's fast-optimisation table.
_base_ = [
    '../_base_/models/resnet26_cifar.py',
    '../_base_/datasets/cifar10_bs128.py',
    '../_base_/schedules/cifar_sgd_21k.py',
    '../_base_/default_runtime.py',
]
