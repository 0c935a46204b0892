"""tools/reproduce.py and mmfsp.analysis.reproduction: the fast pieces
(statistics, tables, skip-finished logic, plan and configs, figures from
fabricated logs) and one end-to-end smoke run of the tool."""
import json
import os.path as osp
from dataclasses import replace

import numpy as np
import pytest

from mmfsp.analysis.figures import (generation_curves, plot_generations,
                                    plot_student_curves, shifted_curve)
from mmfsp.analysis.reproduction import (ACC_KEY, PRESETS, Reproduction,
                                         ReproductionError, build_plan,
                                         curve_interval, estimate_seconds,
                                         format_range, format_stat,
                                         markdown_table, mean_spread,
                                         prediction_diversity,
                                         results_markdown, run_once,
                                         train_config)
from tests.conftest import run_tool


# ------------------------------------------------------------ statistics
def test_mean_spread_and_formatting():
    stat = mean_spread([84.0, 85.0, 86.0])
    assert stat == dict(mean=85.0, std=1.0, min=84.0, max=86.0, n=3)
    assert format_stat(stat) == '85.00 ± 1.00'
    assert format_range(stat) == '84.00-86.00'
    one = mean_spread([90.5])
    assert one['std'] is None and one['n'] == 1
    assert format_stat(one) == '90.50'
    assert format_stat(None) == '' and format_range(None) == ''
    with pytest.raises(ValueError):
        mean_spread([])


def test_markdown_table():
    text = markdown_table(['a', 'b'], [[1, 'x'], [2.5, '']])
    assert text.splitlines() == ['| a | b |', '|---|---|', '| 1 | x |',
                                 '| 2.5 |  |']
    with pytest.raises(ValueError, match='cells'):
        markdown_table(['a', 'b'], [[1]])


def test_prediction_diversity():
    labels = np.array([0, 1, 2, 0])
    eye = np.eye(3, dtype=np.float32)
    a = eye[[0, 1, 2, 1]]  # 3 of 4 right
    b = eye[[0, 1, 2, 1]]  # same as a
    c = eye[[0, 2, 2, 0]]  # 3 of 4 right, other mistake
    same = prediction_diversity([a, b], labels)
    assert same['disagreement'] == 0.0
    assert same['error_correlation'] == pytest.approx(1.0)
    assert same['single'] == [75.0, 75.0]
    div = prediction_diversity([a, b, c], labels)
    # pairs: (a, b) agree; (a, c) and (b, c) differ on images 1 and 3
    assert div['disagreement'] == pytest.approx((0 + 50 + 50) / 3)
    # correct vectors a = [1,1,1,0], c = [1,0,1,1]: corr = -1/3
    assert div['error_correlation'] == pytest.approx((1 - 1 / 3 - 1 / 3) / 3)
    # majority of the one-hot scores: a and b outvote c on images 1 (right)
    # and 3 (wrong)
    assert div['ensemble_accuracy'] == 75.0
    with pytest.raises(ValueError):
        prediction_diversity([a], labels)


def test_curve_interval_aligns_stage_two_points():
    assert curve_interval(50, 150, 5) == 25  # 150 // 6, divides 50
    assert curve_interval(100, 100, 5) == 20
    assert curve_interval(0, 150, 5) == 30
    assert curve_interval(7, 10, 5) == 1  # 10 // 10 divides 7
    assert curve_interval(7, 100, 5) == 20  # none does: 100 // 5
    assert curve_interval(2, 6, 3) == 2
    assert curve_interval(0, 2, 5) == 1


# ------------------------------------------------------------ skip logic
def test_run_once_skips_a_finished_run_and_refuses_another(tmp_path):
    run_dir = str(tmp_path / 'runs' / 'x')
    calls = []

    def work():
        calls.append(1)
        return dict(metrics={ACC_KEY: 80.0})

    first = run_once(run_dir, dict(seed=0), work)
    assert calls == [1] and first['skipped'] is False
    with open(osp.join(run_dir, 'result.json')) as f:
        assert json.load(f) == dict(metrics={ACC_KEY: 80.0},
                                    spec=dict(seed=0))
    again = run_once(run_dir, dict(seed=0), work)
    assert calls == [1] and again['skipped'] is True
    assert again['metrics'][ACC_KEY] == 80.0
    with pytest.raises(ReproductionError, match='another run'):
        run_once(run_dir, dict(seed=1), work)


def test_unfinished_run_with_other_settings_is_refused(tmp_path):
    run_dir = str(tmp_path / 'y')

    def crash():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_once(run_dir, dict(seed=0, iters=10), crash)
    assert not osp.exists(osp.join(run_dir, 'result.json'))
    with pytest.raises(ReproductionError, match='iters'):
        run_once(run_dir, dict(seed=0, iters=20), lambda: {})
    # the same run resumes
    assert run_once(run_dir, dict(seed=0, iters=10),
                    lambda: dict(ok=1))['ok'] == 1


