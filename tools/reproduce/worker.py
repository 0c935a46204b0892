"""What a worker process does for one run of a reproduction:
:func:`run_task` (the scheduler's task function) trains and tests a run,
tests an ensemble or trains one generation, and writes its
``result.json`` (:func:`~.store.run_once`). Two hooks, registered on the
run's runner as objects (not config entries): :class:`ReportHook` publishes
the iteration and applies the threads the scheduler gives the run,
:class:`ChannelsLastHook` trains in channels_last memory format.
"""
import os.path as osp
import time
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

from .plan import RunSpec
from .presets import Preset
from .scheduler import TaskContext
from .store import load_predictions, run_dir, run_once, save_predictions


@dataclass(frozen=True)
class WorkerOptions:
    """How the runs train (speed only; results depend on nothing here).

    Args:
        channels_last (bool): convolutions in channels_last memory format
            (faster on this project's CPU, see docs/reproduction.md,
            "Speed"). Defaults to True.
    """

    channels_last: bool = True


def _hooks():
    """The two hook classes (mmengine imported in the worker only)."""
    import torch
    from mmengine.hooks import Hook

    class ReportHook(Hook):
        """Publish the run's iteration to the scheduler and apply the
        torch threads it gives the run now."""

        priority = 'VERY_LOW'

        def __init__(self, ctx: TaskContext) -> None:
            self.ctx = ctx

        def before_train(self, runner) -> None:
            self.ctx.report(runner.iter, force=True)

        def after_train_iter(self, runner, batch_idx: int,
                             data_batch=None, outputs=None) -> None:
            self.ctx.report(runner.iter + 1)

    class ChannelsLastHook(Hook):
        """Convolution weights (teacher included) in channels_last memory
        format once the weights are initialised or loaded; activations
        follow the weights' format."""

        priority = 'VERY_HIGH'

        def before_train(self, runner) -> None:
            runner.model.to(memory_format=torch.channels_last)

    return ReportHook, ChannelsLastHook


def prepare_runner(runner, cfg, ctx: TaskContext, preset: Preset,
                   options: WorkerOptions, train: bool = True) -> None:
    """Give a built runner the reproduction's data path and hooks."""
    report_hook, channels_last_hook = _hooks()
    if train:
        if preset.data_path == 'tensor':
            from .fastdata import attach_train_loader, tensor_train_loader
            attach_train_loader(runner, tensor_train_loader(cfg, ctx.device))
        runner.register_hook(report_hook(ctx))
        if options.channels_last:
            runner.register_hook(channels_last_hook())


def amp_dtype() -> str:
    """bfloat16 where the GPU has it (no loss scaling), else float16."""
    import torch
    return 'bfloat16' if torch.cuda.is_bf16_supported() else 'float16'


def _plain_metrics(metrics: dict) -> dict:
    return {k: float(v.item() if hasattr(v, 'item') else v)
            for k, v in metrics.items()}


def _path(work_dir: str, result: dict, key: str = 'checkpoint') -> str:
    return osp.join(work_dir, result[key])


#: the metric key of the transfer probe's accuracy
TRANSFER_KEY = 'transfer/top1'


def transfer_accuracy(config: str, checkpoints: Sequence[str],
                      preset: Preset) -> float:
    """Top-1 accuracy (%) of a linear classifier on the frozen pooled
    features of ``checkpoints`` (models of the config at ``config``, a
    repository path, as ``preset`` changes it) on scikit-learn's digits
    (tools/analysis_tools/transfer_probe.py); two or more checkpoints: their
    features concatenated, the ensemble's features. Only that one probe is
    fitted (not one per member, nor the averaged-feature one)."""
    from analysis_tools.transfer_probe import (build_frozen_model,
                                               digits_target,
                                               ensemble_features,
                                               extract_features, linear_probe)
    from .presets import model_config
    cfg = model_config(config, preset)
    target = digits_target()
    train, test = [], []
    for path in checkpoints:
        model = build_frozen_model(cfg, path)
        train.append(extract_features(model, target.train))
        test.append(extract_features(model, target.test))
    result = linear_probe(
        ensemble_features([x for x, _ in train], 'concat'), train[0][1],
        ensemble_features([x for x, _ in test], 'concat'), test[0][1],
        num_classes=target.num_classes)
    return float(result['top1'])


def run_task(ctx: TaskContext, spec: RunSpec, preset: Preset, work_dir: str,
             options: WorkerOptions = WorkerOptions()) -> dict:
    """The scheduler's task: run ``spec`` once (its ``result.json`` is
    written when it is finished) and return its result."""
    warnings.filterwarnings('ignore')
    import mmfsp  # noqa: F401 - registers the modules, applies the fixes
    where = run_dir(work_dir, spec.key)
    result = run_once(where, spec.identity(preset),
                      lambda: _work(ctx, spec, preset, work_dir, where,
                                    options))
    return result


