# Hinton KD baseline, CIFAR fast optimisation: the student's 21k schedule (lr
# 0.1 -> 0.01 at 11k -> 0.001 at 16k) with the KD weight moving linearly from 4
# (first iteration) to 1 (last), as FitNet's stage 2 in the FSP paper (Yim et
# al., CVPR 2017; docs/baselines.md).
_base_ = ['./cifar_sgd_21k.py']
custom_hooks = [
    dict(
        type='LossWeightScheduleHook',
        loss_name='loss_kd',
        start_value=4.0,
        end_value=1.0,
        begin=0,
        end=21000),
]
