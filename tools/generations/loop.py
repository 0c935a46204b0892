"""The generations loop: train generation 0..N-1 one after the other, test
each alone and the ensemble of generations 0..g, keep the summary up to
date (Yang et al., AAAI 2019; docs/generations.md)."""
import json
import os
import os.path as osp
from typing import Callable, List, Optional, Union

from mmengine.config import Config
from mmengine.dist import barrier

from mmfsp.engine.hooks.preemption_hook import (PreemptionHook,
                                                TrainingPreempted,
                                                agreed_stop_requested)
from mmfsp.utils import build_runner
from mmfsp.utils.resume_check import check_resume, resume_checkpoint
from .configs import build_generation_config, classifier_cfg
from .runner import (export_final_weights, final_checkpoint, free_memory,
                     init_distributed, is_main, plain_metrics,
                     prepare_runner_cfg, run_ensemble_test)
from .settings import GenerationSettings, plain
from .summary import (SUMMARY_JSON, SUMMARY_MD, summary_data,
                      summary_markdown, summary_rows, write_summary,
                      write_text)
from .workdir import (DONE_FILE, check_finished, check_record,
                      final_weights_path, finished_generations,
                      generation_dir, read_done)


def train_generations(cfg: Config,
                      work_dir: Optional[str] = None,
                      num_generations: Optional[int] = None,
                      launcher: str = 'none',
                      resume: Union[bool, str] = False,
                      title: Optional[str] = None,
                      log: Callable[[str], None] = print,
                      force_resume: bool = False) -> dict:
    """Train generations ``0..N-1`` of ``cfg``, test each one alone and the
    ensemble of generations ``0..g``, and write the summary.

    Args:
        cfg (Config): a generations config (a plain classifier config with
            a ``generations`` dict, see docs/generations.md), after the
            command line's ``--cfg-options``.
        work_dir (str, optional): the run's root. Defaults to
            ``cfg.work_dir``.
        num_generations (int, optional): overrides
            ``generations.num_generations``. Defaults to None.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi', as
            tools/train.py. Defaults to 'none'.
        resume (bool | str): skip finished generations and resume an
            unfinished one from its last checkpoint (a work dir with nothing
            to resume is said loudly); ``'auto'``: the same, and a fresh
            work dir is a fresh start (``--auto-resume``). Without it, a
            work dir that already holds finished generations is refused.
            A generation whose config differs from its checkpoint's in
            what decides the result is refused
            (:func:`mmfsp.utils.resume_check.check_resume`). Defaults to
            False.
        title (str, optional): the summary's title. Defaults to the
            config's name.
        log (Callable): where progress lines and the summary table go
            (rank 0 only). Defaults to ``print``.
        force_resume (bool): resume a generation whose config differs from
            its checkpoint's, with a warning. Defaults to False.

    Returns:
        dict: the summary (what ``summary.json`` holds).

    Raises:
        TrainingPreempted: a stop signal came (``PreemptionHook`` in the
            config's ``custom_hooks``, handlers installed by the tool): the
            generation in training was checkpointed, or the next one was
            not started.
    """
    settings = GenerationSettings.from_cfg(
        cfg.get('generations'), num_generations)
    root = work_dir if work_dir is not None else cfg.get('work_dir')
    if root is None:
        raise ValueError('no work_dir: pass one or set cfg.work_dir')
    root = osp.abspath(root)
    init_distributed(cfg, launcher)
    title = title or osp.splitext(osp.basename(cfg.filename or 'config'))[0]
    say = log if is_main() else (lambda text: None)

    check_finished(root, finished_generations(root), bool(resume))
    if resume is True and not (osp.isdir(root) and os.listdir(root)):
        say(f'WARNING: --resume: {root} holds no run (no generation '
            f'started); training starts from generation 0. Is the work dir '
            f'right (--work-dir)?')
    records: List[dict] = []
    for generation in range(settings.num_generations):
        record = read_done(root, generation)
        if record is not None:
            check_record(record, settings, root, generation)
            say(f'generation {generation}: finished, skipped '
                f'({osp.join(root, record["checkpoint"])})')
        else:
            if agreed_stop_requested():
                raise TrainingPreempted(
                    f'Stop requested (signal) before generation '
                    f'{generation} started; generations 0-{generation - 1} '
                    f'are finished in {root}.')
            record = _train_one(cfg, settings, root, generation, records,
                                launcher, resume, say, force_resume)
        records.append(record)
        if is_main():
            write_summary(root, title, settings, records)
        barrier()
    say(summary_markdown(title, settings, summary_rows(records)))
    say(f'summary written to {osp.join(root, SUMMARY_MD)} and '
        f'{osp.join(root, SUMMARY_JSON)}')
    return summary_data(title, settings, records)


