# D(1.0, 0.0) on CIFAR-100 with DenseNet-BC-190 (growth 40): the baseline,
# every generation trained alone on the labels (plain CE, seed + g).
#   python tools/train_generations.py \
#     configs/tolerant/tolerant-eta10-lam00_densenet-bc190-k40_1xb64_cifar100.py
# The same recipe as DenseNet-BC-100 (Huang et al. 2017: batch 64, 300
# epochs, Nesterov SGD, lr 0.1 / 10 at epochs 150 and 225, weight decay
# 1e-4); Huang et al. train it on several GPUs with 64 images in all: with
# N GPUs use N x (64 / N) (train_dataloader.batch_size=64/N) so that the
# schedule stays the same. Schedule and generation count are mmfsp's choice
# (see the DenseNet-BC-100 config).
_base_ = [
    '../_base_/models/densenet-bc190-k40_cifar100.py',
    '../_base_/datasets/cifar100_bs128_secondary.py',
    '../_base_/schedules/densenet_cifar_sgd_234k.py',
    '../_base_/default_runtime.py',
    '../_base_/generations/default.py',
]
train_dataloader = dict(batch_size=64)
generations = dict(num_generations=5, eta=1.0, lam=0.0)