# ------------------------------------------------------------------ plan
def test_small_plan_equal_stage_two_and_shared_runs():
    preset = PRESETS['small']
    plan = {s.key: s for s in build_plan(preset)}
    assert plan['teacher_r26_seed0'].stage2 == preset.teacher_iters
    minimisation = ['r8_alone_seed0', 'fsp_r8_seed0',
                    'fitnet1loss_r8_seed0', 'kd_r8_seed0']
    assert {plan[k].stage2 for k in minimisation} == {
        preset.minimisation_iters}
    # stage 1 follows the teacher's schedule: FSP 1/3, FitNet 0.55 of it
    assert plan['fsp_r8_seed0'].stage1 == preset.teacher_iters // 3
    assert plan['fitnet1loss_r8_seed0'].stage1 == round(
        0.55 * preset.teacher_iters)
    # (b): stage 2 = a third of the teacher, stage 1 as long
    assert plan['fsp_r26_seed0'].stage2 == preset.teacher_iters // 3
    assert plan['fsp_r26_seed0'].stage1 == preset.teacher_iters // 3
    assert plan['r26_third_seed0'].stage2 == preset.teacher_iters // 3
    # (c) pairs training seed i with shuffle seed i + 1; the plain students
    # are (a)'s FSP runs
    assert plan['ensemble_plain_fsp'].members == (
        'fsp_r8_seed0', 'fsp_r8_seed1', 'fsp_r8_seed2')
    assert plan['ensemble_shuffled_fsp'].members == (
        'fsp_r8_shuffle1_seed0', 'fsp_r8_shuffle2_seed1',
        'fsp_r8_shuffle3_seed2')
    # figure-3 runs validate at the same stage-2 iterations
    assert plan['fsp_r8_seed0'].val_interval == \
        plan['r8_alone_seed0'].val_interval > 0
    assert plan['fsp_r8_seed0'].stage1 % plan['fsp_r8_seed0'].val_interval \
        == 0
    assert plan['fsp_r8_seed1'].val_interval == 0
    gens = [s for s in plan.values() if s.kind == 'generations']
    assert sorted(s.label for s in gens) == [
        'D(0.6, 0.6)', 'D(1.0, 0.0)', 'D(1.0, 0.6)']
    assert all(s.num_generations >= 3 for s in gens)


def test_full_plan_seeds_and_resnet26_ensemble_option():
    full = PRESETS['full']
    plan = {s.key: s for s in build_plan(full)}
    assert full.seeds_minimisation >= 2 and full.seeds_generations >= 2
    assert 'kd_r8_seed1' in plan
    assert {'generations_06_06_seed0', 'generations_06_06_seed10'} <= set(
        plan)
    assert full.all_test_images
    # the norm-reset students (--norm-reset): the FSP students' runs with
    # the *_rescaled config (same seeds, stages and figure-3 validation)
    assert not any(p.norm_reset for p in PRESETS.values())
    assert not any('rescaled' in k for k in plan)
    plan = {s.key: s for s in build_plan(replace(full, norm_reset=True))}
    for net, seeds in (('r8', 3), ('r26', 1)):
        for s in range(seeds):
            fsp, reset = plan[f'fsp_{net}_seed{s}'], \
                plan[f'fsp_{net}_rescaled_seed{s}']
            assert reset.config == fsp.config.replace('.py', '_rescaled.py')
            assert replace(reset, key=fsp.key, label=fsp.label,
                           config=fsp.config) == fsp
    assert 'fsp_r8_rescaled_seed0' not in {
        s.key for s in build_plan(PRESETS['small'])}
    r26 = replace(full, ensemble_student='resnet26', teacher_ensemble=True,
                  fitnet=('1loss', '3loss'))
    plan = {s.key: s for s in build_plan(r26, ['c'])}
    assert plan['fsp_r26_shuffle2_seed1'].config.endswith(
        'resnet26_fashion_mnist_shuffled_seed2.py')
    assert plan['ensemble_teachers'].members == (
        'teacher_r26_seed0', 'teacher_r26_seed1', 'teacher_r26_seed2')
    assert not any(k.startswith('generations') for k in plan)
    with pytest.raises(ValueError, match='unknown experiments'):
        build_plan(full, ['e'])
    with pytest.raises(ValueError, match='ensemble_student'):
        replace(full, ensemble_student='resnet14')


def test_estimates_order_presets():
    totals = {}
    for name, preset in PRESETS.items():
        plan = build_plan(preset)
        totals[name] = sum(estimate_seconds(s, preset, plan) for s in plan)
    assert 0 < totals['smoke'] < totals['small'] < totals['full']
    assert totals['small'] < 15 * 60 and totals['full'] < 90 * 60


