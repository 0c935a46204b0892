# Compared alternative: the teacher softened by the confidence penalty
# CE - beta * H(p) (Pereyra et al. 2017; beta = 0.1, a starting value: the
# paper tunes it) instead of TSD; later generations as in D(1.0, 0.6).
_base_ = ['./tolerant-eta10-lam00_resnet56_1xb128_cifar100.py']
generations = dict(
    eta=1.0,
    lam=0.6,
    teacher_loss=dict(type='ConfidencePenaltyLoss', beta=0.1))
