"""tools/reproduce/store.py: a finished run is skipped, a run of other
settings refused, an unfinished one resumed."""
import json
import os.path as osp

import pytest

from reproduce.presets import ACC_KEY
from reproduce.store import ReproductionError, check_run_dir, run_once


def test_run_once_skips_a_finished_run_and_refuses_another(tmp_path):
    run_dir = str(tmp_path / 'runs' / 'x')
    calls = []

    def work():
        calls.append(1)
        return dict(metrics={ACC_KEY: 80.0})

    first = run_once(run_dir, dict(seed=0), work)
    assert calls == [1] and first['skipped'] is False
    with open(osp.join(run_dir, 'result.json')) as f:
        assert json.load(f) == dict(metrics={ACC_KEY: 80.0},
                                    spec=dict(seed=0))
    again = run_once(run_dir, dict(seed=0), work)
    assert calls == [1] and again['skipped'] is True
    assert again['metrics'][ACC_KEY] == 80.0
    with pytest.raises(ReproductionError, match='another run'):
        run_once(run_dir, dict(seed=1), work)


def test_unfinished_run_with_other_settings_is_refused(tmp_path):
    run_dir = str(tmp_path / 'y')

    def crash():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_once(run_dir, dict(seed=0, iters=10), crash)
    assert not osp.exists(osp.join(run_dir, 'result.json'))
    with pytest.raises(ReproductionError, match='iters'):
        run_once(run_dir, dict(seed=0, iters=20), lambda: {})
    # the same run resumes
    assert run_once(run_dir, dict(seed=0, iters=10),
                    lambda: dict(ok=1))['ok'] == 1


def test_check_run_dir_refuses_other_settings_without_writing(tmp_path):
    run_dir = str(tmp_path / 'z')
    assert check_run_dir(run_dir, dict(seed=0)) is False
    assert not osp.exists(run_dir)  # checking writes nothing
    run_once(run_dir, dict(seed=0), lambda: {})
    assert check_run_dir(run_dir, dict(seed=0)) is True
    with pytest.raises(ReproductionError, match='seed'):
        check_run_dir(run_dir, dict(seed=3))
