# Compared alternative on Fashion-MNIST for CPU work: the patriarch softened
# by the confidence penalty CE - beta * H(p) (Pereyra et al. 2017; beta 0.1,
# mmfsp's choice) instead of TSD; later generations learn with
# 0.4 * CE + 0.6 * KL. ResNet-8, 3 x 1k iterations, tested with accuracy and
# the secondary-class metric.
#   python tools/train_generations.py \
#     configs/tolerant/tolerant-confpenalty-lam06_resnet8_1xb128_fashion-mnist.py
_base_ = ['./tolerant-eta10-lam06_resnet8_1xb128_fashion-mnist.py']
generations = dict(teacher_loss=dict(type='ConfidencePenaltyLoss', beta=0.1))
