"""Plot test accuracy and training loss against iterations for several runs
(the FSP paper's Figure 3: FSP-initialised vs scratch students), from the
mmengine logs in their work dirs.

    python tools/plot_curves.py LABEL=WORK_DIR [LABEL=WORK_DIR ...] \
        --out curves.png [--loss-key loss] [--acc-key accuracy/top1] \
        [--offset LABEL=ITERS]

``--offset`` shifts a run's iterations (e.g. the stage-switch iteration of a
distillation run, so its stage 2 starts at 0 like a scratch run). Loss curves
are smoothed with a running mean over ``--smooth`` logged points.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from mmfsp.analysis import load_scalars, metric_curve  # noqa: E402


def _pairs(items, what):
    out = []
    for item in items or []:
        if '=' not in item:
            raise SystemExit(f'{what} must be LABEL=VALUE, got {item!r}')
        label, value = item.split('=', 1)
        out.append((label, value))
    return out


def _smooth(values, window):
    if window <= 1:
        return values
    out, acc = [], []
    for v in values:
        acc.append(v)
        acc = acc[-window:]
        out.append(sum(acc) / len(acc))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
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

    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
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
                         _smooth(loss, args.smooth), label=label)
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
