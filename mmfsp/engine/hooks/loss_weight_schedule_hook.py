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
Nothing is stored, so a resumed run gets exactly the weight it would have had
(resume-safe). The weight is logged as ``<name>_weight`` with ``loss`` taken
out of the loss's name (``kd_weight`` for ``loss_kd``): mmengine's log
processor averages every key containing ``loss`` over its window, and the log
should show the weight of the iteration.
"""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmfsp.registry import HOOKS


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
