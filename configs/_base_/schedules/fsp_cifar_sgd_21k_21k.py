# Algorithm 1 of the FSP paper (Yim et al., CVPR 2017; docs/fsp.md) in one run,
# CIFAR-10 fast optimisation: SGD, momentum 0.9, weight decay 1e-4, batch 128.
#   stage 1 (FSP loss):      lr 0.001 -> 1e-4 at 11k -> 1e-5 at 16k, until 21k
#   stage 2 (cross-entropy): lr 0.1 -> 0.01 at +11k -> 0.001 at +16k, +21k
# DistillStageSwitchHook switches at iteration 21000: saves
# stage1_iter_21000.pth, frees the teacher, resets the optimizer state (fresh
# momentum) and sets lr to 0.1; the second MultiStepLR (begin=21000, its
# milestones counted from begin) decays it. 42k iterations in all.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=1e-4))
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
        end=42000,
        milestones=[11000, 16000],
        gamma=0.1),
]
custom_hooks = [
    dict(type='DistillStageSwitchHook', switch_iter=21000, stage_lr=0.1)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=42000, val_interval=3000)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
# The stage lengths in one edit: change `stage_iters` alone (in a child config
# or with --cfg-options stage_iters="(s1,s2)") and mmfsp's tools rescale the
# schedule above to it (docs/fsp.md). `schedule_stage_iters` says what the
# schedule above is written for: a config that rewrites the schedule by hand
# sets both to its new lengths.
stage_iters = (21000, 21000)
schedule_stage_iters = (21000, 21000)
