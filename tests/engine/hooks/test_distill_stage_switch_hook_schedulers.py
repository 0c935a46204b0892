"""DistillStageSwitchHook with mmengine's lr schedulers, in real (toy)
Runner runs: whatever the stage-2 schedulers (warm-ups, chained or
sequential ones, multi-step, cosine ...), the lr of every stage-2 iteration
and of every parameter group is the one a plain run starting at the switch
with ``lr=stage_lr`` has, and the stage-1 lr is a plain stage-1 run's; the
same after a resume before, at and after the switch. The lr trace of
tests/lr_trace.py (used by the config-check tests) is checked against the
same runs."""
import copy
from typing import List

import pytest
from mmengine.hooks import Hook

from tests.lr_trace import lr_trace
from tests.toy_runner import ToyDataset, ToyModel, build_toy_runner

SWITCH, STAGE2 = 4, 8
MAX_ITERS = SWITCH + STAGE2
LR, STAGE_LR = 0.01, 0.1
# weight: lr, bias: 2 lr (paramwise_cfg): the restart keeps multipliers
MULTS = (1.0, 2.0)


class StagedToyModel(ToyModel):
    """The toy model with the interface the switch hook drives (two stages,
    no teacher)."""

    def __init__(self) -> None:
        super().__init__()
        self.stage, self.num_stages, self.teacher = 1, 2, None

    def set_stage(self, stage: int) -> None:
        self.stage = stage

    def stage_uses_teacher(self, stage=None) -> bool:
        return False

    def free_teacher(self) -> list:
        return []


class LrProbe(Hook):
    """The lr of every parameter group, as the iteration's optimizer step
    uses it (after every other hook's ``before_train_iter``)."""
    priority = 'LOWEST'

    def __init__(self) -> None:
        self.rows: List[List[float]] = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.rows.append(list(runner.optim_wrapper.get_lr()['lr']))


def assert_same(rows: List[List[float]], expected: List[List[float]]):
    """Equal lr rows (every group of every iteration), up to rounding."""
    assert [len(r) for r in rows] == [len(r) for r in expected]
    assert [x for r in rows for x in r] == pytest.approx(
        [x for r in expected for x in r], rel=1e-12)


def it(type_: str, **kwargs) -> dict:
    return dict(type=type_, by_epoch=False, **kwargs)


def shifted(schedulers: List[dict], by: int) -> List[dict]:
    """The schedulers written for a plain run, moved to begin ``by``
    iterations later (as a two-stage config writes its stage 2)."""
    moved = copy.deepcopy(schedulers)
    for s in moved:
        s['begin'] = s.get('begin', 0) + by
        s['end'] = s['end'] + by
    return moved


STAGE1 = [it('MultiStepLR', begin=0, end=SWITCH, milestones=[2])]
# Stage-2 schedules as a plain run writes them (begin counted from 0).
STAGE2_KINDS = {
    # the issue's case: a warm-up chained with the stage-2 decay
    'linear_warmup+multistep': [
        it('LinearLR', start_factor=0.01, begin=0, end=4),
        it('MultiStepLR', begin=0, end=STAGE2, milestones=[6])
    ],
    'linear_warmup': [it('LinearLR', start_factor=0.1, begin=0, end=3)],
    'constant_warmup': [it('ConstantLR', factor=0.5, begin=0, end=3)],
    'constant_warmup+multistep': [
        it('ConstantLR', factor=0.1, begin=0, end=2),
        it('MultiStepLR', begin=0, end=STAGE2, milestones=[5])
    ],
    'multistep': [it('MultiStepLR', begin=0, end=STAGE2, milestones=[3, 6])],
    # eta_min_ratio reads the schedulers' base values
    'cosine_ratio': [
        it('CosineAnnealingLR', begin=0, end=STAGE2, eta_min_ratio=0.01)
    ],
    'cosine_eta_min': [
        it('CosineAnnealingLR', begin=0, end=STAGE2, T_max=STAGE2,
           eta_min=1e-4)
    ],
    'warmup_then_cosine': [
        it('LinearLR', start_factor=0.01, begin=0, end=3),
        it('CosineAnnealingLR', begin=3, end=STAGE2, eta_min_ratio=0.1)
    ],
    'step': [it('StepLR', step_size=3, gamma=0.5, begin=0, end=STAGE2)],
    'poly': [it('PolyLR', eta_min=1e-3, power=2.0, begin=0, end=STAGE2)],
}


