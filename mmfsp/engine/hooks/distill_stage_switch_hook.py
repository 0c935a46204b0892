"""Switch a staged distillation run to its next stage at a fixed iteration:
Algorithm 1 of Yim et al., "A Gift from Knowledge Distillation" (CVPR 2017)
in one training run. What the switch does, and how resuming works around
it: docs/fsp.md ("What happens during the run").
"""
import re
from typing import List, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmfsp.models.utils import (conv_bn_pairs, fresh_init_conv_norms,
                                rescale_conv_bn_norms)
from mmfsp.registry import HOOKS
from mmfsp.utils.config_check import get_entry, type_name

META_KEY = 'distill_stage'


def _optimizers(runner) -> list:
    wrapper = getattr(runner, 'optim_wrapper', None)
    if wrapper is None or isinstance(wrapper, dict):
        return []
    wrappers = wrapper.values() if hasattr(wrapper, 'values') else [wrapper]
    return [w.optimizer for w in wrappers if hasattr(w, 'optimizer')]


def _iter_max_iters(cfg) -> Optional[int]:
    """``train_cfg.max_iters`` of an iteration-based training, else None
    (mmengine: ``type='IterBasedTrainLoop'``, or no type and
    ``by_epoch=False``)."""
    train_cfg = cfg.get('train_cfg')
    if not isinstance(train_cfg, dict):
        return None
    loop = train_cfg.get('type')
    iter_based = train_cfg.get('by_epoch') is False if loop is None else \
        type_name(loop) == 'IterBasedTrainLoop'
    max_iters = train_cfg.get('max_iters')
    return int(max_iters) if iter_based and max_iters is not None else None


def _iter_lr_schedulers(cfg) -> List[Tuple[int, dict]]:
    """``(index, scheduler)`` of the iteration-based lr schedulers of
    ``cfg.param_scheduler``."""
    schedulers = cfg.get('param_scheduler')
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    return [(j, s) for j, s in enumerate(schedulers or [])
            if isinstance(s, dict) and s.get('by_epoch', True) is False and (
                'LR' in type_name(s.get('type'))
                or s.get('param_name') == 'lr')]


def _span(scheduler: dict) -> Tuple[float, float]:
    begin = scheduler.get('begin', 0)
    end = scheduler.get('end')
    return float(begin or 0), float('inf') if end is None else float(end)


def _describe_scheduler(j: int, scheduler: dict) -> str:
    begin, end = _span(scheduler)
    end_text = 'not set' if end == float('inf') else f'{end:g}'
    return (f'param_scheduler[{j}] ({type_name(scheduler.get("type"))}, '
            f'begin={begin:g}, end={end_text})')


