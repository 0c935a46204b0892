# D(0.6, 0.6) on Fashion-MNIST for CPU work: ResNet-8, 3 generations of 1k
# iterations (the schedule of the D(1.0, 0.0) config); the patriarch is the
# tolerant teacher (0.6 * CE + 0.4 * TSD), later generations learn with
# 0.4 * CE + 0.6 * KL(p_T || p_S).
#   python tools/train_generations.py \
#     configs/tolerant/tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py
_base_ = ['./tolerant-eta10-lam00_resnet8_1xb128_fashion-mnist.py']
generations = dict(eta=0.6, lam=0.6)
