"""The executor of a reproduction: :class:`Reproduction` runs the plan,
skipping finished runs, and writes results.md, results.json and the
figures; :func:`run_reproduction` is what tools/reproduce.py calls."""
import os.path as osp
import time
from dataclasses import asdict, replace
from typing import Callable, Dict, Optional, Sequence

from analysis_tools.benchmark_speed import hardware_description
from generations import train_generations
from mmfsp.utils import atomic_write, build_runner, check_dataset_files
from . import report
from .configs import ensemble_config, generations_config, train_config
from .figures import write_figures
from .markdown import results_markdown
from .plan import RunSpec, build_plan, plan_markdown, plan_seconds
from .presets import (ACC_KEY, EXPERIMENTS, PRESETS, TEACHER_CFG, Preset,
                      repo_config)
from .stats import prediction_diversity
from .store import (ReproductionError, finished_result, load_predictions,
                    run_dir, run_once, save_predictions, write_json)


def _plain_metrics(metrics: dict) -> dict:
    return {k: float(v.item() if hasattr(v, 'item') else v)
            for k, v in metrics.items()}


def _accuracy_text(result: dict) -> str:
    if 'metrics' in result:
        return f'accuracy {result["metrics"][ACC_KEY]:.2f}%'
    gens = result.get('summary', {}).get('generations', [])
    return 'generations ' + ', '.join(
        f'{r["metrics"][ACC_KEY]:.2f}%' for r in gens)


class Reproduction:
    """Plan, run (skipping finished runs), tabulate and plot.

    Args:
        preset (Preset): the scale.
        work_dir (str): where runs, results and figures go.
        experiments (Sequence[str]): a subset of ('a', 'b', 'c', 'd').
            Defaults to all four.
        command (str): the command line, for the output's header.
            Defaults to ''.
        log (Callable[[str], None]): where progress lines go. Defaults to
            ``print``.
    """

    def __init__(self, preset: Preset, work_dir: str,
                 experiments: Sequence[str] = EXPERIMENTS,
                 command: str = '', log: Callable[[str], None] = print):
        self.preset = preset
        self.work_dir = osp.abspath(work_dir)
        self.experiments = tuple(e for e in EXPERIMENTS if e in experiments)
        self.command = command
        self.log = log
        self.plan = build_plan(preset, self.experiments)
        self.results: Dict[str, dict] = {}

    def run_dir(self, key: str) -> str:
        return run_dir(self.work_dir, key)

    def estimate(self) -> float:
        return plan_seconds(self.plan, self.preset)

    def plan_markdown(self) -> str:
        return plan_markdown(self.plan, self.preset)

    def _checkpoint(self, key: str) -> str:
        return osp.join(self.work_dir, self.results[key]['checkpoint'])

    def execute(self) -> dict:
        """Run the plan; returns the results data (also written)."""
        start = time.time()
        check_dataset_files(repo_config(TEACHER_CFG))
        for i, spec in enumerate(self.plan, 1):
            run_dir = self.run_dir(spec.key)
            identity = spec.identity(self.preset)
            done = finished_result(run_dir, identity)
            if done is not None:
                self.log(f'[{i}/{len(self.plan)}] {spec.key}: finished '
                         f'before, skipped')
                done['skipped'] = True
                self.results[spec.key] = done
                continue
            what = f'members {", ".join(spec.members)}' \
                if spec.kind == 'ensemble' else \
                f'{spec.iterations} iterations, seed {spec.seed}'
            self.log(f'[{i}/{len(self.plan)}] {spec.key} ({spec.label}, '
                     f'{what})')
            t0 = time.time()
            result = run_once(run_dir, identity,
                              lambda: self._work(spec, run_dir))
            self.results[spec.key] = result
            self.log(f'    done in {time.time() - t0:.0f} s: '
                     f'{_accuracy_text(result)}')
        return self.write_outputs(time.time() - start)

    def _work(self, spec: RunSpec, run_dir: str) -> dict:
        t0 = time.time()
        if spec.kind == 'train':
            out = self._train(spec, run_dir)
        elif spec.kind == 'ensemble':
            out = self._ensemble(spec, run_dir)
        else:
            out = self._generations(spec, run_dir)
        out.update(key=spec.key, label=spec.label, kind=spec.kind,
                   seconds=time.time() - t0)
        return out

    def _train(self, spec: RunSpec, run_dir: str) -> dict:
        teacher = self._checkpoint(spec.teacher) if spec.teacher else None
        cfg = train_config(spec, self.preset, run_dir, teacher)
        runner = build_runner(cfg)
        runner.train()
        metrics = runner.test()
        total = spec.stage1 + spec.stage2
        final = osp.join(run_dir, f'iter_{total}.pth')
        if not osp.isfile(final):
            raise ReproductionError(f'{spec.key}: no final checkpoint {final}')
        del runner
        preds = save_predictions(run_dir)
        return dict(metrics=_plain_metrics(metrics),
                    checkpoint=osp.relpath(final, self.work_dir),
                    predictions=osp.relpath(preds, self.work_dir))

    def _ensemble(self, spec: RunSpec, run_dir: str) -> dict:
        ckpts = [self._checkpoint(m) for m in spec.members]
        cfg = ensemble_config(spec, self.preset, run_dir, ckpts)
        runner = build_runner(cfg)
        metrics = runner.test()
        del runner
        preds = save_predictions(run_dir)
        member_preds = [
            load_predictions(osp.join(self.work_dir,
                                      self.results[m]['predictions']))
            for m in spec.members
        ]
        diversity = prediction_diversity([p[0] for p in member_preds],
                                         member_preds[0][1])
        return dict(metrics=_plain_metrics(metrics),
                    predictions=osp.relpath(preds, self.work_dir),
                    members=list(spec.members), diversity=diversity)

    def _generations(self, spec: RunSpec, run_dir: str) -> dict:
        cfg = generations_config(spec, self.preset)
        summary = train_generations(
            cfg, run_dir, spec.num_generations, resume=True,
            title=f'{spec.label}, seed {spec.seed}',
            log=lambda text: None)
        return dict(summary=summary)

    # ------------------------------------------------------------ output
    def scale_lines(self) -> Dict[str, str]:
        return report.scale_lines(self.preset, self.plan)

    def tables(self) -> Dict[str, dict]:
        return report.tables(self.preset, self.experiments, self.plan,
                             self.results, self.work_dir)

    def figures(self) -> Dict[str, str]:
        return write_figures(
            self.preset, self.experiments, self.plan, self.work_dir,
            report.generation_summaries(self.plan, self.results))

    def write_outputs(self, seconds: float) -> dict:
        """Write results.md, results.json and the figures; returns what
        results.json holds."""
        tables = self.tables()
        figures = self.figures()
        data = dict(
            preset=asdict(self.preset),
            experiments=list(self.experiments),
            scale=self.scale_lines(),
            command=self.command,
            hardware=hardware_description('cpu'),
            wall_seconds=seconds,
            run_seconds=sum(r.get('seconds', 0) for r in
                            self.results.values() if not r.get('skipped')),
            all_runs_seconds=sum(r.get('seconds', 0)
                                 for r in self.results.values()),
            tables=tables,
            figures=figures,
            runs={k: {kk: vv for kk, vv in v.items() if kk != 'skipped'}
                  for k, v in self.results.items()})
        text = results_markdown(data)
        with_out = osp.join(self.work_dir, 'results.md')
        atomic_write(with_out, text.encode('utf-8'))
        write_json(osp.join(self.work_dir, 'results.json'), data)
        self.log(text)
        self.log(f'results in {with_out} and '
                 f'{osp.join(self.work_dir, "results.json")}')
        return data


