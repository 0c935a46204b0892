# Shuffled FSP for diverse students on Fashion-MNIST, the CPU version of
# resnet26_cifar10_shuffled_seed1.py: resnet26_fashion_mnist.py (FSP 1k +
# cross-entropy 1k) whose stage 1 learns the FSP matrices of the teacher with
# its channels permuted by seed 1. Three students and their ensemble:
#   for s in 1 2 3; do python tools/train.py \
#     configs/fsp/resnet26_fashion_mnist_shuffled_seed$s.py; done
#   python tools/test_ensemble.py configs/fsp/resnet26_fashion_mnist.py \
#     work_dirs/resnet26_fashion_mnist_shuffled_seed{1,2,3}/iter_2000.pth
_base_ = ['./resnet26_fashion_mnist.py']
model = dict(distiller=dict(type='FSPDistiller', shuffle_seed=1))
work_dir = './work_dirs/resnet26_fashion_mnist_shuffled_seed1'
