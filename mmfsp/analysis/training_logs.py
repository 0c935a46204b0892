"""Read mmengine's training logs (``<work_dir>/<timestamp>/vis_data/
scalars.json``, one JSON record per logged step) into curves.

A resumed run writes a new timestamped folder; :func:`load_scalars` reads all
of them in time order and keeps the latest record for each (step, key), so a
curve covers the whole run.
"""
import json
from pathlib import Path
from typing import Dict, List, Tuple, Union


def _scalar_files(work_dir: Path) -> List[Path]:
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(
            f'no mmengine log (*/vis_data/scalars.json) under {work_dir}; '
            f'pass the --work-dir of a tools/train.py run')
    return files


def load_scalars(work_dir: Union[str, Path]) -> List[dict]:
    """All logged records of a work dir, in time order."""
    records: List[dict] = []
    for path in _scalar_files(Path(work_dir)):
        with open(path, encoding='utf-8') as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records


def metric_curve(records: List[dict], key: str,
                 step_key: str = 'step') -> Tuple[List[int], List[float]]:
    """``(steps, values)`` of ``key``, sorted by step, the last record of a
    step winning (a resumed run overwrites what it repeats)."""
    by_step: Dict[int, float] = {}
    for rec in records:
        if key in rec and step_key in rec:
            by_step[int(rec[step_key])] = float(rec[key])
    steps = sorted(by_step)
    return steps, [by_step[s] for s in steps]
