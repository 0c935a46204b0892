"""Figures of the reproduction (:mod:`mmfsp.analysis.reproduction`).

* :func:`plot_student_curves`: the FSP paper's Figure 3, test accuracy and
  training loss against iterations for FSP-initialised and scratch students,
  read from the runs' mmengine logs. A distillation run is shifted by its
  stage-switch iteration so that its stage 2 starts at 0 like the scratch
  run's training; its stage-1 points (FSP loss, untrained head) are left out.
* :func:`plot_generations`: accuracy per generation of training in
  generations, one line per D(eta, lam) setting (mean over seeds, min-max as
  error bars), with the ensembles of generations 0..g dashed.

Both write a PNG with matplotlib's Agg backend (no display needed).
"""
import os
import os.path as osp
import statistics
from typing import Dict, List, Sequence, Tuple

from .training_logs import load_scalars, metric_curve

ACC_KEY = 'accuracy/top1'


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _smooth(values: List[float], window: int) -> List[float]:
    out, acc = [], []
    for v in values:
        acc = (acc + [v])[-max(1, window):]
        out.append(sum(acc) / len(acc))
    return out


def shifted_curve(records: List[dict], key: str, offset: int,
                  step_key: str = 'step') -> Tuple[List[int], List[float]]:
    """``(steps - offset, values)`` of ``key`` for the steps after
    ``offset`` (a distillation run's stage 2)."""
    steps, values = metric_curve(records, key, step_key=step_key)
    pairs = [(s - offset, v) for s, v in zip(steps, values) if s > offset]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_student_curves(panels: Sequence[dict], out: str,
                        loss_key: str = 'loss', acc_key: str = ACC_KEY,
                        smooth: int = 3, title: str = '') -> str:
    """One row per panel: test accuracy (left) and training loss (right)
    against the iterations of the students' (stage-2) training.

    Args:
        panels: dicts with ``title`` and ``runs``, a list of dicts with
            ``label``, ``work_dir`` (an mmengine work dir) and ``offset``
            (the stage-switch iteration of a distillation run, 0 for a
            scratch run).
        out: the PNG path.
        loss_key / acc_key: the logged scalars plotted.
        smooth: running mean over this many logged loss points.
        title: the figure's title.

    Returns:
        str: ``out``.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(
        len(panels), 2, figsize=(11, 3.6 * len(panels)), squeeze=False)
    for row, panel in zip(axes, panels):
        ax_acc, ax_loss = row
        for run in panel['runs']:
            records = load_scalars(run['work_dir'])
            offset = int(run.get('offset', 0))
            steps, acc = shifted_curve(records, acc_key, offset)
            if steps:
                ax_acc.plot(steps, acc, marker='o', label=run['label'])
            steps, loss = shifted_curve(records, loss_key, offset, 'iter')
            if steps:
                ax_loss.plot(steps, _smooth(loss, smooth), label=run['label'])
        ax_acc.set_ylabel(f'test {acc_key} (%)')
        ax_loss.set_ylabel(f'training {loss_key} (cross-entropy)')
        for ax, what in ((ax_acc, 'accuracy'), (ax_loss, 'loss')):
            ax.set_xlabel('iteration (stage 2 for FSP students)')
            ax.set_title(f'{panel["title"]}: {what}', fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def generation_curves(summaries: Sequence[dict],
                      acc_key: str = ACC_KEY) -> Dict[str, dict]:
    """Per setting (``summary['setting']``, e.g. 'D(0.6, 0.6)'): the
    accuracies of each generation alone and of the ensembles 0..g, one list
    per generation with one value per summary (seed) of that setting."""
    out: Dict[str, dict] = {}
    for summary in summaries:
        entry = out.setdefault(summary['setting'],
                               dict(single={}, ensemble={}))
        for record in summary['generations']:
            g = int(record['generation'])
            entry['single'].setdefault(g, []).append(
                float(record['metrics'][acc_key]))
            if g > 0:
                entry['ensemble'].setdefault(g, []).append(
                    float(record['ensemble_metrics'][acc_key]))
    return out


def plot_generations(summaries: Sequence[dict], out: str,
                     acc_key: str = ACC_KEY, title: str = '') -> str:
    """Test accuracy per generation, one colour per setting: solid lines
    for each generation alone, dashed for the ensemble of generations 0..g;
    points are means over the summaries (seeds) of a setting, error bars
    their min-max.

    Args:
        summaries: what :func:`mmfsp.engine.generations.train_generations`
            returns (``setting`` and ``generations`` are used), one per
            setting and seed.
        out: the PNG path.

    Returns:
        str: ``out``.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    curves = generation_curves(summaries, acc_key)
    for i, (setting, entry) in enumerate(curves.items()):
        color = f'C{i}'
        for kind, style in (('single', '-'), ('ensemble', '--')):
            gens = sorted(entry[kind])
            if not gens:
                continue
            if kind == 'ensemble':
                # the "ensemble" of generation 0 alone is generation 0
                entry = dict(entry, ensemble={0: entry['single'][0],
                                              **entry['ensemble']})
                gens = [0] + gens
            means = [statistics.fmean(entry[kind][g]) for g in gens]
            err = [[m - min(entry[kind][g]) for g, m in zip(gens, means)],
                   [max(entry[kind][g]) - m for g, m in zip(gens, means)]]
            label = f'{setting} (n={len(entry["single"][0])})' \
                if kind == 'single' else f'{setting}, ensemble 0..g'
            ax.errorbar(gens, means, yerr=err, color=color, linestyle=style,
                        marker='o' if kind == 'single' else 's',
                        capsize=3, label=label)
    ax.set_xlabel('generation')
    ax.set_ylabel(f'test {acc_key} (%)')
    all_gens = sorted({g for e in curves.values() for g in e['single']})
    if all_gens:
        ax.set_xticks(all_gens)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
