"""Every fix the config check prints is a correct fix: applied literally
(its ``--cfg-options`` appended to the command line), it yields a config
the check accepts, whose lr, iteration by iteration, is the intended
schedule: each stage's lr is a plain run's of that stage's schedulers (the
new stage starting from ``stage_lr``), and for the moved switch of the
issue exactly the schedule the message states. The lr is followed with
tests/lr_trace.py (mmengine's schedulers and the switch hook's own
restart, checked against real Runner runs in
tests/engine/hooks/test_distill_stage_switch_hook_schedulers.py)."""
import functools
from typing import Any, Dict, List

import pytest
from mmengine.config import Config

from mmfsp.engine.hooks import linear_weight
from mmfsp.utils.config_check import (ConfigError, check_config,
                                      format_cfg_options, parse_cfg_options,
                                      with_cfg_options)
from mmfsp.utils.schedule_scaling import remap_two_stage_schedule
from tests.conftest import REPO_ROOT
from tests.lr_trace import lrs, plain_stage_trace

# lr 0.001 (/10 at 500, 750) until the switch at 1000, then 0.1 (/10 at
# +500, +750) until 2000
FSP = 'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py'
# hints until 1650 (lr 1e-4, /10 at 1200), then CE + KD until 4650 (0.1, /10
# at +1500, +2250) with the KD weight 4 -> 1 over [1650, 4650)
FITNET = 'configs/fitnet/fitnet_resnet26_resnet8_1xb128_fashion-mnist_3loss.py'
# one stage of 3000 iterations, KD weight 4 -> 1 over all of them
KD = 'configs/kd/kd_resnet26_resnet8_1xb128_fashion-mnist.py'
# the stage-2 warm-up, written the usual mmengine way
WARMUP = {
    'param_scheduler': [
        dict(type='MultiStepLR', by_epoch=False, begin=0, end=1000,
             milestones=[500, 750]),
        dict(type='LinearLR', by_epoch=False, start_factor=0.01,
             begin=1000, end=1050),
        dict(type='MultiStepLR', by_epoch=False, begin=1000, end=2000,
             milestones=[500, 750]),
    ]
}


@functools.lru_cache(maxsize=None)
def _config(path: str) -> Config:
    return Config.fromfile(str(REPO_ROOT / path))


def load(path: str, options: Dict[str, Any]) -> Config:
    """``path`` with ``options`` merged, as ``--cfg-options`` does (a
    copy)."""
    return with_cfg_options(_config(path), options)


def refused(cfg) -> str:
    with pytest.raises(ConfigError) as info:
        check_config(cfg)
    return str(info.value)


def switch_hook(cfg) -> dict:
    return next((h for h in cfg.custom_hooks
                 if h.type == 'DistillStageSwitchHook'), None)


def assert_each_stage_is_a_plain_run(cfg) -> List[float]:
    """The lr of ``cfg``: stage 1 as a plain run of its schedulers from the
    optimizer's lr, stage 2 as one from ``stage_lr`` (or the whole run as a
    plain chain without a restart); returns the trace."""
    trace = lrs(cfg)
    hook, total = switch_hook(cfg), cfg.train_cfg.max_iters
    lr = cfg.optim_wrapper.optimizer.lr
    if hook is None:  # one stage
        assert trace == pytest.approx(
            plain_stage_trace(cfg, 0, total, lr), rel=1e-12)
        return trace
    s, stage_lr = hook.switch_iter, hook.get('stage_lr')
    if stage_lr is None or s >= total:
        no_hook = with_cfg_options(cfg, {'custom_hooks': []})
        assert trace == pytest.approx(lrs(no_hook), rel=1e-12)
    else:
        assert trace[:s] == pytest.approx(
            plain_stage_trace(cfg, 0, s, lr), rel=1e-12)
        assert trace[s:] == pytest.approx(
            plain_stage_trace(cfg, s, total, stage_lr), rel=1e-12)
        assert trace[s] <= stage_lr * (1 + 1e-12)
    return trace


def weight_windows_follow_the_stages(cfg) -> None:
    """Every weight schedule reaches its end value within the run; FitNet's
    KD weight (loss_kd is computed in stage 2 only) begins with stage 2."""
    hook = switch_hook(cfg)
    for h in cfg.custom_hooks:
        if h.type == 'LossWeightScheduleHook':
            assert h.end <= cfg.train_cfg.max_iters
            if hook is not None:
                assert h.begin == hook.switch_iter


