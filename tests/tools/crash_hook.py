"""Test helper: a hook that simulates a crash (an exception, as from a killed
worker or an out-of-memory error) at the start of a chosen training
iteration, after the hooks of higher priority (``DistillStageSwitchHook``)
have run. Imported by the reliability tests, in-process or through a
config's ``custom_imports``."""
from typing import Optional

from mmengine.hooks import Hook

from mmfsp.registry import HOOKS


class SimulatedCrash(RuntimeError):
    """Raised by :class:`CrashHook`."""


@HOOKS.register_module(name='TestCrashHook', force=True)
class CrashHook(Hook):
    """Raise :class:`SimulatedCrash` in ``before_train_iter`` when
    ``runner.iter == at`` (0-based: ``at=k`` crashes after k iterations have
    completed and been checkpointed as far as the checkpoint interval
    allows). ``generation``: crash only in that generation of a
    tools/train_generations.py run (``cfg.generation``)."""

    priority = 'LOWEST'
    changes_result = False  # the resume check leaves it out

    def __init__(self, at: int, generation: Optional[int] = None) -> None:
        self.at = at
        self.generation = generation

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self.generation is not None and \
                runner.cfg.get('generation') != self.generation:
            return
        if runner.iter == self.at:
            raise SimulatedCrash(f'simulated crash at iteration {self.at}')
