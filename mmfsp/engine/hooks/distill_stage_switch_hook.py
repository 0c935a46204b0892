"""Switch a staged distillation run to its next stage at a fixed iteration:
Algorithm 1 of Yim et al., "A Gift from Knowledge Distillation" (CVPR 2017)
in one training run. What the switch does, and how resuming works around
it: docs/fsp.md ("What happens during the run").
"""
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmfsp.models.utils import (conv_bn_pairs, fresh_init_conv_norms,
                                rescale_conv_bn_norms)
from mmfsp.registry import HOOKS
from mmfsp.utils.config_check import (distill_loss_stages,
                                      format_cfg_options, get_entry,
                                      iter_max_iters, type_name,
                                      with_cfg_options)
from mmfsp.utils.schedule_scaling import remap_two_stage_schedule

META_KEY = 'distill_stage'
INF = float('inf')
#: Schedulers whose shape a stage keeps when its length is scaled
#: (:func:`remap_two_stage_schedule` scales their iteration counts): the
#: ``type`` without its ``LR`` / ``Momentum`` / ``ParamScheduler`` suffix.
_SCALABLE = ('MultiStep', 'Step', 'CosineAnnealing', 'Linear', 'Constant',
             'Poly')
WEIGHT_HOOK = 'LossWeightScheduleHook'


def _optimizers(runner) -> list:
    wrapper = getattr(runner, 'optim_wrapper', None)
    if wrapper is None or isinstance(wrapper, dict):
        return []
    wrappers = wrapper.values() if hasattr(wrapper, 'values') else [wrapper]
    return [w.optimizer for w in wrappers if hasattr(w, 'optimizer')]


def _lr_schedulers(runner) -> list:
    """The built lr schedulers of ``runner``, in the order they step."""
    schedulers = getattr(runner, 'param_schedulers', None) or []
    if isinstance(schedulers, dict):
        schedulers = [s for group in schedulers.values() for s in group]
    return [s for s in schedulers if getattr(s, 'param_name', None) == 'lr']


def _iter_span(scheduler, epoch_length: Optional[int]) -> Tuple[float,
                                                                 float]:
    """``(begin, end)`` of a built scheduler in iterations (an epoch-based
    one's epochs times ``epoch_length``)."""
    factor = epoch_length if scheduler.by_epoch else 1
    if factor is None:
        return INF, INF
    end = scheduler.end * factor if scheduler.end < 1e9 else INF
    return scheduler.begin * factor, end


def _epoch_length(runner) -> Optional[int]:
    try:
        return len(runner.train_dataloader)
    except Exception:  # not built, or infinite
        return None


def _schedulers(cfg) -> Tuple[str, List[Tuple[int, dict]]]:
    """``(key prefix, [(index, scheduler)])`` of ``cfg.param_scheduler``
    (a list, or one dict whose key prefix has no index)."""
    schedulers = cfg.get('param_scheduler')
    if isinstance(schedulers, dict):
        return 'param_scheduler', [(-1, schedulers)]
    return 'param_scheduler.', list(enumerate(schedulers or []))


def _sched_key(prefix: str, j: int) -> str:
    return prefix if j < 0 else f'{prefix}{j}'


def _iter_lr_schedulers(cfg) -> List[Tuple[int, dict]]:
    """``(index, scheduler)`` of the iteration-based lr schedulers of
    ``cfg.param_scheduler`` (index -1: ``param_scheduler`` is one dict)."""
    return [(j, s) for j, s in _schedulers(cfg)[1]
            if isinstance(s, dict) and s.get('by_epoch', True) is False and (
                'LR' in type_name(s.get('type'))
                or s.get('param_name') == 'lr')]


def _span(scheduler: dict) -> Tuple[float, float]:
    begin = scheduler.get('begin', 0)
    end = scheduler.get('end')
    return float(begin or 0), INF if end is None else float(end)


def _describe_scheduler(j: int, scheduler: dict) -> str:
    begin, end = _span(scheduler)
    end_text = 'not set' if end == INF else f'{end:g}'
    index = '' if j < 0 else f'[{j}]'
    return (f'param_scheduler{index} ({type_name(scheduler.get("type"))}, '
            f'begin={begin:g}, end={end_text})')


