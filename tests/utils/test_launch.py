"""Runs started in the same second keep their logs apart (make_run_unique,
which build_runner applies to every config)."""
import json
import time
from pathlib import Path

import pytest
from mmengine.config import Config

from mmfsp.utils.launch import make_run_unique
from tests.toy_runner import build_toy_runner


def _runner(work_dir: Path, max_iters: int, name: str = None):
    """A toy Runner built the way build_runner builds one: the config's
    experiment name and work dir through make_run_unique first."""
    cfg = Config(dict(work_dir=str(work_dir)))
    if name is not None:
        cfg.experiment_name = name
    make_run_unique(cfg)
    return build_toy_runner(
        work_dir,
        max_iters=max_iters,
        ckpt_interval=1000,
        experiment_name=cfg.experiment_name,
        visualizer=dict(
            type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]))


@pytest.fixture
def frozen_clock(monkeypatch):
    """time.time() stands still unless time.sleep() is called: every run
    starts in the same second, as on a fast machine."""
    now = [1_700_000_000.25]
    monkeypatch.setattr(time, 'time', lambda: now[0])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(time, 'sleep', sleep)
    return now


def _iters(work_dir: Path) -> list:
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    return [[json.loads(line)['iter'] for line in f.read_text().splitlines()]
            for f in files]


def test_two_runs_in_one_second_keep_their_logs_apart(tmp_path,
                                                      frozen_clock):
    first = _runner(tmp_path / 'a', max_iters=3)
    second = _runner(tmp_path / 'b', max_iters=2)
    assert first.timestamp == second.timestamp  # same second
    assert first.experiment_name != second.experiment_name
    assert first.logger is not second.logger
    first.train()
    second.train()
    assert _iters(tmp_path / 'a') == [[1, 2, 3]]
    assert _iters(tmp_path / 'b') == [[1, 2]]


def test_second_run_in_one_work_dir_gets_its_own_log_dir(tmp_path,
                                                         frozen_clock):
    start = frozen_clock[0]
    _runner(tmp_path, max_iters=3).train()
    _runner(tmp_path, max_iters=2).train()
    assert int(frozen_clock[0]) == int(start) + 1  # waited for the next second
    assert _iters(tmp_path) == [[1, 2, 3], [1, 2]]


def test_user_experiment_name_is_kept_as_prefix(tmp_path, frozen_clock):
    runner = _runner(tmp_path, max_iters=1, name='mine')
    assert runner.experiment_name.startswith('mine_')
