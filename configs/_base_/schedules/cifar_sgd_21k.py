# One third of the teacher's iterations (the FSP paper's stage 2 / fast
# optimisation): lr 0.1 -> 0.01 at 11k -> 0.001 at 16k, 21k iterations.
_base_ = ['./cifar_sgd_64k.py']
param_scheduler = dict(milestones=[11000, 16000])
train_cfg = dict(max_iters=21000, val_interval=3000)
