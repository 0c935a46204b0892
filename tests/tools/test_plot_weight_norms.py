"""tools/analysis_tools/plot_weight_norms.py on a small fake mmengine log:
the newest scalars.json of a work dir, the stage switch, the PNG, --help
without matplotlib, the errors."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from tests.conftest import REPO_ROOT

TOOL = REPO_ROOT / 'tools/analysis_tools/plot_weight_norms.py'
CONVS = ['backbone.conv1', 'backbone.layer1.0.conv1']


def _tool():
    spec = importlib.util.spec_from_file_location('plot_weight_norms', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(step: int, stage: int, ratio: float) -> dict:
    rec = {'step': step, 'stage': stage, 'wnorm_median': ratio,
           'wnorm_max': 2 * ratio, 'eff_lr_median': 0.1 / ratio**2,
           'bn_gamma_median': 1.0}
    for i, conv in enumerate(CONVS):
        rec[f'wnorm/{conv}'] = ratio * (1 + i)
        rec[f'eff_lr/{conv}'] = 0.1 / (ratio * (1 + i))**2
        rec[f'bn_gamma/{conv}'] = 1.0 - 0.01 * step
    return rec


def _write(path: Path, records: List[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))
    return path


@pytest.fixture()
def work_dir(tmp_path: Path) -> Path:
    """An older log (switch at 2) and the newest (switch at 3; the
    LoggerHook's records in between)."""
    old = _write(tmp_path / '20240101_000000/vis_data/scalars.json',
                 [_record(0, 1, 1.0), _record(2, 2, 3.0)])
    os.utime(old, (1e9, 1e9))
    records = [_record(0, 1, 1.0), {'lr': 0.01, 'loss': 5.0, 'step': 1},
               _record(2, 1, 2.0), _record(3, 2, 4.0),
               {'lr': 0.1, 'loss': 2.3, 'step': 4}, _record(4, 2, 4.1),
               _record(6, 2, 4.2)]
    _write(tmp_path / '20240102_000000/vis_data/scalars.json', records)
    return tmp_path


def test_reads_the_newest_log_and_finds_the_switch(work_dir):
    tool = _tool()
    scalars = tool.find_scalars(work_dir)
    assert scalars.parent.parent.name == '20240102_000000'
    assert tool.find_scalars(scalars) == scalars
    records = tool.load_records(scalars)
    assert [r['step'] for r in records] == [0, 2, 3, 4, 6]
    assert tool.stage_switches(records) == [3]
    # a switch logged at the step of an interval log; a plain classifier
    assert tool.stage_switches(
        [_record(0, 1, 1.0), _record(4, 1, 2.0), _record(4, 2, 2.0)]) == [4]
    assert tool.stage_switches([{'step': 0, 'wnorm_median': 1.0}]) == []
    lines = tool.curves(records, 'wnorm/', (), 'all')
    assert sorted(lines) == CONVS
    assert lines['backbone.conv1'] == ((0, 2, 3, 4, 6),
                                       (1.0, 2.0, 4.0, 4.1, 4.2))
    assert sorted(tool.curves(records, 'wnorm/', ('wnorm_median',
                                                  'wnorm_max'),
                              'summary')) == ['wnorm_max', 'wnorm_median']


@pytest.mark.parametrize('layers', ['all', 'summary'])
def test_main_writes_the_png(work_dir, tmp_path, capsys, layers):
    out = tmp_path / 'plots' / f'{layers}.png'
    assert _tool().main([str(work_dir), '--out', str(out),
                         '--layers', layers]) == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    printed = capsys.readouterr().out
    assert 'stage switch at iteration 3' in printed
    assert '5 records' in printed


def test_errors_and_help(tmp_path):
    tool = _tool()
    with pytest.raises(SystemExit, match='no mmengine log'):
        tool.main([str(tmp_path)])
    plain = _write(tmp_path / 'scalars.json', [{'loss': 1.0, 'step': 1}])
    with pytest.raises(SystemExit, match='WeightNormMonitorHook'):
        tool.main([str(plain)])
    code = ('import runpy, sys\n'
            f'sys.argv = [{str(TOOL)!r}, "--help"]\n'
            'try:\n'
            f'    runpy.run_path({str(TOOL)!r}, run_name="__main__")\n'
            'except SystemExit:\n'
            '    pass\n'
            'print("matplotlib loaded:", "matplotlib" in sys.modules)\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True, check=True, timeout=60)
    assert '--layers {all,summary}' in result.stdout
    assert 'WORK_DIR_OR_SCALARS_JSON' in result.stdout
    assert 'matplotlib loaded: False' in result.stdout
