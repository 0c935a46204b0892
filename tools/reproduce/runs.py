"""The executor of a reproduction: :class:`Reproduction` runs the plan in
worker processes (:mod:`.scheduler`, :func:`.worker.run_task`), skipping
finished runs, and writes results.md, results.json and the figures;
:func:`run_reproduction` is what tools/reproduce.py calls."""
import os.path as osp
import time
from dataclasses import asdict, replace
from typing import Callable, Dict, List, Optional, Sequence

from mmfsp.utils import atomic_write, check_dataset_files
from . import report
from .devices import (Machine, cost_model, detect_machine, plan_slots,
                      scaled_costs, use_amp)
from .figures import write_figures
from .markdown import results_markdown
from .plan import (build_plan, dependencies, describe_slots,
                   estimate_seconds, plan_markdown, schedule_seconds)
from .presets import (ACC_KEY, DATA_PATHS, EXPERIMENTS, PRESETS,
                      TEACHER_CFG, Preset, repo_config)
from .scheduler import (DagScheduler, ProgressLine, Slot, Task,
                        format_duration)
from .store import (ReproductionError, check_run_dir, finished_result,
                    run_dir, write_json)
from .worker import WorkerOptions, run_task

#: each run's stdout and stderr, in its folder (mmengine's own log is in
#: the timestamped folder next to it)
WORKER_LOG = 'worker.log'


def _accuracy_text(result: dict) -> str:
    return f'accuracy {result["metrics"][ACC_KEY]:.2f}%'


