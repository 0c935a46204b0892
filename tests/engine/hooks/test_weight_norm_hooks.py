"""WeightNormProjectionHook and WeightNormMonitorHook: the projection keeps
the student's function and its initial conv norms, only in the configured
stages; the monitor logs norm / initial, lr / ||w||^2, at its interval and
at the stage switch; the initial norms survive a resume (checkpoint meta).
"""
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from mmfsp.engine.hooks import WeightNormMonitorHook, WeightNormProjectionHook
from mmfsp.registry import HOOKS, MODELS
from tests.toy_runner import build_toy_runner

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[3]
SWITCH, MAX_ITERS, INTERVAL = 3, 6, 2


def _fake_runner(model: nn.Module, iter: int = 0) -> SimpleNamespace:
    return SimpleNamespace(model=model, iter=iter,
                           logger=logging.getLogger('test_weight_norms'))


def _conv_norms(module: nn.Module, names: List[str]) -> Dict[str, float]:
    return {n: float(module.get_submodule(n).weight.detach().double().norm())
            for n in names}


@HOOKS.register_module(force=True)
class _NormProbeHook(Hook):
    """After every iteration (after the projection and the lr scheduler),
    record the followed conv norms and the lr; also before training."""
    priority = 'LOWEST'

    def __init__(self, convs: List[str]) -> None:
        self.convs = convs
        self.rows: List[dict] = []

    def _record(self, runner, step: int) -> None:
        model = runner.model
        student = getattr(model, 'student', model)
        self.rows.append(
            dict(step=step, stage=getattr(model, 'stage', None),
                 lr=runner.optim_wrapper.get_lr()['lr'][0],
                 norms=_conv_norms(student, self.convs)))

    def before_train(self, runner) -> None:
        self._record(runner, runner.iter)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self._record(runner, runner.iter + 1)


