# Hinton KD baseline, CIFAR-10 network minimisation: a ResNet-8 student
# trained on cross-entropy + KD (tau 3, weight 4 -> 1) from a trained
# ResNet-26 teacher with the teacher's 64k schedule.
#   python tools/train.py configs/kd/kd_resnet26_resnet8_1xb128_cifar10.py
_base_ = [
    '../_base_/distill/kd_cifar_resnet.py',
    '../_base_/datasets/cifar10_bs128.py',
    '../_base_/schedules/kd_cifar_sgd_64k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    architecture=dict(backbone=dict(depth=8)),
    teacher_ckpt='work_dirs/resnet26_1xb128_cifar10/iter_64000.pth')
