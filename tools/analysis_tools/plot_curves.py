"""Plot test accuracy and training loss against iterations for several runs
(the FSP paper's Figure 3: FSP-initialised vs scratch students), from the
mmengine logs in their work dirs.

    python tools/analysis_tools/plot_curves.py LABEL=WORK_DIR \
        [LABEL=WORK_DIR ...] --out curves.png [--loss-key loss] \
        [--acc-key accuracy/top1] [--offset LABEL=ITERS]

``--offset`` shifts a run's iterations (e.g. the stage-switch iteration of a
distillation run, so its stage 2 starts at 0 like a scratch run). Loss curves
are smoothed with a running mean over ``--smooth`` logged points.

The logs are mmengine's ``<work_dir>/<timestamp>/vis_data/scalars.json``,
read with mmpretrain's ``load_json_log``. A resumed run writes a new
timestamped folder; :func:`load_scalars` reads all of them in time order and
:func:`metric_curve` keeps the latest record of each step, so a curve covers
the whole run.
"""
import argparse
import os
import sys
from pathlib import Path
from typing import Dict, List, Tuple, Union

from mmpretrain.utils import load_json_log


def _scalar_files(work_dir: Path) -> List[Path]:
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(
            f'no mmengine log (*/vis_data/scalars.json) under {work_dir}; '
            f'pass the --work-dir of a tools/train.py run')
    return files


def load_scalars(work_dir: Union[str, Path]) -> List[dict]:
    """All logged records of a work dir: per log, in time order, its
    training records, then its validation records."""
    records: List[dict] = []
    for path in _scalar_files(Path(work_dir)):
        log = load_json_log(str(path))
        records += log['train'] + log['val']
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


def smooth(values: List[float], window: int) -> List[float]:
    """Running mean over the last ``window`` values."""
    if window <= 1:
        return values
    out, acc = [], []
    for v in values:
        acc.append(v)
        acc = acc[-window:]
        out.append(sum(acc) / len(acc))
    return out


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _pairs(items, what):
    out = []
    for item in items or []:
        if '=' not in item:
            raise SystemExit(f'{what} must be LABEL=VALUE, got {item!r}')
        label, value = item.split('=', 1)
        out.append((label, value))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs='+', help='LABEL=WORK_DIR')
    parser.add_argument('--out', default='curves.png')
    parser.add_argument('--loss-key', default='loss')
    parser.add_argument('--acc-key', default='accuracy/top1')
    parser.add_argument('--offset', nargs='*', help='LABEL=ITERS')
    parser.add_argument('--smooth', type=int, default=5)
    parser.add_argument('--title', default='')
    args = parser.parse_args()
    offsets = {k: int(v) for k, v in _pairs(args.offset, '--offset')}

    fig, (ax_acc, ax_loss) = pyplot().subplots(1, 2, figsize=(11, 4))
    for label, work_dir in _pairs(args.runs, 'a run'):
        records = load_scalars(work_dir)
        shift = offsets.get(label, 0)
        steps, acc = metric_curve(records, args.acc_key)
        if steps:
            ax_acc.plot([s - shift for s in steps], acc, marker='o',
                        label=label)
        steps, loss = metric_curve(records, args.loss_key, step_key='iter')
        if steps:
            ax_loss.plot([s - shift for s in steps],
                         smooth(loss, args.smooth), label=label)
    ax_acc.set_xlabel('iteration')
    ax_acc.set_ylabel(f'test {args.acc_key}')
    ax_loss.set_xlabel('iteration')
    ax_loss.set_ylabel(f'training {args.loss_key}')
    ax_loss.set_yscale('log')
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.legend()
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
