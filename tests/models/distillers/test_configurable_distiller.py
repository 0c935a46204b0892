"""ConfigurableDistiller: FSP pair expansion, a logits KD loss through the
same machinery, mapping validation and shape errors that name the layers."""
import pytest
import torch

from mmfsp.models.connectors import fsp_matrix
from mmfsp.models.distillers import (ConfigurableDistiller, DistillShapeError,
                                     check_shapes_on, expand_fsp_pairs)
from mmfsp.models.losses import fsp_loss, kd_kl_divergence
from mmfsp.registry import MODELS


def classifier(depth=8, widen=1, num_classes=10):
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='CifarResNet', depth=depth, widen_factor=widen,
                in_channels=1),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=num_classes,
                in_channels=64 * widen,
                loss=dict(type='CrossEntropyLoss'))))


FC = dict(type='ModuleOutputs', source='head.fc')


def cifar_pairs():
    return [
        dict(
            name=f'layer{k}',
            first=dict(type='ModuleInputs', source=f'backbone.layer{k}'),
            second=dict(type='ModuleOutputs', source=f'backbone.layer{k}'))
        for k in (1, 2, 3)
    ]


def run(distiller, student, teacher, x):
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    with distiller.teacher_recorders, torch.no_grad():
        teacher(x)
    with distiller.student_recorders:
        student(x)


def test_fsp_pairs_expand_to_generic_pieces():
    parts = expand_fsp_pairs(cifar_pairs() + [
        dict(
            name='x',
            first=dict(type='ModuleOutputs', source='backbone.layer1'),
            second=dict(type='ModuleOutputs', source='backbone.layer2'),
            teacher_second=dict(
                type='ModuleOutputs', source='backbone.layer3'),
            weight=0.5,
            student_connector=dict(type='FSPConnector'))
    ])
    assert set(parts['student_recorders']) == {
        f'fsp_{n}_{end}'
        for n in ('layer1', 'layer2', 'layer3', 'x')
        for end in ('first', 'second')
    }
    assert parts['teacher_recorders']['fsp_x_second']['source'] == \
        'backbone.layer3'
    assert parts['distill_losses'] == dict(
        loss_fsp=dict(type='FSPLoss', pair_weights=[1.0, 1.0, 1.0, 0.5]))
    mapping = parts['loss_forward_mappings']['loss_fsp']
    assert mapping['fsp_S'][0] == dict(
        from_student=True,
        recorder=['fsp_layer1_first', 'fsp_layer1_second'],
        connector='fsp')
    assert mapping['fsp_S'][3]['connector'] == 'fsp_x_student'
    assert mapping['fsp_T'][3]['connector'] == 'fsp'
    with pytest.raises(ValueError, match='unknown keys'):
        expand_fsp_pairs([dict(first={}, second={}, lambda_=1)])
    with pytest.raises(ValueError, match='needs "second"'):
        expand_fsp_pairs([dict(first={})])


def test_fsp_loss_value_equals_formula():
    torch.manual_seed(0)
    student, teacher = classifier(8), classifier(14)
    distiller = ConfigurableDistiller(fsp_pairs=cifar_pairs())
    x = torch.randn(3, 1, 16, 16)
    run(distiller, student, teacher, x)
    losses = distiller.compute_distill_losses()

    def feats(model):
        bb = model.backbone
        stem = bb.relu(bb.norm1(bb.conv1(x)))
        o1 = bb.layer1(stem)
        o2 = bb.layer2(o1)
        o3 = bb.layer3(o2)
        return [fsp_matrix(stem, o1), fsp_matrix(o1, o2), fsp_matrix(o2, o3)]

    with torch.no_grad():
        expected = fsp_loss(feats(student), feats(teacher))
    torch.testing.assert_close(losses['loss_fsp'].detach(), expected)


def test_logits_kd_through_the_same_distiller():
    student, teacher = classifier(8), classifier(14)
    distiller = ConfigurableDistiller(
        student_recorders=dict(fc=FC),
        teacher_recorders=dict(fc=FC),
        distill_losses=dict(loss_kd=dict(type='KDLoss', tau=4.0)),
        loss_forward_mappings=dict(
            loss_kd=dict(
                preds_S=dict(from_student=True, recorder='fc'),
                preds_T=dict(from_student=False, recorder='fc'))),
        fsp_pairs=cifar_pairs())
    assert distiller.loss_names == ['loss_kd', 'loss_fsp']
    x = torch.randn(2, 1, 16, 16)
    run(distiller, student, teacher, x)
    losses = distiller.compute_distill_losses(['loss_kd'])
    assert list(losses) == ['loss_kd']
    with torch.no_grad():
        expected = kd_kl_divergence(student(x), teacher(x), 4.0).mean()
    torch.testing.assert_close(losses['loss_kd'].detach(), expected)


