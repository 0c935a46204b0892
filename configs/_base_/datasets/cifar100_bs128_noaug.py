# CIFAR-100 in mmpretrain's layout (data/cifar100/cifar-100-python), batch 128,
# with no augmentation (the FSP paper's CIFAR-100 experiments).
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py']
train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(pipeline=[dict(type='PackInputs')]))
val_dataloader = dict(batch_size=128, num_workers=4)
test_dataloader = val_dataloader
