"""Stop training at the first NaN / Inf loss, before it is checkpointed."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_gather_object, all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from mmfsp.registry import HOOKS


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or Inf.

    ``iteration`` is 1-based, as in the log and in ``iter_<k>.pth``;
    ``losses`` maps ``'rank <r>: <key>'`` to the value."""

    def __init__(self, message: str, iteration: int,
                 losses: Dict[str, float]):
        super().__init__(message)
        self.iteration = iteration
        self.losses = losses

    def __reduce__(self):
        # picklable (a worker process reports it to its parent)
        return type(self), (self.args[0], self.iteration, self.losses)


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` when a loss of the iteration that
    just ran is NaN or Inf, naming the loss key(s), the iteration and the
    last checkpoint to resume from.

    By then the optimizer has already stepped on the bad gradients, so the
    weights in memory are spoilt; the check runs in ``after_train_iter``
    with priority ``LOW`` (70): after ``LoggerHook`` (``BELOW_NORMAL``, 60),
    so that the log still shows the bad value, and before ``CheckpointHook``
    (``VERY_LOW``, 90), so that no checkpoint of that iteration, nor a
    ``last_checkpoint`` pointing at one, is ever written, and before the
    validation that would follow. The previous checkpoint stays the latest
    and ``--resume`` restarts from it.

    ``outputs`` of ``after_train_iter`` is the model's log-vars dict (the
    total ``loss`` and each term); every entry whose key contains ``'loss'``
    (mmengine's convention for the terms it sums) is checked, or the keys
    given in ``keys``. In distributed training a NaN on one rank reaches all
    ranks' weights through the gradient all-reduce, so the verdict is
    all-reduced: every rank raises, and rank 0 does not checkpoint the
    spoilt weights of another rank's NaN. That costs one tiny all-reduce per
    iteration.

    Args:
        keys (Sequence[str], optional): check exactly these log-vars keys
            instead of every key containing ``'loss'``. A key missing from an
            iteration's outputs is skipped.
        interval (int): check every ``interval`` iterations (default 1, every
            iteration). A larger value checks less often and can let a spoilt
            checkpoint through; keep it a divisor of the checkpoint interval.
    """

    priority = 'LOW'

    def __init__(self, keys: Optional[Sequence[str]] = None,
                 interval: int = 1) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.keys = list(keys) if keys is not None else None
        self.interval = interval

    def _bad_losses(self, outputs) -> Dict[str, float]:
        if not isinstance(outputs, dict):
            return {}
        bad = {}
        for key, value in outputs.items():
            if self.keys is not None:
                if key not in self.keys:
                    continue
            elif 'loss' not in key:
                continue
            if isinstance(value, (list, tuple)):
                values = [torch.as_tensor(v).detach() for v in value]
            else:
                values = [torch.as_tensor(value).detach()]
            for tensor in values:
                if tensor.is_floating_point() or tensor.is_complex():
                    if not bool(torch.isfinite(tensor).all()):
                        bad[key] = float(tensor.float().sum()) \
                            if tensor.numel() > 1 else float(tensor)
                        break
        return bad

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        bad = self._bad_losses(outputs)
        if get_world_size() > 1:
            flag = torch.tensor([1.0 if bad else 0.0])
            all_reduce(flag, op='sum')
            if float(flag) == 0:
                return
            per_rank: List[Dict[str, float]] = all_gather_object(bad)
            bad = {
                f'rank {rank}: {key}': value
                for rank, rank_bad in enumerate(per_rank)
                for key, value in rank_bad.items()
            }
        elif not bad:
            return
        iteration = runner.iter + 1
        # Name the terms first: the total 'loss' is NaN because one is.
        terms = sorted(bad, key=lambda k: (k.split(': ')[-1] == 'loss', k))
        described = ', '.join(f'{key}={bad[key]}' for key in terms)
        last = runner.message_hub.get_info('last_ckpt')
        resume = (f'the last checkpoint written is {last}; resume from it '
                  f'with --resume (after lowering the learning rate or '
                  f'fixing the loss)' if last else
                  'no checkpoint was written before it')
        epoch = f', epoch {runner.epoch + 1}' if isinstance(
            runner.train_loop, EpochBasedTrainLoop) else ''
        raise NonFiniteLossError(
            f'Non-finite loss at training iteration {iteration}{epoch}: '
            f'{described}. Training stopped before any checkpoint of this '
            f'iteration was saved; {resume}.', iteration, bad)
