# D(1.0, 0.0) on CIFAR-100 with DenseNet-BC-100 (growth 12): the baseline.
# Every generation is trained alone on the labels (plain CE, seed + g when
# randomness.seed is set); the summary's ensemble rows are ensembles of
# independently trained networks.
#   python tools/train_generations.py \
#     configs/tolerant/tolerant-eta10-lam00_densenet-bc100-k12_1xb64_cifar100.py
# Per generation, DenseNet's own CIFAR recipe (Huang et al. 2017): batch 64,
# 300 epochs (234,375 iterations), SGD with Nesterov momentum 0.9, weight
# decay 1e-4, lr 0.1 / 10 at epochs 150 and 225, pad-4 crop and flip.
# Yang et al. train DenseNet-BC-100 and -190 in generations but the
# schedule is not quoted in docs/generations.md; using Huang et al.'s is
# mmfsp's choice, and so is the number of generations (5, as for ResNet-56).
_base_ = [
    '../_base_/models/densenet-bc100-k12_cifar100.py',
    '../_base_/datasets/cifar100_bs128_secondary.py',
    '../_base_/schedules/densenet_cifar_sgd_234k.py',
    '../_base_/default_runtime.py',
    '../_base_/generations/default.py',
]
train_dataloader = dict(batch_size=64)
generations = dict(num_generations=5, eta=1.0, lam=0.0)