#: An endless sampler (mmengine waits 2 s each time a finite one runs out)
#: and no checkpoints unless a test asks for them: each run takes ~0.1 s.
FAST = dict(
    train_dataloader=dict(
        dataset=ToyDataset(), batch_size=8, num_workers=0,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        collate_fn=dict(type='default_collate')))
NO_CHECKPOINTS = dict(checkpoint=None)


def _run(work_dir, schedulers, max_iters, lr, staged, **kwargs):
    kwargs = {**FAST, 'default_hooks': NO_CHECKPOINTS, **kwargs}
    probe = LrProbe()
    hooks = [
        dict(type='DistillStageSwitchHook', switch_iter=SWITCH,
             stage_lr=STAGE_LR, save_checkpoint=False)
    ] if staged else []
    runner = build_toy_runner(
        work_dir, max_iters=max_iters,
        model=StagedToyModel() if staged else ToyModel(),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=lr, momentum=0.9),
            paramwise_cfg=dict(bias_lr_mult=MULTS[1])),
        param_scheduler=schedulers,
        custom_hooks=[*hooks, probe], **kwargs)
    runner.train()
    return runner, probe.rows


def two_stage_cfg(stage2: List[dict]) -> dict:
    return dict(
        optim_wrapper=dict(optimizer=dict(lr=LR)),
        param_scheduler=STAGE1 + shifted(stage2, SWITCH),
        custom_hooks=[
            dict(type='DistillStageSwitchHook', switch_iter=SWITCH,
                 stage_lr=STAGE_LR)
        ],
        train_cfg=dict(max_iters=MAX_ITERS))


@pytest.fixture(scope='module')
def plain_stage1(tmp_path_factory):
    return _run(tmp_path_factory.mktemp('stage1'), STAGE1, SWITCH, LR,
                staged=False)[1]


@pytest.mark.parametrize('kind', sorted(STAGE2_KINDS))
def test_each_stage_has_the_lr_of_a_plain_run(kind, tmp_path, plain_stage1):
    stage2 = STAGE2_KINDS[kind]
    runner, rows = _run(tmp_path / 'two', STAGE1 + shifted(stage2, SWITCH),
                        MAX_ITERS, LR, staged=True)
    _, plain = _run(tmp_path / 'plain', stage2, STAGE2, STAGE_LR,
                    staged=False)
    assert runner.model.stage == 2
    assert len(rows) == MAX_ITERS and len(rows[0]) == 2
    assert_same(rows[:SWITCH], plain_stage1)
    assert_same(rows[SWITCH:], plain)
    # each group restarts with its multiplier, never above stage_lr
    assert rows[SWITCH][1] == pytest.approx(MULTS[1] * rows[SWITCH][0])
    assert max(w for w, _ in rows[SWITCH:]) <= STAGE_LR * (1 + 1e-12)
    # the schedule changes the lr somewhere in stage 2 (it is not a
    # constant stage_lr that would match any schedule that does nothing)
    assert len({round(w, 12) for w, _ in rows[SWITCH:]}) > 1
    # the trace the config-check tests use is the Runner's
    assert_same(lr_trace(two_stage_cfg(stage2), MULTS), rows)


