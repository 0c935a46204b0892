"""Schedule a loss's weight over the iterations (FitNet's annealed KD weight).

Romero et al., "FitNets: Hints for Thin Deep Nets" (ICLR 2015), section 2.2:
after hint training, the whole student is trained with knowledge
distillation whose weight ``lambda`` is annealed linearly during training.
The FSP paper's FitNet baseline (Yim et al., CVPR 2017, section 5) uses
temperature 3 and a KD weight decaying linearly from 4 to 1 over stage 2
(docs/baselines.md, "FitNet").

The hook writes the weight into the loss module's ``loss_weight`` before
every training iteration, from the iteration number alone::

    w(i) = start_value + (end_value - start_value)
           * clip((i - begin) / (end - 1 - begin), 0, 1)

with ``i`` the 0-based ``runner.iter``: the first iteration of the window
(``begin``) gets ``start_value``, the last one (``end - 1``) ``end_value``;
iterations before the window get ``start_value``, after it ``end_value``
(a one-iteration window gives ``end_value``).
A window that ends after the training does is refused before training
(:meth:`LossWeightScheduleHook.check_config`): the weight would never reach
``end_value``. (One of a loss that only some stages compute must also lie
in those stages: ``DistillStageSwitchHook.check_config``.)
Nothing is stored, so a resumed run gets exactly the weight it would have had
(resume-safe). The weight is logged as ``<name>_weight`` with ``loss`` taken
out of the loss's name (``kd_weight`` for ``loss_kd``): mmengine's log
processor averages every key containing ``loss`` over its window, and the log
should show the weight of the iteration.
"""
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmfsp.registry import HOOKS
from mmfsp.utils.config_check import (distill_loss_stages,
                                      format_cfg_options, get_entry,
                                      iter_max_iters, type_name)


def linear_weight(i: int, begin: int, end: int, start_value: float,
                  end_value: float) -> float:
    """The weight of iteration ``i`` (see the module docstring)."""
    span = end - 1 - begin
    if span <= 0:
        progress = 0.0 if i < begin else 1.0
    else:
        progress = min(max((i - begin) / span, 0.0), 1.0)
    return start_value + (end_value - start_value) * progress


