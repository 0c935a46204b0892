"""Stage lengths in one edit (mmfsp/utils/stage_iters.py)."""
import copy
from pathlib import Path

import pytest
from mmengine.config import Config

import mmfsp  # noqa: F401
from mmfsp.utils.schedule_scaling import (scale_two_stage_schedule,
                                          stage_lengths)
from mmfsp.utils.stage_iters import StageItersError, apply_stage_iters

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
RECOMMENDED = CONFIGS / 'fsp' / 'fsp_resnet26_resnet8_1xb128_fashion-mnist.py'


def lr_schedule(cfg) -> list:
    """What decides the lr: the schedulers, the switch, the length."""
    switch = next(h for h in cfg.custom_hooks
                  if h['type'] == 'DistillStageSwitchHook')
    return [copy.deepcopy(cfg.param_scheduler), switch['switch_iter'],
            cfg.train_cfg.max_iters]


def test_one_edit_rescales_the_schedule():
    cfg = Config.fromfile(RECOMMENDED)
    assert stage_lengths(cfg) == (1000, 3000)
    expected = scale_two_stage_schedule(copy.deepcopy(cfg), 350, 420)
    cfg.merge_from_dict(dict(stage_iters=(350, 420)))
    message = apply_stage_iters(cfg)
    assert 'rescaled to 350 + 420' in message
    assert stage_lengths(cfg) == (350, 420)
    assert lr_schedule(cfg) == lr_schedule(expected)
    # stage 1's milestones at 1/2 and 3/4 of stage 1, stage 2's counted from
    # the switch at the paper's fractions of stage 2
    assert cfg.param_scheduler[0].milestones == [175, 262]
    assert cfg.param_scheduler[1].begin == 350
    assert cfg.param_scheduler[1].milestones == [210, 315]
    assert tuple(cfg.schedule_stage_iters) == (350, 420)
    assert apply_stage_iters(cfg) is None  # idempotent


def test_one_edit_in_a_child_config(tmp_path):
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = ['{RECOMMENDED}']\nstage_iters = (500, 600)\n")
    cfg = Config.fromfile(child)
    apply_stage_iters(cfg)
    assert stage_lengths(cfg) == (500, 600)


def test_a_schedule_written_by_hand_is_used_as_written():
    """A child that rewrites switch, schedulers and max_iters the usual
    mmengine way and leaves the keys alone is not rescaled back."""
    cfg = Config.fromfile(RECOMMENDED)
    cfg.custom_hooks[0]['switch_iter'] = 400
    cfg.param_scheduler[0].end = 400
    cfg.param_scheduler[1].begin = 400
    cfg.param_scheduler[1].end = 1000
    cfg.train_cfg.max_iters = 1000
    before = lr_schedule(cfg)
    assert apply_stage_iters(cfg) is None
    assert lr_schedule(cfg) == before
    assert tuple(cfg.stage_iters) == tuple(cfg.schedule_stage_iters) == (
        400, 600)


def test_both_edited_inconsistently_is_refused_with_both_fixes():
    cfg = Config.fromfile(RECOMMENDED)
    cfg.custom_hooks[0]['switch_iter'] = 400
    cfg.train_cfg.max_iters = 1000
    cfg.stage_iters = (300, 300)
    with pytest.raises(StageItersError) as err:
        apply_stage_iters(cfg)
    msg = str(err.value)
    assert 'stage_iters=(300, 300)' in msg and '(400, 600)' in msg
    assert 'schedule_stage_iters=(400, 600)' in msg


@pytest.mark.parametrize('value', [(350, ), (0, 420), 'x', (3.5, 420)])
def test_bad_stage_iters_say_what_is_expected(value):
    cfg = Config.fromfile(RECOMMENDED)
    cfg.stage_iters = value
    with pytest.raises(StageItersError, match='two positive iteration'):
        apply_stage_iters(cfg)


TWO_STAGE_FOLDERS = ('fsp', 'fitnet')


@pytest.mark.parametrize(
    'path', sorted(p for folder in TWO_STAGE_FOLDERS
                   for p in (CONFIGS / folder).glob('*.py')),
    ids=lambda p: p.name)
def test_every_shipped_two_stage_config_states_its_lengths(path):
    """So that the one edit works on every shipped config: the keys agree
    with the schedule as shipped (None only in one-stage configs)."""
    cfg = Config.fromfile(path)
    if cfg.get('stage_iters') is None:
        assert '_stage1' in path.name or '_stage2' in path.name, path.name
        return
    lengths = stage_lengths(cfg)
    assert tuple(cfg.stage_iters) == lengths
    assert tuple(cfg.schedule_stage_iters) == lengths


def test_a_run_of_stage_1_alone_is_left_to_the_checks():
    """switch_iter = max_iters (stage 1 alone, by --cfg-options) keeps
    the inherited keys and is not an error here; asking for two stages
    on it is."""
    cfg = Config.fromfile(RECOMMENDED)
    cfg.train_cfg.max_iters = 1000
    assert apply_stage_iters(cfg) is None
    cfg.stage_iters = (500, 500)
    with pytest.raises(StageItersError, match='no stage 2'):
        apply_stage_iters(cfg)
