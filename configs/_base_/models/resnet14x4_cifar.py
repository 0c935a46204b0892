# CIFAR ResNet-14 (n = 2) with 4x channels (64/128/256), 100 classes.
_base_ = ['./resnet32x4_cifar.py']
model = dict(backbone=dict(depth=14))
