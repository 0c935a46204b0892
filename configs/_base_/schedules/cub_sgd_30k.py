# The FSP paper's CUB-200-2011 schedule: lr 0.1 -> 0.01 at 10k -> 0.001 at 20k,
# 30k iterations, SGD momentum 0.9, weight decay 1e-4, batch 128.
_base_ = ['./cifar_sgd_64k.py']
param_scheduler = dict(milestones=[10000, 20000])
train_cfg = dict(max_iters=30000, val_interval=5000)
