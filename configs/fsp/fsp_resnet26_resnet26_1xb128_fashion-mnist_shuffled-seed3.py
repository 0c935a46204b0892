# Shuffled FSP student 3 of 3 (see resnet26_fashion_mnist_shuffled_seed1.py).
_base_ = ['./resnet26_fashion_mnist_shuffled_seed1.py']
model = dict(distiller=dict(shuffle_seed=3))
work_dir = './work_dirs/resnet26_fashion_mnist_shuffled_seed3'