def steps(*pieces) -> List[float]:
    """``steps((lr, n), ...)``: ``n`` iterations at each ``lr``."""
    return [lr for lr, n in pieces for _ in range(n)]


# ------------------------------------------------------- the cases
def test_a_stage2_warmup_is_accepted_and_composes():
    cfg = load(FSP, WARMUP)
    check_config(cfg)
    trace = assert_each_stage_is_a_plain_run(cfg)
    assert trace[1000] == pytest.approx(0.001)
    assert trace[1049] == pytest.approx(0.1)
    assert max(trace) == pytest.approx(0.1)  # it climbed to 10.0
    assert trace[1500] == pytest.approx(0.01)


def test_moved_switch_gets_the_correct_fixes():
    """The switch moved to 500 on a config whose stage 1 ends at 1000."""
    cfg = load(FSP, {'custom_hooks.0.switch_iter': 500})
    message = refused(cfg)
    assert ('param_scheduler[0] (MultiStepLR, begin=0, end=1000) runs '
            'across the switch') in message
    assert 'stage-1 lr schedule' not in message  # the wrong name
    fixes = parse_cfg_options(message)
    assert fixes == [
        {'custom_hooks.0.switch_iter': 1000},
        {'param_scheduler.0.end': 500, 'param_scheduler.0.milestones':
         [250, 375], 'param_scheduler.1.begin': 500,
         'param_scheduler.1.milestones': [750, 1125]},
    ]
    # switch moved back: the config's own schedule
    back = with_cfg_options(cfg, fixes[0])
    check_config(back)
    assert lrs(back) == pytest.approx(steps(
        (1e-3, 500), (1e-4, 250), (1e-5, 250),
        (0.1, 500), (0.01, 250), (0.001, 250)))
    # switch kept: each stage scaled to its new length, as stated
    assert 'stage 1: 1000 -> 500 iterations, stage 2: 1000 -> 1500' in \
        message
    kept = with_cfg_options(cfg, fixes[1])
    check_config(kept)
    assert lrs(kept) == pytest.approx(steps(
        (1e-3, 250), (1e-4, 125), (1e-5, 125),
        (0.1, 750), (0.01, 375), (0.001, 375)))


def test_the_old_suggestion_is_refused():
    """The switch moved to 1500 and the stage-2 scheduler ended there (what
    the check used to suggest): stage 2 would run at a constant 0.1."""
    cfg = load(FSP, {'custom_hooks.0.switch_iter': 1500,
                     'param_scheduler.1.end': 1500})
    message = refused(cfg)
    assert 'no lr scheduler begins at or after the switch' in message
    assert 'constant stage_lr for all of its 500 iterations' in message


# ------------------------------------------ every fix, applied literally
SCENARIOS = {
    'switch_earlier': (FSP, {'custom_hooks.0.switch_iter': 500}),
    'switch_later': (FSP, {'custom_hooks.0.switch_iter': 1500}),
    'stage2_begins_late': (FSP, {'param_scheduler.1.begin': 1200}),
    'stage2_begins_early': (FSP, {'param_scheduler.1.begin': 800}),
    'old_suggestion_applied': (FSP, {'custom_hooks.0.switch_iter': 1500,
                                     'param_scheduler.1.end': 1500}),
    'switch_after_the_end': (FSP, {'custom_hooks.0.switch_iter': 2001}),
    'run_shortened': (FSP, {'train_cfg.max_iters': 500}),
    'warmup_switch_earlier': (FSP, {**WARMUP,
                                    'custom_hooks.0.switch_iter': 500}),
    'warmup_switch_later': (FSP, {**WARMUP,
                                  'custom_hooks.0.switch_iter': 1200}),
    'fitnet_switch_earlier': (FITNET, {'custom_hooks.0.switch_iter': 1000}),
    'fitnet_switch_later': (FITNET, {'custom_hooks.0.switch_iter': 2000}),
    'fitnet_kd_window_early': (FITNET, {'custom_hooks.1.begin': 1000}),
    'fitnet_kd_window_late': (FITNET, {'custom_hooks.1.begin': 2000}),
    'fitnet_run_shortened': (FITNET, {'train_cfg.max_iters': 3000}),
    'kd_run_shortened': (KD, {'train_cfg.max_iters': 500}),
}


