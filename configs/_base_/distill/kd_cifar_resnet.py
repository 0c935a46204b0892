# Hinton KD (Hinton, Vinyals, Dean 2015) as the FSP paper's baseline (Yim et
# al., CVPR 2017; docs/baselines.md): the student trains on cross-entropy plus
# KDLoss = tau^2 * KL(softmax(t/tau) || softmax(s/tau)) on the head logits
# (head.fc), from the start, one stage, teacher frozen. mmfsp's baseline is
# FitNet's stage 2 without the hint stage: tau = 3 and a KD weight moving
# linearly from 4 to 1 (LossWeightScheduleHook in the kd_* schedules), so KD
# and FitNet differ only by the hints. Plain KD with a constant weight:
#   --cfg-options "custom_hooks=[]" \
#   model.distiller.distill_losses.loss_kd.loss_weight=1.0
# Student and teacher are CIFAR ResNet-26 here; experiments override them.
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
            fc=dict(type='ModuleOutputs', source='head.fc')),
        teacher_recorders=dict(
            fc=dict(type='ModuleOutputs', source='head.fc')),
        distill_losses=dict(
            # loss_weight is set every iteration by LossWeightScheduleHook.
            loss_kd=dict(type='KDLoss', tau=3.0, loss_weight=4.0)),
        loss_forward_mappings=dict(
            loss_kd=dict(
                preds_S=dict(from_student=True, recorder='fc'),
                preds_T=dict(from_student=False, recorder='fc')))),
    stages=[dict(student_loss=True, distill_losses=['loss_kd'])],
    dummy_input_shape=(3, 32, 32))
