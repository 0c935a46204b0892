# Shuffled FSP student 2 of 3 (see resnet26_fashion_mnist_shuffled_seed1.py).
_base_ = ['./resnet26_fashion_mnist_shuffled_seed1.py']
model = dict(distiller=dict(shuffle_seed=2))
work_dir = './work_dirs/resnet26_fashion_mnist_shuffled_seed2'
