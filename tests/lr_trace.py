"""The learning rate of every training iteration of a config, computed as
mmengine's Runner computes it, without a model or data: the config's param
schedulers built on an SGD optimizer and stepped after each iteration (as
``ParamSchedulerHook.after_train_iter``), and each
``DistillStageSwitchHook``'s restart at its switch (its own code, as
``before_train_iter`` runs it). Thousands of iterations take milliseconds,
so the config-check tests can follow a whole shipped schedule;
tests/engine/hooks/test_distill_stage_switch_hook_schedulers.py checks the
trace against real Runner runs.
"""
import copy
from types import SimpleNamespace
from typing import Any, Dict, List, Sequence

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import PARAM_SCHEDULERS

from mmfsp.engine.hooks import DistillStageSwitchHook
from mmfsp.utils.config_check import type_name


def _plain(value: Any) -> Any:
    return value.to_dict() if hasattr(value, 'to_dict') else copy.deepcopy(
        value)


def lr_trace(cfg, lr_mults: Sequence[float] = (1.0, )) -> List[List[float]]:
    """``trace[i][g]``: the lr of parameter group ``g`` (lr multiplier
    ``lr_mults[g]``) in training iteration ``i`` of ``cfg``
    (``train_cfg.max_iters`` iterations; ``cfg.optim_wrapper.optimizer.lr``,
    ``cfg.param_scheduler``, the ``DistillStageSwitchHook`` of
    ``cfg.custom_hooks``)."""
    base = cfg['optim_wrapper']['optimizer']['lr']
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lr_mults]
    optimizer = torch.optim.SGD(
        [dict(params=[p], lr=base * m) for p, m in zip(params, lr_mults)],
        lr=base, momentum=0.9)
    wrapper = OptimWrapper(optimizer)
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    built = [
        PARAM_SCHEDULERS.build(dict(_plain(s), optimizer=wrapper))
        for s in schedulers
    ]
    hooks = [
        DistillStageSwitchHook(**{
            k: v
            for k, v in _plain(h).items() if k != 'type'
        }) for h in cfg.get('custom_hooks') or []
        if type_name(h.get('type')) == 'DistillStageSwitchHook'
    ]
    max_iters = cfg['train_cfg']['max_iters']
    runner = SimpleNamespace(optim_wrapper=wrapper, param_schedulers=built,
                             train_dataloader=None, max_iters=max_iters)
    for hook in hooks:
        hook._check_built_schedulers(runner)  # as before_train
    # No gradients, so a step changes nothing; one tells the schedulers
    # that the optimizer steps before them (else mmengine warns).
    wrapper.step()
    trace = []
    for i in range(max_iters):
        for hook in hooks:
            if i == hook.switch_iter and hook.stage_lr is not None:
                hook._restart_lr(runner)
        trace.append([g['lr'] for g in optimizer.param_groups])
        for scheduler in built:
            if not scheduler.by_epoch:
                scheduler.step()
    return trace


def lrs(cfg) -> List[float]:
    """The lr of each iteration of ``cfg`` (one parameter group)."""
    return [row[0] for row in lr_trace(cfg)]


def plain_stage_trace(cfg, begin: int, end: int, lr: float) -> List[float]:
    """The lr of iterations ``begin .. end - 1`` of ``cfg`` in a plain run:
    ``end - begin`` iterations starting from ``lr``, with the lr schedulers
    of ``cfg`` that begin in ``[begin, end)``, moved to count from 0, and no
    stage switch."""
    moved = []
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for s in schedulers:
        s = _plain(s)
        start = s.get('begin', 0)
        if begin <= start < end:
            s['begin'] = start - begin
            if s.get('end') is not None:
                s['end'] -= begin
            moved.append(s)
    plain: Dict[str, Any] = dict(
        optim_wrapper=dict(optimizer=dict(lr=lr)),
        param_scheduler=moved,
        train_cfg=dict(max_iters=end - begin))
    return lrs(plain)
