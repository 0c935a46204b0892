"""Statistics of a reproduction's results: mean and spread over seeds, the
diversity of several models' predictions, the accuracies of generations,
and the Markdown cells and tables they are shown in."""
import statistics
from typing import Dict, Optional, Sequence

import numpy as np

from .presets import ACC_KEY


def mean_spread(values: Sequence[float]) -> dict:
    """``mean``, sample ``std`` (None for one value), ``min``, ``max`` and
    ``n`` of ``values``."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError('mean_spread needs at least one value')
    return dict(
        mean=statistics.fmean(values),
        std=statistics.stdev(values) if len(values) > 1 else None,
        min=min(values),
        max=max(values),
        n=len(values))


def format_stat(stat: Optional[dict], digits: int = 2) -> str:
    """``'85.12 ± 0.31'`` (mean ± std), ``'85.12'`` for one value, ``''``
    for none."""
    if not stat:
        return ''
    text = f'{stat["mean"]:.{digits}f}'
    if stat.get('std') is not None:
        text += f' ± {stat["std"]:.{digits}f}'
    return text


def format_range(stat: Optional[dict], digits: int = 2) -> str:
    """``'84.80-85.40'`` (min-max); ``''`` for none."""
    if not stat:
        return ''
    return f'{stat["min"]:.{digits}f}-{stat["max"]:.{digits}f}'


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A Markdown table; cells are converted with ``str``."""
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f'row {row!r} has {len(row)} cells, the header '
                             f'{len(header)}')
        lines.append('| ' + ' | '.join(str(c) for c in row) + ' |')
    return '\n'.join(lines)


def prediction_diversity(scores: Sequence[np.ndarray],
                         labels: np.ndarray) -> dict:
    """How alike several models' test predictions are.

    Args:
        scores (Sequence[np.ndarray]): one (N, C) array of softmax scores
            per model, rows in the same image order.
        labels (np.ndarray): (N, ) true classes.

    Returns:
        dict: ``disagreement`` (mean over pairs of the % of images whose
        predicted classes differ), ``error_correlation`` (mean over pairs
        of the Pearson correlation of the 0/1 "correct" vectors; None when
        a model is right or wrong everywhere), ``ensemble_accuracy`` (% of
        argmax of the mean softmax = label) and ``single`` (accuracy of each
        model, %).
    """
    if len(scores) < 2:
        raise ValueError('prediction_diversity needs two or more models')
    labels = np.asarray(labels)
    preds = [np.asarray(s).argmax(1) for s in scores]
    correct = [(p == labels).astype(np.float64) for p in preds]
    disagreements, correlations = [], []
    for i in range(len(preds)):
        for j in range(i + 1, len(preds)):
            disagreements.append(float(np.mean(preds[i] != preds[j])) * 100)
            if correct[i].std() > 0 and correct[j].std() > 0:
                correlations.append(
                    float(np.corrcoef(correct[i], correct[j])[0, 1]))
    ensemble = np.mean([np.asarray(s) for s in scores], axis=0).argmax(1)
    return dict(
        disagreement=statistics.fmean(disagreements),
        error_correlation=statistics.fmean(correlations)
        if correlations else None,
        ensemble_accuracy=float(np.mean(ensemble == labels)) * 100,
        single=[float(c.mean()) * 100 for c in correct])


def has_generation_metric(summaries: Sequence[dict], key: str) -> bool:
    """Whether every generation (and every ensemble 0..g, g > 0) of the
    ``summaries`` reports the metric ``key``."""
    return bool(summaries) and all(
        key in r['metrics'] and
        (r['generation'] == 0 or key in r['ensemble_metrics'])
        for s in summaries for r in s['generations'])


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
