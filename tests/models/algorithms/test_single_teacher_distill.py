"""SingleTeacherDistill: frozen teacher, stages, loss keys, predict mode,
teacher checkpoints and the errors raised before training."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmpretrain.structures import DataSample

from mmfsp.models.algorithms import (MissingTeacherCheckpointError,
                                     SingleTeacherDistill,
                                     convert_distill_checkpoint,
                                     student_state_dict)
from mmfsp.models.distillers import DistillShapeError
from mmfsp.models.recorders import UnknownModuleError
from mmfsp.registry import MODELS

torch.set_num_threads(1)

FSP_STAGES = [
    dict(student_loss=False, distill_losses='all'),
    dict(student_loss=True, distill_losses=[]),
]


def clf(depth=8, widen=1):
    return dict(
        type='ImageClassifier',
        backbone=dict(
            type='CifarResNet', depth=depth, widen_factor=widen,
            in_channels=1),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=10,
            in_channels=64 * widen,
            loss=dict(type='CrossEntropyLoss')))


FC = dict(type='ModuleOutputs', source='head.fc')


def pairs(ks=(1, 2, 3)):
    return [
        dict(
            name=f'layer{k}',
            first=dict(type='ModuleInputs', source=f'backbone.layer{k}'),
            second=dict(type='ModuleOutputs', source=f'backbone.layer{k}'))
        for k in ks
    ]


@pytest.fixture()
def teacher_ckpt(tmp_path):
    torch.manual_seed(0)
    teacher = MODELS.build(clf())
    # Non-trivial BN statistics, to see that they do not move.
    for m in teacher.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    path = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, path)
    return str(path)


def build(teacher_ckpt, **kwargs):
    cfg = dict(
        type='SingleTeacherDistill',
        architecture=clf(),
        teacher=clf(),
        teacher_ckpt=teacher_ckpt,
        distiller=dict(type='ConfigurableDistiller', fsp_pairs=pairs()),
        stages=FSP_STAGES,
        dummy_input_shape=(1, 16, 16),
        data_preprocessor=dict(num_classes=10, mean=[0.], std=[1.]))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 16, 16, generator=g)
    samples = [DataSample().set_gt_label(i % 10) for i in range(n)]
    return x, samples


def test_teacher_is_loaded_and_frozen(teacher_ckpt):
    model = build(teacher_ckpt)
    assert isinstance(model, SingleTeacherDistill)
    saved = torch.load(teacher_ckpt, weights_only=True)['state_dict']
    for key, value in model.teacher.state_dict().items():
        torch.testing.assert_close(value, saved[key])
    assert not any(p.requires_grad for p in model.teacher.parameters())
    assert all(p.requires_grad for p in model.architecture.parameters())
    model.train()
    assert model.training and model.architecture.training
    assert not any(m.training for m in model.teacher.modules())
    assert model.teacher.is_init  # init_weights() leaves it alone
    model.init_weights()
    for key, value in model.teacher.state_dict().items():
        torch.testing.assert_close(value, saved[key])


def test_stage1_gradients_reach_the_student_only(teacher_ckpt):
    model = build(teacher_ckpt)
    losses = model(*batch(), mode='loss')
    assert list(losses) == ['distill.loss_fsp']
    losses['distill.loss_fsp'].backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert all(p.grad is None for p in model.architecture.head.parameters())
    backbone_grads = [p.grad for p in model.architecture.backbone.parameters()]
    assert all(g is not None for g in backbone_grads)
    assert any(g.abs().sum() > 0 for g in backbone_grads)


def test_stage2_is_plain_cross_entropy_without_teacher(teacher_ckpt):
    model = build(teacher_ckpt, stage=2)
    calls = []
    model.teacher.register_forward_hook(lambda *a: calls.append(1))
    x, samples = batch()
    losses = model(x, samples, mode='loss')
    assert list(losses) == ['student.loss']
    assert calls == []
    torch.testing.assert_close(
        losses['student.loss'],
        model.architecture(x, samples, mode='loss')['loss'])
    freed = model.free_teacher()
    assert model.teacher is None and len(freed) > 0
    assert 'teacher.backbone.conv1.weight' not in model.state_dict()
    assert model(x, samples, mode='loss')['student.loss'] > 0
    with pytest.raises(RuntimeError, match='freed'):
        model.set_stage(1)


def test_predict_and_tensor_modes_are_the_student(teacher_ckpt):
    model = build(teacher_ckpt).eval()
    x, samples = batch()
    out = model(x, copy.deepcopy(samples), mode='predict')
    ref = model.architecture(x, copy.deepcopy(samples), mode='predict')
    torch.testing.assert_close(out[0].pred_score, ref[0].pred_score)
    torch.testing.assert_close(model(x), model.architecture(x))


def test_teacher_bn_statistics_do_not_move_in_training(teacher_ckpt):
    model = build(teacher_ckpt)
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    student_bn = model.architecture.backbone.norm1.running_mean.clone()
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    model.train()
    for seed in range(3):
        x, samples = batch(seed=seed)
        log = model.train_step(dict(inputs=list(x), data_samples=samples),
                               optim)
        assert set(log) == {'loss', 'distill.loss_fsp'}
    for key, value in model.teacher.state_dict().items():
        torch.testing.assert_close(value, before[key])
    assert not torch.equal(student_bn,
                           model.architecture.backbone.norm1.running_mean)


def test_single_stage_kd_wiring_on_head_fc(teacher_ckpt):
    distiller = dict(
        type='ConfigurableDistiller',
        student_recorders=dict(fc=FC),
        teacher_recorders=dict(fc=FC),
        distill_losses=dict(loss_kd=dict(type='KDLoss', tau=3.0)),
        loss_forward_mappings=dict(
            loss_kd=dict(
                preds_S=dict(from_student=True, recorder='fc'),
                preds_T=dict(from_student=False, recorder='fc'))))
    model = build(
        teacher_ckpt, distiller=distiller, stages=None,
        student_loss_weight=0.5, distill_loss_weight=2.0)
    x, samples = batch()
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'student.loss', 'distill.loss_kd'}
    ce = model.architecture(x, samples, mode='loss')['loss']
    torch.testing.assert_close(losses['student.loss'], 0.5 * ce)
    assert losses['distill.loss_kd'].requires_grad


def test_missing_teacher_checkpoint_says_how_to_train_one(tmp_path):
    with pytest.raises(MissingTeacherCheckpointError) as err:
        build(str(tmp_path / 'resnet26_1xb128_fashion-mnist' / 'iter_3000.pth'))
    msg = str(err.value)
    assert ('python tools/train.py '
            'configs/resnet/resnet26_1xb128_fashion-mnist.py') in msg
    assert 'model.teacher_ckpt=' in msg
    with pytest.raises(MissingTeacherCheckpointError, match='no teacher'):
        build(None)


def test_teacher_checkpoint_of_another_architecture(teacher_ckpt):
    with pytest.raises(RuntimeError, match='does not fit the teacher'):
        build(teacher_ckpt, teacher=clf(depth=14))


def test_channel_mismatch_is_found_at_build_time(teacher_ckpt, tmp_path):
    wide = MODELS.build(clf(widen=2))
    path = tmp_path / 'wide.pth'
    torch.save({'state_dict': wide.state_dict()}, path)
    with pytest.raises(DistillShapeError) as err:
        build(str(path), teacher=clf(widen=2))
    msg = str(err.value)
    assert 'backbone.layer1' in msg
    assert '(2, 16, 16)' in msg and '(2, 32, 32)' in msg


def test_unknown_layer_is_found_at_build_time(teacher_ckpt):
    bad = pairs()
    bad[2]['second'] = dict(type='ModuleOutputs', source='backbone.layer4')
    with pytest.raises(UnknownModuleError, match='backbone.layer3'):
        build(
            teacher_ckpt,
            distiller=dict(type='ConfigurableDistiller', fsp_pairs=bad))


def test_stage_configuration_errors(teacher_ckpt):
    with pytest.raises(ValueError, match='loss_kd'):
        build(teacher_ckpt, stages=[dict(distill_losses=['loss_kd'])])
    with pytest.raises(ValueError, match='no loss at all'):
        build(teacher_ckpt, stages=[dict(student_loss=False,
                                         distill_losses=[])])
    with pytest.raises(ValueError, match='stage must be 1..2'):
        build(teacher_ckpt, stage=3)


def test_distill_checkpoint_gives_student_and_next_teacher(
        teacher_ckpt, tmp_path):
    model = build(teacher_ckpt)
    path = tmp_path / 'distill.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'iter': 5}}, path)
    student = student_state_dict(model.state_dict())
    assert set(student) == set(model.architecture.state_dict())
    out = tmp_path / 'student.pth'
    convert_distill_checkpoint(str(path), str(out))
    plain = MODELS.build(clf())
    plain.load_state_dict(
        torch.load(out, weights_only=True)['state_dict'], strict=True)
    # A distillation checkpoint as the next generation's teacher: its
    # student is taken.
    nxt = build(str(path))
    torch.testing.assert_close(nxt.teacher.backbone.conv1.weight,
                               model.architecture.backbone.conv1.weight)


def _teacher_run(work_dir, done, total, state):
    """A tools/train.py work dir whose run reached ``done`` of ``total``
    iterations (meta as mmengine's Runner writes it)."""
    work_dir.mkdir()
    path = work_dir / f'iter_{done}.pth'
    meta = dict(iter=done, epoch=0,
                cfg=f'train_cfg = dict(by_epoch=False, max_iters={total})\n')
    torch.save(dict(meta=meta, state_dict=state), path)
    (work_dir / 'last_checkpoint').write_text(str(path))
    return path


def test_missing_teacher_file_falls_back_to_a_finished_run(
        teacher_ckpt, tmp_path):
    """A teacher trained with another length (iter_1000.pth, not the
    config's iter_3000.pth) is found through its work dir's
    last_checkpoint, and the fallback is logged."""
    state = torch.load(teacher_ckpt, weights_only=True)['state_dict']
    work_dir = tmp_path / 'resnet8_teacher'
    _teacher_run(work_dir, 1000, 1000, state)
    model = build(str(work_dir / 'iter_3000.pth'))
    for key, value in state.items():
        torch.testing.assert_close(model.teacher.state_dict()[key], value)


def test_unfinished_teacher_run_is_refused(teacher_ckpt, tmp_path):
    state = torch.load(teacher_ckpt, weights_only=True)['state_dict']
    work_dir = tmp_path / 'resnet8_teacher'
    _teacher_run(work_dir, 500, 3000, state)
    with pytest.raises(MissingTeacherCheckpointError,
                       match='unfinished run.*500 of 3000'):
        build(str(work_dir / 'iter_3000.pth'))
