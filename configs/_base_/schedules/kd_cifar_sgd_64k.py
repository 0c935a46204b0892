# Hinton KD baseline, CIFAR network minimisation: the teacher's 64k schedule
# (lr 0.1 -> 0.01 at 32k -> 0.001 at 48k), KD weight 4 -> 1 over it.
_base_ = ['./cifar_sgd_64k.py']
custom_hooks = [
    dict(
        type='LossWeightScheduleHook',
        loss_name='loss_kd',
        start_value=4.0,
        end_value=1.0,
        begin=0,
        end=64000),
]