def _straddlers(schedulers: Sequence[Tuple[int, dict]],
                t: float) -> List[Tuple[int, dict]]:
    """The schedulers running across iteration ``t`` (begun before it,
    ending after it)."""
    return [(j, s) for j, s in schedulers
            if _span(s)[0] < t < _span(s)[1]]


def _diff_options(before, after) -> Dict[str, Any]:
    """The ``--cfg-options`` that turn ``before``'s ``param_scheduler`` and
    custom hooks' ``begin``/``end`` into ``after``'s."""
    options: Dict[str, Any] = {}
    prefix, old = _schedulers(before)
    new = dict(_schedulers(after)[1])
    for j, sched in old:
        for k in ('begin', 'end', 'milestones', 'T_max', 'step_size'):
            default = 0 if k == 'begin' else None
            if new[j].get(k, default) != sched.get(k, default):
                options[f'{_sched_key(prefix, j)}.{k}'] = new[j][k]
    for i, hook in enumerate(before.get('custom_hooks') or []):
        for k in ('begin', 'end'):
            if isinstance(hook, dict) and isinstance(hook.get(k), int) and \
                    after.custom_hooks[i][k] != hook[k]:
                options[f'custom_hooks.{i}.{k}'] = after.custom_hooks[i][k]
    return options


