# ResNet-18 on ImageNet, mmpretrain's standard recipe (8 GPUs x 32 images,
# 100 epochs, lr 0.1 stepped at 30/60/90), in the mmfsp scope. Data in
# data/imagenet (mmpretrain layout). The tolerant-teacher paper's ILSVRC2012
# experiments start from this config.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py']
default_scope = 'mmfsp'
custom_imports = dict(imports=['mmfsp'], allow_failed_imports=False)
