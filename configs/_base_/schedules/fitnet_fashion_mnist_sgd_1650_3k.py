# fitnet_fashion_mnist_sgd_1650_1k.py with the network-minimisation stage 2:
# as long as the Fashion-MNIST teacher (3k: lr 0.1 -> 0.01 at +1500 -> 0.001
# at +2250), KD weight 4 -> 1 over it. 4650 iterations in all.
_base_ = ['./fitnet_fashion_mnist_sgd_1650_1k.py']
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
        end=4650,
        milestones=[1500, 2250],
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
        end=4650),
]
train_cfg = dict(max_iters=4650, val_interval=500)
# The stage lengths in one edit: change `stage_iters` alone (in a child config
# or with --cfg-options stage_iters="(s1,s2)") and mmfsp's tools rescale the
# schedule above to it (docs/fsp.md). `schedule_stage_iters` says what the
# schedule above is written for: a config that rewrites the schedule by hand
# sets both to its new lengths.
stage_iters = (1650, 3000)
schedule_stage_iters = (1650, 3000)
