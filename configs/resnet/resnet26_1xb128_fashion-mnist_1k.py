# ResNet-26 alone on Fashion-MNIST with one third of the iterations (1k):
# the CPU analogue of resnet26_1xb128_cifar10_21k.py.
_base_ = ['./resnet26_1xb128_fashion-mnist.py']
param_scheduler = dict(milestones=[500, 750])
train_cfg = dict(max_iters=1000, val_interval=500)
