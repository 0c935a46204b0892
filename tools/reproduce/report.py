"""The tables of a reproduction, from its runs' results: (a) and (b)
accuracies against a baseline, (c) the ensembles and the diversity of their
members, (d) the generations, and the conv weight norms of the students
(docs/reproduction.md, "Reading the output")."""
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence

from analysis_tools.weight_norms import (conv_norm_ratios,
                                         initial_conv_weight_norms,
                                         ratio_summary)
from .plan import RunSpec, generation_chains, plateau_pairs
from .presets import (ACC_KEY, FITNET_NAMES, GENERATION_CFGS,
                      GENERATION_TAGS, STUDENT_GROUPS, Preset, repo_config)
from .stats import generation_curves, has_generation_metric, mean_spread
from .store import run_dir
from .worker import TRANSFER_KEY


def scale_lines(preset: Preset, plan: Sequence[RunSpec]) -> Dict[str, str]:
    """One line per table on the scale it was measured at."""
    p = preset
    test = 'all 10,000 test images' if p.all_test_images else \
        f'the first {p.test_images} of the 10,000 test images (a fixed ' \
        f'subset, the same for every model)'
    if p.evaluate_on == 'validation':
        test = (f'{p.num_test_images:,} held-out training images from '
                f'50,000 (the validation split; NOT the test set)')
    train = 'all 60,000 training images' if not p.train_images else \
        f'the first {p.train_images} training images'
    by_key = {s.key: s for s in plan}

    def its(key: str) -> str:
        return by_key[key].iterations if key in by_key else '?'
    out = dict(
        data=f'Fashion-MNIST, batch {p.batch_size}, {train}; evaluated '
        f'on {test}.',
        teacher=f'teacher ResNet-26: {p.teacher_iters} iterations, '
        f'seed 0')
    out['a'] = (f'ResNet-8 students, stage 2 {p.minimisation_iters} '
                f'iterations (FSP {its("fsp_r8_seed0")}, '
                + ', '.join(f'FitNet {v} {its(f"fitnet{v}_r8_seed0")}'
                            for v in p.fitnet)
                + f'), {p.seeds_minimisation} seed(s), '
                f'{p.num_test_images} test images')
    out['b'] = (f'ResNet-26 student, FSP {its("fsp_r26_seed0")} '
                f'iterations (stage 2 = 1/3 of the teacher\'s '
                f'{p.teacher_iters}), {p.seeds_fast} seed(s), '
                f'{p.num_test_images} test images')
    r8 = p.ensemble_student == 'resnet8'
    student = 'fsp_r8_seed0' if r8 else 'fsp_r26_seed0'
    out['c'] = (f'{"ResNet-8" if r8 else "ResNet-26"} FSP students, '
                f'{its(student)} iterations, training seeds 0-2 '
                f'(shuffle seeds 1-3), {p.num_test_images} test images')
    width = '' if p.generation_width == 1 else \
        f' at width x{p.generation_width:g} ({int(16 * p.generation_width)}' \
        f'/{int(32 * p.generation_width)}/{int(64 * p.generation_width)} ' \
        f'channels)'
    schedule = '' if p.generation_schedule == 'step' else \
        f' ({p.generation_schedule} learning-rate schedule)'
    out['d'] = (f'ResNet-8{width}, {p.num_generations} generations x '
                f'{p.generation_iters} iterations{schedule}, '
                f'{p.seeds_generations} seed(s) per setting, '
                f'{p.num_test_images} test images')
    return out


def _acc(results: Mapping[str, dict], key: str) -> Optional[float]:
    result = results.get(key)
    if not result or 'metrics' not in result:
        return None
    return float(result['metrics'][ACC_KEY])


def _row(results: Mapping[str, dict], model: str, keys: Sequence[str],
         iterations: str, baseline: Optional[dict] = None) -> dict:
    values = [v for v in (_acc(results, k) for k in keys) if v is not None]
    stat = mean_spread(values) if values else None
    delta = None
    if stat and baseline:
        delta = stat['mean'] - baseline['mean']
    return dict(model=model, iterations=iterations, runs=list(keys),
                accuracy=stat, delta=delta)


