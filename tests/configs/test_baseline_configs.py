"""The FitNet, Hinton KD, shuffled-FSP, teacher-cache and weight-copy configs:
what each stage computes, the schedules the paper gives, and one short real
FitNet run through both stages."""
import ast
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from mmfsp.datasets import (NondeterministicPipelineError,
                            check_deterministic_training)
from mmfsp.registry import MODELS
from mmfsp.utils import build_runner
from tests.conftest import _register_tiny_cifar, write_tiny_cifar10

ROOT = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)


def load(name):
    return Config.fromfile(str(ROOT / 'configs' / name))


def hooks(cfg):
    return {h['type']: h for h in cfg.custom_hooks}


@pytest.mark.parametrize('name,switch,max_iters,lr_milestones', [
    ('fitnet/fitnet_resnet26_resnet26_1xb128_cifar10_1loss.py', 35000, 56000,
     [11000, 16000]),
    ('fitnet/fitnet_resnet26_resnet26_1xb128_cifar10_3loss.py', 35000, 56000,
     [11000, 16000]),
    ('fitnet/fitnet_resnet26_resnet8_1xb128_cifar10_1loss.py', 35000, 99000,
     [32000, 48000]),
    ('fitnet/fitnet_resnet26_resnet8_1xb128_cifar10_3loss.py', 35000, 99000,
     [32000, 48000]),
    ('fitnet/fitnet_resnet26_resnet26_1xb128_fashion-mnist_1loss.py', 1650,
     2650, [500, 750]),
    ('fitnet/fitnet_resnet26_resnet8_1xb128_fashion-mnist_3loss.py', 1650,
     4650,
     [1500, 2250]),
])
def test_fitnet_schedules(name, switch, max_iters, lr_milestones):
    cfg = load(name)
    assert cfg.train_cfg.max_iters == max_iters
    assert cfg.optim_wrapper.optimizer.lr == 1e-4  # stage 1
    stage1, stage2 = cfg.param_scheduler
    assert (stage1.begin, stage1.end) == (0, switch)
    assert stage1.milestones == [25000 if switch == 35000 else 1200]
    assert (stage2.begin, stage2.end) == (switch, max_iters)
    assert stage2.milestones == lr_milestones
    h = hooks(cfg)
    assert h['DistillStageSwitchHook']['switch_iter'] == switch
    assert h['DistillStageSwitchHook']['stage_lr'] == 0.1
    kd = h['LossWeightScheduleHook']
    assert (kd.loss_name, kd.start_value, kd.end_value) == ('loss_kd', 4.0,
                                                            1.0)
    assert (kd.begin, kd.end) == (switch, max_iters)
    assert cfg.model.distiller.distill_losses.loss_kd.tau == 3.0
    n = 3 if '3loss' in name else 1
    assert len(cfg.model.stages[0].distill_losses) == n
    assert cfg.model.stages[1] == dict(student_loss=True,
                                       distill_losses=['loss_kd'])


@pytest.mark.parametrize('name,max_iters', [
    ('kd/kd_resnet26_resnet26_1xb128_cifar10.py', 21000),
    ('kd/kd_resnet26_resnet8_1xb128_cifar10.py', 64000),
    ('kd/kd_resnet26_resnet26_1xb128_fashion-mnist.py', 1000),
    ('kd/kd_resnet26_resnet8_1xb128_fashion-mnist.py', 3000),
])
def test_kd_schedules(name, max_iters):
    cfg = load(name)
    assert cfg.train_cfg.max_iters == max_iters
    kd = hooks(cfg)['LossWeightScheduleHook']
    assert (kd.begin, kd.end, kd.start_value, kd.end_value) == (0, max_iters,
                                                                4.0, 1.0)
    assert cfg.model.stages == [dict(student_loss=True,
                                     distill_losses=['loss_kd'])]
    assert cfg.model.architecture.backbone.depth == (
        8 if 'resnet8' in name else 26)


def _student_grads(model, part):
    return [p.grad for p in part.parameters()]


def test_fitnet_stages_train_what_the_paper_says(tmp_path):
    cfg = load('fitnet/fitnet_resnet26_resnet8_1xb128_cifar10_1loss.py')
    cfg.model.teacher.backbone.depth = 8  # keep the test small
    cfg.model.teacher_ckpt = None
    cfg.model.teacher_trainable = True  # random teacher, no checkpoint
    model = MODELS.build(cfg.model)
    model.teacher.requires_grad_(False)
    x = torch.randn(2, 3, 32, 32)
    from mmpretrain.structures import DataSample
    samples = [DataSample().set_gt_label(i) for i in range(2)]
    losses = model(x, samples, mode='loss')
    assert list(losses) == ['distill.loss_hint']
    losses['distill.loss_hint'].backward()
    student = model.architecture
    assert all(g is None for g in _student_grads(model, student.head))
    assert all(g is None for g in _student_grads(model,
                                                 student.backbone.layer3))
    assert all(g is not None for g in _student_grads(
        model, student.backbone.layer2))
    assert model.distiller.connectors['regressor_layer2'].regressor.conv \
        .weight.grad is not None
    model.set_stage(2)
    assert set(model(x, samples, mode='loss')) == {
        'distill.loss_kd', 'student.loss'
    }


