# FSP network minimisation on CIFAR-10 (Yim et al., CVPR 2017;
# docs/baselines.md): a ResNet-8 student (same 16/32/64 channels, so the three
# FSP pairs match) learns from a trained ResNet-26 teacher. Stage 1 as the
# fast-optimisation experiment (21k); stage 2 as long as the teacher (64k:
# lr 0.1 -> 0.01 at +32k -> 0.001 at +48k).
# The teacher: python tools/train.py configs/resnet/resnet26_1xb128_cifar10.py
# Baseline (ResNet-8 alone): configs/resnet/resnet8_1xb128_cifar10.py
_base_ = ['./fsp-paper_resnet26_resnet26_1xb128_cifar10.py']
model = dict(architecture=dict(backbone=dict(depth=8)))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=21000,
        milestones=[11000, 16000],
        gamma=0.1),
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=21000,
        end=85000,
        milestones=[32000, 48000],
        gamma=0.1),
]
train_cfg = dict(max_iters=85000, val_interval=4000)
# the schedule above is written for these stage lengths (docs/fsp.md)
stage_iters = (21000, 64000)
schedule_stage_iters = (21000, 64000)
