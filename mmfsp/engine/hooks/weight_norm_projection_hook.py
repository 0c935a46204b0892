"""Keep the student's scale-invariant conv weights at their initial norms."""
from typing import Optional, Sequence

from mmengine.model import is_model_wrapper

from mmfsp.models.utils.conv_bn_rescale import rescale_pair
from mmfsp.registry import HOOKS

from .conv_norm_hook import ConvNormHook


@HOOKS.register_module()
class WeightNormProjectionHook(ConvNormHook):
    """After every optimizer step of the given distillation stages, project
    each student conv that feeds only a batch norm back onto its initial
    weight norm (the run's own, recorded at the start of training).

    An mmfsp option, not the FSP paper's: the summed FSP loss of stage 1 is
    invariant to each conv's scale, so its steps only grow the conv norms
    ``||w||`` and leave stage 2 at the effective learning rate
    ``lr / ||w||^2`` of a much slower network (docs/fsp.md). The projection
    ``w <- w * t / ||w||`` (and the conv bias, the BN running mean and
    variance with it) does not change what the network computes, in training
    or in eval mode, so stage 1 minimises the same loss while the effective
    learning rate stays that of the initialisation.

    Args:
        stages (Sequence[int], optional): the distillation stages
            (``model.stage``) whose steps are projected. None projects every
            step, also of a plain classifier. Defaults to ``(1, )``.

    Example:
        >>> custom_hooks = [
        ...     dict(type='DistillStageSwitchHook', switch_iter=1000,
        ...          stage_lr=0.1),
        ...     dict(type='WeightNormProjectionHook', stages=(1, )),
        ... ]
    """

    priority = 'NORMAL'

    def __init__(self, stages: Optional[Sequence[int]] = (1, )) -> None:
        super().__init__(meta_key='conv_norms_projected_to')
        self.stages = None if stages is None else tuple(
            int(s) for s in stages)

    def _active(self, runner) -> bool:
        if self.stages is None:
            return True
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        stage = getattr(model, 'stage', None)
        if stage is None:
            raise TypeError(
                f'WeightNormProjectionHook(stages={self.stages}) needs a '
                f'staged distillation model; {type(model).__name__} has no '
                f'stage. Use stages=None to project every step.')
        return stage in self.stages

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._active(runner)  # a plain model with stages set fails here

    def project(self) -> None:
        """Set every followed conv's norm to its initial one, keeping the
        function (the conv bias and the BN running statistics follow)."""
        for name, (conv, bn) in zip(self.names, self.pairs):
            rescale_pair(conv, bn, self.initial[name])

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self._active(runner):
            self.project()
