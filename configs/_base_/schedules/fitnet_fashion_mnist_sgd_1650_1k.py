# The FitNet schedule (fitnet_cifar_sgd_35k_21k.py) scaled to Fashion-MNIST
# on a CPU by the teacher's ratio 3k / 64k, as the FSP Fashion-MNIST
# schedules: stage 1 (hints) lr 1e-4 -> 1e-5 at 1200, until 1650 (35k, 25k
# scaled); stage 2 (CE + KD, weight 4 -> 1) lr 0.1 -> 0.01 at +500 -> 0.001
# at +750, until +1000 (the FSP Fashion-MNIST stage 2). 2650 in all.
_base_ = ['./fitnet_cifar_sgd_35k_21k.py']
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=1650,
        milestones=[1200],
        gamma=0.1),
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=1650,
        end=2650,
        milestones=[500, 750],
        gamma=0.1),
]
custom_hooks = [
    dict(type='DistillStageSwitchHook', switch_iter=1650, stage_lr=0.1),
    dict(
        type='LossWeightScheduleHook',
        loss_name='loss_kd',
        start_value=4.0,
        end_value=1.0,
        begin=1650,
        end=2650),
]
train_cfg = dict(max_iters=2650, val_interval=500)
# The stage lengths in one edit: change `stage_iters` alone (in a child config
# or with --cfg-options stage_iters="(s1,s2)") and mmfsp's tools rescale the
# schedule above to it (docs/fsp.md). `schedule_stage_iters` says what the
# schedule above is written for: a config that rewrites the schedule by hand
# sets both to its new lengths.
stage_iters = (1650, 1000)
schedule_stage_iters = (1650, 1000)
