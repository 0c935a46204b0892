# CIFAR-100 in mmpretrain's layout (data/cifar100/cifar-100-python), batch 128,
# pad 4 + random crop + flip (the tolerant-teacher paper's CIFAR-100 setting).
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py']
train_dataloader = dict(batch_size=128, num_workers=4)
val_dataloader = dict(batch_size=128, num_workers=4)
test_dataloader = val_dataloader
