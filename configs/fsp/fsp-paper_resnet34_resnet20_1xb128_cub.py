# FSP transfer learning on CUB-200-2011 (Yim et al., CVPR 2017): a ResNet-20
# student ((2, 2, 3, 2) BasicBlocks, MSRA init) learns the four FSP matrices of
# a ResNet-34 teacher pre-trained on ImageNet and fine-tuned on CUB.
#   stage 1 (FSP loss):      lr 0.1 -> 0.01 at 11k -> 0.001 at 16k, until 21k
#   stage 2 (cross-entropy): lr 0.1 -> 0.01 at +10k -> 0.001 at +20k, +30k
# The teacher: python tools/train.py configs/resnet/resnet34_1xb128_cub.py
# Baseline (ResNet-20 alone): configs/resnet/resnet20_1xb128_cub.py
# In mmfsp's end-to-end test on tiny files this recipe (summed loss at
# stage-1 lr 0.1) diverged in two iterations, the recommended
# fsp_resnet34_resnet20_1xb128_cub.py did not (configs/fsp/README.md,
# "Transfer learning on CUB-200-2011").
_base_ = [
    '../_base_/distill/fsp_imagenet_resnet.py',
    '../_base_/datasets/cub_bs128.py',
    '../_base_/schedules/fsp_cifar_sgd_21k_21k.py',
    '../_base_/default_runtime.py',
]
model = dict(teacher_ckpt='work_dirs/resnet34_1xb128_cub/iter_30000.pth')
optim_wrapper = dict(optimizer=dict(lr=0.1))
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
        end=51000,
        milestones=[10000, 20000],
        gamma=0.1),
]
custom_hooks = [
    dict(type='DistillStageSwitchHook', switch_iter=21000, stage_lr=0.1)
]
train_cfg = dict(max_iters=51000, val_interval=5000)
# the schedule above is written for these stage lengths (docs/fsp.md)
stage_iters = (21000, 30000)
schedule_stage_iters = (21000, 30000)
