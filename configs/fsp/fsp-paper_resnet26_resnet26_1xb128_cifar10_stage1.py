# Stage 1 of fsp-paper_resnet26_resnet26_1xb128_cifar10.py alone (21k iterations of
# FSP loss), to start several stage-2 students from one stage-1 model
# (fsp-paper_resnet26_resnet26_1xb128_cifar10_stage2.py).
_base_ = ['./fsp-paper_resnet26_resnet26_1xb128_cifar10.py']
train_cfg = dict(max_iters=21000)
# one stage per run: the two-stage `stage_iters` does not apply
stage_iters = None
schedule_stage_iters = None
