"""Plot the student's conv weight-norm diagnosis that
:class:`mmfsp.engine.hooks.WeightNormMonitorHook` logs, against iterations.

    python tools/analysis_tools/plot_weight_norms.py WORK_DIR_OR_SCALARS_JSON \
        [--out weight_norms.png] [--layers all|summary]

``WORK_DIR_OR_SCALARS_JSON`` is a work dir (its newest
``<timestamp>/vis_data/scalars.json`` is read) or such a file. Three panels
share the iteration axis: each conv's norm / initial norm (log scale), its
effective learning rate ``lr / ||w||^2`` (log scale) and the mean ``|gamma|``
of the BN it feeds; ``--layers summary`` draws only the logged medians (and
the largest norm ratio). A dashed vertical line marks each distillation stage
switch (where the logged ``stage`` changes).
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

# (panel key prefix, summary keys, y label, log scale)
PANELS = [
    ('wnorm/', ('wnorm_median', 'wnorm_max'), 'conv norm / initial', True),
    ('eff_lr/', ('eff_lr_median', ), 'effective lr  lr / ||w||^2', True),
    ('bn_gamma/', ('bn_gamma_median', ), 'BN mean |gamma|', False),
]


def find_scalars(path: Path) -> Path:
    """``path`` itself if it is a file, else the newest (by modification
    time) ``vis_data/scalars.json`` under the work dir ``path``."""
    if path.is_file():
        return path
    files = list(path.glob('**/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(
            f'no mmengine log (*/vis_data/scalars.json) under {path}')
    return max(files, key=lambda f: (f.stat().st_mtime, str(f)))


def load_records(scalars: Path) -> List[dict]:
    """The WeightNormMonitorHook records of a ``scalars.json``, in the order
    they were logged (a switch log may share its step with an interval
    log)."""
    with open(scalars, encoding='utf-8') as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r for r in records if 'wnorm_median' in r and 'step' in r]


def stage_switches(records: Sequence[dict]) -> List[int]:
    """Steps (iterations) of the records whose logged ``stage`` differs
    from the previous record's."""
    switches, last = [], None
    for rec in records:
        stage = rec.get('stage')
        if stage is None:
            continue
        if last is not None and stage != last:
            switches.append(int(rec['step']))
        last = stage
    return switches


def curves(records: Sequence[dict], prefix: str,
           summary: Sequence[str], layers: str) -> Dict[str, tuple]:
    """``{label: (steps, values)}`` of one panel, sorted by step."""
    keys = list(summary) if layers == 'summary' else sorted(
        {k for r in records for k in r if k.startswith(prefix)})
    out = {}
    for key in keys:
        points = sorted(((int(r['step']), float(r[key])) for r in records
                         if key in r), key=lambda p: p[0])
        if points:
            label = key[len(prefix):] if key.startswith(prefix) else key
            out[label] = tuple(zip(*points))
    return out


def plot(records: Sequence[dict], out: Path, layers: str = 'all',
         title: str = '') -> List[int]:
    """Draw the three panels to ``out``; returns the stage switches."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    switches = stage_switches(records)
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(9, 10))
    for ax, (prefix, summary, ylabel, log) in zip(axes, PANELS):
        lines = curves(records, prefix, summary, layers)
        for label, (steps, values) in lines.items():
            ax.plot(steps, values, label=label,
                    linewidth=1.5 if layers == 'summary' else 0.8)
        for i, step in enumerate(switches):
            ax.axvline(step, color='k', linestyle='--', linewidth=1,
                       label='stage switch' if i == 0 else None)
        if log and lines:
            ax.set_yscale('log')
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        # per-layer colours are the same in every panel: one legend
        if len(lines) <= 12 and (layers == 'summary' or ax is axes[0]):
            ax.legend(fontsize='small')
    axes[-1].set_xlabel('iteration')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return switches


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('path', type=Path, help='work dir or scalars.json')
    parser.add_argument('--out', type=Path, default=Path('weight_norms.png'))
    parser.add_argument('--layers', choices=['all', 'summary'],
                        default='all',
                        help='every conv (all) or the medians (summary)')
    args = parser.parse_args(argv)
    try:
        scalars = find_scalars(args.path)
    except FileNotFoundError as err:
        raise SystemExit(str(err))
    records = load_records(scalars)
    if not records:
        raise SystemExit(
            f'no weight-norm records in {scalars}: train with '
            f"custom_hooks=[dict(type='WeightNormMonitorHook')]")
    switches = plot(records, args.out, args.layers, title=str(scalars))
    where = ', '.join(map(str, switches)) or 'none'
    print(f'wrote {args.out} ({len(records)} records of {scalars}; '
          f'stage switch at iteration {where})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
