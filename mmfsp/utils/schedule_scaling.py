"""Shrink (or stretch) a config's iteration schedule by one factor.

The papers' schedules are given in iterations (64k, 21k + 21k, 35k ...). For
CPU-sized runs of the same experiments (the demo, the reproduction tool),
every iteration count of a config is multiplied by the same factor, so the
*shape* of the schedule is kept: learning-rate milestones, scheduler
``begin``/``end``, the stage switch, loss-weight schedules, validation and
checkpoint intervals.
"""
from typing import Any, Iterable, Tuple

#: Keys holding iteration counts, wherever they appear in the scaled parts.
ITERATION_KEYS = ('begin', 'end', 'milestones', 'switch_iter', 'max_iters',
                  'val_interval', 'interval')
#: Top-level config entries that hold iteration-based settings.
SCALED_ENTRIES = ('param_scheduler', 'train_cfg', 'custom_hooks',
                  'default_hooks')
#: Hooks whose ``interval`` counts iterations of logging, not of training:
#: left as they are.
_UNSCALED_HOOKS = ('LoggerHook', )


def _scale_value(value: Any, factor: float) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return max(1, int(round(value * factor))) if value > 0 else value
    if isinstance(value, (list, tuple)):
        return type(value)(_scale_value(v, factor) for v in value)
    return value


def _scale(node: Any, factor: float) -> None:
    if isinstance(node, dict):
        if node.get('type') in _UNSCALED_HOOKS:
            return
        for key in list(node.keys()):
            value = node[key]
            if key in ITERATION_KEYS:
                node[key] = _scale_value(value, factor)
            else:
                _scale(value, factor)
    elif isinstance(node, list):
        for item in node:
            _scale(item, factor)


def scale_schedule(cfg, max_iters: int,
                   entries: Iterable[str] = SCALED_ENTRIES):
    """Scale every iteration count in ``cfg`` by ``max_iters /
    cfg.train_cfg.max_iters`` (in place; returns ``cfg``)."""
    old = cfg.train_cfg.max_iters
    if max_iters <= 0:
        raise ValueError(f'max_iters must be positive, got {max_iters}')
    factor = max_iters / old
    for entry in entries:
        if entry in cfg:
            _scale(cfg[entry], factor)
    cfg.train_cfg.max_iters = max_iters
    return cfg


SWITCH_HOOK = 'DistillStageSwitchHook'


def _is_switch_hook(hook: dict) -> bool:
    type_ = hook.get('type')
    name = type_.split('.')[-1] if isinstance(type_, str) else getattr(
        type_, '__name__', None)
    return name == SWITCH_HOOK


def _switch_hook(cfg) -> dict:
    hooks = [h for h in cfg.get('custom_hooks') or []
             if isinstance(h, dict) and _is_switch_hook(h)]
    if len(hooks) != 1:
        raise ValueError(f'a two-stage config has one {SWITCH_HOOK} in '
                         f'custom_hooks; found {len(hooks)}')
    return hooks[0]


def stage_lengths(cfg) -> tuple:
    """``(stage-1, stage-2)`` iterations of a two-stage (distillation)
    config: its ``DistillStageSwitchHook.switch_iter`` and the rest of
    ``train_cfg.max_iters``."""
    switch = int(_switch_hook(cfg)['switch_iter'])
    total = int(cfg.train_cfg.max_iters)
    if not 0 < switch < total:
        raise ValueError(f'switch_iter {switch} must lie inside the run '
                         f'(max_iters {total})')
    return switch, total - switch


#: Iteration counts of an lr scheduler that are counted from its ``begin``
#: (scaled, not moved, with its stage).
_SPAN_KEYS = ('milestones', 'T_max', 'step_size')


