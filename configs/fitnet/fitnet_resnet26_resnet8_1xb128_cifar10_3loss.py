# FitNet "3 loss" baseline, CIFAR-10 network minimisation: ResNet-26 teacher,
# ResNet-8 student, three hint losses (stage outputs) for 35k iterations, then
# cross-entropy + KD (tau 3, weight 4 -> 1) for 64k iterations.
#   python tools/train.py \
#     configs/fitnet/fitnet_resnet26_resnet8_1xb128_cifar10_3loss.py
_base_ = [
    '../_base_/distill/fitnet3_cifar_resnet.py',
    '../_base_/datasets/cifar10_bs128.py',
    '../_base_/schedules/fitnet_cifar_sgd_35k_64k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    architecture=dict(backbone=dict(depth=8)),
    teacher_ckpt='work_dirs/resnet26_1xb128_cifar10/iter_64000.pth')
