"""tools/reproduce/report.py, markdown.py and figures.py: tables and
results.md from fabricated results, figures from fabricated logs."""
import json
import os.path as osp
from dataclasses import replace

import pytest

from reproduce import report
from reproduce.figures import (figure3_panel, plot_generations,
                               plot_student_curves, shifted_curve)
from reproduce.plan import build_plan
from reproduce.markdown import results_markdown
from reproduce.presets import ACC_KEY, PRESETS
from reproduce.runs import Reproduction
from reproduce.stats import generation_curves


def _summary(setting, base, accs, ens):
    return dict(setting=setting, generations=[
        dict(generation=g, metrics={ACC_KEY: a},
             ensemble_metrics={ACC_KEY: ens[g] if g else a})
        for g, a in enumerate(accs)
    ])


def test_tables_and_markdown_from_fabricated_results(tmp_path):
    preset = replace(PRESETS['smoke'], seeds_minimisation=2)
    repro = Reproduction(preset, str(tmp_path), command='python x')
    for i, spec in enumerate(repro.plan):
        if spec.kind == 'train':
            repro.results[spec.key] = dict(metrics={ACC_KEY: 80.0 + i})
        elif spec.kind == 'generation':
            repro.results[spec.key] = dict(
                metrics={ACC_KEY: 70.0 + 2 * spec.generation})
        elif spec.settings:  # an ensemble of generations
            repro.results[spec.key] = dict(metrics={ACC_KEY: 74.0})
        else:
            repro.results[spec.key] = dict(
                metrics={ACC_KEY: 95.0}, members=list(spec.members),
                diversity=dict(disagreement=5.0, error_correlation=0.5))
    summaries = report.generation_summaries(repro.plan, repro.results)
    # the shared generation 0 is in both settings that train it
    assert [(s['setting'], s['generations'][0]['run']) for s in summaries] \
        == [('D(1.0, 0.0)', 'gen0_10_00_and_10_06_seed0'),
            ('D(1.0, 0.6)', 'gen0_10_00_and_10_06_seed0'),
            ('D(0.6, 0.6)', 'gen0_06_06_seed0')]
    assert summaries[1]['generations'][1]['ensemble_metrics'][ACC_KEY] == 74
    assert summaries[1]['generations'][0]['ensemble_metrics'][ACC_KEY] == 70
    paths = report.write_generation_summaries(repro.plan, repro.results,
                                              str(tmp_path))
    with open(paths[1]) as f:
        text = f.read()
    assert text.startswith('# D(1.0, 0.6), seed 0: D(1.0, 0.6)')
    assert '| ensemble 0-1 | 74.00 |' in text
    # an unfinished chain has no summary yet
    partial = dict(repro.results)
    partial.pop('gen1_06_06_seed0')
    assert [s['setting'] for s in report.generation_summaries(
        repro.plan, partial)] == ['D(1.0, 0.0)', 'D(1.0, 0.6)']
    tables = repro.tables()
    a = {r['model']: r for r in tables['a']['rows']}
    alone = a['ResNet-8 alone']
    assert alone['accuracy']['n'] == 2 and alone['delta'] is None
    fsp = a['ResNet-8, FSP paper']
    assert fsp['delta'] == pytest.approx(fsp['accuracy']['mean'] -
                                         alone['accuracy']['mean'])
    # the recommended recipe's row, from its own runs, against the same
    # student alone
    rec = a['ResNet-8, FSP recommended (mean loss, stage-1 lr 0.1)']
    assert rec['runs'] == ['fsp_rec_r8_seed0', 'fsp_rec_r8_seed1']
    assert rec['accuracy']['mean'] == pytest.approx(sum(
        repro.results[k]['metrics'][ACC_KEY] for k in rec['runs']) / 2)
    assert rec['delta'] == pytest.approx(rec['accuracy']['mean'] -
                                         alone['accuracy']['mean'])
    b = [r['model'] for r in tables['b']['rows']]
    assert b[1:] == ['ResNet-26, FSP paper (stage 2 = 1/3)',
                     'ResNet-26, FSP recommended (mean loss, stage-1 lr '
                     '0.1) (stage 2 = 1/3)',
                     'ResNet-26 alone, 1/3 of the iterations']
    assert [r['group'] for r in tables['c']['rows']] == [
        'plain FSP students', 'shuffled-FSP students']
    d = tables['d']['rows'][0]
    assert d['best_generation'] == 1 and d['best_minus_gen0'] == 2.0
    data = dict(preset=dict(name='smoke'), scale=repro.scale_lines(),
                command='python x', hardware='cpu', wall_seconds=60,
                run_seconds=30, all_runs_seconds=90, tables=tables,
                figures={})
    text = results_markdown(data)
    assert 'Command: `python x`' in text and 'Hardware: cpu' in text
    assert 'all runs together took 1.5 min' in text
    assert 'first 200 of the 10,000 test images' in text
    assert '## (a) Network minimisation: ResNet-8 students, stage 2 6 ' \
        'iterations' in text
    assert '2 seed(s), 200 test images' in text
    assert '| D(1.0, 0.0) | 1 | 70.00 | 72.00 | 74.00 | +2.00 (gen 1) |' \
        in text
    assert 'FitNet, 1 loss (middle layer)' in text
    assert '| ResNet-8, FSP recommended (mean loss, stage-1 lr 0.1) | ' \
        in text and 'FSP recommended: mmfsp\'s (`fsp_*`' in text


def _fake_log(work_dir, records):
    vis = work_dir / '20250101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    with open(vis / 'scalars.json', 'w') as f:
        for rec in records:
            f.write(json.dumps(rec) + '\n')


