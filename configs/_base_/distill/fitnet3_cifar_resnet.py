# FitNet "3 loss" (the FSP paper's baseline, Yim et al., CVPR 2017;
# docs/baselines.md): as fitnet_cifar_resnet.py, but the three stage outputs of
# the student (backbone.layer1..3) each regress the teacher's through their own
# 1x1 ConvRegressorConnector, one HintLoss per stage (loss_hint_layer1..3,
# equal weights). Stage 1 therefore trains the whole backbone (the head gets no
# loss); stage 2 is cross-entropy + KD (tau 3, weight 4 -> 1).
_base_ = ['./fitnet_cifar_resnet.py']
_stages = ((1, 16), (2, 32), (3, 64))
_feature = {
    f'layer{k}': dict(type='ModuleOutputs', source=f'backbone.layer{k}')
    for k, _ in _stages
}
_fc = dict(fc=dict(type='ModuleOutputs', source='head.fc'))
model = dict(
    distiller=dict(
        student_recorders=dict(_delete_=True, **_feature, **_fc),
        teacher_recorders=dict(_delete_=True, **_feature, **_fc),
        connectors=dict(
            _delete_=True,
            **{
                f'regressor_layer{k}': dict(
                    type='ConvRegressorConnector',
                    in_channels=c,
                    out_channels=c,
                    kernel_size=1)
                for k, c in _stages
            }),
        distill_losses=dict(
            _delete_=True,
            **{
                f'loss_hint_layer{k}': dict(type='HintLoss', loss_weight=1.0)
                for k, _ in _stages
            },
            loss_kd=dict(type='KDLoss', tau=3.0, loss_weight=4.0)),
        loss_forward_mappings=dict(
            _delete_=True,
            **{
                f'loss_hint_layer{k}': dict(
                    s_feature=dict(
                        from_student=True,
                        recorder=f'layer{k}',
                        connector=f'regressor_layer{k}'),
                    t_feature=dict(from_student=False, recorder=f'layer{k}'))
                for k, _ in _stages
            },
            loss_kd=dict(
                preds_S=dict(from_student=True, recorder='fc'),
                preds_T=dict(from_student=False, recorder='fc')))),
    stages=[
        dict(
            student_loss=False,
            distill_losses=[f'loss_hint_layer{k}' for k, _ in _stages]),
        dict(student_loss=True, distill_losses=['loss_kd']),
    ])
del _stages, _feature, _fc