# --------------------------------------------------------------- (a) unit
def test_projection_keeps_the_function_and_sets_the_initial_norms():
    torch.manual_seed(0)
    backbone = MODELS.build(
        dict(type='CifarResNet', depth=8, in_channels=1)).double()
    backbone.init_weights()
    for module in backbone.modules():  # exact up to BN's eps: make it tiny
        if isinstance(module, nn.BatchNorm2d):
            module.eps = 1e-12
    hook = WeightNormProjectionHook(stages=None)
    hook.before_train(_fake_runner(backbone))
    assert len(hook.names) == 9 and 'conv1' in hook.names
    initial = dict(hook.initial)
    assert initial == _conv_norms(backbone, hook.names)
    x = torch.randn(6, 1, 28, 28, dtype=torch.float64)
    with torch.no_grad():  # grown norms, as stage 1 leaves them; BN stats
        for i, name in enumerate(hook.names):
            backbone.get_submodule(name).weight.mul_(1.5 + i)
        backbone.train()
        backbone(x)
        train_before = backbone(x)[-1]  # (updates the BN stats again)
        backbone.eval()
        eval_before = backbone(x)[-1]
    grown = _conv_norms(backbone, hook.names)
    assert all(grown[n] > 1.4 * initial[n] for n in hook.names)
    hook.project()
    assert _conv_norms(backbone, hook.names) == pytest.approx(initial,
                                                              rel=1e-12)
    with torch.no_grad():
        eval_after = backbone(x)[-1]
        backbone.train()
        train_after = backbone(x)[-1]
    torch.testing.assert_close(eval_after, eval_before, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(train_after, train_before, rtol=1e-9,
                               atol=1e-9)


def test_projection_moves_conv_bias_and_running_stats():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, bias=True),
                        nn.BatchNorm2d(3, eps=1e-12)).double()
    hook = WeightNormProjectionHook(stages=None)
    hook.before_train(_fake_runner(net))
    assert hook.names == ['0']
    x = torch.randn(4, 2, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        net[0].weight.mul_(4.0)
        net[0].bias.mul_(4.0)
        net.train()
        net(x)
        net.eval()
        before = net(x)
    bias, mean, var = (net[0].bias.clone(), net[1].running_mean.clone(),
                       net[1].running_var.clone())
    c = float(net[0].weight.norm()) / hook.initial['0']
    assert c == pytest.approx(4.0)
    hook.project()
    torch.testing.assert_close(net[0].bias, bias / c)
    torch.testing.assert_close(net[1].running_mean, mean / c)
    torch.testing.assert_close(net[1].running_var, var / c**2)
    with torch.no_grad():
        torch.testing.assert_close(net(x), before, rtol=1e-9, atol=1e-9)


def test_stages_on_a_plain_classifier_and_argument_errors():
    torch.manual_seed(0)
    cfg = Config.fromfile(
        str(REPO / 'configs/resnet/resnet8_1xb128_fashion-mnist.py'))
    classifier = MODELS.build(cfg.model)
    with pytest.raises(TypeError, match=r'stages=\(1,\)\) needs a staged '
                       r'distillation model; ImageClassifier has no stage'):
        WeightNormProjectionHook(stages=(1, )).before_train(
            _fake_runner(classifier))
    hook = WeightNormProjectionHook(stages=None)
    hook.before_train(_fake_runner(classifier))
    assert hook.names[0] == 'backbone.conv1' and hook._active(None)
    with pytest.raises(ValueError, match='no convolution that feeds only'):
        WeightNormMonitorHook().before_train(_fake_runner(nn.Linear(2, 2)))
    for interval in (0, -1, 1.5, '2'):
        with pytest.raises(ValueError, match='interval must be an int >= 1'):
            WeightNormMonitorHook(interval=interval)


# ------------------------------------------------- stages=None, real Runner
class _ConvBNToy(BaseModel):
    """The toy runner's 4 features as a 2x2 image: conv -> BN -> linear."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, 4, 2, bias=False), nn.BatchNorm2d(4))
        self.fc = nn.Linear(4, 2)

    def forward(self, inputs, labels=None, mode: str = 'tensor'):
        logits = self.fc(self.backbone(inputs.view(-1, 1, 2, 2)).flatten(1))
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, labels))
        return logits


@pytest.mark.parametrize('stages', [None, (1, )])
def test_projection_without_stages_projects_every_step(tmp_path, stages):
    torch.manual_seed(0)
    runner = build_toy_runner(
        tmp_path, max_iters=4, model=_ConvBNToy(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=5.0)),
        custom_hooks=[
            dict(type='WeightNormProjectionHook', stages=stages),
            dict(type='_NormProbeHook', convs=['backbone.0'])
        ])
    if stages is not None:
        with pytest.raises(TypeError, match='Use stages=None'):
            runner.train()
        return
    conv = runner.model.backbone[0]
    weight = conv.weight.detach().clone()
    runner.train()
    rows = runner.hooks[-1].rows
    assert [r['step'] for r in rows] == [0, 1, 2, 3, 4]
    for row in rows[1:]:
        assert row['norms']['backbone.0'] == pytest.approx(
            rows[0]['norms']['backbone.0'], rel=1e-6)
    assert not torch.allclose(conv.weight, weight, atol=1e-3)


# ------------------------------------------- (b), (c) tiny FSP distillation
def _distill_cfg(work_dir: Path, teacher_ckpt: str, hooks: List[dict],
                 max_iters: int = MAX_ITERS) -> Config:
    cfg = Config.fromfile(
        str(REPO / 'configs/fsp' /
            'fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py'))
    cfg.model.architecture.backbone.depth = 8
    cfg.model.teacher.backbone.depth = 8
    cfg.model.teacher_ckpt = teacher_ckpt
    cfg.train_dataloader.update(
        batch_size=8, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = str(REPO / 'data/fashion_mnist')
    cfg.train_dataloader.dataset.update(split='test', test_mode=True,
                                        indices=64,
                                        pipeline=[dict(type='PackInputs')])
    for key in ('val', 'test'):
        cfg[f'{key}_dataloader'] = None
        cfg[f'{key}_cfg'] = None
        cfg[f'{key}_evaluator'] = None
    # stage 1: 0.01 (grows the norms), /10 after 2; stage 2: 0.1, whose
    # norm changes are mostly the weight decay's (lr * wd per step)
    cfg.optim_wrapper.optimizer.update(lr=0.01, weight_decay=5e-3)
    cfg.param_scheduler = [
        dict(type='MultiStepLR', by_epoch=False, begin=0, end=SWITCH,
             milestones=[2], gamma=0.1),
    ]
    cfg.custom_hooks = [
        dict(type='DistillStageSwitchHook', switch_iter=SWITCH, stage_lr=0.1),
        *hooks, dict(type='_NormProbeHook', convs=_student_convs())
    ]
    cfg.train_cfg.max_iters = max_iters
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=2, max_keep_ckpts=-1)
    cfg.randomness = dict(seed=0)
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'INFO'
    return cfg


def _student_convs() -> List[str]:
    from mmfsp.models.utils import conv_bn_pairs
    backbone = MODELS.build(dict(type='CifarResNet', depth=8, in_channels=1))
    return [f'backbone.{c}' for c, _ in conv_bn_pairs(backbone)]


def _train(cfg: Config, resume_from=None):
    if resume_from is not None:
        cfg.resume = True
        cfg.load_from = str(resume_from)
    runner = Runner.from_cfg(cfg)
    runner.train()
    hooks = {type(h).__name__: h for h in runner.hooks}
    return runner, hooks


def _logged(runner) -> List[dict]:
    path = Path(runner.log_dir) / 'vis_data' / 'scalars.json'
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r for r in records if 'wnorm_median' in r]


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory) -> str:
    torch.manual_seed(0)
    cfg = _distill_cfg(Path('.'), '', [])
    teacher = MODELS.build(cfg.model.teacher)
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, path)
    return str(path)


@pytest.fixture(scope='module')
def projected(tmp_path_factory, teacher_ckpt):
    work_dir = tmp_path_factory.mktemp('projected')
    return _train(_distill_cfg(work_dir, teacher_ckpt, [
        dict(type='WeightNormProjectionHook', stages=(1, )),
        dict(type='WeightNormMonitorHook', interval=INTERVAL)
    ])) + (work_dir, )


@pytest.fixture(scope='module')
def monitored(tmp_path_factory, teacher_ckpt):
    work_dir = tmp_path_factory.mktemp('monitored')
    return _train(_distill_cfg(work_dir, teacher_ckpt, [
        dict(type='WeightNormMonitorHook', interval=INTERVAL)
    ])) + (work_dir, )


def test_monitor_logs_ratios_and_effective_lr(monitored):
    runner, hooks, _ = monitored
    probe = hooks['_NormProbeHook']
    monitor = hooks['WeightNormMonitorHook']
    initial = probe.rows[0]['norms']
    assert monitor.initial == initial
    logged = _logged(runner)
    # interval 2 (and the last iteration), the start, and the switch at 3
    assert [r['step'] for r in logged] == [0, 2, 3, 4, 6]
    assert [r['stage'] for r in logged] == [1, 1, 2, 2, 2]
    after = {r['step']: r for r in probe.rows}
    # at the switch: the weights stage 1 ended with, the stage-2 lr
    expected = dict(after)
    expected[SWITCH] = dict(after[SWITCH], lr=0.1)
    for rec in logged:
        row = expected[rec['step']]
        ratios = {c: row['norms'][c] / initial[c] for c in probe.convs}
        for conv in probe.convs:
            assert rec[f'wnorm/{conv}'] == pytest.approx(ratios[conv],
                                                         rel=1e-9)
            assert rec[f'eff_lr/{conv}'] == pytest.approx(
                row['lr'] / row['norms'][conv]**2, rel=1e-9)
            gamma = rec[f'bn_gamma/{conv}']
            assert gamma > 0
        assert rec['wnorm_max'] == pytest.approx(max(ratios.values()))
    assert logged[0]['wnorm_max'] == 1.0
    assert logged[1]['wnorm_max'] > 1.05  # stage 1 grew the norms
    # the BN gamma of the stem: mean |gamma| of bn1
    gamma = runner.model.student.backbone.bn1.weight.detach().abs().mean()
    assert logged[-1]['bn_gamma/backbone.conv1'] == pytest.approx(
        float(gamma))
    log = next(Path(runner.log_dir).glob('*.log')).read_text()
    assert f'weight norms at iter {SWITCH}: conv norm / initial median' in log
    assert 'stage 2' in log


def test_resumed_monitor_keeps_the_initial_norms(monitored, teacher_ckpt,
                                                 tmp_path):
    _, hooks, work_dir = monitored
    initial = hooks['WeightNormMonitorHook'].initial
    ckpt = work_dir / 'iter_2.pth'
    meta = torch.load(ckpt, weights_only=False)['meta']
    assert meta['conv_norms_initial'] == initial
    runner, resumed = _train(
        _distill_cfg(tmp_path, teacher_ckpt,
                     [dict(type='WeightNormMonitorHook', interval=INTERVAL)]),
        resume_from=ckpt)
    rows = resumed['_NormProbeHook'].rows
    at_resume = rows[0]['norms']
    assert rows[0]['step'] == 2
    assert at_resume == pytest.approx(hooks['_NormProbeHook'].rows[2]['norms'])
    assert resumed['WeightNormMonitorHook'].initial == initial
    assert at_resume != pytest.approx(initial, rel=1e-3)
    logged = _logged(runner)
    assert [r['step'] for r in logged] == [3, 4, 6]
    last = {r['step']: r for r in rows}[MAX_ITERS]['norms']
    for conv in initial:
        assert logged[-1][f'wnorm/{conv}'] == pytest.approx(
            last[conv] / initial[conv], rel=1e-9)


def test_projection_holds_the_norms_in_stage1_only(projected, monitored):
    _, hooks, work_dir = projected
    rows = hooks['_NormProbeHook'].rows
    convs = hooks['_NormProbeHook'].convs
    initial = hooks['WeightNormProjectionHook'].initial
    assert sorted(initial) == sorted(convs)
    assert rows[0]['norms'] == initial
    assert [r['stage'] for r in rows] == [1, 1, 1, 1, 2, 2, 2]
    for row in rows[1:SWITCH + 1]:  # after each stage-1 step
        assert row['norms'] == pytest.approx(initial, rel=1e-6)
    # without the projection, the same stage 1 grows them
    free = monitored[1]['_NormProbeHook'].rows
    assert max(free[SWITCH]['norms'][c] / initial[c] for c in convs) > 1.05
    # stage 2 is not projected: the norms move
    for row in rows[SWITCH + 1:]:
        moved = [abs(row['norms'][c] / initial[c] - 1) for c in convs]
        assert min(moved) > 1e-4
    # the monitor (after the projection) sees the projected norms
    logged = _logged(projected[0])
    for rec in logged:
        ratios = [rec[f'wnorm/{c}'] for c in convs]
        if rec['stage'] == 1:
            assert ratios == pytest.approx([1.0] * len(convs), rel=1e-6)
    assert [r['stage'] for r in logged] == [1, 1, 2, 2, 2]
    assert abs(logged[-1]['wnorm_median'] - 1) > 1e-4
    ckpt = torch.load(work_dir / 'iter_2.pth', weights_only=False)
    assert ckpt['meta']['conv_norms_projected_to'] == initial


def test_resume_without_meta_falls_back_to_the_current_norms(caplog):
    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='CifarResNet', depth=8, in_channels=1))
    hook = WeightNormMonitorHook()
    hook.after_load_checkpoint(None, {'meta': {}})
    assert hook.initial is None
    runner = _fake_runner(backbone, iter=5)
    with caplog.at_level(logging.WARNING, logger='test_weight_norms'):
        hook.before_train(runner)
    assert "has no meta['conv_norms_initial']" in caplog.text
    assert hook.initial == _conv_norms(backbone, hook.names)
    other = WeightNormMonitorHook()
    other.after_load_checkpoint(None, {'meta': {'conv_norms_initial': {
        'conv1': 1.0}}})
    with pytest.raises(ValueError, match='another architecture'):
        other.before_train(runner)
