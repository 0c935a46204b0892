# CIFAR ResNet-8 (n = 1), 16/32/64 channels, 10 classes.
_base_ = ['./resnet26_cifar.py']
model = dict(backbone=dict(depth=8))
