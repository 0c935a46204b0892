"""The runner config of each run of a reproduction: a shipped config with
its schedule scaled down (:mod:`mmfsp.utils.schedule_scaling`), the
preset's data settings, quiet logging and few checkpoints. Pure functions:
no file is read but the configs, none is written."""
import os.path as osp
import time
from typing import Optional, Sequence

from mmengine.config import Config

from mmfsp.models.classifiers import ensemble_test_config
from mmfsp.utils.schedule_scaling import (scale_schedule,
                                          scale_two_stage_schedule)
from .plan import RunSpec
from .presets import REPO_ROOT, Preset, repo_config
from .store import checkpoints


def checkpoint_interval(total: int) -> int:
    """About three checkpoints per run to resume from; only the last one
    for tiny runs (each save formats the config, about a second)."""
    return total if total < 30 else max(1, total // 3)


def _data_settings(cfg: Config, preset: Preset, validate: bool) -> None:
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if not isinstance(loader, dict):
            continue
        loader['num_workers'] = 0
        loader['persistent_workers'] = False
        dataset = loader['dataset']
        # no worker processes share the data list: skip its serialisation
        # (halves the start of a Fashion-MNIST runner)
        dataset['serialize_data'] = False
        root = dataset.get('data_root')
        if isinstance(root, str) and not osp.isabs(root):
            dataset['data_root'] = osp.join(REPO_ROOT, root)
        if name == 'train_dataloader':
            loader['batch_size'] = preset.batch_size
            if preset.train_images:
                dataset['indices'] = preset.train_images
        elif not preset.all_test_images:
            dataset['indices'] = preset.test_images
    if not validate:
        cfg.val_dataloader = None
        cfg.val_cfg = None
        cfg.val_evaluator = None


def _test_with_dump(cfg: Config, run_dir: str) -> None:
    evaluator = cfg.get('test_evaluator')
    evaluators = [evaluator] if isinstance(evaluator, dict) else \
        list(evaluator)
    evaluators.append(
        dict(type='DumpResults',
             out_file_path=osp.join(run_dir, 'predictions.pkl')))
    cfg.test_evaluator = evaluators


def _logs_and_checkpoints(cfg: Config, log_interval: int,
                          total: int) -> None:
    cfg.log_level = 'WARNING'
    # validation metrics logged at their iteration (LoggerHook's default
    # logs them at the epoch, always 0 in an iteration-based run)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=log_interval, log_metric_by_epoch=False)
    # each logged loss is the mean over its own interval, not over 100
    cfg.log_processor = dict(by_epoch=False, window_size=log_interval)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False,
        interval=checkpoint_interval(total), max_keep_ckpts=1,
        save_last=True)


def _progress_bar(cfg: Config, key: str) -> None:
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='ProgressBarHook', description=key)
    ]


def train_config(spec: RunSpec, preset: Preset, run_dir: str,
                 teacher_ckpt: Optional[str] = None) -> Config:
    """The runner config of a training run ``spec``."""
    cfg = repo_config(spec.config)
    if spec.stage1:
        scale_two_stage_schedule(cfg, spec.stage1, spec.stage2)
    else:
        scale_schedule(cfg, spec.stage2)
    total = spec.stage1 + spec.stage2
    cfg.work_dir = run_dir
    cfg.experiment_name = f'{spec.key}_{time.time_ns()}'
    cfg.randomness = dict(seed=spec.seed)
    _logs_and_checkpoints(cfg, max(1, spec.stage2 // 50), total)
    if spec.teacher is not None:
        if teacher_ckpt is None:
            raise ValueError(f'{spec.key} needs its teacher\'s checkpoint')
        cfg.model.teacher_ckpt = teacher_ckpt
    if spec.shuffle_seed is not None:
        cfg.model.distiller.type = 'FSPDistiller'
        cfg.model.distiller.shuffle_seed = spec.shuffle_seed
    validate = spec.val_interval > 0
    if validate:
        cfg.train_cfg.val_interval = spec.val_interval
        # no validation in stage 1: its head is not trained
        cfg.train_cfg.val_begin = spec.stage1 + 1
    else:
        cfg.train_cfg.val_interval = total
    _data_settings(cfg, preset, validate)
    _test_with_dump(cfg, run_dir)
    _progress_bar(cfg, spec.key)
    cfg.resume = bool(checkpoints(run_dir))
    cfg.load_from = None
    return cfg


def ensemble_config(spec: RunSpec, preset: Preset, run_dir: str,
                    members: Sequence[str]) -> Config:
    """The test-only config of the mean-softmax ensemble ``spec`` of the
    checkpoints ``members`` (as tools/test_ensemble.py builds it)."""
    cfg = ensemble_test_config(repo_config(spec.config), members, run_dir)
    cfg.custom_hooks = []
    cfg.experiment_name = f'{spec.key}_{time.time_ns()}'
    cfg.log_level = 'WARNING'
    _data_settings(cfg, preset, validate=False)
    _test_with_dump(cfg, run_dir)
    return cfg


def generations_config(spec: RunSpec, preset: Preset) -> Config:
    """The generations config of ``spec`` (its schedule scaled to
    ``spec.stage2`` iterations per generation)."""
    cfg = repo_config(spec.config)
    scale_schedule(cfg, spec.stage2)
    cfg.randomness = dict(seed=spec.seed)
    _logs_and_checkpoints(cfg, max(1, spec.stage2 // 20), spec.stage2)
    cfg.train_cfg.val_interval = spec.stage2
    _data_settings(cfg, preset, validate=False)
    _progress_bar(cfg, spec.key)
    return cfg
