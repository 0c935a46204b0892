# He et al.'s CIFAR schedule as the FSP paper uses it: SGD, momentum 0.9,
# weight decay 1e-4, batch 128, lr 0.1 -> 0.01 at 32k -> 0.001 at 48k, 64k iters.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=False, milestones=[32000, 48000], gamma=0.1)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=64000, val_interval=4000)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
