"""Test helper: a hook that sends a real signal to its own process (and its
child processes) at chosen training iterations, as slurm does before
preempting or time-limiting a job. Imported by the preemption tests,
in-process or through a config's ``custom_imports``."""
import multiprocessing
import os
import signal
import time
from typing import Optional, Sequence

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmfsp.engine.hooks.preemption_hook import stop_requested
from mmfsp.registry import HOOKS


@HOOKS.register_module(name='TestSignalHook', force=True)
class SignalHook(Hook):
    """Send ``signal`` in ``before_train_iter`` when ``runner.iter`` is in
    ``at`` (0-based: ``at=k`` signals during iteration k + 1, so a run
    stopped by it saves ``iter_<k+1>.pth``), after the hooks of higher
    priority (``DistillStageSwitchHook``) have run, then wait until this
    process has handled it (delivery is asynchronous).

    Args:
        at (Sequence[int]): the iterations.
        signal (str): the signal's name. Defaults to 'SIGUSR1'.
        rank (int, optional): only this rank sends. Defaults to None (all).
        generation (int, optional): only in this generation of a
            tools/train_generations.py run. Defaults to None.
        children (bool): also send it to this process's child processes
            (dataloader workers), as slurm signals every process of a job
            step. Defaults to False: this process only.
    """

    priority = 'LOWEST'
    changes_result = False  # the resume check leaves it out

    def __init__(self,
                 at: Sequence[int],
                 signal: str = 'SIGUSR1',
                 rank: Optional[int] = None,
                 generation: Optional[int] = None,
                 children: bool = False) -> None:
        self.at = list(at)
        self.signal = signal
        self.rank = rank
        self.generation = generation
        self.children = children

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if runner.iter not in self.at:
            return
        if self.rank is not None and get_rank() != self.rank:
            return
        if self.generation is not None and \
                runner.cfg.get('generation') != self.generation:
            return
        sig = getattr(signal, self.signal)
        if self.children:
            for child in multiprocessing.active_children():
                os.kill(child.pid, sig)
        os.kill(os.getpid(), sig)
        deadline = time.monotonic() + 30
        while stop_requested() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stop_requested() == sig, 'the signal was not handled'
