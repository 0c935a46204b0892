# The FSP paper's CUB student: ImageNet-style ResNet-20 with (2, 2, 3, 2)
# BasicBlocks, trained from MSRA initialisation, 200 classes.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='StagedResNet',
        stage_blocks=(2, 2, 3, 2),
        block='BasicBlock',
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=200,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
