"""DistillStageSwitchHook in real (tiny) Runner runs on Fashion-MNIST:
switch iteration, lr, optimizer reset, teacher freed, head trained only in
stage 2, stage-1 checkpoint, resume before / at / after the switch."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmfsp.registry import HOOKS, MODELS

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[3]
SWITCH, MAX_ITERS = 3, 6


@HOOKS.register_module(force=True)
class _ProbeHook(Hook):
    """Record, before every iteration, what the switch must have done."""
    priority = 'LOWEST'

    def __init__(self):
        self.rows = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model
        self.rows.append(
            dict(
                iter=runner.iter,
                stage=model.stage,
                teacher=model.teacher is not None,
                lr=runner.optim_wrapper.get_lr()['lr'][0],
                opt_state=len(runner.optim_wrapper.optimizer.state),
                head=model.architecture.head.fc.weight.detach().clone(),
                conv=model.architecture.backbone.conv1.weight.detach()
                .clone(),
                norms={f'backbone.{n}': float(m.weight.detach().norm())
                       for n, m in model.architecture.backbone.named_modules()
                       if isinstance(m, torch.nn.Conv2d)},
                logits_of=_frozen_logits(model.architecture)))


def _frozen_logits(student):
    """The student as it is now (a copy, in train mode: batch statistics),
    as a function of images."""
    import copy
    frozen = copy.deepcopy(student).train()

    def logits(x):
        with torch.no_grad():
            return frozen(x, mode='tensor')
    return logits


def make_cfg(work_dir: Path, teacher_ckpt: str, max_iters=MAX_ITERS,
             switch=SWITCH, ckpt_interval=100) -> Config:
    cfg = Config.fromfile(
        str(REPO / 'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py'))
    cfg.model.architecture.backbone.depth = 8
    cfg.model.teacher.backbone.depth = 8
    cfg.model.teacher_ckpt = teacher_ckpt
    cfg.train_dataloader.update(
        batch_size=8, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = str(REPO / 'data/fashion_mnist')
    # The 10k-image files load faster than the 60k ones; 64 images suffice.
    # (mmpretrain 1.2's FashionMNIST picks its files by test_mode.)
    cfg.train_dataloader.dataset.update(split='test', test_mode=True)
    cfg.train_dataloader.dataset.indices = 64
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackInputs')]
    for key in ('val', 'test'):
        cfg[f'{key}_dataloader'] = None
        cfg[f'{key}_cfg'] = None
        cfg[f'{key}_evaluator'] = None
    cfg.param_scheduler = [
        dict(type='MultiStepLR', by_epoch=False, begin=0, end=switch,
             milestones=[2], gamma=0.1),
        dict(type='MultiStepLR', by_epoch=False, begin=switch,
             end=switch + 3, milestones=[2], gamma=0.1),
    ]
    cfg.custom_hooks = [
        dict(type='DistillStageSwitchHook', switch_iter=switch, stage_lr=0.1),
        dict(type='_ProbeHook'),
    ]
    cfg.train_cfg.max_iters = max_iters
    cfg.default_hooks.logger.interval = 1
    # Every save formats the config (slow): only the reference run saves
    # each iteration.
    cfg.default_hooks.checkpoint.update(
        interval=ckpt_interval, max_keep_ckpts=-1)
    cfg.randomness = dict(seed=0)
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    return cfg


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    cfg = make_cfg(Path('.'), '')
    teacher = MODELS.build(cfg.model.teacher)
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, path)
    return str(path)


def train(cfg: Config, resume_from=None):
    if resume_from is not None:
        cfg.resume = True
        cfg.load_from = str(resume_from)
    runner = Runner.from_cfg(cfg)
    runner.train()
    probe = next(h for h in runner.hooks if isinstance(h, _ProbeHook))
    return runner, probe.rows


@pytest.fixture(scope='module')
def reference(tmp_path_factory, teacher_ckpt):
    work_dir = tmp_path_factory.mktemp('reference')
    runner, rows = train(make_cfg(work_dir, teacher_ckpt, ckpt_interval=1))
    return work_dir, runner, rows


def test_switch_happens_at_the_configured_iteration(reference):
    work_dir, runner, rows = reference
    assert [r['iter'] for r in rows] == list(range(MAX_ITERS))
    assert [r['stage'] for r in rows] == [1, 1, 1, 2, 2, 2]
    assert [r['teacher'] for r in rows] == [True] * 3 + [False] * 3
    # stage 1: 0.001, /10 at +2; stage 2 restarts at 0.1, /10 at +2.
    assert [r['lr'] for r in rows] == pytest.approx(
        [1e-3, 1e-3, 1e-4, 0.1, 0.1, 1e-2])
    # Momentum exists before the switch, is cleared at it.
    assert rows[2]['opt_state'] > 0 and rows[3]['opt_state'] == 0
    assert runner.model.teacher is None


def test_head_is_trained_only_after_the_switch(reference):
    _, runner, rows = reference
    heads = [r['head'] for r in rows] + [
        runner.model.architecture.head.fc.weight.detach()]
    convs = [r['conv'] for r in rows]
    for i in range(1, SWITCH + 1):
        assert torch.equal(heads[i], heads[0]), f'head moved in stage 1 ({i})'
    for i in range(1, SWITCH):
        assert not torch.equal(convs[i], convs[i - 1]), 'backbone frozen?'
    for i in range(SWITCH + 1, MAX_ITERS + 1):
        assert not torch.equal(heads[i], heads[i - 1])


def test_checkpoints_carry_the_stage(reference):
    work_dir, _, _ = reference
    stage1 = torch.load(work_dir / f'stage1_iter_{SWITCH}.pth',
                        weights_only=False)
    assert stage1['meta']['distill_stage'] == 1
    assert stage1['meta']['iter'] == SWITCH
    assert 'optimizer' not in stage1
    assert any(k.startswith('teacher.') for k in stage1['state_dict'])
    last = torch.load(work_dir / f'iter_{MAX_ITERS}.pth', weights_only=False)
    assert last['meta']['distill_stage'] == 2
    assert not any(k.startswith('teacher.') for k in last['state_dict'])
    hub = last['message_hub']
    assert 'train/distill.loss_fsp' not in hub['log_scalars']
    assert 'train/distill.loss_fsp' not in hub['resumed_keys']


@pytest.mark.parametrize('resume_iter', [2, SWITCH, 5])
def test_resume_before_at_and_after_the_switch(reference, teacher_ckpt,
                                                tmp_path, resume_iter,
                                                capsys):
    ref_dir, ref_runner, ref_rows = reference
    capsys.readouterr()
    runner, rows = train(
        make_cfg(tmp_path, teacher_ckpt),
        resume_from=ref_dir / f'iter_{resume_iter}.pth')
    # The stage-1 loss entries dropped at the switch leave no resumable
    # mark behind: mmengine would warn that it cannot resume them.
    assert 'message_hub' not in capsys.readouterr().out
    assert [r['iter'] for r in rows] == list(range(resume_iter, MAX_ITERS))
    assert [r['lr'] for r in rows] == pytest.approx(
        [r['lr'] for r in ref_rows[resume_iter:]])
    assert [r['stage'] for r in rows] == [
        r['stage'] for r in ref_rows[resume_iter:]]
    assert runner.model.teacher is None
    ref = ref_runner.model.architecture.state_dict()
    for key, value in runner.model.architecture.state_dict().items():
        torch.testing.assert_close(value, ref[key], msg=key)


def test_stage1_alone_and_a_stage2_student_from_its_checkpoint(
        teacher_ckpt, tmp_path):
    runner, rows = train(
        make_cfg(tmp_path, teacher_ckpt, max_iters=SWITCH, switch=SWITCH))
    assert [r['stage'] for r in rows] == [1] * SWITCH
    assert runner.model.teacher is not None
    assert not (tmp_path / f'stage1_iter_{SWITCH}.pth').exists()
    ckpt = tmp_path / f'iter_{SWITCH}.pth'
    # The stage-2-only config: the plain student initialised from the
    # stage-1 checkpoint's `architecture.` weights.
    cfg = Config.fromfile(
        str(REPO / 'configs/fsp' /
            'fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_stage2.py'))
    cfg.model.backbone.depth = 8
    cfg.model.init_cfg.checkpoint = str(ckpt)
    student = MODELS.build(cfg.model)
    student.init_weights()
    trained = runner.model.architecture.state_dict()
    for key, value in student.state_dict().items():
        torch.testing.assert_close(value, trained[key], msg=key)


def test_hook_rejects_a_model_without_that_stage(reference):
    from types import SimpleNamespace

    from mmfsp.engine.hooks import DistillStageSwitchHook
    _, runner, _ = reference
    fake = SimpleNamespace(model=runner.model, iter=0)
    with pytest.raises(ValueError, match='only 2'):
        DistillStageSwitchHook(switch_iter=2, stage=3).before_train(fake)
    with pytest.raises(TypeError, match='SingleTeacherDistill'):
        DistillStageSwitchHook(switch_iter=2).before_train(
            SimpleNamespace(model=torch.nn.Linear(1, 1), iter=0))


def test_rescale_weight_norms_keeps_the_student_and_resets_its_norms(
        teacher_ckpt, tmp_path):
    from mmfsp.models.utils import conv_bn_pairs, fresh_init_conv_norms
    from mmfsp.models.utils.conv_bn_rescale import conv_weight_norms_of
    cfg = make_cfg(tmp_path, teacher_ckpt, max_iters=SWITCH + 1)
    cfg.custom_hooks[0].rescale_weight_norms = True
    cfg.optim_wrapper.optimizer.lr = 0.01  # a stage 1 that grows the norms
    runner, rows = train(cfg)
    assert [r['stage'] for r in rows] == [1] * SWITCH + [2]
    student = runner.model.architecture
    convs = [f'backbone.{c}' for c, _ in conv_bn_pairs(student.backbone)]
    initial = fresh_init_conv_norms(student, convs)
    # before the switch's rescaling: the stage-1 checkpoint
    stage1 = MODELS.build(cfg.model.architecture)
    stage1.load_state_dict({
        k[len('architecture.'):]: v for k, v in torch.load(
            tmp_path / f'stage1_iter_{SWITCH}.pth',
            weights_only=False)['state_dict'].items()
        if k.startswith('architecture.')})
    grown = conv_weight_norms_of(stage1, convs)
    assert max(grown[c] / initial[c] for c in convs) > 2
    # what the student was at the start of stage 2 (probe: after the hook)
    at_switch = {c: rows[SWITCH]['norms'][c] for c in convs}
    assert at_switch == pytest.approx(initial, rel=1e-5)
    # the same function (up to BN's eps): stage-1 and rescaled weights
    # agree on the same images (train mode, as stage 2 trains)
    x = torch.randn(16, 1, 28, 28)
    stage1.train()
    with torch.no_grad():
        torch.testing.assert_close(rows[SWITCH]['logits_of'](x),
                                   stage1(x, mode='tensor'), rtol=1e-3,
                                   atol=1e-3)