def run_reproduction(preset: str, work_dir: Optional[str] = None,
                     experiments: Sequence[str] = EXPERIMENTS,
                     fitnet: Optional[Sequence[str]] = None,
                     teacher_ensemble: Optional[bool] = None,
                     ensemble_student: Optional[str] = None,
                     norm_reset: Optional[bool] = None,
                     command: str = '', plan_only: bool = False,
                     log: Callable[[str], None] = print) -> dict:
    """Run (or with ``plan_only`` just print the plan of) a preset; returns
    the results data (``{'plan': ...}`` for ``plan_only``)."""
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose from '
                         f'{sorted(PRESETS)}')
    chosen = PRESETS[preset]
    changes = {}
    if fitnet:
        changes['fitnet'] = tuple(fitnet)
    if teacher_ensemble is not None:
        changes['teacher_ensemble'] = bool(teacher_ensemble)
    if ensemble_student is not None:
        changes['ensemble_student'] = ensemble_student
    if norm_reset is not None:
        changes['norm_reset'] = bool(norm_reset)
    if changes:
        chosen = replace(chosen, **changes)
    work_dir = work_dir or osp.join('work_dirs', f'reproduce_{preset}')
    repro = Reproduction(chosen, work_dir, experiments, command, log)
    if plan_only:
        text = repro.plan_markdown()
        log(text)
        return dict(plan=[asdict(s) for s in repro.plan],
                    estimate_seconds=repro.estimate())
    return repro.execute()
