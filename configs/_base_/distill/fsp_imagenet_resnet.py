# FSP distillation of ImageNet-style ResNets (4 stages of 64/128/256/512
# channels; Yim et al., CVPR 2017): one pair per stage, (input of stage k,
# output of stage k), k = 1..4; stage 1's input is the stem's max-pool output.
# The FSP paper's CUB-200-2011 transfer experiment: teacher ResNet-34 (ImageNet
# pre-trained, fine-tuned on CUB), student ResNet-20 with (2, 2, 3, 2)
# BasicBlocks, both as their stand-alone configs (configs/resnet/).
# The teacher is written out: mmengine forbids two bases with the same key
# (both model files define `model`).
_base_ = ['../models/resnet20_staged_cub.py']
model = dict(
    _delete_=True,  # a SingleTeacherDistill, not the base's classifier
    type='SingleTeacherDistill',
    architecture=_base_.model,
    teacher=dict(  # = configs/_base_/models/resnet34_cub.py; its fine-tuned
        # weights come from teacher_ckpt, so no ImageNet init_cfg here.
        type='ImageClassifier',
        backbone=dict(
            type='ResNet',
            depth=34,
            num_stages=4,
            out_indices=(3, ),
            style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=200,
            in_channels=512,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0))),
    teacher_ckpt=None,
    teacher_trainable=False,
    teacher_norm_eval=True,
    distiller=dict(
        type='ConfigurableDistiller',
        fsp_pairs=[
            dict(
                name=f'layer{k}',
                first=dict(type='ModuleInputs', source=f'backbone.layer{k}'),
                second=dict(
                    type='ModuleOutputs', source=f'backbone.layer{k}'),
                weight=1.0) for k in (1, 2, 3, 4)
        ],
        fsp_loss=dict(type='FSPLoss', loss_weight=1.0)),
    stages=[
        dict(student_loss=False, distill_losses='all'),
        dict(student_loss=True, distill_losses=[]),
    ],
    stage=1,
    dummy_input_shape=(3, 224, 224))

find_unused_parameters = True
