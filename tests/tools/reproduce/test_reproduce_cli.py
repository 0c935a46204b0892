"""tools/reproduce.py end to end: the smoke preset in two worker
processes, then the same command again, which finds every run finished;
--plan of the paper preset."""
import json

import pytest

from reproduce.presets import ACC_KEY
from tests.conftest import run_tool


@pytest.mark.slow
def test_reproduce_smoke_end_to_end_and_resume(tmp_path, monkeypatch,
                                               fashion_mnist_root, capsys):
    import torch
    threads = torch.get_num_threads()
    try:
        _smoke(tmp_path / 'repro', monkeypatch, capsys)
    finally:
        torch.set_num_threads(threads)  # --threads 1 set it for the process


def _reproduce(work, monkeypatch):
    # two workers of one thread each
    with pytest.raises(SystemExit) as exit_info:
        run_tool('reproduce.py', ['--preset', 'smoke', '--work-dir', work,
                                  '--workers', '2', '--threads', '1'],
                 monkeypatch)
    assert exit_info.value.code == 0


def _smoke(work, monkeypatch, capsys):
    _reproduce(work, monkeypatch)
    data = json.loads((work / 'results.json').read_text())
    assert set(data['tables']) == {'a', 'b', 'c', 'd', 'weight_norms'}
    points = [(r['model'], r['point'].split(' (')[0])
              for r in data['tables']['weight_norms']['rows']]
    # both recipes' students at the switch and at the end, then alone
    assert points == [
        point for net in ('ResNet-8', 'ResNet-26') for point in (
            (f'{net}, FSP paper', 'end of stage 1'),
            (f'{net}, FSP paper', 'end'),
            (f'{net}, FSP recommended', 'end of stage 1'),
            (f'{net}, FSP recommended', 'end'), (f'{net} alone', 'end'))]
    for row in data['tables']['weight_norms']['rows']:
        assert row['ratio']['n'] > 0 and row['ratio']['min'] > 0
    for key, run in data['runs'].items():
        if 'metrics' in run:
            assert 0 <= run['metrics'][ACC_KEY] <= 100, key
    for row in data['tables']['c']['rows']:
        # the EnsembleClassifier run and the members' dumped predictions
        # agree on the ensemble's accuracy
        run = data['runs'][{'plain FSP students': 'ensemble_plain_fsp',
                            'shuffled-FSP students':
                            'ensemble_shuffled_fsp'}[row['group']]]
        assert run['diversity']['ensemble_accuracy'] == pytest.approx(
            run['metrics'][ACC_KEY])
    assert len(data['tables']['d']['rows']) == 3
    # one generation 0 for D(1.0, 0.0) and D(1.0, 0.6)
    assert 'gen0_10_00_and_10_06_seed0' in data['runs']
    assert not any(k.startswith('gen0_10_06') for k in data['runs'])
    assert (work / 'runs' / 'fsp_r8_seed0' / 'worker.log').is_file()
    assert (work / 'generations' / '10_06_seed0.md').is_file()
    assert (work / 'figure3.png').stat().st_size > 10000
    assert (work / 'generations.png').stat().st_size > 10000
    text = (work / 'results.md').read_text()
    assert 'preset smoke' in text and 'Hardware: CPU' in text
    assert '--preset smoke' in text
    capsys.readouterr()
    # a second invocation finds every run finished and trains nothing
    _reproduce(work, monkeypatch)
    out = capsys.readouterr().out
    n = len(data['runs'])
    assert f'{n} of {n} runs finished before, skipped; 0 to run' in out
    again = json.loads((work / 'results.json').read_text())
    assert again['run_seconds'] == 0
    assert again['tables'] == data['tables']


def test_paper_plan(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_tool('reproduce.py', ['--preset', 'paper', '--plan',
                                  '--device', 'cpu', '--workers', '2'],
                 monkeypatch)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert '| teacher_r26_seed0 | train | resnet26_1xb128_fashion-mnist.py ' \
        '| 64000 |' in out
    assert 'Estimated wall time with 2 workers (2 on cpu), 1 thread each' \
        in out
    with pytest.raises(SystemExit):
        run_tool('reproduce.py', ['--preset', 'paper', '--plan', '--device',
                                  'cpu', '--workers', '-2'], monkeypatch)


def test_run_options_are_checked(tmp_path):
    from reproduce.runs import run_reproduction
    with pytest.raises(ValueError, match='AMP is for GPUs'):
        run_reproduction('smoke', str(tmp_path), plan_only=True,
                         device='cpu', amp=True, log=lambda text: None)
    with pytest.raises(ValueError, match='data_path'):
        run_reproduction('smoke', str(tmp_path), plan_only=True,
                         device='cpu', data_path='disk',
                         log=lambda text: None)
    lines = []
    out = run_reproduction('smoke', str(tmp_path), ['d'], plan_only=True,
                           device='cpu', workers=0, threads=2,
                           log=lines.append)
    assert 'with 1 worker (cpu), 2 threads:' in lines[0]
    assert out['estimate_seconds'] > 0
    assert {p['key'] for p in out['plan']} >= {'gen0_10_00_and_10_06_seed0',
                                               'gen1_10_06_seed0'}
