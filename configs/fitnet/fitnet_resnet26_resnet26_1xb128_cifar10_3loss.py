# FitNet "3 loss" baseline of the FSP paper, CIFAR-10 fast optimisation: as
# fitnet_resnet26_resnet26_1xb128_cifar10_1loss.py, but the student's three
# stage outputs each regress the teacher's (three hint losses) in stage 1
# (35k iterations), then cross-entropy + KD (tau 3, weight 4 -> 1) for 21k
# iterations.
#   python tools/train.py \
#     configs/fitnet/fitnet_resnet26_resnet26_1xb128_cifar10_3loss.py
_base_ = [
    '../_base_/distill/fitnet3_cifar_resnet.py',
    '../_base_/datasets/cifar10_bs128.py',
    '../_base_/schedules/fitnet_cifar_sgd_35k_21k.py',
    '../_base_/default_runtime.py',
]
model = dict(teacher_ckpt='work_dirs/resnet26_1xb128_cifar10/iter_64000.pth')
