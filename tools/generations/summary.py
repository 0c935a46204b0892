"""The summary of a generations run: every generation alone and the
ensembles of generations 0..g, as ``summary.md`` and ``summary.json``
(docs/generations.md, "One command")."""
import json
import os.path as osp
from dataclasses import asdict
from typing import Any, List, Sequence

from mmfsp.utils import atomic_write
from .settings import GenerationSettings, plain

SUMMARY_MD = 'summary.md'
SUMMARY_JSON = 'summary.json'


def _metric_keys(rows: Sequence[dict]) -> List[str]:
    keys: List[str] = []
    for row in rows:
        for key in row['metrics']:
            if key not in keys:
                keys.append(key)
    return keys


def _format(key: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return '' if value is None else str(value)
    return f'{value:.2f}' if 'accuracy' in key else f'{value:.4f}'


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    atomic_write(path, text.encode('utf-8'))


def summary_rows(records: Sequence[dict]) -> List[dict]:
    """One row per generation (alone) and one per ensemble of generations
    ``0..g`` (g >= 1), from the generations' records."""
    rows = [
        dict(
            model=f'generation {r["generation"]}',
            members=[r['generation']],
            metrics=r['metrics']) for r in records
    ]
    rows += [
        dict(
            model=f'ensemble 0-{r["generation"]}',
            members=list(range(r['generation'] + 1)),
            metrics=r['ensemble_metrics']) for r in records
        if r['generation'] > 0
    ]
    return rows


def summary_markdown(title: str, settings: GenerationSettings,
                     rows: Sequence[dict]) -> str:
    """The summary table as Markdown."""
    keys = _metric_keys(rows)
    lines = [
        f'# {title}: {settings.label}', '',
        f'eta={settings.eta:g}, lam={settings.lam:g}, k={settings.k}, '
        f'tsd_in={settings.tsd_in}, reparam={settings.reparam}, '
        f'teacher_loss={settings.teacher_loss}, '
        f'generations={settings.num_generations}', '',
        '| model | ' + ' | '.join(keys) + ' |',
        '|---|' + '---|' * len(keys)
    ]
    for row in rows:
        cells = [_format(k, row['metrics'].get(k)) for k in keys]
        lines.append(f'| {row["model"]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def summary_data(title: str, settings: GenerationSettings,
                 records: Sequence[dict]) -> dict:
    """What ``summary.json`` holds: the settings, the generations' records
    and the table's rows."""
    return dict(
        title=title,
        setting=settings.label,
        settings=plain(asdict(settings)),
        generations=list(records),
        rows=summary_rows(records))


def write_summary(work_dir: str, title: str, settings: GenerationSettings,
                  records: Sequence[dict]) -> str:
    """Write ``summary.md`` and ``summary.json`` into ``work_dir``; returns
    the Markdown."""
    text = summary_markdown(title, settings, summary_rows(records))
    write_text(osp.join(work_dir, SUMMARY_MD), text)
    data = summary_data(title, settings, records)
    write_text(
        osp.join(work_dir, SUMMARY_JSON), json.dumps(data, indent=2) + '\n')
    return text
