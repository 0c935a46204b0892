# D(1.0, 0.6) on CIFAR-100: strict-teacher generations, student loss
# 0.4 * CE + 0.6 * KL(p_T || p_S), teacher = the previous generation.
_base_ = ['./tolerant-eta10-lam00_resnet56_1xb128_cifar100.py']
generations = dict(eta=1.0, lam=0.6)
