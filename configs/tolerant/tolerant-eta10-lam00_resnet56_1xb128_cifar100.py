# D(1.0, 0.0) on CIFAR-100: the baseline. Every generation is a ResNet-56
# trained alone on the labels (plain CE, different seed per generation when
# randomness.seed is set); the summary's ensemble rows are ensembles of
# independently trained networks.
#   python tools/train_generations.py \
#     configs/tolerant/tolerant-eta10-lam00_resnet56_1xb128_cifar100.py
# He et al.'s CIFAR schedule per generation: SGD 0.1 -> 0.01 (32k) -> 0.001
# (48k), 64k iterations, batch 128, weight decay 1e-4, momentum 0.9.
_base_ = [
    '../_base_/models/resnet56_cifar100.py',
    '../_base_/datasets/cifar100_bs128_secondary.py',
    '../_base_/schedules/cifar_sgd_64k.py',
    '../_base_/default_runtime.py',
    '../_base_/generations/default.py',
]
generations = dict(num_generations=5, eta=1.0, lam=0.0)
