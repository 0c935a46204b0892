# D(1.0, 0.0) on Fashion-MNIST for CPU work: CIFAR ResNet-8 (1 input channel,
# 10 classes), a short schedule per generation (1k iterations at batch 128,
# about 2 epochs; lr 0.1 -> 0.01 (500) -> 0.001 (750)), 3 generations; tested
# with top-1 accuracy and the secondary-class metric on mmfsp's grouping of
# the 10 classes (docs/generations.md).
#   python tools/train_generations.py \
#     configs/tolerant/tolerant-eta10-lam00_resnet8_1xb128_fashion-mnist.py
_base_ = [
    '../_base_/models/resnet8_cifar.py',
    '../_base_/datasets/fashion_mnist_bs128_secondary.py',
    '../_base_/schedules/fashion_mnist_sgd_3k.py',
    '../_base_/default_runtime.py',
    '../_base_/generations/default.py',
]
model = dict(backbone=dict(in_channels=1), head=dict(num_classes=10))
param_scheduler = dict(milestones=[500, 750])
train_cfg = dict(max_iters=1000, val_interval=1000)
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=500))
randomness = dict(seed=0)
generations = dict(num_generations=3, eta=1.0, lam=0.0)