def test_plot_student_curves_from_fabricated_logs(tmp_path):
    scratch, fsp = tmp_path / 'scratch', tmp_path / 'fsp'
    _fake_log(scratch, [dict(loss=2.0 - i / 10, iter=i, step=i)
                        for i in range(1, 11)] +
              [dict(**{ACC_KEY: 50.0 + i}, step=i) for i in (5, 10)])
    _fake_log(fsp, [dict(loss=9.0, iter=i, step=i) for i in range(1, 5)] +
              [dict(loss=1.0 - i / 20, iter=i, step=i)
               for i in range(5, 15)] +
              [dict(**{ACC_KEY: 70.0 + i}, step=i) for i in (9, 14)])
    steps, loss = shifted_curve(
        [json.loads(x) for x in open(fsp / '20250101_000000' / 'vis_data' /
                                     'scalars.json')], 'loss', 4, 'iter')
    assert steps[0] == 1 and 9.0 not in loss  # stage 1 left out
    out = plot_student_curves(
        [dict(title='panel', runs=[
            dict(label='scratch', work_dir=str(scratch), offset=0),
            dict(label='FSP', work_dir=str(fsp), offset=4)])],
        str(tmp_path / 'fig' / 'figure3.png'), title='t')
    assert osp.getsize(out) > 10000


def test_figure3_panel_has_both_recipes_from_the_switch(tmp_path):
    plan = build_plan(PRESETS['full'], ['a'])
    panel = figure3_panel('a', plan, str(tmp_path))
    stage1 = next(s.stage1 for s in plan if s.key == 'fsp_r8_seed0')
    assert [(r['label'].split(' (')[0], r['offset'])
            for r in panel['runs']] == [
        ('ResNet-8 alone', 0), ('ResNet-8, FSP paper', stage1),
        ('ResNet-8, FSP recommended', stage1)]
    assert panel['runs'][2]['work_dir'].endswith('fsp_rec_r8_seed0')
    plan = build_plan(replace(PRESETS['full'], recommended=False,
                              norm_reset=True), ['b'])
    assert [r['label'] for r in figure3_panel('b', plan, str(tmp_path))[
        'runs']][2:] == ['... + conv norms reset at the switch']


def test_plot_generations_groups_settings_and_seeds(tmp_path):
    summaries = [_summary('D(1.0, 0.0)', 0, [80.0, 81.0, 80.5],
                          [0, 82.0, 83.0]),
                 _summary('D(1.0, 0.0)', 10, [82.0, 81.0, 81.5],
                          [0, 83.0, 84.0]),
                 _summary('D(0.6, 0.6)', 0, [79.0, 82.0, 83.0],
                          [0, 83.0, 84.5])]
    curves = generation_curves(summaries)
    assert curves['D(1.0, 0.0)']['single'][0] == [80.0, 82.0]
    assert curves['D(0.6, 0.6)']['ensemble'] == {1: [83.0], 2: [84.5]}
    out = plot_generations(summaries, str(tmp_path / 'generations.png'))
    assert osp.getsize(out) > 10000


def test_generation_metrics_and_plateau_tables(tmp_path):
    """(d) of the generations preset: a table per metric the runs report
    (secondary-class metric as a percentage, transfer probe) and the
    plateau check's gains, in results.md."""
    preset = replace(PRESETS['generations'], seeds_generations=2,
                     plateau_seeds=2)
    repro = Reproduction(preset, str(tmp_path), preset.experiments)
    for spec in repro.plan:
        long = spec.stage2 == 2 * preset.generation_iters
        metrics = {ACC_KEY: 80.0 + spec.generation + (0.5 if long else 0)
                   + spec.seed / 10,
                   'secondary/top2_same_superclass': 0.5,
                   'secondary/superclass_share': 0.25 + spec.generation / 100,
                   'transfer/top1': 90.0 - spec.generation}
        repro.results[spec.key] = dict(metrics=metrics)
    tables = repro.tables()['d']
    assert len(tables['rows']) == 6
    share = tables['metrics']['secondary/superclass_share']['rows'][0]
    assert share['single']['1']['mean'] == pytest.approx(26.0)
    transfer = tables['metrics']['transfer/top1']['rows'][0]
    assert transfer['best_generation'] == 0
    # every setting's accuracy equals the strict chain's (same seed base)
    paired = {r['setting']: r for r in tables['paired']}
    assert 'D(1.0, 0.6)' not in paired and len(paired) == 5
    assert paired['D(0.6, 0.6)']['diff']['2']['mean'] == pytest.approx(0)
    assert paired['D(0.6, 0.6)']['diff']['2']['n'] == 2
    assert [(r['seed'], r['gain']) for r in tables['plateau']] == [
        (0, pytest.approx(0.5)), (10, pytest.approx(0.5))]
    data = dict(preset=dict(name='generations'),
                scale=repro.scale_lines(), command='python x',
                hardware='cpu', wall_seconds=60, run_seconds=30,
                all_runs_seconds=90, tables=dict(d=tables), figures={})
    text = results_markdown(data)
    assert '### (d) Plateau check' in text
    assert "minus the strict teacher's chain (D(1.0, 0.6))" in text
    assert 'Mean gain from twice the iterations: 0.50 ± 0.00 (n = 2)' in text
    assert '| LS teacher, lam 0.6 | 2 |' in text
    assert '### (d) transfer probe' in text
    # a run without the metric: no table for it
    one = next(k for k, v in repro.results.items())
    del repro.results[one]['metrics']['transfer/top1']
    assert 'transfer/top1' not in repro.tables()['d']['metrics']