@pytest.mark.parametrize('name', sorted(SCENARIOS))
def test_every_printed_fix_is_accepted_and_gives_the_intended_lr(name):
    path, options = SCENARIOS[name]
    cfg = load(path, options)
    message = refused(cfg)
    assert 'Fix it in one of these ways' in message
    fixes = parse_cfg_options(message)
    assert fixes, message
    for fix in fixes:
        fixed = with_cfg_options(cfg, fix)
        check_config(fixed)  # accepted
        assert_each_stage_is_a_plain_run(fixed)
        weight_windows_follow_the_stages(fixed)


def test_weight_schedule_past_the_end_of_a_shortened_run():
    cfg = load(KD, {'train_cfg.max_iters': 500})
    message = refused(cfg)
    assert ('custom_hooks[0] (LossWeightScheduleHook) schedules the weight '
            'of loss_kd over iterations [0, 3000), but training ends at '
            '500') in message
    assert 'It would end training at 3.501, never reaching 1.' in message
    shortened, longer = parse_cfg_options(message)
    assert shortened == {'custom_hooks.0.end': 500}
    assert longer == {'train_cfg.max_iters': 3000}
    hook = with_cfg_options(cfg, shortened).custom_hooks[0]
    weights = [linear_weight(i, hook.begin, hook.end, hook.start_value,
                             hook.end_value) for i in range(500)]
    assert weights[0] == 4.0 and weights[-1] == 1.0


def test_fitnet_kd_window_moves_with_the_stage():
    cfg = load(FITNET, {'custom_hooks.1.begin': 1000})
    message = refused(cfg)
    assert 'loss_kd is computed from stage 2 on, which begins at the ' \
        'switch at iteration 1650' in message
    assert parse_cfg_options(message) == [{'custom_hooks.1.begin': 1650}]
    moved = load(FITNET, {'custom_hooks.0.switch_iter': 1000})
    fixes = parse_cfg_options(refused(moved))
    # the scaled fix moves the KD window with stage 2
    assert fixes[1]['custom_hooks.1.begin'] == 1000


def test_stage_lr_none_and_stage1_alone_are_not_restarts():
    check_config(load(FSP, {'custom_hooks.0.stage_lr': None,
                            'param_scheduler.1.begin': 1200}))
    check_config(load(FSP, {'custom_hooks.0.switch_iter': 2000}))
    # FitNet's stage 1 alone: the KD weight schedule of stage 2 never runs
    check_config(load(FITNET, {'train_cfg.max_iters': 1650}))
    # ... but it must span stage 2 when stage 2 runs, even briefly
    message = refused(load(FITNET, {'train_cfg.max_iters': 1651}))
    assert 'LossWeightScheduleHook' in message


# ----------------------------------------------------------- the helpers
def test_cfg_options_round_trip_through_the_command_line_parser():
    options = {'a.b': 1, 'c': [2, 3], 'd': None, 'e': 0.1, 'f': 2.0,
               'g': (4, 5), 'h': True}
    text = format_cfg_options(options)
    assert text == ('--cfg-options a.b=1 c=[2,3] d=None e=0.1 f=2.0 '
                    'g=(4,5) h=True')
    assert parse_cfg_options(f'either {text}\n - or {text} (done)') == [
        options, options
    ]


def test_remap_scales_every_count_that_counts_from_begin():
    cfg = Config(dict(
        param_scheduler=[
            dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=100,
                 T_max=100),
            dict(type='LinearLR', by_epoch=False, begin=100, end=110),
            dict(type='StepLR', by_epoch=False, begin=100, end=200,
                 step_size=30),
        ],
        custom_hooks=[
            dict(type='DistillStageSwitchHook', switch_iter=100),
            dict(type='LossWeightScheduleHook', begin=100, end=200),
        ]))
    remap_two_stage_schedule(cfg, (100, 100), (50, 150))
    cosine, warmup, step = cfg.param_scheduler
    assert (cosine.begin, cosine.end, cosine.T_max) == (0, 50, 50)
    assert (warmup.begin, warmup.end) == (50, 65)
    assert (step.begin, step.end, step.step_size) == (50, 200, 45)
    assert cfg.custom_hooks[0].switch_iter == 100  # the caller's
    assert (cfg.custom_hooks[1].begin, cfg.custom_hooks[1].end) == (50, 200)