class _StageLayout:
    """The iteration-based schedule of a config around one stage switch:
    what must hold so that every schedule of the new stage is the one a
    plain run starting at the switch has (see
    :meth:`DistillStageSwitchHook.check_config`)."""

    def __init__(self, cfg, key: str) -> None:
        self.cfg = cfg
        self.key = key
        self.hook = get_entry(cfg, key)
        self.switch = self.hook.get('switch_iter')
        self.stage = self.hook.get('stage', 2)
        self.stage_lr = self.hook.get('stage_lr')
        self.max_iters = iter_max_iters(cfg)
        self.lr = _iter_lr_schedulers(cfg)

    @property
    def where(self) -> str:
        index = re.sub(r'\.(\d+)$', r'[\1]', self.key)
        return f'{index} ({type_name(self.hook.get("type"))})'

    # ------------------------------------------------------ lr schedule
    def late(self, switch: int) -> Optional[Tuple[int, dict]]:
        """The first lr scheduler of the new stage when none begins at the
        switch but one begins later, before the end of training."""
        begins = [(_span(s)[0], j, s) for j, s in self.lr
                  if _span(s)[0] >= switch]
        if not begins or min(begins, key=lambda x: x[:2])[0] == switch:
            return None
        begin, j, sched = min(begins, key=lambda x: x[:2])
        return (j, sched) if begin < self.max_iters else None

    def boundaries(self) -> List[int]:
        """The iterations where the lr schedule can switch stages: where an
        lr scheduler begins and none runs across, inside the run."""
        return sorted({
            int(_span(s)[0]) for _, s in self.lr
            if 0 < _span(s)[0] < self.max_iters and not _straddlers(
                self.lr, _span(s)[0])
        })

    def lr_problems(self) -> List[str]:
        """What keeps the restarted lr from being the new stage's plain
        schedule (empty without ``stage_lr``: no restart)."""
        if self.stage_lr is None:
            return []
        s = self.switch
        problems = [
            f'{_describe_scheduler(j, sched)} runs across the switch (it '
            f'would go on changing the restarted lr, its milestones and '
            f'length counted from iteration {_span(sched)[0]:g})'
            for j, sched in _straddlers(self.lr, s)
        ]
        late = self.late(s)
        if late is not None:
            j, sched = late
            begin = _span(sched)[0]
            problems.append(
                f'the first lr scheduler after the switch, '
                f'{_describe_scheduler(j, sched)}, begins {begin - s:g} '
                f'iterations after it (stage {self.stage} would first run '
                f'at the constant stage_lr, then count its schedule from '
                f'iteration {begin:g})')
        elif self.none_after(s):
            problems.append(
                f'no lr scheduler begins at or after the switch (stage '
                f'{self.stage} would run at the constant stage_lr for all '
                f'of its {self.max_iters - s} iterations)')
        return problems

    def none_after(self, switch: int) -> bool:
        """The config has lr schedulers, but none in the new stage (a
        config without any runs at constant lrs: it is left alone)."""
        return bool(self.lr) and not any(
            switch <= _span(sched)[0] < self.max_iters
            for _, sched in self.lr)

    # -------------------------------------------- loss-weight schedules
    def windows(self) -> List[Tuple[int, dict, str, List[int]]]:
        """``(index, hook, loss, stages)`` of the custom hooks scheduling
        the weight of a distill loss that only some stages compute."""
        found = []
        for i, hook in enumerate(self.cfg.get('custom_hooks') or []):
            if not isinstance(hook, dict) or \
                    type_name(hook.get('type')) != WEIGHT_HOOK or \
                    not isinstance(hook.get('loss_name'), str):
                continue
            used = distill_loss_stages(self.cfg, hook['loss_name'])
            if used:
                found.append((i, hook, hook['loss_name'], used))
        return found

    def window_fix(self, hook: dict, used: List[int],
                   switch: int) -> Dict[str, int]:
        """The ``begin`` / ``end`` a weight window of a loss computed in
        stages ``used`` needs with the switch at ``switch`` (empty: none)."""
        begin, end = hook.get('begin', 0), hook.get('end')
        if not isinstance(end, int) or not isinstance(begin, int):
            return {}
        fix = {}
        if min(used) == self.stage and begin != switch:
            fix['begin'] = begin = switch
            if end <= begin:
                fix['end'] = self.max_iters
        elif max(used) == self.stage - 1 and end > switch:
            fix['end'] = end = switch
            if begin >= end:
                fix['begin'] = 0
        return fix

    def window_problems(self) -> List[Tuple[int, dict, str, Dict]]:
        return [(i, hook, loss, fix)
                for i, hook, loss, used in self.windows()
                for fix in [self.window_fix(hook, used, self.switch)] if fix]

    def windows_at(self, cfg, switch: int) -> Dict[str, int]:
        """The options that put ``cfg``'s weight windows at ``switch``."""
        moved = _StageLayout(cfg, self.key)
        return {
            f'custom_hooks.{i}.{k}': v
            for i, hook, _, used in moved.windows()
            for k, v in moved.window_fix(hook, used, switch).items()
        }


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
    and, with ``stage_lr``, restarts the lr: every parameter group's lr
    becomes ``stage_lr`` times the group's own multiplier, and the lr
    schedulers of the new stage (those beginning at or after
    ``switch_iter``) start from it, exactly as in a plain run that starts at
    the switch with ``lr=stage_lr`` (:meth:`_restart_lr`). So the new
    stage's schedule is written the usual mmengine way, with ``begin`` at
    ``switch_iter`` (milestones count from ``begin``): any of mmengine's
    lr schedulers, a warm-up (``LinearLR``, ``ConstantLR``) chained with a
    decay, or schedulers one after the other. The stage-1 lr schedulers must
    end at the switch (:meth:`check_config` refuses one that runs across it,
    with the fix). Checkpoints carry the stage in
    ``meta['distill_stage']``, so a run resumed after the switch continues
    in the new stage. ``switch_iter == max_iters`` trains stage 1 alone.

    Args:
        switch_iter (int): The first iteration of the new stage.
        stage (int): The stage switched to. Defaults to 2.
        stage_lr (float, optional): The learning rate the new stage starts
            with (before multipliers and before the new stage's schedulers,
            as a plain run's ``optimizer.lr``). Defaults to None: no
            restart; the lr of stage 1 goes on and the param schedulers own
            it.
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
        >>> # a stage-2 warm-up: 0.001 -> 0.1 over 500 iterations, chained
        >>> param_scheduler.insert(1, dict(
        >>>     type='LinearLR', by_epoch=False, start_factor=0.01,
        >>>     begin=21000, end=21500))
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
        :func:`mmfsp.utils.check_config`), each with fixes the check
        accepts (applied, as printed, after the command line's
        ``--cfg-options``):

        - a switch after the end of training (``switch_iter == max_iters``
          is stage 1 alone);
        - with ``stage_lr``, an lr schedule that does not switch stages at
          the switch: an lr scheduler running across it (it would go on
          changing the restarted lr), a new stage whose first lr
          scheduler begins after it, or one without any (when stage 1 has
          lr schedulers);
        - a ``LossWeightScheduleHook`` of a distill loss that only some
          stages compute (``model.stages``) whose window does not begin
          with the loss's first stage (or runs past its last one).

        The new stage's schedulers may be any of mmengine's (warm-ups,
        chained or sequential ones): the switch restarts them as a plain
        run starting at the switch (:meth:`_restart_lr`).
        """
        hook = get_entry(cfg, key)
        switch = hook.get('switch_iter') if isinstance(hook, dict) else None
        max_iters = iter_max_iters(cfg)
        if not isinstance(switch, int) or max_iters is None:
            return []  # __init__ rejects a bad value; epochs: before_train
        layout = _StageLayout(cfg, key)
        if switch > max_iters:
            return [cls._after_end_error(layout)]
        if switch == max_iters:
            return []
        problems = layout.lr_problems()
        if problems:
            return [cls._lr_error(layout, problems)]
        return [cls._window_error(layout, *p)
                for p in layout.window_problems()]

    @staticmethod
    def _accepts(cfg, key: str, options: Dict[str, Any]) -> bool:
        """Whether :meth:`check_config` accepts ``cfg`` with ``options``
        (without writing its messages and fixes)."""
        fixed = with_cfg_options(cfg, options)
        switch = get_entry(fixed, f'{key}.switch_iter')
        max_iters = iter_max_iters(fixed)
        if not isinstance(switch, int) or max_iters is None or \
                switch == max_iters:
            return True
        layout = _StageLayout(fixed, key)
        return switch < max_iters and not layout.lr_problems() and \
            not layout.window_problems()

    @classmethod
    def _fixes(cls, layout: _StageLayout,
               candidates: List[Tuple[str, Dict[str, Any]]]) -> str:
        """The candidates (description, options) that the check accepts,
        one per line."""
        lines = [
            f'\n     - {text}: {format_cfg_options(options)}'
            for text, options in candidates
            if options and cls._accepts(layout.cfg, layout.key, options)
        ]
        if not lines:
            return ' No single change of the schedule fixes it: write the ' \
                'schedule so that every lr scheduler ends at or begins at ' \
                'the switch.'
        return ' Fix it in one of these ways (applied as printed, after ' \
            'the other --cfg-options):' + ''.join(lines)

    @staticmethod
    def _switch_to(layout: _StageLayout, b: int,
                   text: str) -> Tuple[str, Dict[str, Any]]:
        options: Dict[str, Any] = {f'{layout.key}.switch_iter': b}
        moved = layout.windows_at(layout.cfg, b)
        if moved:
            text += ', the loss-weight schedules of its losses with it'
        return text, {**options, **moved}

    @classmethod
    def _after_end_error(cls, layout: _StageLayout) -> str:
        s, m, stage = layout.switch, layout.max_iters, layout.stage
        below = [b for b in layout.boundaries() if b < m]
        candidates = [
            cls._switch_to(
                layout, below[-1],
                f'switch where the lr schedule switches stages, at '
                f'iteration {below[-1]}')
        ] if below else []
        ends = [_span(sched)[1] for _, sched in layout.lr
                if _span(sched)[0] >= s and s < _span(sched)[1] < INF]
        if ends:
            candidates.append(
                (f'train stage {stage} as its lr schedule says, until '
                 f'iteration {max(ends):g}',
                 {'train_cfg.max_iters': int(max(ends))}))
        candidates.append((f'train stage 1 alone, {m} iterations',
                           {f'{layout.key}.switch_iter': m}))
        return (f'{layout.where} switches to stage {stage} at iteration '
                f'{s}, after the end of training (train_cfg.max_iters={m}): '
                f'stage {stage} would never run.' +
                cls._fixes(layout, candidates))

    @classmethod
    def _lr_error(cls, layout: _StageLayout, problems: List[str]) -> str:
        s, m, stage = layout.switch, layout.max_iters, layout.stage
        cfg, key = layout.cfg, layout.key
        candidates = []
        bounds = layout.boundaries()
        below = [b for b in bounds if b < s]
        above = [b for b in bounds if b > s]
        for b in below[-1:] + above[:1]:
            candidates.append(cls._switch_to(
                layout, b, f'switch where the lr schedule switches stages, '
                f'at iteration {b} (stage 1 then runs {b} iterations, stage '
                f'{stage} {m - b})'))
        straddle = _straddlers(layout.lr, s)
        prefix, schedulers = _schedulers(cfg)
        if straddle and len(bounds) == 1 and all(
                isinstance(sched, dict) and
                sched.get('by_epoch', True) is False and
                re.sub(r'(LR|Momentum|ParamScheduler)$', '',
                       type_name(sched.get('type'))) in _SCALABLE
                for _, sched in schedulers):
            old = bounds[0]
            scaled = remap_two_stage_schedule(
                with_cfg_options(cfg, {}), (old, m - old), (s, m - s))
            options = _diff_options(cfg, scaled)
            options.update(layout.windows_at(
                with_cfg_options(cfg, options), s))
            candidates.append(
                (f'keep the switch at {s} and fit the lr schedule to it, '
                 f'each stage\'s schedule keeping its shape, scaled to the '
                 f'stage\'s new length (stage 1: {old} -> {s} iterations, '
                 f'stage {stage}: {m - old} -> {m - s}; milestones counted '
                 f'from each scheduler\'s begin)', options))
        late = layout.late(s)
        if not straddle and late is not None:
            shift = int(_span(late[1])[0]) - s
            options = {}
            for j, sched in schedulers:
                begin, end = _span(sched)
                if isinstance(sched, dict) and begin >= s + shift and \
                        sched.get('by_epoch', True) is False:
                    options[f'{_sched_key(prefix, j)}.begin'] = \
                        int(begin) - shift
                    if end < INF:
                        options[f'{_sched_key(prefix, j)}.end'] = \
                            int(end) - shift
            options.update(layout.windows_at(
                with_cfg_options(cfg, options), s))
            candidates.append(
                (f'keep the switch at {s} and begin the stage-{stage} lr '
                 f'schedule there: its schedulers move {shift} iterations '
                 f'earlier, each unchanged', options))
        if straddle and not bounds:
            moved = {}
            for j, sched in straddle:
                begin, end = _span(sched)
                if begin > 0:
                    moved[f'{_sched_key(prefix, j)}.begin'] = s
                    if end < INF:
                        moved[f'{_sched_key(prefix, j)}.end'] = \
                            int(end + s - begin)
            if moved:
                candidates.append(
                    (f'begin at the switch the lr scheduler(s) that begin '
                     f'in stage 1 and run across it, unchanged (their '
                     f'milestones count from iteration {s})', moved))
            candidates.append(
                ('do not restart the lr at the switch: the lr schedule runs '
                 'on across it', {f'{key}.stage_lr': None}))
        return (f'{layout.where} restarts the lr at stage_lr='
                f'{layout.stage_lr} at iteration {s}, where stage {stage} '
                f'begins, but the lr schedule does not switch stages there: '
                + '; '.join(problems) + '.' + cls._fixes(layout, candidates))

    @classmethod
    def _window_error(cls, layout: _StageLayout, i: int, hook: dict,
                      loss: str, fix: Dict[str, int]) -> str:
        s, stage = layout.switch, layout.stage
        begin, end = hook.get('begin', 0), hook.get('end')
        first = min(distill_loss_stages(layout.cfg, loss))
        if 'begin' in fix and first == stage:
            why = (f'{loss} is computed from stage {stage} on, which begins '
                   f'at the switch at iteration {s}: its weight schedule '
                   f'must begin there')
        else:
            why = (f'{loss} is computed only before stage {stage}, which '
                   f'begins at the switch at iteration {s}: its weight '
                   f'schedule must end there')
        candidates = [('move the weight schedule to the stage',
                       {f'custom_hooks.{i}.{k}': v
                        for k, v in fix.items()})]
        if 'begin' in fix and 0 < begin < layout.max_iters:
            candidates.append(cls._switch_to(
                layout, begin, f'switch at iteration {begin}, where the '
                f'weight schedule begins'))
        return (f'custom_hooks[{i}] ({WEIGHT_HOOK}) schedules the weight of '
                f'{loss} over iterations [{begin}, {end}), but {why}.' +
                cls._fixes(layout, candidates))

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
        if self.reset_optimizer:
            for optimizer in _optimizers(runner):
                optimizer.state.clear()
        if self.stage_lr is not None:
            self._restart_lr(runner)
        lrs = [sorted({g['lr'] for g in optimizer.param_groups})
               for optimizer in _optimizers(runner)]
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

    def _new_stage_schedulers(self, runner) -> list:
        """The built lr schedulers that begin at or after the switch."""
        epoch_length = _epoch_length(runner)
        return [
            s for s in _lr_schedulers(runner)
            if _iter_span(s, epoch_length)[0] >= self.switch_iter
        ]

    def _restart_lr(self, runner) -> None:
        """Start the new stage's lr as a plain run that starts here with
        ``lr=stage_lr`` would: every group's lr is ``stage_lr`` times its
        multiplier (its ``initial_lr`` over the optimizer's ``lr``), and
        every lr scheduler of the new stage takes that as its base value
        (``base_values``, what mmengine's schedulers read from
        ``initial_lr`` when built). A scheduler beginning at the switch has
        already taken its first step, from the stage-1 lr, when the previous
        iteration ended (mmengine steps them after each iteration); that
        first step is taken again, in the schedulers' order, from the
        restarted lr. Chained schedulers multiply the lr as it is, so from
        here on each of them gives what it gives in the plain run."""
        restarted = {}
        for optimizer in _optimizers(runner):
            base = optimizer.defaults['lr']
            for group in optimizer.param_groups:
                mult = group.get('initial_lr', base) / base if base else 1
                group['lr'] = self.stage_lr * mult
                restarted[id(group)] = group['lr']
        for scheduler in self._new_stage_schedulers(runner):
            groups = scheduler.optimizer.param_groups
            scheduler.base_values = [
                restarted.get(id(g), g['lr']) for g in groups
            ]
            if scheduler.last_step == 0:  # begun at the switch
                for group, value in zip(groups, scheduler._get_value()):
                    group['lr'] = value
                scheduler._last_value = [g['lr'] for g in groups]

    def _check_built_schedulers(self, runner) -> None:
        """Refuse an lr scheduler running across the restart (also for an
        epoch-based loop, which :meth:`check_config` does not see)."""
        max_iters = getattr(runner, 'max_iters', None)
        if self.stage_lr is None or not isinstance(max_iters, int) or \
                self.switch_iter >= max_iters:
            return
        epoch_length = _epoch_length(runner)
        across = [
            f'{type(s).__name__}(begin={s.begin}, end={s.end}'
            f'{", by_epoch=True" if s.by_epoch else ""})'
            for s in _lr_schedulers(runner)
            if _iter_span(s, epoch_length)[0] < self.switch_iter <
            _iter_span(s, epoch_length)[1]
        ]
        if across:
            raise ValueError(
                f'DistillStageSwitchHook restarts the lr at stage_lr='
                f'{self.stage_lr} at iteration {self.switch_iter}, but the lr '
                f'scheduler(s) {", ".join(across)} run across the switch: '
                f'they would go on changing the restarted lr. End every '
                f'stage-1 lr scheduler at the switch and begin the new '
                f'stage\'s at it (python tools/train.py CONFIG --check '
                f'prints the exact --cfg-options).')

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
        self._check_built_schedulers(runner)
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
