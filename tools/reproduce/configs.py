"""The runner config of each run of a reproduction: a shipped config with
its schedule scaled down (:mod:`mmfsp.utils.schedule_scaling`), the
preset's data settings, quiet logging, only the checkpoints and
evaluations the reproduction reads, AMP on a GPU. Pure functions: no file
is read but the configs, none is written."""
import os.path as osp
import time
from typing import Optional, Sequence

from mmengine.config import Config

from mmfsp.models.classifiers import ensemble_test_config
from mmfsp.utils.schedule_scaling import (scale_schedule,
                                          scale_two_stage_schedule)
from .plan import RunSpec
from .presets import (REPO_ROOT, STUDENT_GROUPS, VALIDATION_IMAGES, Preset,
                      model_config, repo_config)
from .store import checkpoints

#: a run longer than this also saves every this many iterations (to resume
#: from); a shorter one only at its end (each save formats the config,
#: about a second on the CPU)
CHECKPOINT_EVERY = 10000
#: the runs whose stage-1 checkpoint the weight-norm table reads
STAGE1_CHECKPOINT_RUNS = frozenset(
    key for g in STUDENT_GROUPS.values() for key in (g.fsp, g.recommended))
AMP_DTYPES = ('float16', 'bfloat16')


def checkpoint_interval(total: int) -> int:
    """The last iteration only, or every :data:`CHECKPOINT_EVERY`
    iterations in a longer run (the reproduction reads only the final
    checkpoint; the others are there to resume from)."""
    return total if total <= CHECKPOINT_EVERY else CHECKPOINT_EVERY


def use_amp_wrapper(cfg: Config, dtype: str) -> None:
    """Train with mmengine's ``AmpOptimWrapper`` in ``dtype`` ('float16'
    with dynamic loss scaling, or 'bfloat16'); GPUs only (mmengine refuses
    it without one)."""
    if dtype not in AMP_DTYPES:
        raise ValueError(f'AMP dtype must be one of {AMP_DTYPES}, got '
                         f'{dtype!r}')
    wrapper = dict(cfg.optim_wrapper)
    wrapper['type'] = 'AmpOptimWrapper'
    wrapper['dtype'] = dtype
    if dtype == 'float16':
        wrapper['loss_scale'] = 'dynamic'
    cfg.optim_wrapper = wrapper


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
            # endless shuffled epochs: mmengine's iteration loop sleeps 2 s
            # at the end of every epoch of a finite sampler
            loader['sampler'] = dict(type='InfiniteSampler', shuffle=True)
            if preset.train_images:
                dataset['indices'] = preset.train_images
        elif preset.evaluate_on == 'validation':
            # held-out training images (mmpretrain picks the files by
            # test_mode); the first test_images of them with a subset
            dataset['split'] = 'train'
            dataset['test_mode'] = False
            first, end = VALIDATION_IMAGES
            dataset['indices'] = list(range(
                first, end if preset.all_test_images else
                first + preset.test_images))
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


def cosine_schedule(iters: int) -> dict:
    """mmengine's cosine decay from the optimizer's lr to 0 over
    ``iters`` iterations (a preset's ``generation_schedule='cosine'``)."""
    return dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
                end=iters, T_max=iters, eta_min=0.0)


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
    if spec.stage1:
        # the stage-1 checkpoint only where the weight-norm table reads it
        for hook in cfg.get('custom_hooks') or []:
            if hook.get('type') == 'DistillStageSwitchHook':
                hook['save_checkpoint'] = spec.key in STAGE1_CHECKPOINT_RUNS
    validate = spec.val_interval > 0
    if validate:
        cfg.train_cfg.val_interval = spec.val_interval
        # no validation in stage 1: its head is not trained
        cfg.train_cfg.val_begin = spec.stage1 + 1
    else:
        cfg.train_cfg.val_interval = total
    _data_settings(cfg, preset, validate)
    _test_with_dump(cfg, run_dir)
    cfg.resume = bool(checkpoints(run_dir))
    cfg.load_from = None
    return cfg


def ensemble_config(spec: RunSpec, preset: Preset, run_dir: str,
                    members: Sequence[str]) -> Config:
    """The test-only config of the mean-softmax ensemble ``spec`` of the
    checkpoints ``members`` (as tools/test_ensemble.py builds it)."""
    cfg = ensemble_test_config(model_config(spec.config, preset), members,
                               run_dir)
    cfg.custom_hooks = []
    cfg.experiment_name = f'{spec.key}_{time.time_ns()}'
    cfg.log_level = 'WARNING'
    _data_settings(cfg, preset, validate=False)
    _test_with_dump(cfg, run_dir)
    return cfg


def generation_config(spec: RunSpec, preset: Preset, run_dir: str,
                      teacher_ckpt: Optional[str] = None) -> Config:
    """The runner config of generation ``spec.generation`` of the
    generations config ``spec.config`` (tools/generations'
    ``build_generation_config``: the plain classifier with the
    generation's head loss, or a ``SingleTeacherDistill`` learning from
    ``teacher_ckpt``, the previous generation's final weights), its
    schedule scaled to ``spec.stage2`` iterations, seed ``spec.seed +
    spec.generation``, trained in ``run_dir`` (with the preset's
    ``generation_schedule`` and ``generation_width``)."""
    from generations import GenerationSettings, build_generation_config
    cfg = model_config(spec.config, preset)
    scale_schedule(cfg, spec.stage2)
    if preset.generation_schedule == 'cosine':
        cfg.param_scheduler = cosine_schedule(spec.stage2)
    cfg.randomness = dict(seed=spec.seed)
    _logs_and_checkpoints(cfg, max(1, spec.stage2 // 20), spec.stage2)
    cfg.train_cfg.val_interval = spec.stage2
    _data_settings(cfg, preset, validate=False)
    settings = GenerationSettings.from_cfg(cfg.get('generations'))
    if settings.is_distilled(spec.generation) and teacher_ckpt is None:
        raise ValueError(f'{spec.key} needs its teacher\'s weights')
    out = build_generation_config(cfg, spec.generation, run_dir,
                                  teacher_ckpt, settings)
    out.pop('generations', None)
    out.work_dir = run_dir
    out.experiment_name = f'{spec.key}_{time.time_ns()}'
    _test_with_dump(out, run_dir)
    out.resume = bool(checkpoints(run_dir))
    out.load_from = None
    return out
