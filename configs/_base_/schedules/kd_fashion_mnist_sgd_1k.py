# kd_cifar_sgd_21k.py scaled to Fashion-MNIST (as resnet26_fashion_mnist_1k):
# 1k iterations, lr 0.1 -> 0.01 at 500 -> 0.001 at 750, KD weight 4 -> 1.
_base_ = ['./fashion_mnist_sgd_3k.py']
param_scheduler = dict(milestones=[500, 750])
train_cfg = dict(max_iters=1000, val_interval=500)
custom_hooks = [
    dict(
        type='LossWeightScheduleHook',
        loss_name='loss_kd',
        start_value=4.0,
        end_value=1.0,
        begin=0,
        end=1000),
]