def _fsp_rows(results, by_key, tag: str, seeds: range, base,
              suffix: str = '') -> List[dict]:
    """The rows of the FSP students of network ``tag`` the plan has:
    the paper's recipe, the recommended one, the norm reset (labels and
    iterations from the plan's seed-0 runs)."""
    rows = []
    for key in (f'fsp_{tag}_seed{{}}', f'fsp_rec_{tag}_seed{{}}',
                f'fsp_{tag}_rescaled_seed{{}}'):
        first = by_key.get(key.format(0))
        if first is not None:
            rows.append(_row(results, first.label + suffix,
                             [key.format(s) for s in seeds],
                             first.iterations, base))
    return rows


def _minimisation_rows(p: Preset, results, by_key) -> List[dict]:
    seeds = range(p.seeds_minimisation)
    alone = _row(results, 'ResNet-8 alone',
                 [f'r8_alone_seed{s}' for s in seeds],
                 by_key['r8_alone_seed0'].iterations)
    base = alone['accuracy']
    rows = [alone] + _fsp_rows(results, by_key, 'r8', seeds, base)
    for v in p.fitnet:
        rows.append(_row(
            results, f'ResNet-8, {FITNET_NAMES[v]}',
            [f'fitnet{v}_r8_seed{s}' for s in seeds],
            by_key[f'fitnet{v}_r8_seed0'].iterations, base))
    rows.append(_row(results, 'ResNet-8, Hinton KD (tau 3, weight 4->1)',
                     [f'kd_r8_seed{s}' for s in seeds],
                     by_key['kd_r8_seed0'].iterations, base))
    return rows


def _fast_rows(p: Preset, results, by_key) -> List[dict]:
    seeds = range(p.seeds_fast)
    alone = _row(results, 'ResNet-26 alone, 1/3 of the iterations',
                 [f'r26_third_seed{s}' for s in seeds],
                 by_key['r26_third_seed0'].iterations)
    return _fsp_rows(results, by_key, 'r26', seeds, alone['accuracy'],
                     ' (stage 2 = 1/3)') + [alone]


def _ensemble_rows(results: Mapping[str, dict]) -> List[dict]:
    rows = []
    for name, key in (('plain FSP students', 'ensemble_plain_fsp'),
                      ('shuffled-FSP students', 'ensemble_shuffled_fsp'),
                      ('teachers', 'ensemble_teachers')):
        if key not in results:
            continue
        res = results[key]
        single = mean_spread([_acc(results, m) for m in res['members']])
        ens = float(res['metrics'][ACC_KEY])
        div = res['diversity']
        rows.append(dict(
            group=name, members=res['members'], single=single,
            ensemble=ens, gain=ens - single['mean'],
            disagreement=div['disagreement'],
            error_correlation=div['error_correlation']))
    return rows


def tables(preset: Preset, experiments: Sequence[str],
           plan: Sequence[RunSpec], results: Mapping[str, dict],
           work_dir: str) -> Dict[str, dict]:
    """The tables of ``experiments`` (and ``weight_norms``) from
    ``results`` (run key -> result), as results.json holds them."""
    by_key = {s.key: s for s in plan}
    out: Dict[str, dict] = {}
    teacher_row = _row(results, 'teacher ResNet-26', ['teacher_r26_seed0'],
                       str(preset.teacher_iters))
    if 'a' in experiments:
        out['a'] = dict(rows=[teacher_row] +
                        _minimisation_rows(preset, results, by_key),
                        baseline='ResNet-8 alone')
    if 'b' in experiments:
        out['b'] = dict(rows=[teacher_row] +
                        _fast_rows(preset, results, by_key),
                        baseline='ResNet-26 alone, 1/3 iterations')
    if 'c' in experiments:
        out['c'] = dict(rows=_ensemble_rows(results))
    if 'd' in experiments:
        out['d'] = generation_tables(plan, results)
    norms = weight_norm_rows(experiments, plan, results, work_dir)
    if norms:
        out['weight_norms'] = dict(rows=norms)
    return out


