"""Figures of a reproduction (docs/reproduction.md, "Reading the output").

* :func:`plot_student_curves`: the FSP paper's Figure 3 (Yim et al., CVPR
  2017), test accuracy and training loss against iterations for
  FSP-initialised and scratch students, read from the runs' mmengine logs. A
  distillation run is shifted by its stage-switch iteration so that its
  stage 2 starts at 0 like the scratch run's training; its stage-1 points
  (FSP loss, untrained head) are left out.
* :func:`plot_generations`: accuracy per generation of training in
  generations (Yang et al., AAAI 2019), one line per D(eta, lam) setting
  (mean over seeds, min-max as error bars), with the ensembles of
  generations 0..g dashed.

Both write a PNG with matplotlib's Agg backend (no display needed).
"""
import os
import os.path as osp
import statistics
from typing import Dict, List, Sequence, Tuple

from analysis_tools.plot_curves import load_scalars, metric_curve, pyplot
from analysis_tools.plot_curves import smooth as running_mean
from .plan import RunSpec
from .presets import ACC_KEY, STUDENT_GROUPS, Preset
from .stats import generation_curves, has_generation_metric
from .store import run_dir


def shifted_curve(records: List[dict], key: str, offset: int,
                  step_key: str = 'step') -> Tuple[List[int], List[float]]:
    """``(steps - offset, values)`` of ``key`` for the steps after
    ``offset`` (a distillation run's stage 2)."""
    steps, values = metric_curve(records, key, step_key=step_key)
    pairs = [(s - offset, v) for s, v in zip(steps, values) if s > offset]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _save(fig, out: str) -> str:
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def plot_student_curves(panels: Sequence[dict], out: str,
                        loss_key: str = 'loss', acc_key: str = ACC_KEY,
                        smooth: int = 3, title: str = '') -> str:
    """One row per panel: test accuracy (left) and training loss (right)
    against the iterations of the students' (stage-2) training.

    Args:
        panels (Sequence[dict]): dicts with ``title`` and ``runs``, a list
            of dicts with ``label``, ``work_dir`` (an mmengine work dir) and
            ``offset`` (the stage-switch iteration of a distillation run, 0
            for a scratch run).
        out (str): the PNG path.
        loss_key (str): the logged loss plotted. Defaults to 'loss'.
        acc_key (str): the logged accuracy plotted. Defaults to
            'accuracy/top1'.
        smooth (int): running mean over this many logged loss points.
            Defaults to 3.
        title (str): the figure's title. Defaults to ''.

    Returns:
        str: ``out``.
    """
    plt = pyplot()
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
                ax_loss.plot(steps, running_mean(loss, smooth),
                             label=run['label'])
        ax_acc.set_ylabel(f'test {acc_key} (%)')
        ax_loss.set_ylabel(f'training {loss_key} (cross-entropy)')
        for ax, what in ((ax_acc, 'accuracy'), (ax_loss, 'loss')):
            ax.set_xlabel('iteration (stage 2 for FSP students)')
            ax.set_title(f'{panel["title"]}: {what}', fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    _save(fig, out)
    plt.close(fig)
    return out


def plot_generations(summaries: Sequence[dict], out: str,
                     acc_key: str = ACC_KEY, title: str = '',
                     ylabel: str = '') -> str:
    """Test accuracy per generation, one colour per setting: solid lines
    for each generation alone, dashed for the ensemble of generations 0..g;
    points are means over the summaries (seeds) of a setting, error bars
    their min-max.

    Args:
        summaries (Sequence[dict]): what tools/generations'
            ``train_generations`` returns (``setting`` and ``generations``
            are used), one per setting and seed.
        out (str): the PNG path.
        acc_key (str): the accuracy plotted. Defaults to 'accuracy/top1'.
        title (str): the figure's title. Defaults to ''.
        ylabel (str): the y axis label. Defaults to ``'test <acc_key>
            (%)'``.

    Returns:
        str: ``out``.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.2))
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
    ax.set_ylabel(ylabel or f'test {acc_key} (%)')
    all_gens = sorted({g for e in curves.values() for g in e['single']})
    if all_gens:
        ax.set_xticks(all_gens)
    ax.grid(alpha=0.3)
    # outside the axes: six settings' lines would hide under it
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=9)
    _save(fig, out)
    plt.close(fig)
    return out


def figure3_panel(exp: str, plan: Sequence[RunSpec], work_dir: str) -> dict:
    """Figure 3's panel of experiment ``exp``: its seed-0 scratch and
    paper-recipe FSP students and (if planned) the norm-reset and
    recommended-recipe ones."""
    group = STUDENT_GROUPS[exp]
    net, keys = group.net, {s.key for s in plan}
    spec = next(s for s in plan if s.key == group.fsp)
    runs = [dict(label=f'{net} alone (scratch)',
                 work_dir=run_dir(work_dir, group.alone), offset=0),
            dict(label=f'{net}, FSP paper (after {spec.stage1} stage-1 '
                 f'it.)', work_dir=run_dir(work_dir, group.fsp),
                 offset=spec.stage1)]
    if group.rescaled in keys:
        runs.append(dict(label='... + conv norms reset at the switch',
                         work_dir=run_dir(work_dir, group.rescaled),
                         offset=spec.stage1))
    if group.recommended in keys:
        runs.append(dict(label=f'{net}, FSP recommended',
                         work_dir=run_dir(work_dir, group.recommended),
                         offset=spec.stage1))
    return dict(title=f'{net} ({exp}), stage 2 {spec.stage2} it.',
                runs=runs)


def write_figures(preset: Preset, experiments: Sequence[str],
                  plan: Sequence[RunSpec], work_dir: str,
                  summaries: Sequence[dict]) -> Dict[str, str]:
    """figure3.png (experiments (a), (b)) and generations.png (the
    ``summaries`` of (d)) in ``work_dir``; their paths relative to it."""
    out: Dict[str, str] = {}
    panels = [figure3_panel(exp, plan, work_dir) for exp in STUDENT_GROUPS
              if exp in experiments]
    if panels:
        out['figure3'] = plot_student_curves(
            panels, osp.join(work_dir, 'figure3.png'),
            title=f'FSP-initialised vs scratch students, Fashion-MNIST '
            f'(preset {preset.name}, seed 0, '
            f'{preset.num_test_images} test images)')
    if summaries:
        out['generations'] = plot_generations(
            summaries, osp.join(work_dir, 'generations.png'),
            title=f'ResNet-8 generations, Fashion-MNIST (preset '
            f'{preset.name}, {preset.generation_iters} it. per '
            f'generation, {preset.num_test_images} test images)')
        for name, key, what, unit in (
                ('generations_secondary', 'secondary/superclass_share',
                 'secondary mass in the label\'s superclass', 'share'),
                ('generations_transfer', 'transfer/top1',
                 'transfer probe on digits', '%')):
            if has_generation_metric(summaries, key):
                out[name] = plot_generations(
                    summaries, osp.join(work_dir, f'{name}.png'), key,
                    title=f'ResNet-8 generations, Fashion-MNIST (preset '
                    f'{preset.name}): {what}', ylabel=f'{what} ({unit})')
    return {k: osp.relpath(v, work_dir) for k, v in out.items()}
