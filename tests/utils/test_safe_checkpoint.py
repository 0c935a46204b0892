"""Checkpoints are loaded with weights_only=True and mmfsp's allow-list,
through every way mmengine / the tools load one.

A hostile file (a pickle whose ``__reduce__`` would run ``os.system`` or
``exec`` to create a marker file) must be refused with
:class:`CheckpointSecurityError` naming the file, and the marker must never
appear; genuine mmengine checkpoints and plain state dicts must load; damaged
files must give :class:`CorruptCheckpointError` naming the file.
"""
import builtins
import io
import os
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint

from mmfsp.registry import MODELS
from mmfsp.utils import (CheckpointSecurityError, CorruptCheckpointError,
                         safe_load)
from mmfsp.utils.safe_checkpoint import _refused_globals
from tests.conftest import FAST_TRAIN_OPTIONS, run_tool
from tests.toy_runner import ToyModel, build_toy_runner

FASHION_CFG = 'configs/resnet/resnet8_1xb128_fashion-mnist.py'


class _SystemPayload:
    """Runs ``touch MARKER`` when unpickled with plain pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


class _ExecPayload:
    """Creates MARKER through ``builtins.exec`` when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.exec, (f'open({self.marker!r}, "w").close()', ))


class _GetattrPayload:
    """Abuses the one callable mmfsp allows (getattr on HistoryBuffer)."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__dict__'))


def _write_payload(path: Path, payload, fmt: str) -> Path:
    sd = {'linear.weight': torch.zeros(2, 4)}
    obj = {'state_dict': sd, 'meta': {'note': payload}}
    if fmt == 'zip':
        torch.save(obj, path)
    elif fmt == 'legacy':
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    else:  # a plain pickle file named .pth, protocol 2 or 5
        with open(path, 'wb') as f:
            pickle.dump(obj, f, protocol=int(fmt[-1]))
    return path


@pytest.fixture()
def marker(tmp_path: Path) -> Path:
    path = tmp_path / 'PWNED'
    yield path
    assert not path.exists(), 'a checkpoint payload was executed'


@pytest.fixture()
def evil_ckpt(tmp_path: Path, marker: Path) -> Path:
    return _write_payload(tmp_path / 'evil.pth', _SystemPayload(marker),
                          'zip')


@pytest.fixture(scope='module')
def genuine_ckpt(tmp_path_factory) -> Path:
    """A checkpoint written by a real Runner: message hub with
    HistoryBuffers of numpy arrays, optimizer and scheduler state."""
    work_dir = tmp_path_factory.mktemp('genuine')
    build_toy_runner(work_dir, max_iters=2, ckpt_interval=2).train()
    return work_dir / 'iter_2.pth'


# --- the loader itself -----------------------------------------------------


@pytest.mark.parametrize('fmt', ['zip', 'legacy', 'pickle2', 'pickle5'])
@pytest.mark.parametrize('kind', ['system', 'exec'])
def test_payloads_are_refused_without_running(tmp_path, marker, fmt, kind):
    payload = (_SystemPayload if kind == 'system' else _ExecPayload)(marker)
    path = _write_payload(tmp_path / f'{kind}_{fmt}.pth', payload, fmt)
    with pytest.raises(CheckpointSecurityError) as info:
        _load_checkpoint(str(path))
    message = str(info.value)
    assert str(path) in message and info.value.filename == str(path)
    refused = 'system' if kind == 'system' else 'exec'
    assert any(refused in name for name in info.value.refused), message
    assert refused in message and 'weights_only=True' in message


def test_getattr_is_only_allowed_for_history_buffer_statistics(tmp_path):
    path = _write_payload(tmp_path / 'getattr.pth', _GetattrPayload(), 'zip')
    with pytest.raises(CheckpointSecurityError, match='getattr') as info:
        safe_load(path)
    assert str(path) in str(info.value)


def test_torch_load_is_always_weights_only(genuine_ckpt, monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get('weights_only'))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    _load_checkpoint(str(genuine_ckpt))
    assert calls == [True]


def test_genuine_runner_checkpoint_loads(genuine_ckpt):
    ckpt = _load_checkpoint(str(genuine_ckpt))
    assert ckpt['meta']['iter'] == 2
    buffers = ckpt['message_hub']['log_scalars']
    loss = buffers['train/loss']
    assert isinstance(loss, HistoryBuffer)
    assert isinstance(loss.data[0], np.ndarray)
    assert np.isfinite(loss.mean())  # the methods restored through getattr
    assert 'state' in ckpt['optimizer']
    # the static scan that tells hostile from damaged files agrees with the
    # allow-list: nothing in a genuine checkpoint counts as refused
    assert _refused_globals(genuine_ckpt) == []
    model = ToyModel()
    load_checkpoint(model, str(genuine_ckpt))
    assert torch.equal(model.linear.weight,
                       ckpt['state_dict']['linear.weight'])


def test_plain_state_dict_and_numpy_load(tmp_path):
    src = ToyModel()
    plain = tmp_path / 'plain.pth'
    torch.save(src.state_dict(), plain)
    dst = ToyModel()
    load_checkpoint(dst, str(plain))
    assert torch.equal(dst.linear.weight, src.linear.weight)

    with_numpy = tmp_path / 'numpy.pth'
    torch.save({'state_dict': src.state_dict(),
                'meta': {'arr': np.arange(3), 'f': np.float64(1.5),
                         'i': np.int64(7)}}, with_numpy)
    loaded = safe_load(with_numpy)
    assert loaded['meta']['arr'].tolist() == [0, 1, 2]
    assert loaded['meta']['f'] == 1.5 and loaded['meta']['i'] == 7


def _damaged(kind: str, tmp_path: Path, genuine: Path) -> Path:
    path = tmp_path / f'{kind}.pth'
    data = genuine.read_bytes()
    if kind == 'truncated':
        path.write_bytes(data[:len(data) // 2])
    elif kind == 'garbage':
        path.write_bytes(random.Random(0).randbytes(4096))
    elif kind == 'empty':
        path.write_bytes(b'')
    else:  # a text file
        path.write_text('hello, this is not a checkpoint\n')
    return path


@pytest.mark.parametrize('kind', ['truncated', 'garbage', 'empty', 'text'])
def test_damaged_files_are_reported_as_corrupt(tmp_path, genuine_ckpt, kind):
    path = _damaged(kind, tmp_path, genuine_ckpt)
    with pytest.raises(CorruptCheckpointError) as info:
        load_checkpoint(ToyModel(), str(path))
    assert str(path) in str(info.value)
    assert not isinstance(info.value, CheckpointSecurityError)


def test_file_objects_are_named_too(marker):
    buffer = io.BytesIO()
    torch.save({'x': _SystemPayload(marker)}, buffer)
    buffer.seek(0)
    buffer.name = 'in-memory.pth'
    with pytest.raises(CheckpointSecurityError, match='in-memory.pth'):
        safe_load(buffer)


# --- every entry point -------------------------------------------------------


def test_mmengine_load_checkpoint_refuses(evil_ckpt):
    with pytest.raises(CheckpointSecurityError, match=str(evil_ckpt)):
        load_checkpoint(ToyModel(), str(evil_ckpt))


def test_runner_resume_refuses_and_genuine_resumes(tmp_path, evil_ckpt,
                                                   genuine_ckpt):
    runner = build_toy_runner(
        tmp_path / 'evil_resume', max_iters=3, resume=True,
        load_from=str(evil_ckpt))
    with pytest.raises(CheckpointSecurityError, match=str(evil_ckpt)):
        runner.train()

    runner = build_toy_runner(
        tmp_path / 'good_resume', max_iters=3, resume=True,
        load_from=str(genuine_ckpt))
    runner.train()
    assert runner.iter == 3  # went on from iteration 2


def test_init_cfg_pretrained_refuses(evil_ckpt):
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='CifarResNet', depth=8, in_channels=1),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=64),
            init_cfg=dict(type='Pretrained', checkpoint=str(evil_ckpt))))
    with pytest.raises(CheckpointSecurityError, match=str(evil_ckpt)):
        model.init_weights()


def _fast_fashion_options() -> list:
    # The checkpoint is refused before any data is read, but the Runner
    # builds the dataloaders first: the 10k-image split loads fastest.
    return FAST_TRAIN_OPTIONS + [
        'train_cfg.max_iters=1', 'train_dataloader.batch_size=8',
        'train_dataloader.dataset.split=test',
        'train_dataloader.dataset.indices=16',
        'val_dataloader.dataset.indices=16',
        'test_dataloader.dataset.indices=16', 'test_dataloader.batch_size=8'
    ]


def test_tools_train_load_from_and_resume_refuse(tmp_path, monkeypatch,
                                                 evil_ckpt,
                                                 fashion_mnist_root):
    opts = _fast_fashion_options()
    with pytest.raises(CheckpointSecurityError, match=str(evil_ckpt)):
        run_tool('train.py', [
            FASHION_CFG, '--work-dir', tmp_path / 'load_from', '--no-validate',
            '--cfg-options', f'load_from={evil_ckpt}', *opts
        ], monkeypatch)
    # --resume with no path follows last_checkpoint in the work dir (an
    # explicit --resume PATH is Runner.resume(PATH): the toy test above)
    work_dir = tmp_path / 'auto'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(str(evil_ckpt))
    with pytest.raises(CheckpointSecurityError, match=str(evil_ckpt)):
        run_tool('train.py', [
            FASHION_CFG, '--work-dir', work_dir, '--no-validate', '--resume',
            '--cfg-options', *opts
        ], monkeypatch)


def test_tools_test_refuses(tmp_path, monkeypatch, evil_ckpt,
                            fashion_mnist_root):
    with pytest.raises(CheckpointSecurityError, match=str(evil_ckpt)):
        run_tool('test.py', [
            FASHION_CFG, evil_ckpt, '--work-dir', tmp_path / 'test',
            '--cfg-options', *_fast_fashion_options()
        ], monkeypatch)