def weight_norm_rows(experiments: Sequence[str], plan: Sequence[RunSpec],
                     results: Mapping[str, dict],
                     work_dir: str) -> List[dict]:
    """Conv weight norm ratios ``||w|| / ||w_init||``
    (tools/analysis_tools/weight_norms.py) of the seed-0 FSP students at the
    stage switch and at the end, and of the same networks trained alone,
    for experiments (a) and (b)."""
    by_key = {s.key: s for s in plan}

    def checkpoint(key: str) -> str:
        return osp.join(work_dir, results[key]['checkpoint'])

    rows = []
    for exp, group in STUDENT_GROUPS.items():
        if exp not in experiments:
            continue
        net, alone_key = group.net, group.alone
        if any('checkpoint' not in results.get(key, {})
               for key in (group.fsp, alone_key)):
            continue
        initial = initial_conv_weight_norms(repo_config(group.config).model)
        points = []
        for name, key in (('FSP paper', group.fsp),
                          ('FSP recommended', group.recommended)):
            if 'checkpoint' not in results.get(key, {}):
                continue
            spec = by_key[key]
            stage1 = osp.join(run_dir(work_dir, key),
                              f'stage1_iter_{spec.stage1}.pth')
            points += [
                (f'{net}, {name}', f'end of stage 1 (iteration '
                 f'{spec.stage1})', stage1),
                (f'{net}, {name}', f'end (iteration '
                 f'{spec.stage1 + spec.stage2})', checkpoint(key))]
        if 'checkpoint' in results.get(group.rescaled, {}):
            spec = by_key[group.rescaled]
            points.append((
                f'{net}, FSP paper + norm reset', f'end (iteration '
                f'{spec.stage1 + spec.stage2})', checkpoint(group.rescaled)))
        points.append((f'{net} alone', f'end (iteration '
                       f'{by_key[alone_key].iterations})',
                       checkpoint(alone_key)))
        for model, point, path in points:
            if not osp.isfile(path):
                continue
            summary = ratio_summary(conv_norm_ratios(path, initial))
            rows.append(dict(model=model, point=point, ratio=summary,
                             checkpoint=osp.relpath(path, work_dir)))
    return rows


def generation_summaries(plan: Sequence[RunSpec],
                         results: Mapping[str, dict]) -> List[dict]:
    """Per setting and seed base of (d) whose generations and ensembles
    have all finished, in plan order: what tools/generations'
    ``train_generations`` returns (``title``, ``setting``, ``seed``,
    ``generations``: per generation its ``metrics`` and the
    ``ensemble_metrics`` of generations 0..g), built from the runs of its
    generations (a shared generation 0 in every setting that uses it)."""
    out = []
    for label, base, gens, ensembles in generation_chains(plan):
        keys = [s.key for s in gens] + [s.key for s in ensembles.values()]
        if not gens or any(k not in results for k in keys):
            continue
        records = []
        for spec in gens:
            result = results[spec.key]
            g = spec.generation
            ensemble = result['metrics'] if g == 0 else \
                results[ensembles[g].key]['metrics']
            records.append(dict(
                generation=g, run=spec.key, metrics=result['metrics'],
                ensemble_metrics=ensemble,
                checkpoint=result.get('checkpoint'),
                teacher=spec.teacher, head_loss=result.get('head_loss')))
        out.append(dict(title=f'{label}, seed {base}', setting=label,
                        seed=base, generations=records))
    return out


def write_generation_summaries(plan: Sequence[RunSpec],
                               results: Mapping[str, dict],
                               work_dir: str) -> List[str]:
    """``generations/<setting>_seed<base>.md``: each (d) summary as
    tools/train_generations.py writes it; returns the paths."""
    from generations import GenerationSettings, summary_markdown, \
        summary_rows
    from mmfsp.utils import atomic_write
    paths = []
    configs = dict(GENERATION_CFGS)
    for summary in generation_summaries(plan, results):
        cfg = repo_config(configs[summary['setting']])
        settings = GenerationSettings.from_cfg(
            cfg.get('generations'), len(summary['generations']))
        text = summary_markdown(summary['title'], settings,
                                summary_rows(summary['generations']))
        tag = GENERATION_TAGS[summary["setting"]]
        path = osp.join(work_dir, 'generations',
                        f'{tag}_seed{summary["seed"]}.md')
        atomic_write(path, text.encode('utf-8'))
        paths.append(path)
    return paths


