"""Log the student's conv weight-norm growth and effective learning rates."""
import statistics
from typing import Dict

from mmengine.model import is_model_wrapper

from mmfsp.registry import HOOKS

from .conv_norm_hook import ConvNormHook


@HOOKS.register_module()
class WeightNormMonitorHook(ConvNormHook):
    """Every ``interval`` iterations (and at a stage switch), log for each
    student conv that feeds only a batch norm:

    - ``wnorm/<conv>``: ``||w|| / ||w_0||``, against the run's own initial
      weights (recorded at the start of training, kept in checkpoints);
    - ``eff_lr/<conv>``: the effective learning rate ``lr / ||w||^2`` of its
      parameter group;
    - ``bn_gamma/<conv>``: the mean ``|gamma|`` of the batch norm it feeds;

    and the summaries ``wnorm_median``, ``wnorm_max``, ``eff_lr_median``,
    ``bn_gamma_median`` and ``stage``, to the visualizer's scalars
    (``vis_data/scalars.json``, TensorBoard...) with the iteration as step;
    one summary line goes to the log. Off unless configured; a log costs
    one norm per conv. ``tools/analysis_tools/plot_weight_norms.py`` draws
    them (docs/fsp.md, "Reading the weight-norm diagnosis").

    Args:
        interval (int): iterations between two logs. Defaults to 50.

    Example:
        >>> custom_hooks = [dict(type='WeightNormMonitorHook', interval=50)]
    """

    priority = 'LOW'

    def __init__(self, interval: int = 50) -> None:
        super().__init__(meta_key='conv_norms_initial')
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be an int >= 1, got '
                             f'{interval!r}')
        self.interval = interval
        self._last_stage = None

    @staticmethod
    def _stage(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        return getattr(model, 'stage', None)

    def _lrs(self, runner) -> Dict[int, float]:
        wrapper = runner.optim_wrapper
        wrappers = list(wrapper.values()) if hasattr(wrapper, 'values') \
            else [wrapper]
        lrs = {}
        for w in wrappers:
            for group in w.optimizer.param_groups:
                for p in group['params']:
                    lrs[id(p)] = group['lr']
        return lrs

    def measure(self, runner) -> Dict[str, float]:
        """The scalars of one log (the class docstring)."""
        lrs = self._lrs(runner)
        scalars, ratios, eff, gammas = {}, [], [], []
        for name, (conv, bn) in zip(self.names, self.pairs):
            norm = float(conv.weight.detach().double().norm())
            ratio = norm / self.initial[name]
            scalars[f'wnorm/{name}'] = ratio
            ratios.append(ratio)
            lr = lrs.get(id(conv.weight))
            if lr is not None and norm > 0:
                scalars[f'eff_lr/{name}'] = lr / norm**2
                eff.append(lr / norm**2)
            if bn.weight is not None:
                gamma = float(bn.weight.detach().abs().mean())
                scalars[f'bn_gamma/{name}'] = gamma
                gammas.append(gamma)
        scalars['wnorm_median'] = statistics.median(ratios)
        scalars['wnorm_max'] = max(ratios)
        if eff:
            scalars['eff_lr_median'] = statistics.median(eff)
        if gammas:
            scalars['bn_gamma_median'] = statistics.median(gammas)
        stage = self._stage(runner)
        if stage is not None:
            scalars['stage'] = stage
        return scalars

    def _log(self, runner, step: int) -> None:
        scalars = self.measure(runner)
        runner.visualizer.add_scalars(scalars, step=step)
        worst = max((k for k in scalars if k.startswith('wnorm/')),
                    key=scalars.get)
        line = (f'weight norms at iter {step}: conv norm / initial median '
                f'{scalars["wnorm_median"]:.3g}, max {scalars["wnorm_max"]:.3g}'
                f' ({worst[len("wnorm/"):]})')
        if 'eff_lr_median' in scalars:
            line += f', effective lr median {scalars["eff_lr_median"]:.3g}'
        if 'bn_gamma_median' in scalars:
            line += f', BN |gamma| median {scalars["bn_gamma_median"]:.3g}'
        if 'stage' in scalars:
            line += f', stage {scalars["stage"]}'
        runner.logger.info(line)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._last_stage = self._stage(runner)
        if runner.iter == 0:
            self._log(runner, 0)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        # after DistillStageSwitchHook (priority HIGHEST): a switch at this
        # iteration is logged with the weights stage 1 ended with
        stage = self._stage(runner)
        if stage != self._last_stage:
            self._last_stage = stage
            self._log(runner, runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval) or \
                self.is_last_train_iter(runner):
            self._log(runner, runner.iter + 1)
