"""Stop training cleanly on SIGTERM / SIGUSR1 (slurm preemption and time
limits): finish the iteration, checkpoint, exit so that the job is requeued.

A slurm job is told that it will be killed: ``sbatch --signal=USR1@180``
sends SIGUSR1 180 s before the time limit, a preempting job's arrival sends
SIGTERM (then SIGKILL after the partition's ``GraceTime``). mmengine has no
answer to either: the run dies and loses everything since its last periodic
checkpoint. With :class:`PreemptionHook` the signal only sets a flag; the
iteration in progress finishes, the ranks agree on the stop, a checkpoint of
that iteration is written (atomically, with the distillation stage and, in
a generations run, the generation), training stops and the tool exits with
:data:`REQUEUE_EXIT_CODE`, on which ``tools/slurm_train.sh`` requeues the job.
The requeued job resumes from that checkpoint with the same command line
(``--auto-resume``) and ends as an uninterrupted run would have.

The signal handlers are process-wide (:func:`install_signal_handlers`): the
tools install them before the Runner is built, so that a signal that comes
while datasets load is not lost either. The installing thread blocks the
signals and a helper thread receives them (CPython runs the handler in the
main thread all the same); processes forked afterwards, e.g. dataloader
workers, inherit the blocked mask, so the SIGTERM that slurm sends to every
process of the job does not kill them in the middle of the last batch (a
dead worker makes PyTorch raise in the main process at once). Such workers
cannot be terminated with SIGTERM either, which is how PyTorch ends workers
that do not answer its stop message (as happens when an iterator is
garbage-collected) and how ``multiprocessing`` ends daemonic children at
exit: the hook shuts its runner's dataloader workers down when the run ends
(:func:`shutdown_dataloader_workers`), and an exit handler any that are
left (:func:`stop_dataloader_workers`).
"""
import atexit
import gc
import multiprocessing
import os.path as osp
import signal
import threading
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.dist import (all_reduce, barrier, get_world_size,
                           is_main_process)
from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner import EpochBasedTrainLoop

from mmfsp.registry import HOOKS
from mmfsp.utils.atomic_save import atomic_write

#: exit status of a run stopped by a signal and checkpointed: EX_TEMPFAIL
#: of sysexits.h, "try again later". tools/slurm_train.sh requeues the job
#: on it; a slurm site can also list it in ``RequeueExit``.
REQUEUE_EXIT_CODE = 75
DEFAULT_SIGNALS = ('SIGTERM', 'SIGUSR1')

SignalLike = Union[str, int, signal.Signals]

# process-wide state of the handlers
_received: Dict[str, Optional[int]] = dict(first=None, count=0)
_previous: Dict[signal.Signals, object] = {}
_receiver: Optional[threading.Thread] = None
_exit_handler_registered = False


def to_signal(sig: SignalLike) -> signal.Signals:
    """``'SIGTERM'``, ``'TERM'``, ``15`` or ``signal.SIGTERM`` as a
    ``signal.Signals``."""
    if isinstance(sig, str):
        name = sig.upper()
        name = name if name.startswith('SIG') else 'SIG' + name
        if not hasattr(signal, name):
            raise ValueError(f'unknown signal {sig!r}')
        return signal.Signals(getattr(signal, name))
    return signal.Signals(sig)


def _record(signum: int, frame) -> None:
    """The handler: remember the first signal, count every one. Nothing
    else, so a second signal during the checkpoint save changes nothing."""
    if _received['first'] is None:
        _received['first'] = signum
    _received['count'] += 1


def install_signal_handlers(
        signals: Optional[Sequence[SignalLike]] = None) -> bool:
    """Make ``signals`` (None: :data:`DEFAULT_SIGNALS`) set the stop
    request (:func:`stop_requested`) instead of ending the process.
    Idempotent; returns True when this call installed at least one handler
    (then :func:`uninstall_signal_handlers` undoes it).

    The calling thread (the main thread) blocks the signals and a daemon
    helper thread receives them: what the main thread forks or starts from
    now on (dataloader workers, their pin-memory thread) inherits the
    blocked mask and is not killed by a signal sent to every process of a
    job. Only the main thread can install handlers; from another thread
    this does nothing and returns False.
    """
    global _receiver, _exit_handler_registered
    if threading.current_thread() is not threading.main_thread():
        return False
    if signals is None:
        signals = DEFAULT_SIGNALS
    signals = [to_signal(s) for s in signals]
    for sig in signals:
        if sig in _previous:  # again, after ignore_signals_until_exit
            signal.signal(sig, _record)
    new = [s for s in signals if s not in _previous]
    if not new:
        return False
    if _receiver is None or not _receiver.is_alive():
        # started before the mask below, so that it keeps them unblocked
        _receiver = threading.Thread(
            target=threading.Event().wait,
            name='mmfsp-signal-receiver',
            daemon=True)
        _receiver.start()
    if not _exit_handler_registered:
        # atexit runs last-registered first: before multiprocessing's own
        # handler, which would wait forever for a worker to die of SIGTERM
        atexit.register(stop_dataloader_workers)
        _exit_handler_registered = True
    for sig in new:
        _previous[sig] = signal.signal(sig, _record)
    signal.pthread_sigmask(signal.SIG_BLOCK, new)
    return True


