# Stage 1 of resnet26_fashion_mnist.py alone (1k iterations of FSP loss);
# start stage-2 students from it with resnet26_fashion_mnist_stage2.py.
_base_ = ['./resnet26_fashion_mnist.py']
train_cfg = dict(max_iters=1000)
# Its own work dir (configs inheriting this one set theirs).
work_dir = './work_dirs/resnet26_fashion_mnist_stage1'