#: (d)'s metrics: (key, what it is, factor to a percentage)
GENERATION_METRICS = (
    (ACC_KEY, 'test accuracy (%)', 1.0),
    ('secondary/top2_same_superclass',
     'top-2 secondary classes in the label\'s superclass (%)', 100.0),
    ('secondary/superclass_mass',
     'probability mass on the other classes of the label\'s superclass '
     '(%)', 100.0),
    ('secondary/superclass_share',
     'share of the secondary probability mass in the label\'s superclass '
     '(%)', 100.0),
    (TRANSFER_KEY, 'transfer probe: linear classifier on the frozen '
     'features, digits test accuracy (%)', 1.0),
)


def generation_rows(summaries: Sequence[dict], key: str = ACC_KEY,
                    factor: float = 1.0) -> List[dict]:
    """Table (d): per setting, each generation's metric ``key`` (times
    ``factor``) and each ensemble 0..g as mean/spread over the summaries
    (seeds) of that setting."""
    rows = []
    for setting, entry in generation_curves(summaries, key).items():
        single = {g: mean_spread([v * factor for v in values])
                  for g, values in sorted(entry['single'].items())}
        ensemble = {g: mean_spread([v * factor for v in values])
                    for g, values in sorted(entry['ensemble'].items())}
        best = max(single, key=lambda g: single[g]['mean'])
        rows.append(dict(
            setting=setting, seeds=single[0]['n'],
            single={str(g): s for g, s in single.items()},
            ensemble={str(g): s for g, s in ensemble.items()},
            best_generation=best,
            best_minus_gen0=single[best]['mean'] - single[0]['mean']))
    return rows


def generation_tables(plan: Sequence[RunSpec],
                      results: Mapping[str, dict]) -> dict:
    """(d)'s tables: ``rows`` (accuracy), ``metrics`` (per metric of
    :data:`GENERATION_METRICS` the runs report: its description and rows)
    and ``plateau`` (generation 0 against twice its iterations)."""
    summaries = generation_summaries(plan, results)
    metrics = {key: dict(name=name, rows=generation_rows(summaries, key,
                                                         factor))
               for key, name, factor in GENERATION_METRICS
               if has_generation_metric(summaries, key)}
    return dict(rows=generation_rows(summaries), metrics=metrics,
                paired=paired_generation_rows(summaries),
                plateau=plateau_rows(plan, results))


#: the setting (d)'s paired differences are taken against: the strict
#: teacher, students trained with the same loss as the tolerant chain's
STRICT_SETTING = 'D(1.0, 0.6)'


def paired_generation_rows(summaries: Sequence[dict],
                           key: str = ACC_KEY) -> List[dict]:
    """Per setting but :data:`STRICT_SETTING`: each generation's ``key``
    minus the strict teacher's same generation of the same seed base, as
    mean/spread over the seed bases both have."""
    values: Dict[str, Dict[int, Dict[int, float]]] = {}
    for summary in summaries:
        per_gen = values.setdefault(summary['setting'], {})
        for record in summary['generations']:
            per_gen.setdefault(int(record['generation']), {})[
                summary['seed']] = float(record['metrics'][key])
    strict = values.get(STRICT_SETTING)
    rows: List[dict] = []
    if not strict:
        return rows
    for setting, per_gen in values.items():
        if setting == STRICT_SETTING:
            continue
        diffs = {}
        for g, by_seed in sorted(per_gen.items()):
            seeds = sorted(set(by_seed) & set(strict.get(g, {})))
            if seeds:
                diffs[str(g)] = mean_spread(
                    [by_seed[s] - strict[g][s] for s in seeds])
        rows.append(dict(setting=setting, minus=STRICT_SETTING, diff=diffs))
    return rows


def plateau_rows(plan: Sequence[RunSpec],
                 results: Mapping[str, dict]) -> List[dict]:
    """Per seed base of the plateau check: generation 0's accuracy after
    its iterations and after twice as many (both finished only)."""
    rows = []
    for short, long in plateau_pairs(plan):
        if short.key in results and long.key in results:
            acc = [results[k]['metrics'][ACC_KEY]
                   for k in (short.key, long.key)]
            rows.append(dict(seed=short.seed, iters=short.stage2,
                             long_iters=long.stage2, acc=acc[0],
                             long_acc=acc[1], gain=acc[1] - acc[0]))
    return rows
