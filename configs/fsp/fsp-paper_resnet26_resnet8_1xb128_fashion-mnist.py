# FSP network minimisation on Fashion-MNIST, the CPU version of
# fsp-paper_resnet26_resnet8_1xb128_cifar10.py: ResNet-8 student, ResNet-26
# teacher; stage 1 1k iterations, stage 2 as long as the teacher (3k: lr 0.1
# -> 0.01 at +1.5k -> 0.001 at +2.25k).
# Baseline: configs/resnet/resnet8_1xb128_fashion-mnist.py
_base_ = ['./fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py']
model = dict(architecture=dict(backbone=dict(depth=8)))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=1000,
        milestones=[500, 750],
        gamma=0.1),
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=1000,
        end=4000,
        milestones=[1500, 2250],
        gamma=0.1),
]
train_cfg = dict(max_iters=4000, val_interval=1000)
# the schedule above is written for these stage lengths (docs/fsp.md)
stage_iters = (1000, 3000)
schedule_stage_iters = (1000, 3000)
