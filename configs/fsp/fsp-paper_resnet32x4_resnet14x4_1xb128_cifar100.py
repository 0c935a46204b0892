# FSP network minimisation on CIFAR-100 (Yim et al., CVPR 2017;
# docs/baselines.md), no augmentation: a ResNet-14x4 student (64/128/256
# channels, as the teacher) learns from a trained ResNet-32x4. Stage 1 as
# fsp-paper_resnet32x4_resnet32x4_1xb128_cifar100.py (32k); stage 2 64k (lr 0.1 ->
# 0.01 at +32k -> 0.001 at +48k), as the baseline
# configs/resnet/resnet14x4_1xb128_cifar100.py (paper: 58.65% alone).
# The teacher:
#   python tools/train.py configs/resnet/resnet32x4_1xb128_cifar100.py
_base_ = ['./fsp-paper_resnet32x4_resnet32x4_1xb128_cifar100.py']
model = dict(architecture=dict(backbone=dict(depth=14)))
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
        end=96000,
        milestones=[32000, 48000],
        gamma=0.1),
]
train_cfg = dict(max_iters=96000, val_interval=4000)
# the schedule above is written for these stage lengths (docs/fsp.md)
stage_iters = (32000, 64000)
schedule_stage_iters = (32000, 64000)
