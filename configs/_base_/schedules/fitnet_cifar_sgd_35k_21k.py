# FitNet baseline of the FSP paper (Yim et al., CVPR 2017; docs/baselines.md)
# in one run, CIFAR fast optimisation: SGD, momentum 0.9, weight decay 1e-4,
# batch 128.
#   stage 1 (hints):   lr 1e-4 -> 1e-5 at 25k, until 35k
#   stage 2 (CE + KD): lr 0.1 -> 0.01 at +11k -> 0.001 at +16k, until +21k
#                      (the FSP students' stage 2), KD weight 4 -> 1
# DistillStageSwitchHook switches at iteration 35000 (saves
# stage1_iter_35000.pth, resets the optimizer state, lr 0.1; the teacher is
# kept for KD); LossWeightScheduleHook sets loss_kd's weight linearly from 4
# (iteration 35000) to 1 (iteration 55999), from the iteration number, so a
# resumed run continues the same schedule. 56k iterations in all.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1e-4, momentum=0.9, weight_decay=1e-4))
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
        end=56000,
        milestones=[11000, 16000],
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
        end=56000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=56000, val_interval=3000)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
# The stage lengths in one edit: change `stage_iters` alone (in a child config
# or with --cfg-options stage_iters="(s1,s2)") and mmfsp's tools rescale the
# schedule above to it (docs/fsp.md). `schedule_stage_iters` says what the
# schedule above is written for: a config that rewrites the schedule by hand
# sets both to its new lengths.
stage_iters = (35000, 21000)
schedule_stage_iters = (35000, 21000)
