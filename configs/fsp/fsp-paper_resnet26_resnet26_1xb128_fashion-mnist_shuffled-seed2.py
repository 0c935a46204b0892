# Shuffled FSP student 2 of 3 (see
# fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_shuffled-seed1.py).
_base_ = ['./fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_shuffled-seed1.py']
model = dict(distiller=dict(shuffle_seed=2))