def test_channel_mismatch_names_layers_and_shapes():
    student, teacher = classifier(8, widen=1), classifier(8, widen=2)
    distiller = ConfigurableDistiller(fsp_pairs=cifar_pairs())
    run(distiller, student, teacher, torch.randn(2, 1, 16, 16))
    with pytest.raises(DistillShapeError) as err:
        distiller.check_shapes()
    msg = str(err.value)
    assert 'input of backbone.layer1 (2, 16, 16, 16)' in msg
    assert 'input of backbone.layer1 (2, 32, 16, 16)' in msg
    assert '(2, 16, 16)' in msg and '(2, 32, 32)' in msg


def test_a_loss_failing_on_mismatched_data_names_layers_too():
    # Steps do not check shapes; a loss that fails on them is explained.
    student, teacher = classifier(8, widen=1), classifier(8, widen=2)
    distiller = ConfigurableDistiller(fsp_pairs=cifar_pairs())
    run(distiller, student, teacher, torch.randn(2, 1, 16, 16))
    with pytest.raises(DistillShapeError,
                       match=r'input of backbone.layer1 \(2, 16, 16, 16\)'):
        distiller.compute_distill_losses()


def test_build_time_dry_run_restores_modes_and_clears_records():
    student, teacher = classifier(8), classifier(14)
    distiller = ConfigurableDistiller(fsp_pairs=cifar_pairs())
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    teacher.eval()
    teacher.backbone.layer1.train()
    nets = (student, teacher, distiller)
    modes = [m.training for net in nets for m in net.modules()]
    running_mean = student.backbone.norm1.running_mean.clone()
    check_shapes_on(distiller, teacher, student, (1, 16, 16))
    assert [m.training for net in nets for m in net.modules()] == modes
    # run in eval mode: the BN statistics did not move
    assert torch.equal(student.backbone.norm1.running_mean, running_mean)
    for manager in (distiller.student_recorders, distiller.teacher_recorders):
        assert not any(r.data_buffer for r in manager.recorders.values())
    wide = classifier(8, widen=2)
    distiller.prepare_from_teacher(wide)
    with pytest.raises(DistillShapeError, match='backbone.layer1'):
        check_shapes_on(distiller, wide, student, (1, 16, 16))


def test_channel_connector_fixes_the_mismatch():
    student, teacher = classifier(8, widen=1), classifier(8, widen=2)
    pairs = cifar_pairs()
    for k, pair in enumerate(pairs):
        c_in = [(16, 16), (16, 32), (32, 64)][k]
        pair['student_connector'] = dict(
            type='FSPConnector', in_channels=c_in,
            out_channels=tuple(2 * c for c in c_in))
    distiller = ConfigurableDistiller(fsp_pairs=pairs)
    run(distiller, student, teacher, torch.randn(2, 1, 16, 16))
    loss = distiller.compute_distill_losses()['loss_fsp']
    loss.backward()
    conv = distiller.connectors['fsp_layer3_student'].align[1]
    assert conv.weight.grad is not None


@pytest.mark.parametrize('kwargs, match', [
    (dict(distill_losses=dict(loss_kd=dict(type='KDLoss'))), 'no entry'),
    (dict(loss_forward_mappings=dict(loss_x=dict(a=dict(
        from_student=True, recorder='fc')))), 'unknown losses'),
    (dict(student_recorders=dict(fc=dict(type='ModuleOutputs',
                                         source='head.fc')),
          distill_losses=dict(loss_kd=dict(type='KDLoss')),
          loss_forward_mappings=dict(loss_kd=dict(
              preds_S=dict(from_student=True, recorder='fc'),
              preds_T=dict(from_student=False, recorder='fc')))),
     "teacher recorder 'fc'"),
    (dict(student_recorders=dict(fc=dict(type='ModuleOutputs',
                                         source='head.fc')),
          distill_losses=dict(loss_kd=dict(type='KDLoss')),
          loss_forward_mappings=dict(loss_kd=dict(
              preds_S=dict(from_student=True, recorder='fc',
                           connector='nope')))), "connector 'nope'"),
    (dict(fsp_loss=dict(loss_weight=2.0)), 'without fsp_pairs'),
])
def test_configuration_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConfigurableDistiller(**kwargs)
