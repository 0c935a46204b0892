# A CPU-sized version of the 64k CIFAR schedule for Fashion-MNIST (about six
# epochs at batch 128): same optimiser, same shape, milestones at 1/2 and 3/4.
_base_ = ['./cifar_sgd_64k.py']
param_scheduler = dict(milestones=[1500, 2250])
train_cfg = dict(max_iters=3000, val_interval=1000)
