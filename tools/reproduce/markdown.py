"""results.md of a reproduction, from what results.json holds: the command,
the hardware, the time, the scale and one table per experiment, each with
the claim it tests (docs/reproduction.md, "Reading the output")."""
from typing import List, Optional

from .presets import ACC_KEY, PLATEAU_SETTING
from .stats import format_range, format_stat, markdown_table, mean_spread


def generation_table(rows_d: List[dict]) -> str:
    """A (d) table: per setting, each generation, each ensemble 0..g and
    the best generation's gain over generation 0."""
    gens = sorted({int(g) for r in rows_d for g in r['single']})
    header = ['setting', 'n'] + [f'gen {g}' for g in gens] + \
        [f'ensemble 0-{g}' for g in gens if g > 0] + ['best gen - gen 0']
    rows = []
    for r in rows_d:
        rows.append([r['setting'], r['seeds']] +
                    [format_stat(r['single'].get(str(g))) for g in gens] +
                    [format_stat(r['ensemble'].get(str(g)))
                     for g in gens if g > 0] +
                    [f'{r["best_minus_gen0"]:+.2f} (gen '
                     f'{r["best_generation"]})'])
    return markdown_table(header, rows)


def results_markdown(data: dict) -> str:
    """results.md from what results.json holds."""
    preset = data['preset']
    scale = data['scale']
    lines = [
        f'# FSP and tolerant-teacher reproduction on Fashion-MNIST '
        f'(preset {preset["name"]})', '',
        f'Command: `{data["command"]}`  ',
        f'Hardware: {data["hardware"]}  ',
        f'Time: {data["wall_seconds"] / 60:.1f} min this invocation '
        f'({data["run_seconds"] / 60:.1f} min of runs trained now, runs '
        f'finished before skipped); all runs together took '
        f'{data["all_runs_seconds"] / 60:.1f} min' + (
            f'; the plan estimated {data["estimate_seconds"] / 60:.1f} min '
            f'for all runs on this machine  '
            if data.get('estimate_seconds') else '  '),
        f'Data: {scale["data"]}  ']
    if set(data.get('experiments') or 'abc') & set('abc'):
        lines.append(f'Teacher: {scale["teacher"]}')
    lines += [
        '',
        'Accuracy = top-1 % on the test images named above; "± x" is the '
        'sample standard deviation over seeds, n the number of seeds. '
        'These are scaled-down CPU runs (a few epochs at most): they show '
        'whether the effects point the papers\' way at this scale, not the '
        'papers\' numbers.', ''
    ]
    tables = data['tables']

    def fmt(x: Optional[float], signed: bool = False) -> str:
        if x is None:
            return ''
        return f'{x:+.2f}' if signed else f'{x:.2f}'

    for exp, title, claim in (
            ('a', 'Network minimisation', 'an FSP-trained small student '
             'beats the same network trained alone, and FitNet/KD'),
            ('b', 'Fast optimisation', 'an FSP student with 1/3 of the '
             'iterations gets close to the teacher and beats the same '
             'network trained alone for 1/3')):
        if exp not in tables:
            continue
        t = tables[exp]
        lines += [f'## ({exp}) {title}: {scale[exp]}', '',
                  f'Claim: {claim}.', '']
        if any('FSP recommended' in r['model'] for r in t['rows']):
            lines += ['FSP paper: the paper\'s recipe (`fsp-paper_*` '
                      'configs); FSP recommended: mmfsp\'s (`fsp_*`, the '
                      'FSP loss averaged per matrix entry and stage 1 at lr '
                      '0.1, chosen on a validation split: docs/fsp.md).', '']
        rows = [[r['model'], r['iterations'], format_stat(r['accuracy']),
                 format_range(r['accuracy']),
                 r['accuracy']['n'] if r['accuracy'] else 0,
                 fmt(r['delta'], True)] for r in t['rows']]
        lines += [markdown_table(
            ['model', 'iterations (stage 1 + stage 2)', 'accuracy',
             'min-max', 'n', f'vs {t["baseline"]}'], rows), '']
    if 'c' in tables:
        lines += [f'## (c) Shuffled FSP for diverse students: {scale["c"]}',
                  '', 'Claim: students taught with differently shuffled '
                  'teacher FSP matrices are less correlated than plain FSP '
                  'students, so their ensemble gains more.', '']
        rows = [[r['group'], format_stat(r['single']),
                 fmt(r['ensemble']), fmt(r['gain'], True),
                 fmt(r['disagreement']),
                 fmt(r['error_correlation']) if r['error_correlation']
                 is not None else 'n/a'] for r in tables['c']['rows']]
        lines += [markdown_table(
            ['3 models', 'single (mean ± std over the 3)', 'ensemble',
             'ensemble gain', 'pairwise disagreement (%)',
             'error correlation'], rows), '',
            'Ensemble = mean of the softmax outputs (EnsembleClassifier). '
            'Disagreement: % of test images two members classify '
            'differently; error correlation: Pearson correlation of two '
            'members\' right/wrong vectors; both averaged over the 3 '
            'pairs.', '']
    if 'd' in tables and tables['d']['rows']:
        lines += [f'## (d) Training in generations: {scale["d"]}', '',
                  'Claim: generations taught by a tolerant teacher '
                  '(D(0.6, 0.6)) end better than strict-teacher generations '
                  '(D(1.0, 0.6)) and than independent networks '
                  '(D(1.0, 0.0)); ensembles of generations add more.', '',
                  generation_table(tables['d']['rows']), '',
                  'D(eta, lam): eta = label weight of the teacher loss '
                  '(TSD applied to the patriarch only, mmfsp\'s default, '
                  'unless "TSD in all"), lam = weight of KL(p_T || p_S) in '
                  'the students\' loss; LS / CP teacher: a patriarch '
                  'trained with label smoothing (0.1) / the confidence '
                  'penalty (0.1) instead of TSD.', '']
        for key, entry in (tables['d'].get('metrics') or {}).items():
            if key == ACC_KEY:
                continue
            lines += [f'### (d) {entry["name"]}', '',
                      generation_table(entry['rows']), '']
        paired = tables['d'].get('paired') or []
        if paired:
            gens = sorted({int(g) for r in paired for g in r['diff']})
            rows = [[r['setting']] + [format_stat(r['diff'].get(str(g)))
                                      for g in gens] for r in paired]
            lines += [f'### (d) Accuracy minus the strict teacher\'s chain '
                      f'({paired[0]["minus"]}), same generation and seed '
                      f'base', '',
                      markdown_table(['setting'] + [f'gen {g}'
                                                    for g in gens], rows),
                      '']
        plateau = tables['d'].get('plateau') or []
        if plateau:
            gains = [r['gain'] for r in plateau]
            rows = [[r['seed'], f'{r["acc"]:.2f}', f'{r["long_acc"]:.2f}',
                     f'{r["gain"]:+.2f}'] for r in plateau]
            lines += ['### (d) Plateau check', '',
                      f'Generation 0 of {PLATEAU_SETTING} trained '
                      f'{plateau[0]["iters"]} iterations (as every '
                      f'generation) and {plateau[0]["long_iters"]} '
                      f'(the same schedule, twice as long), test accuracy '
                      f'(%):', '',
                      markdown_table(['seed base', str(plateau[0]['iters']),
                                      str(plateau[0]['long_iters']),
                                      'gain'], rows), '',
                      f'Mean gain from twice the iterations: '
                      f'{format_stat(mean_spread(gains))} (n = '
                      f'{len(gains)}).', '']
    if 'weight_norms' in tables:
        rows = [[r['model'], r['point'], f'{r["ratio"]["median"]:.2f}',
                 f'{r["ratio"]["min"]:.2f}-{r["ratio"]["max"]:.2f}',
                 r['ratio']['max_layer']]
                for r in tables['weight_norms']['rows']]
        lines += ['## Conv weight norms of the students (seed 0)', '',
                  'r = ||w|| / ||w_init|| per conv layer (w_init: a fresh '
                  'initialisation of the same network). Each conv feeds a '
                  'batch norm, so a conv whose norm grew r-fold learns at '
                  '1/r^2 of the nominal learning rate '
                  '(tools/analysis_tools/weight_norms.py).', '',
                  markdown_table(['student', 'checkpoint', 'median r',
                                  'min-max r', 'largest r at'], rows), '']
    figures = data.get('figures') or {}
    if figures:
        lines += ['## Figures', '']
        if 'figure3' in figures:
            lines += [f'- `{figures["figure3"]}`: test accuracy and training '
                      'cross-entropy of FSP-initialised (both recipes) and '
                      'scratch students '
                      'against their (stage-2) iterations (the FSP paper\'s '
                      'Figure 3).']
        if 'generations' in figures:
            lines += [f'- `{figures["generations"]}`: test accuracy per '
                      'generation (solid) and of the ensembles of '
                      'generations 0..g (dashed), mean over seeds, min-max '
                      'bars.']
        for name, what in (('generations_secondary', 'the secondary-class '
                            'metric (share of the secondary mass in the '
                            'label\'s superclass)'),
                           ('generations_transfer', 'the transfer probe\'s '
                            'accuracy on digits')):
            if name in figures:
                lines.append(f'- `{figures[name]}`: {what} per generation '
                             'and ensemble, as above.')
        lines.append('')
    return '\n'.join(lines)
