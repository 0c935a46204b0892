"""Shrink (or stretch) a config's iteration schedule by one factor.

The papers' schedules are given in iterations (64k, 21k + 21k, 35k ...). For
CPU-sized runs of the same experiments (the demo, the reproduction tool),
every iteration count of a config is multiplied by the same factor, so the
*shape* of the schedule is kept: learning-rate milestones, scheduler
``begin``/``end``, the stage switch, loss-weight schedules, validation and
checkpoint intervals.
"""
from typing import Any, Iterable

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