def _shutdown_iterator(iterator) -> bool:
    """Stop the workers of a multi-process dataloader iterator, as PyTorch
    does when it is exhausted; False if it is not one."""
    from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter

    # type(), not isinstance(): no attribute lookups on module proxies
    if not issubclass(type(iterator), _MultiProcessingDataLoaderIter):
        return False
    try:
        iterator._shutdown_workers()
    except Exception:  # noqa: BLE001 - best effort, the run is over
        pass
    return True


def shutdown_dataloader_workers(runner) -> None:
    """Stop the worker processes of ``runner``'s train, val and test
    dataloaders (persistent ones included; a later run of the same loader
    starts new ones). Left to the garbage collector, PyTorch's stop
    message can get lost and it then terminates the workers with SIGTERM,
    which workers started while the signals are blocked ignore."""
    from mmengine.runner import BaseLoop
    for name in ('_train_loop', '_val_loop', '_test_loop'):
        loop = getattr(runner, name, None)
        if not isinstance(loop, BaseLoop):
            continue  # never built
        infinite = getattr(loop, 'dataloader_iterator', None)
        _shutdown_iterator(getattr(infinite, '_iterator', None))
        loader = getattr(loop, 'dataloader', None)
        if _shutdown_iterator(getattr(loader, '_iterator', None)):
            loader._iterator = None


def stop_dataloader_workers(timeout: float = 1.0) -> None:
    """At exit: shut down the workers of every live multi-process
    dataloader iterator, then kill the daemonic child processes still
    alive (started while the signals were blocked, they ignore the SIGTERM
    with which ``multiprocessing`` would end them and wait for)."""
    for obj in gc.get_objects():
        _shutdown_iterator(obj)
    children = [c for c in multiprocessing.active_children() if c.daemon]
    if not children:
        return
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # PyTorch's would raise
    for child in children:
        child.join(timeout)
        if child.is_alive():
            child.kill()
            child.join(timeout)


def uninstall_signal_handlers() -> None:
    """Put back the handlers and the signal mask that
    :func:`install_signal_handlers` replaced, and forget the stop request."""
    if threading.current_thread() is not threading.main_thread():
        return
    if _previous:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, list(_previous))
    for sig, handler in _previous.items():
        signal.signal(sig, handler)
    _previous.clear()
    clear_stop_request()