def test_a_stage1_warmup_and_cosine_is_a_plain_stage1_run(tmp_path):
    stage1 = [
        it('LinearLR', start_factor=0.1, begin=0, end=3),
        it('CosineAnnealingLR', begin=0, end=SWITCH, eta_min_ratio=0.1)
    ]
    stage2 = STAGE2_KINDS['linear_warmup+multistep']
    _, rows = _run(tmp_path / 'two', stage1 + shifted(stage2, SWITCH),
                   MAX_ITERS, LR, staged=True)
    _, plain1 = _run(tmp_path / 'one', stage1, SWITCH, LR, staged=False)
    _, plain2 = _run(tmp_path / 'plain', stage2, STAGE2, STAGE_LR,
                     staged=False)
    assert_same(rows[:SWITCH], plain1)
    assert_same(rows[SWITCH:], plain2)
    assert rows[0][0] == pytest.approx(0.1 * LR)  # the warm-up's start


def test_the_issue_warmup_no_longer_climbs_past_stage_lr(tmp_path):
    """LinearLR(start_factor=0.01, begin=switch, end=switch + 4) chained
    with the stage-2 MultiStepLR: 0.001 -> 0.1 over the warm-up (the reset
    used to be multiplied by the warm-up's growth: 0.1 -> 10)."""
    stage2 = STAGE2_KINDS['linear_warmup+multistep']
    _, rows = _run(tmp_path, STAGE1 + shifted(stage2, SWITCH), MAX_ITERS, LR,
                   staged=True)
    weight = [r[0] for r in rows[SWITCH:]]
    assert weight == pytest.approx(
        [0.001, 0.034, 0.067, 0.1, 0.1, 0.1, 0.01, 0.01], rel=1e-9)


@pytest.mark.parametrize('resume_at', [SWITCH - 1, SWITCH, SWITCH + 2])
def test_resume_before_at_and_after_the_switch(tmp_path, resume_at):
    schedulers = STAGE1 + shifted(STAGE2_KINDS['warmup_then_cosine'],
                                  SWITCH)
    every = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False,
                                 interval=1, max_keep_ckpts=-1))
    _, rows = _run(tmp_path / 'a', schedulers, MAX_ITERS, LR, staged=True,
                   default_hooks=every)
    runner, resumed = _run(
        tmp_path / 'b', schedulers, MAX_ITERS, LR, staged=True,
        load_from=str(tmp_path / 'a' / f'iter_{resume_at}.pth'), resume=True)
    assert runner.model.stage == 2
    assert_same(resumed, rows[resume_at:])


def test_without_stage_lr_the_schedule_runs_on(tmp_path):
    """No restart: the lr is the chained schedule's, as without the hook."""
    schedulers = STAGE1 + shifted(STAGE2_KINDS['linear_warmup+multistep'],
                                  SWITCH)
    probe = LrProbe()
    runner = build_toy_runner(
        tmp_path / 'a', max_iters=MAX_ITERS, model=StagedToyModel(),
        param_scheduler=schedulers, default_hooks=NO_CHECKPOINTS, **FAST,
        custom_hooks=[
            dict(type='DistillStageSwitchHook', switch_iter=SWITCH,
                 save_checkpoint=False), probe
        ])
    runner.train()
    _, plain = _run(tmp_path / 'b', schedulers, MAX_ITERS, 0.1,
                    staged=False)
    assert runner.model.stage == 2
    assert [r[0] for r in probe.rows] == pytest.approx(
        [r[0] for r in plain], rel=1e-12)
    # stage 1 ended at 0.1 / 10; the warm-up starts from there
    assert probe.rows[SWITCH][0] == pytest.approx(0.1 * 0.1 * 0.01)


def test_a_scheduler_across_the_restart_is_refused_before_training(
        tmp_path):
    """A Runner built without the config check (e.g. an epoch-based loop,
    which the check does not see) refuses it in before_train."""
    with pytest.raises(ValueError) as info:
        _run(tmp_path, [it('MultiStepLR', begin=0, end=MAX_ITERS,
                           milestones=[2, 6])], MAX_ITERS, LR, staged=True)
    message = str(info.value)
    assert 'MultiStepLR(begin=0, end=12) run across the switch' in message
    assert 'at iteration 4' in message and '--check' in message
    assert not list(tmp_path.glob('*.pth')), 'it trained'
