# CIFAR ResNet-32 (n = 5) with 4x channels (64/128/256), 100 classes.
_base_ = ['./resnet26_cifar.py']
model = dict(
    backbone=dict(depth=32, widen_factor=4),
    head=dict(num_classes=100, in_channels=256))
