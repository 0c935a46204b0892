# DenseNet-BC-100 with growth rate 12 (Huang et al., CVPR 2017: 16 bottleneck
# layers per dense block, compression 0.5, 3x3 stem with 24 channels; 0.8M
# parameters), 100 classes: a CIFAR-100 network of the tolerant-teacher
# generations (Yang et al., AAAI 2019).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='DenseNetBC', depth=100, growth_rate=12),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=342,  # 24 + 3 * 16 * 12 channels, halved twice
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