@HOOKS.register_module()
class LossWeightScheduleHook(Hook):
    """Set a loss's ``loss_weight`` linearly from ``start_value`` to
    ``end_value`` over iterations ``[begin, end)`` (module docstring).

    Args:
        loss_name (str, optional): a distill loss of the model's distiller
            (``model.distiller.distill_losses[loss_name]``), e.g.
            ``'loss_kd'``.
        module (str, optional): instead of ``loss_name``, the dotted name of
            any loss module of the model, e.g.
            ``'architecture.head.loss_module'``.
        start_value (float): weight at iteration ``begin``.
        end_value (float): weight at iteration ``end - 1``.
        begin (int): first iteration of the schedule. Defaults to 0.
        end (int): one past its last iteration (e.g. ``max_iters``).
        attr (str): the attribute set. Defaults to ``'loss_weight'``.
        log_key (str, optional): the name it is logged under; by default
            ``<name>_weight`` (see the module docstring).
    """

    priority = 'HIGH'

    def __init__(self,
                 start_value: float,
                 end_value: float,
                 end: int,
                 begin: int = 0,
                 loss_name: Optional[str] = None,
                 module: Optional[str] = None,
                 attr: str = 'loss_weight',
                 log_key: Optional[str] = None) -> None:
        if (loss_name is None) == (module is None):
            raise ValueError('LossWeightScheduleHook: give exactly one of '
                             'loss_name (a distill loss) and module (a '
                             'dotted module name)')
        if not isinstance(begin, int) or not isinstance(end, int) or \
                begin < 0 or end <= begin:
            raise ValueError(f'LossWeightScheduleHook: need integers 0 <= '
                             f'begin < end, got begin={begin!r}, '
                             f'end={end!r}')
        self.loss_name = loss_name
        self.module = module
        self.start_value = float(start_value)
        self.end_value = float(end_value)
        self.begin = begin
        self.end = end
        self.attr = attr
        if log_key is None:
            name = (loss_name or module).split('.')[-1]
            name = name.replace('loss_', '').replace('_loss', '').replace(
                'loss', '')
            log_key = f'{name}_weight' if name else 'weight'
        self.log_key = log_key

    @classmethod
    def check_config(cls, cfg, key: str) -> List[str]:
        """The errors of the hook at ``key`` (``'custom_hooks.1'``) of
        ``cfg`` (see :func:`mmfsp.utils.check_config`): a window ending
        after an iteration-based training (``end > train_cfg.max_iters``,
        e.g. the KD configs' ``end=3000`` with a shortened run), whose last
        weights would never be reached. The fixes: end the window with the
        run, or train as long as the window."""
        hook = get_entry(cfg, key)
        max_iters = iter_max_iters(cfg)
        if not isinstance(hook, dict) or max_iters is None:
            return []
        begin, end = hook.get('begin', 0), hook.get('end')
        if not isinstance(begin, int) or not isinstance(end, int) or \
                end <= max_iters or cls._loss_never_computed(
                    cfg, hook.get('loss_name'), max_iters):
            return []
        start, stop = hook.get('start_value'), hook.get('end_value')
        last = linear_weight(max_iters - 1, begin, end, float(start),
                             float(stop)) if isinstance(
                                 start, (int, float)) and isinstance(
                                     stop, (int, float)) else None
        label = hook.get('loss_name') or hook.get('module')
        index = key.rsplit('.', 1)
        where = f'{index[0]}[{index[1]}]' if len(index) == 2 else key
        reached = '' if last is None else (
            f' It would end training at {last:.4g}, never reaching '
            f'{float(stop):g}.')
        fixes = [(f'train as long as the weight schedule, {end} iterations',
                  {'train_cfg.max_iters': end})]
        if begin < max_iters:
            fixes.insert(0, (
                f'end the weight schedule with the run (the weight reaches '
                f'{stop} at the last iteration, {max_iters - 1})', {
                    f'{key}.end': max_iters}))
        lines = ''.join(f'\n     - {text}: {format_cfg_options(options)}'
                        for text, options in fixes)
        return [
            f'{where} ({type_name(hook.get("type"))}) schedules the weight '
            f'of {label} over iterations [{begin}, {end}), but training '
            f'ends at {max_iters} (train_cfg.max_iters).{reached} Fix it in '
            f'one of these ways (applied as printed, after the other '
            f'--cfg-options):{lines}'
        ]

    @staticmethod
    def _loss_never_computed(cfg, loss_name: Optional[str],
                             max_iters: int) -> bool:
        """Whether the distill loss ``loss_name`` is computed only in stages
        that a ``DistillStageSwitchHook`` starts at or after the end of
        training (e.g. FitNet's KD loss in a run of stage 1 alone)."""
        used = distill_loss_stages(cfg, loss_name) if loss_name else None
        if not used:
            return False
        starts = {1: 0}
        for hook in cfg.get('custom_hooks') or []:
            if isinstance(hook, dict) and type_name(
                    hook.get('type')) == 'DistillStageSwitchHook' and \
                    isinstance(hook.get('switch_iter'), int):
                starts[hook.get('stage', 2)] = hook['switch_iter']
        return all(starts.get(k, 0) >= max_iters for k in used)

    @property
    def _label(self) -> str:
        return self.loss_name or self.module

    def _target(self, runner) -> nn.Module:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if self.loss_name is not None:
            losses = getattr(getattr(model, 'distiller', None),
                             'distill_losses', None)
            if losses is None:
                raise TypeError(f'LossWeightScheduleHook(loss_name='
                                f'{self.loss_name!r}) needs a distillation '
                                f'model with a distiller, got '
                                f'{type(model).__name__}')
            if self.loss_name not in losses:
                raise KeyError(f'LossWeightScheduleHook: the distiller has '
                               f'no loss {self.loss_name!r}; its losses: '
                               f'{sorted(losses)}')
            target = losses[self.loss_name]
        else:
            modules = dict(model.named_modules())
            if self.module not in modules:
                raise KeyError(f'LossWeightScheduleHook: the model has no '
                               f'module {self.module!r}')
            target = modules[self.module]
        if not hasattr(target, self.attr):
            raise AttributeError(f'LossWeightScheduleHook: '
                                 f'{type(target).__name__} ({self._label}) '
                                 f'has no attribute {self.attr!r}')
        return target

    def weight_at(self, i: int) -> float:
        return linear_weight(i, self.begin, self.end, self.start_value,
                             self.end_value)

    def _apply(self, runner) -> None:
        value = self.weight_at(runner.iter)
        setattr(self._target(runner), self.attr, value)
        runner.message_hub.update_scalar(f'train/{self.log_key}', value)

    def before_train(self, runner) -> None:
        self._apply(runner)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._apply(runner)