def test_shuffled_students_differ_only_by_the_seed():
    plain = load('fsp/fsp-paper_resnet26_resnet26_1xb128_cifar10.py')
    for seed in (1, 2, 3):
        cfg = load(
            f'fsp/fsp-paper_resnet26_resnet26_1xb128_cifar10_shuffled-seed{seed}.py')
        assert cfg.model.distiller.type == 'FSPDistiller'
        assert cfg.model.distiller.shuffle_seed == seed
        cfg.model.distiller.type = plain.model.distiller.type
        cfg.model.distiller.pop('shuffle_seed')
        assert cfg.model == plain.model
        assert cfg.param_scheduler == plain.param_scheduler
    fm = load(
        'fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_shuffled-seed3.py')
    assert fm.model.distiller.shuffle_seed == 3
    assert fm.model.dummy_input_shape == (1, 28, 28)


def test_cached_configs_have_a_deterministic_pipeline():
    for name in ('fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_cached.py',
                 'fsp/fsp-paper_resnet32x4_resnet32x4_1xb128_cifar100_cached.py'):
        cfg = load(name)
        assert cfg.model.type == 'CachedTeacherFSPDistill'
        assert 'TeacherFSPCacheHook' in hooks(cfg)
        check_deterministic_training(cfg.train_dataloader.dataset)
    with pytest.raises(NondeterministicPipelineError,
                       match='RandomCrop.*RandomFlip'):
        check_deterministic_training(
            load('fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py').
            train_dataloader.dataset)


def test_weight_copy_continues_the_teacher_for_21k():
    cfg = load('resnet/resnet26_1xb128_cifar10_weight-copy.py')
    assert cfg.load_from == 'work_dirs/resnet26_1xb128_cifar10/iter_64000.pth'
    assert cfg.train_cfg.max_iters == 21000
    assert cfg.param_scheduler.milestones == [11000, 16000]
    assert load('resnet/resnet26_1xb128_fashion-mnist_weight-copy.py'
                ).train_cfg.max_iters == 1000


class Watch(Hook):
    """Record the model's stage, the KD weight and the loss keys."""
    priority = 'LOWEST'

    def __init__(self):
        self.seen = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = runner.model
        self.seen.append((model.stage, model.distiller.distill_losses[
            'loss_kd'].loss_weight, sorted(k for k in outputs if k != 'loss'),
                          model.teacher is not None))


def test_short_fitnet_run_switches_and_anneals_kd(tmp_path):
    _register_tiny_cifar()
    data_root = write_tiny_cifar10(tmp_path / 'cifar10', per_batch=4)
    teacher = MODELS.build(
        dict(
            load('kd/kd_resnet26_resnet8_1xb128_cifar10.py').model.
            architecture))
    torch.save({'state_dict': teacher.state_dict()}, tmp_path / 't.pth')
    cfg = load('fitnet/fitnet_resnet26_resnet8_1xb128_cifar10_3loss.py')
    cfg.model.teacher.backbone.depth = 8
    cfg.model.teacher_ckpt = str(tmp_path / 't.pth')
    cfg.work_dir = str(tmp_path / 'run')
    cfg.train_dataloader.update(
        batch_size=5, num_workers=0, persistent_workers=False,
        sampler=dict(type='InfiniteSampler', shuffle=True))
    cfg.train_dataloader.dataset.update(type='TinyCIFAR10',
                                        data_root=str(data_root))
    cfg.train_cfg.update(max_iters=5, val_interval=100)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.param_scheduler[0].update(end=2, milestones=[1])
    cfg.param_scheduler[1].update(begin=2, end=5, milestones=[2])
    cfg.custom_hooks[0].update(switch_iter=2, save_checkpoint=False)
    cfg.custom_hooks[1].update(begin=2, end=5)
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = 1
    cfg.log_level = 'WARNING'
    runner = build_runner(cfg)
    watch = Watch()
    runner.register_hook(watch)
    runner.train()
    hints = ['distill.loss_hint_layer1', 'distill.loss_hint_layer2',
             'distill.loss_hint_layer3']
    kd = ['distill.loss_kd', 'student.loss']
    assert watch.seen == [
        (1, 4.0, hints, True), (1, 4.0, hints, True),
        (2, 4.0, kd, True), (2, 2.5, kd, True), (2, 1.0, kd, True)
    ]


CONFIGS = sorted((ROOT / 'configs').rglob('*.py'))


def _assigned(path: Path) -> set:
    """The names a config file assigns (read statically with ast, as
    parsing every config would take long)."""
    return {
        target.id
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.Assign) for target in node.targets
        if isinstance(target, ast.Name)
    }


def test_each_run_has_its_own_work_dir():
    """Two configs with one work dir would mix checkpoints and
    last_checkpoint (a KD run could resume from its teacher's). No config
    sets ``work_dir`` (nor passes one on to a config that inherits it), so
    tools/train.py writes into work_dirs/<config file name>, and the file
    names of the shipped configs are unique across the folders."""
    assert [p for p in CONFIGS if 'work_dir' in _assigned(p)] == []
    shipped = [p.stem for p in CONFIGS if '_base_' not in p.parts]
    # + the recommended FSP recipes, + the DenseNet-BC generations, + the
    # Fashion-MNIST TSD-in-all, LS and CP generations
    assert len(shipped) == 61 + 7 + 8 + 3
    assert len(set(shipped)) == len(shipped)
