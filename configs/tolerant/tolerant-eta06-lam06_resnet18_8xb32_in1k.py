# D(0.6, 0.6) on ILSVRC2012 with ResNet-18: every generation follows
# mmpretrain's ResNet-18 recipe (configs/resnet/resnet18_8xb32_in1k.py: 8 GPUs
# x 32 images, 100 epochs, lr 0.1 stepped at 30/60/90). Paper: top-1 error
# 30.50% -> 29.60%, top-5 11.07% -> 10.11% in the best generation.
#   python -m torch.distributed.run --nproc_per_node=8 \
#     tools/train_generations.py \
#     configs/tolerant/tolerant-eta06-lam06_resnet18_8xb32_in1k.py \
#     --launcher pytorch
_base_ = [
    '../resnet/resnet18_8xb32_in1k.py',
    '../_base_/generations/default.py',
]
generations = dict(num_generations=3, eta=0.6, lam=0.6)
