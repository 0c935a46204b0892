# D(0.6, 0.6) on CIFAR-100 with DenseNet-BC-100 (growth 12): the tolerant
# teacher. The patriarch (generation 0) is trained with 0.6 * CE + 0.4 * TSD
# (K = 5); every later generation with 0.4 * CE + 0.6 * KL(p_T || p_S) from
# the previous one (generations.tsd_in='all' gives every generation the TSD
# term). Network and schedule: the D(1.0, 0.0) config.
_base_ = ['./tolerant-eta10-lam00_densenet-bc100-k12_1xb64_cifar100.py']
generations = dict(eta=0.6, lam=0.6)
