# FitNet "1 loss" network minimisation on Fashion-MNIST, the CPU version of
# fitnet_resnet26_resnet8_1xb128_cifar10_1loss.py: ResNet-26 teacher,
# ResNet-8 student; stage 1 (hints) 1650 iterations, lr 1e-4 -> 1e-5 at 1200;
# stage 2 (cross-entropy + KD, tau 3, weight 4 -> 1) as long as the teacher,
# 3000 iterations, lr 0.1 -> 0.01 at +1500 -> 0.001 at +2250.
_base_ = [
    '../_base_/distill/fitnet_cifar_resnet.py',
    '../_base_/datasets/fashion_mnist_bs128.py',
    '../_base_/schedules/fitnet_fashion_mnist_sgd_1650_3k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    architecture=dict(backbone=dict(depth=8, in_channels=1)),
    teacher=dict(backbone=dict(in_channels=1)),
    teacher_ckpt='work_dirs/resnet26_1xb128_fashion-mnist/iter_3000.pth',
    dummy_input_shape=(1, 28, 28))
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=500))
