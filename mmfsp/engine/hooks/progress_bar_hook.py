"""A terminal progress bar over training iterations (for the demo and
interactive runs); mmengine's LoggerHook keeps logging to the work dir."""
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmfsp.registry import HOOKS


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Show ``description: [bar] iter/max_iters, loss, ETA`` on the main
    process, using rich (installed with mmengine).

    Args:
        description (str): The label in front of the bar. Defaults to
            ``'train'``.
        loss_key (str): The key of the model's output shown next to the
            bar. Defaults to ``'loss'``.

    Example:
        >>> custom_hooks = [dict(type='ProgressBarHook', description='FSP')]
    """

    priority = 'VERY_LOW'

    def __init__(self, description: str = 'train',
                 loss_key: str = 'loss') -> None:
        self.description = description
        self.loss_key = loss_key
        self._progress = None
        self._task: Optional[int] = None

    def before_train(self, runner) -> None:
        if not is_main_process():
            return
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                                   TextColumn, TimeRemainingColumn)
        self._progress = Progress(
            TextColumn('[bold]{task.description}'), BarColumn(),
            MofNCompleteColumn(), TextColumn('{task.fields[loss]}'),
            TimeRemainingColumn())
        self._progress.start()
        self._task = self._progress.add_task(
            self.description,
            total=runner.max_iters,
            completed=runner.iter,
            loss='')

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self._progress is None:
            return
        loss = ''
        if outputs and self.loss_key in outputs:
            value = outputs[self.loss_key]
            value = value.detach().item() if hasattr(value, 'detach') \
                else float(value)
            loss = f'{self.loss_key} {value:.4f}'
        self._progress.update(
            self._task, completed=runner.iter + 1, loss=loss)

    def after_train(self, runner) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
