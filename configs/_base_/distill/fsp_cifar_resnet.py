# FSP distillation of a CIFAR ResNet (Yim et al., CVPR 2017; docs/fsp.md).
# Student (`architecture`) and teacher are plain ImageClassifier configs, the
# same as their stand-alone configs' `model` (ResNet-26, 10 classes here;
# experiments override depth / width / classes). One FSP pair per stage: (input
# of stage k = previous stage's or the stem's output, output of stage k), k =
# 1..3, equal weights. Stage 1 computes the FSP loss only (the head gets no
# loss), stage 2 the student's cross-entropy only (no teacher).
_base_ = ['../models/resnet26_cifar.py']
model = dict(
    _delete_=True,  # a SingleTeacherDistill, not the base's classifier
    type='SingleTeacherDistill',
    architecture=_base_.model,
    teacher=_base_.model,
    # The trained teacher (tools/train.py configs/resnet/<teacher>.py).
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
                weight=1.0) for k in (1, 2, 3)
        ],
        fsp_loss=dict(type='FSPLoss', loss_weight=1.0)),
    # Algorithm 1: stage 1 = FSP loss only, stage 2 = cross-entropy only.
    stages=[
        dict(student_loss=False, distill_losses='all'),
        dict(student_loss=True, distill_losses=[]),
    ],
    stage=1,
    # A dry forward pass at build time checks the paired channel counts.
    dummy_input_shape=(3, 32, 32))

# Stage 1 leaves the head without gradients, stage 2 the teacher / connectors.
find_unused_parameters = True
