# CUB-200-2011 in mmpretrain's layout (data/CUB_200_2011/images.txt,
# image_class_labels.txt, train_test_split.txt, images/), batch 128, 224x224.
_base_ = ['mmpretrain::_base_/datasets/cub_bs8_448.py']
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128, num_workers=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128, num_workers=8, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
