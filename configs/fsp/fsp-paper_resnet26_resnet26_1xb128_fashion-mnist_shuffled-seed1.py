# Shuffled FSP for diverse students on Fashion-MNIST, the CPU version of
# fsp-paper_resnet26_resnet26_1xb128_cifar10_shuffled-seed1.py:
# fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py (FSP 1k + cross-entropy 1k)
# whose stage 1 learns the FSP matrices of the teacher with its channels
# permuted by seed 1. Three students and their ensemble:
#   for s in 1 2 3; do python tools/train.py \
#     configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_shuffled-seed$s.py
#   done
#   python tools/test_ensemble.py \
#     configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py \
#     work_dirs/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_shuffled-seed{1,2,3}/iter_2000.pth
_base_ = ['./fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py']
model = dict(distiller=dict(type='FSPDistiller', shuffle_seed=1))
