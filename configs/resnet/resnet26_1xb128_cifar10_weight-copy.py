# "Weight copy" row of the FSP paper's CIFAR-10 table: the trained ResNet-26
# teacher trained a further 21k iterations (the student's schedule: lr 0.1 ->
# 0.01 at 11k -> 0.001 at 16k), starting from the teacher's weights
# (load_from: weights only, fresh optimizer and iteration count).
#   python tools/train.py configs/resnet/resnet26_1xb128_cifar10_weight-copy.py
# The teacher first:
#   python tools/train.py configs/resnet/resnet26_1xb128_cifar10.py
_base_ = ['./resnet26_1xb128_cifar10_21k.py']
load_from = 'work_dirs/resnet26_1xb128_cifar10/iter_64000.pth'
