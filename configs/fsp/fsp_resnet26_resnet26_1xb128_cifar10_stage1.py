# Stage 1 of resnet26_cifar10.py alone (21k iterations of FSP loss), to start
# several stage-2 students from one stage-1 model (resnet26_cifar10_stage2.py).
_base_ = ['./resnet26_cifar10.py']
train_cfg = dict(max_iters=21000)
# Its own work dir (configs inheriting this one set theirs).
work_dir = './work_dirs/resnet26_cifar10_stage1'
