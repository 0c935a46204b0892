# The CIFAR-10 two-stage FSP schedule (fsp_cifar_sgd_21k_21k.py) scaled to
# Fashion-MNIST on a CPU, one third of the 3k-iteration teacher schedule per
# stage:
#   stage 1 (FSP loss):      lr 0.001 -> 1e-4 at 500 -> 1e-5 at 750, until 1k
#   stage 2 (cross-entropy): lr 0.1 -> 0.01 at +500 -> 0.001 at +750, +1k
_base_ = ['./fsp_cifar_sgd_21k_21k.py']
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
        end=2000,
        milestones=[500, 750],
        gamma=0.1),
]
custom_hooks = [
    dict(type='DistillStageSwitchHook', switch_iter=1000, stage_lr=0.1)
]
train_cfg = dict(max_iters=2000, val_interval=500)
# The stage lengths in one edit: change `stage_iters` alone (in a child config
# or with --cfg-options stage_iters="(s1,s2)") and mmfsp's tools rescale the
# schedule above to it (docs/fsp.md). `schedule_stage_iters` says what the
# schedule above is written for: a config that rewrites the schedule by hand
# sets both to its new lengths.
stage_iters = (1000, 1000)
schedule_stage_iters = (1000, 1000)
