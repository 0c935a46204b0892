# kd_cifar_sgd_64k.py scaled to Fashion-MNIST: the teacher's 3k schedule
# (lr 0.1 -> 0.01 at 1500 -> 0.001 at 2250), KD weight 4 -> 1 over it.
_base_ = ['./fashion_mnist_sgd_3k.py']
custom_hooks = [
    dict(
        type='LossWeightScheduleHook',
        loss_name='loss_kd',
        start_value=4.0,
        end_value=1.0,
        begin=0,
        end=3000),
]
