# Huang et al.'s CIFAR schedule for DenseNets (CVPR 2017, section 4.2): SGD
# with Nesterov momentum 0.9 (no dampening), weight decay 1e-4, batch 64,
# 300 epochs, lr 0.1 divided by 10 at 50% and 75% of training. mmfsp counts
# iterations: 300 epochs x 50,000 images / 64 = 234,375 iterations,
# milestones at epochs 150 and 225 (117,188 and 175,781 iterations).
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR',
    by_epoch=False,
    milestones=[117188, 175781],
    gamma=0.1)
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=234375, val_interval=7813)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
