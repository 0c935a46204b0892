# D(0.6, 0.6) with TSD in every generation on Fashion-MNIST for CPU work:
# each generation is trained with 0.4 * (0.6 * CE + 0.4 * TSD) + 0.6 * KL, so
# every teacher of the chain is tolerant (the paper applies TSD to the
# patriarch; 'all' is its variant, docs/generations.md). ResNet-8, 3 x 1k
# iterations, tested with accuracy and the secondary-class metric.
#   python tools/train_generations.py \
#     configs/tolerant/tolerant-eta06-lam06-tsdall_resnet8_1xb128_fashion-mnist.py
_base_ = ['./tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py']
generations = dict(tsd_in='all')
