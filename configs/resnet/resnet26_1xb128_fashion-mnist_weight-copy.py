# The weight-copy baseline on Fashion-MNIST (CPU version of
# resnet26_1xb128_cifar10_weight-copy.py): the trained ResNet-26 teacher
# trained a further 1k iterations (lr 0.1 -> 0.01 at 500 -> 0.001 at 750),
# from its weights (load_from).
# The teacher first:
#   python tools/train.py configs/resnet/resnet26_1xb128_fashion-mnist.py
_base_ = ['./resnet26_1xb128_fashion-mnist_1k.py']
load_from = 'work_dirs/resnet26_1xb128_fashion-mnist/iter_3000.pth'