class Reproduction:
    """Plan, run (skipping finished runs), tabulate and plot.

    Args:
        preset (Preset): the scale.
        work_dir (str): where runs, results and figures go.
        experiments (Sequence[str]): a subset of ('a', 'b', 'c', 'd').
            Defaults to all four.
        command (str): the command line, for the output's header.
            Defaults to ''.
        log (Callable[[str], None]): where messages go. Defaults to
            ``print``.
        machine (Machine, optional): the hardware. Defaults to this
            process's CPU.
        slots (Sequence[Slot], optional): the workers. Defaults to one per
            core of ``machine`` (:func:`~.devices.plan_slots`).
        inline (bool): run in this process, one run after the other.
            Defaults to False.
        options (WorkerOptions): how the runs train. Defaults to
            channels_last.
        line (ProgressLine, optional): the progress display. Defaults to
            one on stdout.
    """

    def __init__(self, preset: Preset, work_dir: str,
                 experiments: Sequence[str] = EXPERIMENTS,
                 command: str = '', log: Callable[[str], None] = print,
                 machine: Optional[Machine] = None,
                 slots: Optional[Sequence[Slot]] = None,
                 inline: bool = False,
                 options: WorkerOptions = WorkerOptions(),
                 line: Optional[ProgressLine] = None):
        self.preset = preset
        self.work_dir = osp.abspath(work_dir)
        self.experiments = tuple(e for e in EXPERIMENTS if e in experiments)
        self.command = command
        self.log = log
        self.machine = machine or detect_machine('cpu')
        self.slots = list(slots or plan_slots(self.machine))
        self.inline = inline
        self.options = options
        self.line = line
        self.costs = cost_model(self.machine)
        self.plan = build_plan(preset, self.experiments)
        self.results: Dict[str, dict] = {}

    def run_dir(self, key: str) -> str:
        return run_dir(self.work_dir, key)

    def estimate(self) -> float:
        """Simulated wall seconds of the whole plan on the slots."""
        return schedule_seconds(self.plan, self.preset, self.slots,
                                self.costs)

    def plan_markdown(self) -> str:
        return plan_markdown(self.plan, self.preset, self.slots, self.costs,
                             self.machine.describe())

    def tasks(self) -> List[Task]:
        """One scheduler task per run."""
        return [Task(spec.key, run_task,
                     (spec, self.preset, self.work_dir, self.options),
                     dependencies(spec),
                     estimate_seconds(spec, self.preset, self.plan,
                                      self.costs),
                     spec.stage1 + spec.stage2,
                     osp.join(self.run_dir(spec.key), WORKER_LOG))
                for spec in self.plan]

    def finished(self) -> Dict[str, dict]:
        """The results of the runs finished before; a run folder of other
        settings is refused before anything runs."""
        done = {}
        for spec in self.plan:
            identity = spec.identity(self.preset)
            check_run_dir(self.run_dir(spec.key), identity)
            result = finished_result(self.run_dir(spec.key), identity)
            if result is not None:
                result['skipped'] = True
                done[spec.key] = result
        return done

    def _done_text(self, key: str, result: dict, seconds: float) -> str:
        return f'{key}: done in {format_duration(seconds)}, ' \
            f'{_accuracy_text(result)}'

    def execute(self) -> dict:
        """Run the plan; returns the results data (also written)."""
        start = time.time()
        check_dataset_files(repo_config(TEACHER_CFG))
        done = self.finished()
        estimate = self.estimate()
        todo = [s for s in self.plan if s.key not in done]
        where = 'this process' if self.inline else \
            describe_slots(self.slots)
        self.log(f'{len(done)} of {len(self.plan)} runs finished before, '
                 f'skipped; {len(todo)} to run with {where} on '
                 f'{self.machine.describe()} (plan estimate for all runs: '
                 f'{format_duration(estimate)}); logs in '
                 f'{osp.join(self.work_dir, "runs", "<run>", WORKER_LOG)}')
        scheduler = DagScheduler(self.slots, self.line or ProgressLine(),
                                 self.costs.speedup,
                                 self.costs.device_share, self.inline)
        outcome = scheduler.run(self.tasks(), done, self._done_text)
        self.results = {k: v for k, v in outcome.results.items()}
        if not outcome.ok:
            logs = [f'{k} ({osp.join(self.run_dir(k), WORKER_LOG)})'
                    for k in outcome.failed]
            raise ReproductionError(
                f'{len(outcome.failed)} run(s) failed: {", ".join(logs)}; '
                f'{len(outcome.skipped)} not run as they need them '
                f'({", ".join(outcome.skipped)}). Finished runs are kept: '
                f'run the same command again to retry the others.')
        return self.write_outputs(time.time() - start, estimate)

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

    def hardware(self) -> str:
        import torch
        workers = 'one process' if self.inline else \
            describe_slots(self.slots)
        return (f'{self.machine.describe()}; {workers}; torch '
                f'{torch.__version__}')

    def write_outputs(self, seconds: float,
                      estimate: Optional[float] = None) -> dict:
        """Write results.md, results.json and the figures; returns what
        results.json holds."""
        tables = self.tables()
        figures = self.figures()
        data = dict(
            preset=asdict(self.preset),
            experiments=list(self.experiments),
            scale=self.scale_lines(),
            command=self.command,
            hardware=self.hardware(),
            estimate_seconds=estimate,
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
        report.write_generation_summaries(self.plan, self.results,
                                          self.work_dir)
        self.log(text)
        self.log(f'results in {with_out} and '
                 f'{osp.join(self.work_dir, "results.json")}')
        return data


def run_reproduction(preset: str, work_dir: Optional[str] = None,
                     experiments: Optional[Sequence[str]] = None,
                     fitnet: Optional[Sequence[str]] = None,
                     teacher_ensemble: Optional[bool] = None,
                     ensemble_student: Optional[str] = None,
                     norm_reset: Optional[bool] = None,
                     command: str = '', plan_only: bool = False,
                     log: Callable[[str], None] = print,
                     workers: Optional[int] = None,
                     threads: Optional[int] = None,
                     device: str = 'auto',
                     runs_per_device: Optional[int] = None,
                     amp: Optional[bool] = None,
                     data_path: Optional[str] = None,
                     channels_last: bool = True,
                     recommended: Optional[bool] = None,
                     calibrate: bool = False) -> dict:
    """Run (or with ``plan_only`` just print the plan of) a preset; returns
    the results data (``{'plan': ..., 'estimate_seconds': ...}`` for
    ``plan_only``).

    ``experiments``: default the preset's. ``recommended``: whether (a)
    and (b) also train the recommended FSP recipe (default the preset's,
    True). ``workers``: worker processes (default: one per core, or
    ``runs_per_device`` per GPU); 0 runs everything in this process, one
    run after the other. ``threads``: torch threads per worker (default:
    one on a CPU with one worker per core). ``device``: 'auto', 'cpu' or
    'cuda'. ``calibrate``: on a CPU, scale the plan's costs by how fast
    this machine trains (:func:`.speed_probe.cpu_calibration`). ``amp``:
    mixed precision, on by default on a GPU, refused on
    the CPU. ``data_path``: 'tensor' (default) or 'pipeline'.
    """
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose from '
                         f'{sorted(PRESETS)}')
    if data_path is not None and data_path not in DATA_PATHS:
        raise ValueError(f'data_path must be one of {DATA_PATHS}')
    machine = detect_machine(device)
    chosen = PRESETS[preset]
    changes = dict(amp=use_amp(machine.kind, amp))
    if fitnet:
        changes['fitnet'] = tuple(fitnet)
    if teacher_ensemble is not None:
        changes['teacher_ensemble'] = bool(teacher_ensemble)
    if ensemble_student is not None:
        changes['ensemble_student'] = ensemble_student
    if norm_reset is not None:
        changes['norm_reset'] = bool(norm_reset)
    if recommended is not None:
        changes['recommended'] = bool(recommended)
    if data_path is not None:
        changes['data_path'] = data_path
    chosen = replace(chosen, **changes)
    inline = workers == 0
    # in this process: one slot with every core's thread by default
    slots = plan_slots(machine, 1 if inline else workers, threads,
                       runs_per_device)
    work_dir = work_dir or osp.join('work_dirs', f'reproduce_{preset}')
    repro = Reproduction(chosen, work_dir,
                         experiments or chosen.experiments, command, log,
                         machine, slots, inline,
                         WorkerOptions(channels_last=channels_last))
    if calibrate and machine.kind == 'cpu':
        from .speed_probe import cpu_calibration
        factor = cpu_calibration()
        repro.costs = scaled_costs(repro.costs, factor,
                                   'calibrated on this machine now')
        log(f'calibration: a ResNet-8 iteration here takes {factor:.2f} x '
            f'the cost model\'s')
    if plan_only:
        text = repro.plan_markdown()
        log(text)
        return dict(plan=[asdict(s) for s in repro.plan],
                    estimate_seconds=repro.estimate())
    return repro.execute()
