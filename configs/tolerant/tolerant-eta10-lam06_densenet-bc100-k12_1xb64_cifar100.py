# D(1.0, 0.6) on CIFAR-100 with DenseNet-BC-100 (growth 12): strict-teacher
# generations, student loss 0.4 * CE + 0.6 * KL(p_T || p_S), teacher = the
# previous generation. Network and schedule: the D(1.0, 0.0) config.
_base_ = ['./tolerant-eta10-lam00_densenet-bc100-k12_1xb64_cifar100.py']
generations = dict(eta=1.0, lam=0.6)
