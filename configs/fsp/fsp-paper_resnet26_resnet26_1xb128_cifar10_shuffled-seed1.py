# Shuffled FSP for diverse students (Yim et al., CVPR 2017; docs/baselines.md),
# CIFAR-10 fast optimisation: fsp-paper_resnet26_resnet26_1xb128_cifar10.py whose
# stage 1 learns the FSP matrices of an equivalent, channel-permuted teacher
# (FSPDistiller, shuffle_seed 1: one seeded permutation per residual stream /
# channel count, shared by every FSP matrix using that feature). Students
# with seeds 1, 2, 3 differ more than plain FSP students, and their ensemble
# is better:
#   for s in 1 2 3; do python tools/train.py \
#     configs/fsp/fsp-paper_resnet26_resnet26_1xb128_cifar10_shuffled-seed$s.py
#   done
#   python tools/test_ensemble.py \
#     configs/fsp/fsp-paper_resnet26_resnet26_1xb128_cifar10.py \
#     work_dirs/fsp-paper_resnet26_resnet26_1xb128_cifar10_shuffled-seed{1,2,3}/iter_42000.pth
# Any other seed: --cfg-options model.distiller.shuffle_seed=<n>.
_base_ = ['./fsp-paper_resnet26_resnet26_1xb128_cifar10.py']
model = dict(distiller=dict(type='FSPDistiller', shuffle_seed=1))
