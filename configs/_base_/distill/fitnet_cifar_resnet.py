# FitNet (Romero et al., ICLR 2015) as the FSP paper's baseline (Yim et al.,
# CVPR 2017; docs/baselines.md), "1 loss": the student's middle layer (output
# of stage 2, backbone.layer2) regresses the teacher's (a 1x1
# ConvRegressorConnector maps the student's channels to the teacher's; HintLoss
# = 0.5 * ||r(v_g) - u_h||^2 per sample, batch mean). Stage 1 (hint training)
# trains the student up to the guided layer only (layer3 and the head receive
# no loss); stage 2 trains the whole student with cross-entropy plus Hinton KD
# at temperature 3 whose weight LossWeightScheduleHook moves linearly from 4 to
# 1 (see the schedules fitnet_cifar_sgd_35k_*.py). The stage-2 KD term is
# KDLoss: tau^2 * KL(softmax(t/tau) || softmax(s/tau)), Hinton KD as the FSP
# paper uses it; FitNet's own paper writes lambda * H(P_T^tau, P_S^tau) without
# the tau^2 = 9 factor (same gradients up to that factor).
# Student and teacher are CIFAR ResNet-26 here; experiments override depth,
# input channels and the teacher checkpoint.
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
        student_recorders=dict(
            layer2=dict(type='ModuleOutputs', source='backbone.layer2'),
            fc=dict(type='ModuleOutputs', source='head.fc')),
        teacher_recorders=dict(
            layer2=dict(type='ModuleOutputs', source='backbone.layer2'),
            fc=dict(type='ModuleOutputs', source='head.fc')),
        connectors=dict(
            regressor_layer2=dict(
                type='ConvRegressorConnector',
                in_channels=32,
                out_channels=32,
                kernel_size=1)),
        distill_losses=dict(
            loss_hint=dict(type='HintLoss', loss_weight=1.0),
            # loss_weight is set every iteration by LossWeightScheduleHook.
            loss_kd=dict(type='KDLoss', tau=3.0, loss_weight=4.0)),
        loss_forward_mappings=dict(
            loss_hint=dict(
                s_feature=dict(
                    from_student=True,
                    recorder='layer2',
                    connector='regressor_layer2'),
                t_feature=dict(from_student=False, recorder='layer2')),
            loss_kd=dict(
                preds_S=dict(from_student=True, recorder='fc'),
                preds_T=dict(from_student=False, recorder='fc')))),
    # Stage 1: hints only; stage 2: cross-entropy + KD (the teacher stays).
    stages=[
        dict(student_loss=False, distill_losses=['loss_hint']),
        dict(student_loss=True, distill_losses=['loss_kd']),
    ],
    stage=1,
    # A dry forward pass at build time checks the paired shapes.
    dummy_input_shape=(3, 32, 32))

# Stage 1 leaves layer3 and the head without gradients, stage 2 the regressor.
find_unused_parameters = True
