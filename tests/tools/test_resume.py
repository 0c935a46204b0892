"""Resuming is equivalent to not stopping, for plain training.

resnet8 on a Fashion-MNIST subset, ``randomness=dict(seed=0,
deterministic=True)``, ``num_workers=0``, through ``tools/train.py`` as a user
runs it: N iterations in one go, and N/2 then ``--resume`` to N, end with
bitwise-identical weights, optimizer state and per-iteration losses. That
holds because the checkpoint carries the weights, the SGD momentum, the LR
scheduler and the message hub, the sampler's seed comes from the fixed seed,
and mmengine's ``IterBasedTrainLoop`` replays the data iterator up to the
resumed iteration, so the random crops/flips drawn in the main process
(``num_workers=0``) consume the same numpy random numbers as in the
uninterrupted run. ``tools/test.py`` then evaluates the final checkpoint.
"""
import json
import uuid
from pathlib import Path

import pytest
import torch
from mmengine.runner.checkpoint import _load_checkpoint

from tests.conftest import FAST_TRAIN_OPTIONS, run_tool

FASHION_CFG = 'configs/resnet/resnet8_1xb128_fashion-mnist.py'
N = 6


@pytest.fixture()
def restore_determinism():
    """``randomness.deterministic=True`` switches torch to deterministic
    algorithms for the whole process; put the flags back afterwards."""
    flags = (torch.are_deterministic_algorithms_enabled(),
             torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(flags[0])
    torch.backends.cudnn.deterministic = flags[1]
    torch.backends.cudnn.benchmark = flags[2]


def _options(max_iters: int, name: str) -> list:
    # A distinct experiment name per run: mmengine keys its message hub,
    # logger and visualizer instances by it, and these runs share a process.
    # The scheduler's end is set: left unset, it is max_iters, and the
    # first half would have another schedule (its resume is refused).
    return FAST_TRAIN_OPTIONS + [
        f'experiment_name={name}_{uuid.uuid4().hex[:8]}',
        f'train_cfg.max_iters={max_iters}',
        f'param_scheduler.end={N}',
        f'default_hooks.checkpoint.interval={N // 2}',
        'train_dataloader.batch_size=16',
        'train_dataloader.dataset.indices=256',
        'test_dataloader.dataset.indices=100',
        'test_dataloader.batch_size=50',
        'randomness.seed=0',
        'randomness.deterministic=True',
    ]


def _losses(work_dir: Path) -> dict:
    """{iteration: loss} over all the runs logged in ``work_dir``."""
    losses = {}
    for scalars in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            entry = json.loads(line)
            if 'loss' in entry:
                losses[entry['iter']] = entry['loss']
    return losses


def test_resume_is_bitwise_equivalent(tmp_path, monkeypatch, capsys,
                                      fashion_mnist_root,
                                      restore_determinism):
    straight = tmp_path / 'straight'
    run_tool('train.py', [
        FASHION_CFG, '--work-dir', straight, '--no-validate', '--cfg-options',
        *_options(N, 'straight')
    ], monkeypatch)

    resumed = tmp_path / 'resumed'
    run_tool('train.py', [  # the same run, stopped halfway
        FASHION_CFG, '--work-dir', resumed, '--no-validate', '--cfg-options',
        *_options(N // 2, 'first_half')
    ], monkeypatch)
    assert (resumed / 'last_checkpoint').read_text().strip() == str(
        resumed / f'iter_{N // 2}.pth')
    run_tool('train.py', [
        FASHION_CFG, '--work-dir', resumed, '--no-validate', '--resume',
        '--cfg-options', *_options(N, 'second_half')
    ], monkeypatch)

    a = _load_checkpoint(str(straight / f'iter_{N}.pth'), logger='silent')
    b = _load_checkpoint(str(resumed / f'iter_{N}.pth'), logger='silent')
    assert a['meta']['iter'] == b['meta']['iter'] == N
    assert a['state_dict'].keys() == b['state_dict'].keys()
    different = [
        k for k in a['state_dict']
        if not torch.equal(a['state_dict'][k], b['state_dict'][k])
    ]
    assert not different, f'weights differ after resuming: {different}'
    for sa, sb in zip(a['optimizer']['state'].values(),
                      b['optimizer']['state'].values()):
        assert torch.equal(sa['momentum_buffer'], sb['momentum_buffer'])
    # The same loss at every iteration, the resumed run logging N/2+1..N.
    straight_losses, resumed_losses = _losses(straight), _losses(resumed)
    assert sorted(straight_losses) == list(range(1, N + 1))
    assert resumed_losses == straight_losses

    capsys.readouterr()
    run_tool('test.py', [
        FASHION_CFG, resumed / f'iter_{N}.pth', '--work-dir',
        tmp_path / 'eval', '--cfg-options', *FAST_TRAIN_OPTIONS,
        'test_dataloader.dataset.indices=100', 'test_dataloader.batch_size=50'
    ], monkeypatch)
    printed = capsys.readouterr().out
    assert "'accuracy/top1'" in printed
