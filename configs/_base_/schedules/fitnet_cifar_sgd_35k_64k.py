# FitNet baseline, CIFAR network minimisation: stage 1 as in
# fitnet_cifar_sgd_35k_21k.py (35k, lr 1e-4 -> 1e-5 at 25k); stage 2 as long
# as the teacher: 64k, lr 0.1 -> 0.01 at +32k -> 0.001 at +48k, KD weight
# 4 -> 1 over those 64k. 99k iterations in all.
_base_ = ['./fitnet_cifar_sgd_35k_21k.py']
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=35000,
        milestones=[25000],
        gamma=0.1),
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=35000,
        end=99000,
        milestones=[32000, 48000],
        gamma=0.1),
]
custom_hooks = [
    dict(type='DistillStageSwitchHook', switch_iter=35000, stage_lr=0.1),
    dict(
        type='LossWeightScheduleHook',
        loss_name='loss_kd',
        start_value=4.0,
        end_value=1.0,
        begin=35000,
        end=99000),
]
train_cfg = dict(max_iters=99000, val_interval=4000)
# The stage lengths in one edit: change `stage_iters` alone (in a child config
# or with --cfg-options stage_iters="(s1,s2)") and mmfsp's tools rescale the
# schedule above to it (docs/fsp.md). `schedule_stage_iters` says what the
# schedule above is written for: a config that rewrites the schedule by hand
# sets both to its new lengths.
stage_iters = (35000, 64000)
schedule_stage_iters = (35000, 64000)