def _work(ctx: TaskContext, spec: RunSpec, preset: Preset, work_dir: str,
          where: str, options: WorkerOptions) -> dict:
    t0 = time.time()
    if spec.kind == 'train':
        out = _train(ctx, spec, preset, work_dir, where, options)
    elif spec.kind == 'ensemble':
        out = _ensemble(ctx, spec, preset, work_dir, where)
    elif spec.kind == 'generation':
        out = _generation(ctx, spec, preset, work_dir, where, options)
    else:
        raise ValueError(f'{spec.key}: unknown kind {spec.kind!r}')
    out.update(key=spec.key, label=spec.label, kind=spec.kind,
               seconds=time.time() - t0, device=ctx.device)
    return out


def _train_and_test(ctx: TaskContext, cfg, preset: Preset,
                    options: WorkerOptions, total: int, where: str):
    """Train ``cfg``, test it; ``(metrics, final checkpoint)``."""
    from mmfsp.utils import build_runner
    from .configs import use_amp_wrapper
    from .store import ReproductionError
    if preset.amp and ctx.device.startswith('cuda'):
        use_amp_wrapper(cfg, amp_dtype())
    runner = build_runner(cfg)
    prepare_runner(runner, cfg, ctx, preset, options)
    runner.train()
    metrics = runner.test()
    final = osp.join(where, f'iter_{total}.pth')
    if not osp.isfile(final):
        raise ReproductionError(f'{where}: no final checkpoint {final}')
    del runner
    _free_memory(ctx.device)
    return _plain_metrics(metrics), final


def _free_memory(device: str) -> None:
    if device.startswith('cuda'):
        import gc

        import torch
        gc.collect()
        torch.cuda.empty_cache()


def _train(ctx: TaskContext, spec: RunSpec, preset: Preset, work_dir: str,
           where: str, options: WorkerOptions) -> dict:
    from .configs import train_config
    teacher = _path(work_dir, ctx.inputs[spec.teacher]) if spec.teacher \
        else None
    cfg = train_config(spec, preset, where, teacher)
    metrics, final = _train_and_test(ctx, cfg, preset, options,
                                     spec.stage1 + spec.stage2, where)
    preds = save_predictions(where)
    return dict(metrics=metrics,
                checkpoint=osp.relpath(final, work_dir),
                predictions=osp.relpath(preds, work_dir))


def _generation(ctx: TaskContext, spec: RunSpec, preset: Preset,
                work_dir: str, where: str, options: WorkerOptions) -> dict:
    from generations import export_final_weights
    from .configs import generation_config
    teacher: Optional[str] = None
    if spec.teacher:
        teacher = _path(work_dir, ctx.inputs[spec.teacher])
    cfg = generation_config(spec, preset, where, teacher)
    head_loss = dict(cfg.model['head']['loss']) if 'head' in cfg.model \
        else dict(cfg.model['architecture']['head']['loss'])
    metrics, final = _train_and_test(ctx, cfg, preset, options, spec.stage2,
                                     where)
    weights = osp.join(where, f'generation_{spec.generation}.pth')
    export_final_weights(final, weights,
                         dict(generation=spec.generation,
                              setting=' and '.join(spec.settings)))
    if preset.transfer_probe:
        metrics[TRANSFER_KEY] = transfer_accuracy(spec.config, [weights],
                                                  preset)
    preds = save_predictions(where)
    return dict(metrics=metrics, generation=spec.generation,
                settings=list(spec.settings), teacher=spec.teacher,
                head_loss=head_loss,
                checkpoint=osp.relpath(weights, work_dir),
                trained_checkpoint=osp.relpath(final, work_dir),
                predictions=osp.relpath(preds, work_dir))


def _ensemble(ctx: TaskContext, spec: RunSpec, preset: Preset,
              work_dir: str, where: str) -> dict:
    from mmfsp.utils import build_runner
    from .configs import ensemble_config
    from .stats import prediction_diversity
    members = [ctx.inputs[m] for m in spec.members]
    cfg = ensemble_config(spec, preset, where,
                          [_path(work_dir, m) for m in members])
    runner = build_runner(cfg)
    metrics = runner.test()
    del runner
    _free_memory(ctx.device)
    preds = save_predictions(where)
    member_preds = [load_predictions(_path(work_dir, m, 'predictions'))
                    for m in members]
    diversity = prediction_diversity([p[0] for p in member_preds],
                                     member_preds[0][1])
    metrics = _plain_metrics(metrics)
    if preset.transfer_probe:
        metrics[TRANSFER_KEY] = transfer_accuracy(
            spec.config, [_path(work_dir, m) for m in members], preset)
    return dict(metrics=metrics,
                predictions=osp.relpath(preds, work_dir),
                members=list(spec.members), diversity=diversity)
