# CIFAR ResNet-26 (n = 4), 16/32/64 channels, 10 classes.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarResNet', depth=26, widen_factor=1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='Normal', layer='Linear', std=0.01)))
