# Hinton KD network minimisation on Fashion-MNIST, the CPU version of
# kd_resnet26_resnet8_1xb128_cifar10.py: ResNet-26 teacher, ResNet-8 student,
# the teacher's 3k schedule, cross-entropy + KD (tau 3, weight 4 -> 1).
_base_ = [
    '../_base_/distill/kd_cifar_resnet.py',
    '../_base_/datasets/fashion_mnist_bs128.py',
    '../_base_/schedules/kd_fashion_mnist_sgd_3k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    architecture=dict(backbone=dict(depth=8, in_channels=1)),
    teacher=dict(backbone=dict(in_channels=1)),
    teacher_ckpt='work_dirs/resnet26_1xb128_fashion-mnist/iter_3000.pth',
    dummy_input_shape=(1, 28, 28))
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=1000))
