# Hinton KD baseline, CIFAR-10 fast optimisation: a ResNet-26 student trained
# on cross-entropy + KD (tau 3, weight 4 -> 1) from a trained ResNet-26
# teacher with the student's 21k schedule (lr 0.1 -> 0.01 at 11k -> 0.001 at
# 16k). See configs/_base_/distill/kd_cifar_resnet.py for plain KD.
#   python tools/train.py configs/kd/kd_resnet26_resnet26_1xb128_cifar10.py
# The teacher: python tools/train.py configs/resnet/resnet26_1xb128_cifar10.py
_base_ = [
    '../_base_/distill/kd_cifar_resnet.py',
    '../_base_/datasets/cifar10_bs128.py',
    '../_base_/schedules/kd_cifar_sgd_21k.py',
    '../_base_/default_runtime.py',
]
model = dict(teacher_ckpt='work_dirs/resnet26_1xb128_cifar10/iter_64000.pth')
