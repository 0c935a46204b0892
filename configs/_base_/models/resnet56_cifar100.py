# CIFAR ResNet-56 (n = 9), 16/32/64 channels, 100 classes: the CIFAR-100
# network of mmfsp's tolerant-teacher generations (He et al.'s CIFAR ResNet;
# a plain ResNet-56 reaches about 71-72.5% on CIFAR-100, the paper's baseline
# range).
_base_ = ['./resnet26_cifar.py']
model = dict(backbone=dict(depth=56), head=dict(num_classes=100))
