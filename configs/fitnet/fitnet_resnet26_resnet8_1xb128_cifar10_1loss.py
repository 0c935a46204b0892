# FitNet "1 loss" baseline, CIFAR-10 network minimisation: a ResNet-8 student
# (16/32/64 channels like the teacher) regresses the middle layer of a trained
# ResNet-26 teacher for 35k iterations, then cross-entropy + KD (tau 3,
# weight 4 -> 1) for 64k iterations (lr 0.1 -> 0.01 at +32k -> 0.001 at +48k).
#   python tools/train.py \
#     configs/fitnet/fitnet_resnet26_resnet8_1xb128_cifar10_1loss.py
_base_ = [
    '../_base_/distill/fitnet_cifar_resnet.py',
    '../_base_/datasets/cifar10_bs128.py',
    '../_base_/schedules/fitnet_cifar_sgd_35k_64k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    architecture=dict(backbone=dict(depth=8)),
    teacher_ckpt='work_dirs/resnet26_1xb128_cifar10/iter_64000.pth')