def remap_two_stage_schedule(cfg, old: Tuple[int, int],
                             new: Tuple[int, int]):
    """Move a two-stage schedule written for ``old = (stage 1, stage 2)``
    iterations to ``new`` ones, each stage by its own factor (in place;
    returns ``cfg``): the ``param_scheduler`` entries and the ``begin`` /
    ``end`` of the custom hooks other than the switch hook. The switch hook,
    ``train_cfg`` and the intervals are left to the caller.

    A scheduler that begins in stage 1 keeps its iterations scaled by
    ``new[0] / old[0]``; one that begins at or after the switch is moved
    to begin where the new stage 2 begins, its length scaled by
    ``new[1] / old[1]``. The counts a scheduler counts from its ``begin``
    (``milestones``, ``T_max``, ``step_size``) are scaled by its stage's
    factor, so each stage keeps the shape of its schedule.

    Args:
        cfg (Config): the config.
        old (tuple[int, int]): the stage lengths the schedule is written
            for.
        new (tuple[int, int]): the stage lengths wanted.
    """
    (old1, old2), (new1, new2) = old, new
    if min(old1, old2, new1, new2) <= 0:
        raise ValueError(f'stage lengths must be positive, got {old} and '
                         f'{new}')
    f1, f2 = new1 / old1, new2 / old2

    def at(t: int) -> int:
        if t <= old1:
            return int(round(t * f1))
        return new1 + int(round((t - old1) * f2))

    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for sched in schedulers:
        begin = int(sched.get('begin', 0))
        factor = f1 if begin < old1 else f2
        for key in _SPAN_KEYS:
            value = sched.get(key)
            if isinstance(value, (list, tuple)):
                sched[key] = [max(1, int(round(m * factor))) for m in value]
            elif isinstance(value, int) and not isinstance(value, bool):
                sched[key] = max(1, int(round(value * factor)))
        sched['begin'] = at(begin)
        if isinstance(sched.get('end'), int):
            sched['end'] = at(sched['end'])
    for hook in cfg.get('custom_hooks') or []:
        if not isinstance(hook, dict) or _is_switch_hook(hook):
            continue
        for key in ('begin', 'end'):
            if isinstance(hook.get(key), int):
                hook[key] = at(hook[key])
    return cfg


def scale_two_stage_schedule(cfg, stage1: int, stage2: int):
    """Give a two-stage config exactly ``stage1`` + ``stage2`` iterations,
    each stage's schedule scaled by its own factor (in place; returns
    ``cfg``).

    A scheduler that begins in stage 1 has its ``begin``/``end`` and
    ``milestones`` (``T_max``, ``step_size``) scaled by
    ``stage1 / old_stage1``; one that begins at or after the switch is
    moved to start at ``stage1`` and its milestones (counted from its
    ``begin``) and length are scaled by ``stage2 / old_stage2``
    (:func:`remap_two_stage_schedule`). Hooks' ``begin``/``end`` (e.g.
    ``LossWeightScheduleHook``) are mapped the same way, the switch hook
    moves to ``stage1``, and the validation and checkpoint intervals are
    scaled by the stage-2 factor. (:func:`scale_schedule` with one factor
    would round the switch and the end separately, so the stage-2 length of
    two configs could differ by an iteration.)
    """
    if stage1 <= 0 or stage2 <= 0:
        raise ValueError(f'stage lengths must be positive, got {stage1}, '
                         f'{stage2}')
    old1, old2 = stage_lengths(cfg)
    f2 = stage2 / old2
    remap_two_stage_schedule(cfg, (old1, old2), (stage1, stage2))
    _switch_hook(cfg)['switch_iter'] = stage1
    train_cfg = cfg.train_cfg
    if isinstance(train_cfg.get('val_interval'), int):
        train_cfg['val_interval'] = max(
            1, int(round(train_cfg['val_interval'] * f2)))
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if isinstance(checkpoint, dict) and isinstance(
            checkpoint.get('interval'), int):
        checkpoint['interval'] = max(1, int(round(checkpoint['interval'] *
                                                  f2)))
    train_cfg['max_iters'] = stage1 + stage2
    return cfg
