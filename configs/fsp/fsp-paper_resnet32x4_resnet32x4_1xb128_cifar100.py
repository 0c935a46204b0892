# FSP fast optimisation on CIFAR-100 (Yim et al., CVPR 2017;
# docs/baselines.md): ResNet-32 with 4x channels (64/128/256) as teacher and
# student, no augmentation. Stage 1:
# lr 0.001 -> 1e-4 at 16k -> 1e-5 at 24k until 32k; stage 2 as CIFAR-10 (lr
# 0.1 -> 0.01 at +11k -> 0.001 at +16k, 21k): 53k iterations in all.
# The teacher:
#   python tools/train.py configs/resnet/resnet32x4_1xb128_cifar100.py
_base_ = [
    '../_base_/distill/fsp_cifar_resnet.py',
    '../_base_/datasets/cifar100_bs128_noaug.py',
    '../_base_/schedules/fsp_cifar_sgd_21k_21k.py',
    '../_base_/default_runtime.py',
]
_resnet32x4 = dict(
    backbone=dict(depth=32, widen_factor=4),
    head=dict(num_classes=100, in_channels=256))
model = dict(
    architecture=_resnet32x4,
    teacher=_resnet32x4,
    teacher_ckpt='work_dirs/resnet32x4_1xb128_cifar100/iter_64000.pth')
del _resnet32x4
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=32000,
        milestones=[16000, 24000],
        gamma=0.1),
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=32000,
        end=53000,
        milestones=[11000, 16000],
        gamma=0.1),
]
custom_hooks = [
    dict(type='DistillStageSwitchHook', switch_iter=32000, stage_lr=0.1)
]
train_cfg = dict(max_iters=53000, val_interval=4000)
# the schedule above is written for these stage lengths (docs/fsp.md)
stage_iters = (32000, 21000)
schedule_stage_iters = (32000, 21000)
