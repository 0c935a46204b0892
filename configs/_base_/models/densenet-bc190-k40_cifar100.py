# DenseNet-BC-190 with growth rate 40 (Huang et al., CVPR 2017: 31 bottleneck
# layers per dense block, compression 0.5, 3x3 stem with 80 channels; 25.6M
# parameters with a 10-class classifier, 25.8M with 100 classes), 100
# classes: the large CIFAR-100 network of the tolerant-teacher generations
# (Yang et al., AAAI 2019). On a GPU short of memory, set
# model.backbone.memory_efficient=True (recomputes the bottlenecks).
_base_ = ['./densenet-bc100-k12_cifar100.py']
model = dict(
    backbone=dict(depth=190, growth_rate=40),
    head=dict(in_channels=2190))  # 80 + 3 * 31 * 40 channels, halved twice
