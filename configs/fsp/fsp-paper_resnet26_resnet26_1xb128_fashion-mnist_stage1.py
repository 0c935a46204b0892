# Stage 1 of fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py alone (1k
# iterations of FSP loss); start stage-2 students from it with
# fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_stage2.py.
_base_ = ['./fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py']
train_cfg = dict(max_iters=1000)
# one stage per run: the two-stage `stage_iters` does not apply
stage_iters = None
schedule_stage_iters = None
