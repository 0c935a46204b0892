# CIFAR-10 in mmpretrain's layout (data/cifar10/cifar-10-batches-py), batch 128:
# pad 4 + random 32x32 crop + horizontal flip for training, originals for test.
_base_ = ['mmpretrain::_base_/datasets/cifar10_bs16.py']
train_dataloader = dict(batch_size=128, num_workers=4)
val_dataloader = dict(batch_size=128, num_workers=4)
test_dataloader = val_dataloader
