"""The base of the hooks that follow a student's conv weight norms against
the run's own initial weights (:class:`WeightNormMonitorHook`,
:class:`WeightNormProjectionHook`).

A convolution that feeds only a batch norm computes the same function for
``w`` and ``c * w``; its effective learning rate is ``lr / ||w||^2``. FSP
stage 1 grows these norms (docs/fsp.md, "Weight-norm growth in stage 1").
The base finds the student's conv -> BN pairs once, records their norms at
the start of training (the run's own initial weights, not a fresh draw) and
keeps them in the checkpoints' ``meta`` so a resumed run compares with the
same numbers.
"""
from typing import Dict, List, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmfsp.models.utils import conv_bn_pairs, conv_weight_norms_of


def student_network(runner) -> nn.Module:
    """The trained network: a distillation model's student, else the
    model itself."""
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    return getattr(model, 'student', model)


class ConvNormHook(Hook):
    """Finds ``(conv, bn)`` module pairs of the student's backbone and holds
    their initial weight norms (``self.initial``, by conv name relative to
    the student).

    Args:
        meta_key (str): where the initial norms are kept in a checkpoint's
            ``meta``.
    """

    def __init__(self, meta_key: str) -> None:
        self.meta_key = meta_key
        self.initial: Optional[Dict[str, float]] = None
        self.pairs: List[Tuple[nn.Module, nn.Module]] = []
        self.names: List[str] = []

    def _find_pairs(self, runner) -> None:
        student = student_network(runner)
        body = getattr(student, 'backbone', student)
        prefix = 'backbone.' if body is not student else ''
        named = dict(body.named_modules())
        found = conv_bn_pairs(body)
        if not found:
            raise ValueError(
                f'{type(self).__name__}: the student '
                f'{type(student).__name__} has no convolution that feeds '
                f'only a batch norm; there are no scale-invariant weights '
                f'to follow. Remove the hook from custom_hooks.')
        self.names = [prefix + conv for conv, _ in found]
        self.pairs = [(named[conv], named[bn]) for conv, bn in found]

    def current_norms(self) -> Dict[str, float]:
        return {name: float(conv.weight.detach().double().norm())
                for name, (conv, _) in zip(self.names, self.pairs)}

    def before_train(self, runner) -> None:
        self._find_pairs(runner)
        if self.initial is None:
            if runner.iter > 0:
                runner.logger.warning(
                    f'{type(self).__name__}: the checkpoint resumed at '
                    f'iteration {runner.iter} has no '
                    f"meta['{self.meta_key}']; using the current conv "
                    f'norms as the initial ones.')
            self.initial = self.current_norms()
        missing = sorted(set(self.names) - set(self.initial))
        if missing:
            raise ValueError(
                f"{type(self).__name__}: meta['{self.meta_key}'] of the "
                f'resumed checkpoint lacks the convs {missing[:5]} of this '
                f'student: the checkpoint is from another architecture.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.initial is not None:
            checkpoint.setdefault('meta', {})[self.meta_key] = dict(
                self.initial)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('meta', {}).get(self.meta_key)
        if saved is not None:
            self.initial = {k: float(v) for k, v in saved.items()}