@HOOKS.register_module()
class DistillStageSwitchHook(Hook):
    """Move a :class:`SingleTeacherDistill` model to stage ``stage`` at the
    start of iteration ``switch_iter``.

    At the switch the hook saves the model as
    ``stage<k>_iter_<switch_iter>.pth`` in the work dir (weights only),
    frees the teacher when no later stage uses it (module, recorder hooks,
    optimizer entries), sets the model's stage, resets the optimizer state
    (fresh momentum), drops the finished stage's loss entries from the log,
    optionally rescales the student's conv weights (``rescale_weight_norms``)
    and sets every parameter group's lr to ``stage_lr`` times the group's
    own multiplier. The new stage's lr decay is an ordinary param scheduler
    whose ``begin`` is ``switch_iter`` (its milestones count from there).
    Checkpoints carry the stage in ``meta['distill_stage']``, so a run
    resumed after the switch continues in the new stage. ``switch_iter ==
    max_iters`` trains stage 1 alone.

    Args:
        switch_iter (int): The first iteration of the new stage.
        stage (int): The stage switched to. Defaults to 2.
        stage_lr (float, optional): The learning rate the new stage starts
            with (before multipliers). Defaults to None: the scheduled lr
            is kept and the param schedulers own it.
        reset_optimizer (bool): Clear the optimizer state (momentum).
            Defaults to True.
        free_teacher (bool): Free the teacher when no later stage uses it.
            Defaults to True.
        save_checkpoint (bool): Save the model as
            ``stage<k>_iter_<switch_iter>.pth`` before switching. Defaults
            to True.
        rescale_weight_norms (bool): Rescale every student backbone conv
            that feeds a batch norm (and that BN's running statistics) to
            the weight norm of a fresh initialisation, keeping the student's
            function, so that stage 2 starts at the effective learning rate
            of a fresh network (an mmfsp option, not in the paper;
            docs/fsp.md, "Weight-norm growth in stage 1"). Defaults to
            False.

    Example:
        >>> # 21k iterations of FSP loss, then 21k of cross-entropy
        >>> custom_hooks = [
        >>>     dict(type='DistillStageSwitchHook', switch_iter=21000,
        >>>          stage_lr=0.1)
        >>> ]
        >>> param_scheduler = [
        >>>     dict(type='MultiStepLR', by_epoch=False, begin=0, end=21000,
        >>>          milestones=[11000, 16000]),
        >>>     dict(type='MultiStepLR', by_epoch=False, begin=21000,
        >>>          end=42000, milestones=[11000, 16000]),
        >>> ]
        >>> train_cfg = dict(by_epoch=False, max_iters=42000)
    """

    # Before RuntimeInfoHook, so that the switch iteration logs its new lr.
    priority = 'HIGHEST'

    def __init__(self,
                 switch_iter: int,
                 stage: int = 2,
                 stage_lr: Optional[float] = None,
                 reset_optimizer: bool = True,
                 free_teacher: bool = True,
                 save_checkpoint: bool = True,
                 rescale_weight_norms: bool = False) -> None:
        if not isinstance(switch_iter, int) or switch_iter < 0:
            raise ValueError(f'switch_iter must be an int >= 0, got '
                             f'{switch_iter!r}')
        if stage_lr is not None and stage_lr <= 0:
            raise ValueError(f'stage_lr must be > 0, got {stage_lr}')
        self.switch_iter = switch_iter
        self.stage = stage
        self.stage_lr = stage_lr
        self.reset_optimizer = reset_optimizer
        self.free_teacher = free_teacher
        self.save_checkpoint = save_checkpoint
        self.rescale_weight_norms = rescale_weight_norms

    @classmethod
    def check_config(cls, cfg, key: str) -> List[str]:
        """The errors of the hook at ``key`` (``'custom_hooks.0'``) of
        ``cfg`` against an iteration-based schedule (an epoch-based one is
        checked in :meth:`before_train`; see
        :func:`mmfsp.utils.check_config`): a switch after the end of
        training (``switch_iter == max_iters`` is stage 1 alone), and with
        ``stage_lr``, an lr scheduler running across the switch or a
        new-stage schedule beginning after it; both would shift the new
        stage's decay against the restarted lr (docs/fsp.md, "A config for
        a new teacher / student pair")."""
        hook = get_entry(cfg, key)
        switch = hook.get('switch_iter') if isinstance(hook, dict) else None
        max_iters = _iter_max_iters(cfg)
        if not isinstance(switch, int) or max_iters is None:
            return []  # __init__ rejects a bad value; epochs: before_train
        index = re.sub(r'\.(\d+)$', r'[\1]', key)
        where = f'{index} ({type_name(hook.get("type"))})'
        stage = hook.get('stage', 2)
        if switch > max_iters:
            return [
                f'{where} switches to stage {stage} at iteration {switch}, '
                f'after the end of training (train_cfg.max_iters='
                f'{max_iters}): stage {stage} would never run. Train longer '
                f'(train_cfg.max_iters > {switch}; the stage-2 scheduler\'s '
                f'end is the usual value) or switch earlier ({key}.'
                f'switch_iter <= {max_iters}; switch_iter == max_iters '
                f'trains stage 1 alone).'
            ]
        if hook.get('stage_lr') is None or switch == max_iters:
            return []
        errors = []
        where = f'the stage switch at iteration {switch} ({key}.' \
                f'switch_iter, which restarts the lr at stage_lr=' \
                f'{hook["stage_lr"]})'
        later = []
        for j, scheduler in _iter_lr_schedulers(cfg):
            begin, end = _span(scheduler)
            if begin < switch < end:
                errors.append(
                    f'{_describe_scheduler(j, scheduler)} runs across '
                    f'{where}: it would keep changing the restarted lr, '
                    f'counting its milestones from iteration {begin:g}. '
                    f'End the stage-1 lr schedule at the switch '
                    f'(param_scheduler.{j}.end={switch}) and begin the '
                    f'stage-2 one there (begin={switch}; its milestones '
                    f'count from begin).')
            elif begin >= switch and end > switch:
                later.append((begin, j, scheduler))
        first = min(later, key=lambda x: x[:2]) if later else None
        if first is not None and first[0] > switch:
            begin, j, scheduler = first
            errors.append(
                f'The stage-2 lr schedule begins at iteration {begin:g} '
                f'({_describe_scheduler(j, scheduler)}), not at {where}: '
                f'its milestones would count from {begin:g}, '
                f'{begin - switch:g} iterations after the restart. Set '
                f'param_scheduler.{j}.begin={switch} (or {key}.'
                f'switch_iter={begin:g} if the switch is what is wrong; for '
                f'a constant lr before a later decay keep begin={switch} '
                f'and move the milestones).')
        return errors

    @staticmethod
    def _model(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not all(hasattr(model, attr)
                   for attr in ('set_stage', 'stage', 'free_teacher')):
            raise TypeError(f'DistillStageSwitchHook needs a staged '
                            f'distillation model (SingleTeacherDistill), got '
                            f'{type(model).__name__}')
        return model

    # ----------------------------------------------------------- switch
    def _apply_stage(self, runner) -> None:
        """Structural part: teacher freed, stage set (also on resume)."""
        model = self._model(runner)
        model.set_stage(self.stage)
        needed = any(model.stage_uses_teacher(s)
                     for s in range(self.stage, model.num_stages + 1))
        if self.free_teacher and not needed and model.teacher is not None:
            freed = {id(p) for p in model.free_teacher()}
            for optimizer in _optimizers(runner):
                for group in optimizer.param_groups:
                    group['params'] = [
                        p for p in group['params'] if id(p) not in freed
                    ]
                for key in [k for k in optimizer.state if id(k) in freed]:
                    del optimizer.state[key]

    def _switch(self, runner) -> None:
        model = self._model(runner)
        old = model.stage
        if self.save_checkpoint and runner.train_loop is not None:
            runner.save_checkpoint(
                runner.work_dir, f'stage{old}_iter_{self.switch_iter}.pth',
                save_optimizer=False, save_param_scheduler=False,
                meta=dict(iter=runner.iter, epoch=runner.epoch),
                by_epoch=False)
        self._apply_stage(runner)
        rescaled = self._rescale_student(model) \
            if self.rescale_weight_norms else ''
        lrs = []
        for optimizer in _optimizers(runner):
            if self.reset_optimizer:
                optimizer.state.clear()
            if self.stage_lr is not None:
                base = optimizer.defaults['lr']
                for group in optimizer.param_groups:
                    mult = group.get('initial_lr', base) / base if base else 1
                    group['lr'] = self.stage_lr * mult
            lrs.append(sorted({g['lr'] for g in optimizer.param_groups}))
        # Stage-1 loss entries would otherwise linger in the logs (the log
        # processor averages every scalar it has seen over its window).
        hub = runner.message_hub
        for key in [k for k in hub.log_scalars
                    if k == 'train/loss' or k.startswith('train/distill.')]:
            hub.log_scalars.pop(key)
        runner.logger.info(
            f'Distillation stage {old} -> {self.stage} at iteration '
            f'{runner.iter}: teacher '
            f'{"freed" if model.teacher is None else "kept"}, optimizer state '
            f'{"reset" if self.reset_optimizer else "kept"}, lr {lrs}'
            f'{rescaled}')

    @staticmethod
    def _rescale_student(model) -> str:
        """``rescale_weight_norms`` (see the class docstring); returns a
        log fragment."""
        student = model.architecture
        convs = [conv for conv, _ in conv_bn_pairs(student.backbone)]
        # the whole student: its init_cfg may live on the classifier
        initial = fresh_init_conv_norms(student,
                                        [f'backbone.{c}' for c in convs])
        factors = sorted(rescale_conv_bn_norms(
            student.backbone,
            {c: initial[f'backbone.{c}'] for c in convs}).values())
        if not factors:
            return ', no conv -> BN weights to rescale'
        return (f', {len(factors)} student conv weights rescaled to their '
                f'initial norms (norm / initial: median '
                f'{factors[len(factors) // 2]:.2f}, max {factors[-1]:.2f})')

    # ------------------------------------------------------------ hooks
    def before_train(self, runner) -> None:
        model = self._model(runner)
        if self.stage > model.num_stages:
            raise ValueError(f'DistillStageSwitchHook switches to stage '
                             f'{self.stage} but model.stages has only '
                             f'{model.num_stages}')
        # Also an epoch-based loop's (an iteration-based config is checked
        # before anything is built: check_config).
        max_iters = getattr(runner, 'max_iters', None)
        if isinstance(max_iters, int) and self.switch_iter > max_iters:
            raise ValueError(
                f'DistillStageSwitchHook switches to stage {self.stage} at '
                f'iteration {self.switch_iter}, after the end of training '
                f'({max_iters} iterations): stage {self.stage} would never '
                f'run. Train longer or lower switch_iter (switch_iter == '
                f'{max_iters} trains stage 1 alone).')
        if runner.iter > self.switch_iter and model.stage < self.stage:
            raise RuntimeError(
                f'Resumed at iteration {runner.iter}, after the stage switch '
                f'at {self.switch_iter}, but the model is in stage '
                f'{model.stage}: the checkpoint has no '
                f"meta['{META_KEY}'] (was it saved without this hook?). "
                f'Resume from a checkpoint of this run, or set '
                f'model.stage={self.stage}.')
        if runner.iter < self.switch_iter and model.stage >= self.stage:
            runner.logger.warning(
                f'The model is already in stage {model.stage} at iteration '
                f'{runner.iter}, before the switch at {self.switch_iter} '
                f'(loaded from a stage-{model.stage} checkpoint?): the hook '
                f'will not switch again.')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if runner.iter == self.switch_iter and \
                self._model(runner).stage < self.stage:
            self._switch(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[META_KEY] = self._model(
            runner).stage
        # The message hub still marks the dropped stage-1 entries as
        # resumable; saved, such a mark without its scalar makes mmengine
        # warn when the checkpoint is resumed. Save only the marks of what
        # the hub still holds.
        state = checkpoint.get('message_hub')
        if isinstance(state, dict) and 'resumed_keys' in state:
            hub = runner.message_hub
            checkpoint['message_hub'] = dict(
                state,
                resumed_keys=type(state['resumed_keys'])(
                    (k, v) for k, v in state['resumed_keys'].items()
                    if k in hub.log_scalars or k in hub.runtime_info))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('meta', {}).get(META_KEY)
        if saved is not None and saved >= self.stage and \
                self._model(runner).stage < self.stage:
            self._apply_stage(runner)
            runner.logger.info(
                f'Checkpoint is from distillation stage {saved}: model set '
                f'to stage {self.stage} before loading it')
