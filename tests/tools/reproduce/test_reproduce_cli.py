"""tools/reproduce.py end to end: the smoke preset, then the same command
again, which finds every run finished."""
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
    # one thread: on cores shared with other jobs two threads wait for
    # each other (several times slower)
    with pytest.raises(SystemExit) as exit_info:
        run_tool('reproduce.py', ['--preset', 'smoke', '--work-dir', work,
                                  '--threads', '1'], monkeypatch)
    assert exit_info.value.code == 0


def _smoke(work, monkeypatch, capsys):
    _reproduce(work, monkeypatch)
    data = json.loads((work / 'results.json').read_text())
    assert set(data['tables']) == {'a', 'b', 'c', 'd', 'weight_norms'}
    points = [(r['model'], r['point'].split(' (')[0])
              for r in data['tables']['weight_norms']['rows']]
    assert points == [('ResNet-8, FSP', 'end of stage 1'),
                      ('ResNet-8, FSP', 'end'), ('ResNet-8 alone', 'end'),
                      ('ResNet-26, FSP', 'end of stage 1'),
                      ('ResNet-26, FSP', 'end'), ('ResNet-26 alone', 'end')]
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
    assert (work / 'figure3.png').stat().st_size > 10000
    assert (work / 'generations.png').stat().st_size > 10000
    text = (work / 'results.md').read_text()
    assert 'preset smoke' in text and 'Hardware: CPU' in text
    assert '--preset smoke' in text
    capsys.readouterr()
    # a second invocation finds every run finished and trains nothing
    _reproduce(work, monkeypatch)
    out = capsys.readouterr().out
    assert out.count('finished before, skipped') == len(data['runs'])
    again = json.loads((work / 'results.json').read_text())
    assert again['run_seconds'] == 0
    assert again['tables'] == data['tables']
