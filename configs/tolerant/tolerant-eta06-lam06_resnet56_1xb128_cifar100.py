# D(0.6, 0.6) on CIFAR-100: the tolerant teacher. The patriarch (generation
# 0) is trained with 0.6 * CE + 0.4 * TSD (K = 5); every later generation
# with 0.4 * CE + 0.6 * KL(p_T || p_S) from the previous one. Set
# generations.tsd_in='all' to give every generation the TSD term
# (0.4 * (0.6 * CE + 0.4 * TSD) + 0.6 * KL).
_base_ = ['./tolerant-eta10-lam00_resnet56_1xb128_cifar100.py']
generations = dict(eta=0.6, lam=0.6)