def test_train_config_of_a_shuffled_fsp_student(tmp_path):
    preset = PRESETS['smoke']
    plan = {s.key: s for s in build_plan(preset)}
    spec = plan['fsp_r8_shuffle2_seed1']
    cfg = train_config(spec, preset, str(tmp_path), '/t/teacher.pth')
    assert cfg.model.teacher_ckpt == '/t/teacher.pth'
    assert cfg.model.distiller.type == 'FSPDistiller'
    assert cfg.model.distiller.shuffle_seed == 2
    assert cfg.randomness.seed == 1
    assert cfg.train_cfg.max_iters == spec.stage1 + spec.stage2
    switch = [h for h in cfg.custom_hooks
              if h.type == 'DistillStageSwitchHook'][0]
    assert switch.switch_iter == spec.stage1
    assert cfg.val_dataloader is None  # only figure-3 runs validate
    assert cfg.train_dataloader.dataset.indices == preset.train_images
    assert cfg.train_dataloader.batch_size == preset.batch_size
    assert cfg.test_dataloader.dataset.indices == preset.test_images
    assert osp.isabs(cfg.test_dataloader.dataset.data_root)
    assert [e['type'] for e in cfg.test_evaluator] == ['Accuracy',
                                                       'DumpResults']
    assert cfg.default_hooks.logger.log_metric_by_epoch is False
    curve = train_config(plan['fsp_r8_seed0'], preset, str(tmp_path),
                         '/t/teacher.pth')
    assert curve.train_cfg.val_interval == plan['fsp_r8_seed0'].val_interval
    assert curve.train_cfg.val_begin == plan['fsp_r8_seed0'].stage1 + 1


# --------------------------------------------------------------- tables
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
        elif spec.kind == 'ensemble':
            repro.results[spec.key] = dict(
                metrics={ACC_KEY: 95.0}, members=list(spec.members),
                diversity=dict(disagreement=5.0, error_correlation=0.5))
        else:
            repro.results[spec.key] = dict(summary=_summary(
                spec.label, 0, [70.0, 72.0], [0, 74.0]))
    tables = repro.tables()
    a = {r['model']: r for r in tables['a']['rows']}
    alone = a['ResNet-8 alone']
    assert alone['accuracy']['n'] == 2 and alone['delta'] is None
    fsp = a['ResNet-8, FSP']
    assert fsp['delta'] == pytest.approx(fsp['accuracy']['mean'] -
                                         alone['accuracy']['mean'])
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


# -------------------------------------------------------------- figures
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


# ----------------------------------------------------------- smoke run
@pytest.mark.slow
def test_reproduce_smoke_end_to_end_and_resume(tmp_path, monkeypatch,
                                               fashion_mnist_root, capsys):
    import torch
    threads = torch.get_num_threads()
    try:
        _smoke(tmp_path / 'repro', monkeypatch, capsys)
    finally:
        torch.set_num_threads(threads)  # --threads 1 set it for the process


def _reproduce(work, monkeypatch):
    # one thread: on cores shared with other jobs two threads wait for
    # each other (several times slower)
    with pytest.raises(SystemExit) as exit_info:
        run_tool('reproduce.py', ['--preset', 'smoke', '--work-dir', work,
                                  '--threads', '1'], monkeypatch)
    assert exit_info.value.code == 0


def _smoke(work, monkeypatch, capsys):
    _reproduce(work, monkeypatch)
    data = json.loads((work / 'results.json').read_text())
    assert set(data['tables']) == {'a', 'b', 'c', 'd', 'weight_norms'}
    points = [(r['model'], r['point'].split(' (')[0])
              for r in data['tables']['weight_norms']['rows']]
    assert points == [('ResNet-8, FSP', 'end of stage 1'),
                      ('ResNet-8, FSP', 'end'), ('ResNet-8 alone', 'end'),
                      ('ResNet-26, FSP', 'end of stage 1'),
                      ('ResNet-26, FSP', 'end'), ('ResNet-26 alone', 'end')]
    for row in data['tables']['weight_norms']['rows']:
        assert row['ratio']['n'] > 0 and row['ratio']['min'] > 0
    for key, run in data['runs'].items():
        if 'metrics' in run:
            assert 0 <= run['metrics'][ACC_KEY] <= 100, key
    for row in data['tables']['c']['rows']:
        # the EnsembleClassifier run and the members' dumped predictions
        # agree on the ensemble's accuracy
        run = data['runs'][{'plain FSP students': 'ensemble_plain_fsp',
                            'shuffled-FSP students':
                            'ensemble_shuffled_fsp'}[row['group']]]
        assert run['diversity']['ensemble_accuracy'] == pytest.approx(
            run['metrics'][ACC_KEY])
    assert len(data['tables']['d']['rows']) == 3
    assert (work / 'figure3.png').stat().st_size > 10000
    assert (work / 'generations.png').stat().st_size > 10000
    text = (work / 'results.md').read_text()
    assert 'preset smoke' in text and 'Hardware: CPU' in text
    assert '--preset smoke' in text
    capsys.readouterr()
    # a second invocation finds every run finished and trains nothing
    _reproduce(work, monkeypatch)
    out = capsys.readouterr().out
    assert out.count('finished before, skipped') == len(data['runs'])
    again = json.loads((work / 'results.json').read_text())
    assert again['run_seconds'] == 0
    assert again['tables'] == data['tables']