def ignore_signals_until_exit() -> None:
    """Ignore the installed signals from now on: call it before exiting
    after a stop. When one task of a job step exits, srun
    (``--kill-on-bad-exit``) and torchrun send SIGTERM to the others, which
    may be exiting too; CPython puts the default action back while it
    finalizes, unless the handler is SIG_IGN, so without this such a task
    would die of it and its exit status would not be the requeue status.
    :func:`uninstall_signal_handlers` still puts the original handlers
    back."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in _previous:
        signal.signal(sig, signal.SIG_IGN)


def clear_stop_request() -> None:
    """Forget the signals received so far."""
    _received.update(first=None, count=0)


def stop_requested() -> Optional[int]:
    """The first signal received since the handlers were installed (or the
    request cleared), in this process; None if none."""
    return _received['first']


def signals_received() -> int:
    """How many signals were received (a second one during the save is
    counted and otherwise ignored)."""
    return _received['count']


def agreed_stop_requested() -> bool:
    """Whether any rank received a stop signal. Every rank must call this
    at the same point (an all-reduce in distributed runs)."""
    flag = stop_requested() is not None
    if get_world_size() > 1:
        data = torch.tensor([int(flag)], dtype=torch.int32)
        all_reduce(data, op='max')
        flag = bool(data.item())
    return flag


class TrainingPreempted(RuntimeError):
    """Training stopped on a signal after saving a checkpoint; the run is
    complete up to ``checkpoint`` and resumes from it (exit with
    ``exit_code``)."""

    def __init__(self, message: str, checkpoint: Optional[str] = None,
                 exit_code: int = REQUEUE_EXIT_CODE) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.exit_code = exit_code

    def __reduce__(self):
        return type(self), (self.args[0], self.checkpoint, self.exit_code)


@HOOKS.register_module()
class PreemptionHook(Hook):
    """Stop training at the end of the iteration in which SIGTERM or SIGUSR1
    arrived, after saving a checkpoint of it; the tool then exits with
    ``exit_code`` so that the job is requeued and resumed (docs/
    failure_and_recovery.md, "Preemptible partitions").

    After each iteration (every ``check_interval``), the ranks all-reduce
    whether any of them received a signal, so all stop at the same
    iteration. On a stop the checkpoint is saved through the run's
    ``CheckpointHook`` (``iter_<k>.pth``, the ``last_checkpoint`` pointer,
    ``max_keep_ckpts``), unless it has just saved that iteration, by rank 0
    (the others wait for it); saves are atomic
    (:mod:`mmfsp.utils.atomic_save`). Hooks add their state
    to it as to any checkpoint: ``DistillStageSwitchHook`` the stage, this
    hook ``meta['generation']`` in a generations run. Then the loop stops
    (``stop_training``), ``after_train`` hooks run and ``runner.train()``
    returns with :attr:`preempted` set. A signal during the last iteration
    does not count: the run is complete. A second signal is counted and
    ignored.

    ``tools/train.py`` and ``tools/train_generations.py`` add this hook to
    every training run (unless the config has one) and install the signal
    handlers before the Runner is built (:func:`install_signal_handlers`);
    a run started another way installs them in ``before_run``, after the
    train dataloader's workers have started (those then do not block the
    signals). Iteration-based loops resume exactly; mmengine resumes an
    epoch-based loop at the start of the interrupted epoch, repeating its
    first iterations (a warning says so).

    Args:
        signals (Sequence[str | int]): The signals that stop training.
            Defaults to ``('SIGTERM', 'SIGUSR1')``.
        check_interval (int): Check (and all-reduce) every
            ``check_interval`` iterations; a signal then stops training at
            the next multiple. Defaults to 1.
        exit_code (int): The exit status the tools give a stopped run.
            Defaults to :data:`REQUEUE_EXIT_CODE` (75), the status
            ``tools/slurm_train.sh`` requeues on.

    Example:
        >>> # added by tools/train.py; to change the signals or interval:
        >>> custom_hooks = [
        >>>     dict(type='PreemptionHook', signals=['SIGUSR2'],
        >>>          check_interval=10)
        >>> ]
    """

    # after CheckpointHook (VERY_LOW): its periodic save of the iteration
    # comes first and is not repeated
    priority = 'LOWEST'

    def __init__(self,
                 signals: Sequence[SignalLike] = DEFAULT_SIGNALS,
                 check_interval: int = 1,
                 exit_code: int = REQUEUE_EXIT_CODE) -> None:
        if not isinstance(check_interval, int) or check_interval < 1:
            raise ValueError(
                f'check_interval must be an int >= 1, got {check_interval!r}')
        self.signals = [to_signal(s) for s in signals]
        self.check_interval = check_interval
        self.exit_code = int(exit_code)
        self.preempted = False
        self.checkpoint: Optional[str] = None
        self._installed = False

    # ----------------------------------------------------------- hooks
    def before_run(self, runner) -> None:
        self._installed = install_signal_handlers(self.signals)

    def after_run(self, runner) -> None:
        shutdown_dataloader_workers(runner)
        if self._installed:
            uninstall_signal_handlers()
            self._installed = False

    def before_train(self, runner) -> None:
        self.preempted = False
        self.checkpoint = None
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            runner.logger.warning(
                'PreemptionHook: an epoch-based run stopped by a signal is '
                'checkpointed mid-epoch, and mmengine resumes it at the start '
                'of that epoch (its first iterations run again); use an '
                'iteration-based loop (train_cfg=dict(by_epoch=False, '
                'max_iters=...)) for exact resumption.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        generation = runner.cfg.get('generation')
        if generation is not None:
            checkpoint.setdefault('meta', {})['generation'] = generation

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        done = runner.iter + 1
        if done % self.check_interval != 0 or done >= runner.max_iters:
            return
        if not agreed_stop_requested():
            return
        self.checkpoint = self._save(runner)
        # no rank exits before rank 0 has saved (srun --kill-on-bad-exit and
        # torchrun end the others when one exits)
        barrier()
        self.preempted = True
        runner.train_loop.stop_training = True
        signum = stop_requested()
        name = signal.Signals(signum).name if signum else 'another rank'
        runner.logger.warning(
            f'Stop requested ({name}): training stopped after iteration '
            f'{done}, checkpoint {self.checkpoint}. Run the same command '
            f'with --auto-resume (or --resume) to continue.')

    # ---------------------------------------------------------- saving
    def _save(self, runner) -> str:
        """Save iteration ``runner.iter + 1`` (unless the checkpoint hook
        just did); returns the checkpoint's path."""
        step = runner.iter + 1
        hook = next((h for h in runner.hooks
                     if isinstance(h, CheckpointHook) and not h.by_epoch),
                    None)
        if hook is not None:
            name = hook.filename_tmpl.format(step)
            last = getattr(hook, 'last_ckpt', None)
            if last is None or not str(last).endswith(name):
                hook._save_checkpoint(runner)
            return str(hook.last_ckpt)
        # no iteration-based CheckpointHook: save as it would
        name = f'iter_{step}.pth'
        runner.save_checkpoint(
            runner.work_dir,
            name,
            meta=dict(epoch=runner.epoch, iter=step),
            by_epoch=False)
        path = osp.join(runner.work_dir, name)
        if is_main_process():
            atomic_write(
                osp.join(runner.work_dir, 'last_checkpoint'), path.encode())
        return path
