# FitNet "1 loss" baseline of the FSP paper, CIFAR-10 fast optimisation: a
# ResNet-26 student regresses the middle layer (stage-2 output) of a trained
# ResNet-26 teacher for 35k iterations (lr 1e-4 -> 1e-5 at 25k), then trains
# with cross-entropy + KD (tau 3, weight 4 -> 1) for 21k iterations (lr 0.1 ->
# 0.01 at +11k -> 0.001 at +16k), in one run:
#   python tools/train.py \
#     configs/fitnet/fitnet_resnet26_resnet26_1xb128_cifar10_1loss.py
# The teacher: python tools/train.py configs/resnet/resnet26_1xb128_cifar10.py
_base_ = [
    '../_base_/distill/fitnet_cifar_resnet.py',
    '../_base_/datasets/cifar10_bs128.py',
    '../_base_/schedules/fitnet_cifar_sgd_35k_21k.py',
    '../_base_/default_runtime.py',
]
model = dict(teacher_ckpt='work_dirs/resnet26_1xb128_cifar10/iter_64000.pth')
