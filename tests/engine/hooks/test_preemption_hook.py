"""PreemptionHook and its signal handlers, with real signals, on a toy
mmengine Runner (the FSP and generations runs through the tools are in
tests/tools/test_distill_resume.py and tests/tools/test_preemption.py)."""
import os
import pickle
import signal
import time

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmfsp.engine.hooks import PreemptionHook, TrainingPreempted
from mmfsp.engine.hooks.preemption_hook import (
    REQUEUE_EXIT_CODE, clear_stop_request, ignore_signals_until_exit,
    install_signal_handlers, signals_received, stop_requested, to_signal,
    uninstall_signal_handlers)
from tests.tools.signal_hook import SignalHook


@pytest.fixture(autouse=True)
def no_handlers_left():
    yield
    uninstall_signal_handlers()


def _blocked() -> set:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def _wait_for_signal(count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while signals_received() < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_to_signal():
    assert to_signal('SIGTERM') is signal.SIGTERM
    assert to_signal('usr1') is signal.SIGUSR1
    assert to_signal(int(signal.SIGUSR2)) is signal.SIGUSR2
    with pytest.raises(ValueError, match='unknown signal'):
        to_signal('SIGNOPE')


def test_handlers_record_signals_and_are_put_back():
    before = signal.getsignal(signal.SIGUSR1)
    assert install_signal_handlers(['SIGUSR1'])
    assert not install_signal_handlers(['SIGUSR1'])  # idempotent
    assert signal.SIGUSR1 in _blocked()
    assert stop_requested() is None
    os.kill(os.getpid(), signal.SIGUSR1)
    _wait_for_signal()
    assert stop_requested() == signal.SIGUSR1
    os.kill(os.getpid(), signal.SIGUSR1)  # a second one is only counted
    _wait_for_signal(2)
    assert signals_received() == 2 and stop_requested() == signal.SIGUSR1
    clear_stop_request()
    assert stop_requested() is None
    # ignored while a stopped process exits; installing again records
    ignore_signals_until_exit()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN
    install_signal_handlers(['SIGUSR1'])
    os.kill(os.getpid(), signal.SIGUSR1)
    _wait_for_signal()
    assert stop_requested() == signal.SIGUSR1
    uninstall_signal_handlers()
    assert signal.getsignal(signal.SIGUSR1) == before
    assert signal.SIGUSR1 not in _blocked()


def _child_survives_sigterm() -> bool:
    """Fork; the child sends itself SIGTERM, waits and exits 0: does it
    get there?"""
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_processes_forked_after_install_are_not_killed_by_the_signal():
    """A dataloader worker forked while the handlers are installed inherits
    the blocked mask: slurm's SIGTERM to every process of the job does not
    kill it; before (and after) it does."""
    assert not _child_survives_sigterm()
    install_signal_handlers(['SIGTERM'])
    assert _child_survives_sigterm()
    uninstall_signal_handlers()
    assert not _child_survives_sigterm()


def test_training_preempted_pickles():
    err = pickle.loads(pickle.dumps(TrainingPreempted('stopped', 'x.pth', 3)))
    assert (str(err), err.checkpoint, err.exit_code) == ('stopped', 'x.pth', 3)


def test_bad_check_interval():
    with pytest.raises(ValueError, match='check_interval'):
        PreemptionHook(check_interval=0)


# ------------------------------------------------------------ toy runner
class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        inputs, labels = torch.stack(inputs), torch.stack(labels)
        loss = ((self.linear(inputs).squeeze(1) - labels)**2).mean()
        return dict(loss=loss) if mode == 'loss' else loss


class ToyDataset(Dataset):
    metainfo = dict()

    def __len__(self):
        return 32

    def __getitem__(self, index):
        return dict(inputs=torch.tensor([index / 32, 1.0]),
                    labels=torch.tensor(index % 3 / 3))


class SaveCounterHook(Hook):
    """Counts the checkpoints saved."""

    def __init__(self):
        self.saved = []

    def before_save_checkpoint(self, runner, checkpoint):
        self.saved.append(checkpoint['meta'].get('iter'))


def _runner(work_dir, signal_at, checkpoint=dict(interval=2), max_iters=4,
            check_interval=1, generation=None):
    from mmengine.config import Config
    cfg = dict(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=None if checkpoint is None else dict(
                type='CheckpointHook', by_epoch=False, **checkpoint),
            logger=None),
        custom_hooks=[
            PreemptionHook(check_interval=check_interval),
            SignalHook(at=signal_at),
            SaveCounterHook()
        ],
        experiment_name=f'toy_{os.path.basename(str(work_dir))}',
        default_scope='mmfsp',
        log_level='ERROR')
    runner = Runner(**cfg)
    if generation is not None:
        runner.cfg = Config(dict(generation=generation))
    return runner


def _hooks(runner):
    preempt = next(h for h in runner.hooks if isinstance(h, PreemptionHook))
    counter = next(h for h in runner.hooks if isinstance(h, SaveCounterHook))
    return preempt, counter


def test_stops_after_the_iteration_and_saves_it(tmp_path):
    runner = _runner(tmp_path / 'a', signal_at=[0], generation=3)
    runner.train()
    hook, counter = _hooks(runner)
    assert hook.preempted and hook.exit_code == REQUEUE_EXIT_CODE
    assert runner.iter == 1 and counter.saved == [1]
    assert hook.checkpoint == str(tmp_path / 'a' / 'iter_1.pth')
    assert (tmp_path / 'a' / 'last_checkpoint').read_text() == hook.checkpoint
    meta = torch.load(hook.checkpoint, weights_only=False)['meta']
    assert (meta['iter'], meta['generation']) == (1, 3)


def test_a_periodic_checkpoint_is_not_saved_twice(tmp_path):
    runner = _runner(tmp_path / 'b', signal_at=[1])
    runner.train()
    hook, counter = _hooks(runner)
    assert hook.preempted and runner.iter == 2
    assert counter.saved == [2]  # by CheckpointHook only
    assert hook.checkpoint == str(tmp_path / 'b' / 'iter_2.pth')


def test_check_interval_stops_at_the_next_multiple(tmp_path):
    runner = _runner(tmp_path / 'c', signal_at=[0], check_interval=3,
                     max_iters=6, checkpoint=dict(interval=10))
    runner.train()
    hook, counter = _hooks(runner)
    assert hook.preempted and runner.iter == 3 and counter.saved == [3]


def test_a_signal_in_the_last_iteration_completes_the_run(tmp_path):
    runner = _runner(tmp_path / 'd', signal_at=[3])
    runner.train()
    hook, counter = _hooks(runner)
    assert not hook.preempted and runner.iter == 4
    assert counter.saved == [2, 4]


def test_without_a_checkpoint_hook_it_saves_and_points_to_it(tmp_path):
    runner = _runner(tmp_path / 'e', signal_at=[1], checkpoint=None)
    runner.train()
    hook, counter = _hooks(runner)
    assert hook.preempted and counter.saved == [2]
    path = tmp_path / 'e' / 'iter_2.pth'
    assert hook.checkpoint == str(path) and path.is_file()
    assert (tmp_path / 'e' / 'last_checkpoint').read_text() == str(path)
