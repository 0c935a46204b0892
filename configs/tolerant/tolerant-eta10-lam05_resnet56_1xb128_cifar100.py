# D(1.0, 0.5) on CIFAR-100: strict-teacher generations, student loss
# 0.5 * CE + 0.5 * KL(p_T || p_S), teacher = the previous generation.
_base_ = ['./resnet56_cifar100_eta10_lam00.py']
generations = dict(eta=1.0, lam=0.5)
