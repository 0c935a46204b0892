# Fashion-MNIST (70k real 28x28 grey images, 10 classes) for CPU work. Files
# (unzipped idx files) under data/fashion_mnist; `make data` puts them there
# from Debian's dataset-fashion-mnist package. Same augmentation as CIFAR.
dataset_type = 'FashionMNIST'
data_preprocessor = dict(num_classes=10, mean=[72.94], std=[90.02])

train_pipeline = [
    dict(type='RandomCrop', crop_size=28, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root='data/fashion_mnist',
        split='train',
        download=False,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=500,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root='data/fashion_mnist',
        split='test',
        # mmpretrain 1.2's MNIST / FashionMNIST pick their files by
        # test_mode, not by split: without it this would be the training set.
        test_mode=True,
        download=False,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
