# FSP fast optimisation on Fashion-MNIST, the CPU version of
# fsp-paper_resnet26_resnet26_1xb128_cifar10.py: ResNet-26 teacher and student with
# 1 input channel, stage 1 (FSP) 1k iterations, stage 2 (cross-entropy) 1k
# iterations.
# The teacher:
#   python tools/train.py configs/resnet/resnet26_1xb128_fashion-mnist.py
# Baseline (student alone, 1k):
#   configs/resnet/resnet26_1xb128_fashion-mnist_1k.py
_base_ = [
    '../_base_/distill/fsp_cifar_resnet.py',
    '../_base_/datasets/fashion_mnist_bs128.py',
    '../_base_/schedules/fsp_fashion_mnist_sgd_1k_1k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    architecture=dict(backbone=dict(in_channels=1)),
    teacher=dict(backbone=dict(in_channels=1)),
    teacher_ckpt='work_dirs/resnet26_1xb128_fashion-mnist/iter_3000.pth',
    dummy_input_shape=(1, 28, 28))
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=500))
