# resnet8 (CIFAR design) on Fashion-MNIST for CPU work: 1 input channel,
# 28x28 images, 10 classes, the 64k schedule scaled to 3k iterations.
_base_ = [
    '../_base_/models/resnet8_cifar.py',
    '../_base_/datasets/fashion_mnist_bs128.py',
    '../_base_/schedules/fashion_mnist_sgd_3k.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(in_channels=1), head=dict(num_classes=10))
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=1000))