def _train_one(cfg: Config, settings: GenerationSettings, root: str,
               generation: int, records: List[dict], launcher: str,
               resume: Union[bool, str], say: Callable[[str], None],
               force_resume: bool = False) -> dict:
    """Train, export and test generation ``generation``; write its done
    marker; returns its record. Raises :class:`TrainingPreempted` when a
    signal stopped its training (after a checkpoint)."""
    teacher = None
    if settings.is_distilled(generation):
        teacher = osp.join(root, records[generation - 1]['checkpoint'])
    gcfg = build_generation_config(cfg, generation, root, teacher, settings)
    # resume the generation's own checkpoint if it has one, checked
    # against its config; a generation not started yet starts
    gcfg.resume = bool(resume) and resume_checkpoint(
        gcfg.work_dir, 'auto') is not None
    if gcfg.resume:
        check_resume(gcfg, 'auto', force=force_resume, warn=say)
    gcfg.load_from = None
    kind = 'distilled' if settings.is_distilled(generation) else 'plain'
    head_loss = settings.head_loss(generation,
                                   classifier_cfg(cfg)['head']['loss'])
    say(f'generation {generation}: training ({kind}, head loss {head_loss}'
        f'{", teacher " + teacher if teacher else ""}) in {gcfg.work_dir}')
    prepare_runner_cfg(gcfg, launcher, f'gen{generation}_train')
    runner = build_runner(gcfg)
    runner.train()
    stop = next((h for h in runner.hooks
                 if isinstance(h, PreemptionHook) and h.preempted), None)
    if stop is not None:
        raise TrainingPreempted(
            f'Generation {generation} stopped by a signal after iteration '
            f'{runner.iter}, saved to {stop.checkpoint}.', stop.checkpoint,
            stop.exit_code)
    final_ckpt = final_checkpoint(runner)
    # The generation alone, on the test set: the trained model as it is
    # (the student of a distillation model), i.e. its final weights.
    metrics = plain_metrics(runner.test())
    del runner
    free_memory()

    gen_dir = generation_dir(root, generation)
    weights = final_weights_path(root, generation)
    if is_main():
        export_final_weights(
            final_ckpt, weights,
            dict(generation=generation, setting=settings.label))
    barrier()

    if generation == 0:
        ensemble_metrics = dict(metrics)
    else:
        members = [osp.join(root, r['checkpoint'])
                   for r in records] + [weights]
        ensemble_metrics = run_ensemble_test(
            cfg, members, osp.join(gen_dir, 'ensemble_test'), launcher,
            f'gen{generation}_ensemble_test')
    record = dict(
        generation=generation,
        kind=kind,
        checkpoint=osp.relpath(weights, root),
        trained_checkpoint=osp.relpath(final_ckpt, root),
        teacher=None if teacher is None else osp.relpath(teacher, root),
        head_loss=head_loss,
        settings=plain(settings.identity()),
        metrics=metrics,
        ensemble_metrics=ensemble_metrics)
    if is_main():
        write_text(
            osp.join(gen_dir, DONE_FILE), json.dumps(record, indent=2) + '\n')
        say(f'generation {generation}: done, {metrics}; ensemble 0-'
            f'{generation}: {ensemble_metrics}')
    barrier()
    return record
