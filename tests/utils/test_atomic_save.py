"""Local checkpoint writes are atomic: a failure or a kill in the middle of
writing a checkpoint (or the ``last_checkpoint`` pointer) leaves the previous
files intact and nothing partial under the final name.

Failures are injected into ``os.write`` for the one file being saved (the
temporary file's name, read from /proc/self/fd, contains the final name):
half of the bytes reach the disk, then ``ENOSPC``, as on a full disk. A kill
is simulated by also making the clean-up a no-op.
"""
import errno
import os
from pathlib import Path

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import checkpoint_hook
from mmengine.runner import save_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint

from mmfsp.utils import atomic_write
from mmfsp.utils.atomic_save import _atomic_put, _open_for_checkpoint_hook
from tests.toy_runner import build_toy_runner

pytestmark = pytest.mark.skipif(
    not os.path.isdir('/proc/self/fd'), reason='needs /proc/self/fd')


class DiskFull:
    """``os.write`` that, for files whose name contains ``needle``, writes
    half of the bytes and raises ENOSPC."""

    def __init__(self, needle: str) -> None:
        self.needle = needle
        self.hits = []
        self._write = os.write

    def __call__(self, fd, data):
        target = os.readlink(f'/proc/self/fd/{fd}')
        if self.needle in os.path.basename(target):
            self.hits.append(target)
            self._write(fd, bytes(data[:len(data) // 2]))
            raise OSError(errno.ENOSPC, 'No space left on device (simulated)')
        return self._write(fd, data)


def _leftovers(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith('.tmp'))


def test_patch_is_installed():
    assert LocalBackend.put is _atomic_put
    assert checkpoint_hook.open is _open_for_checkpoint_hook


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'ckpt.pth'
    path.write_bytes(b'old complete checkpoint')
    disk_full = DiskFull('ckpt.pth')
    monkeypatch.setattr(os, 'write', disk_full)
    with pytest.raises(OSError, match='simulated'):
        get_file_backend(str(path)).put(b'x' * 100_000, str(path))
    assert disk_full.hits, 'the failure was not injected'
    assert path.read_bytes() == b'old complete checkpoint'
    assert _leftovers(tmp_path) == []


def test_killed_write_leaves_nothing_under_the_final_name(
        tmp_path, monkeypatch):
    path = tmp_path / 'iter_8.pth'
    monkeypatch.setattr(os, 'write', DiskFull('iter_8.pth'))
    monkeypatch.setattr(os, 'unlink', lambda *a, **k: None)  # killed: no
    with pytest.raises(OSError):  # clean-up runs
        atomic_write(path, b'y' * 100_000)
    assert not path.exists()
    leftovers = _leftovers(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith('.iter_8.pth.')


def test_writes_create_dirs_follow_umask_and_replace(tmp_path):
    path = tmp_path / 'new' / 'dir' / 'model.pth'
    save_checkpoint({'state_dict': {'w': torch.ones(2)}}, str(path))
    assert torch.equal(_load_checkpoint(str(path))['state_dict']['w'],
                       torch.ones(2))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    backend = get_file_backend(str(path))
    backend.put_text('first', str(tmp_path / 'note.txt'))
    backend.put_text('second', str(tmp_path / 'note.txt'))
    assert (tmp_path / 'note.txt').read_text() == 'second'
    assert _leftovers(path.parent) == [] and _leftovers(tmp_path) == []


def test_checkpoint_hook_failure_mid_save_keeps_last_good(
        tmp_path, monkeypatch):
    """Disk full while CheckpointHook writes iter_4.pth: iter_2.pth and the
    pointer to it are intact, no iter_4.pth, and --resume recovers."""
    work_dir = tmp_path / 'run'
    runner = build_toy_runner(work_dir, max_iters=6, ckpt_interval=2)
    disk_full = DiskFull('iter_4.pth')
    monkeypatch.setattr(os, 'write', disk_full)
    with pytest.raises(OSError, match='simulated'):
        runner.train()
    monkeypatch.undo()
    assert disk_full.hits
    assert not (work_dir / 'iter_4.pth').exists()
    assert _leftovers(work_dir) == []
    assert (work_dir / 'last_checkpoint').read_text() == str(
        work_dir / 'iter_2.pth')
    assert _load_checkpoint(str(work_dir / 'iter_2.pth'),
                            logger='silent')['meta']['iter'] == 2

    resumed = build_toy_runner(work_dir, max_iters=6, ckpt_interval=2,
                               resume=True)
    resumed.train()
    assert resumed.iter == 6
    assert (work_dir / 'last_checkpoint').read_text() == str(
        work_dir / 'iter_6.pth')


def test_pointer_failure_keeps_the_old_pointer(tmp_path, monkeypatch):
    """Disk full while CheckpointHook rewrites last_checkpoint after
    iter_4.pth: the pointer still names iter_2.pth, complete."""
    work_dir = tmp_path / 'run'
    runner = build_toy_runner(work_dir, max_iters=4, ckpt_interval=2)
    calls = {'n': 0}
    disk_full = DiskFull('last_checkpoint')
    real = disk_full.__call__

    def second_pointer_write_fails(fd, data):
        target = os.readlink(f'/proc/self/fd/{fd}')
        if 'last_checkpoint' in target:
            calls['n'] += 1
            if calls['n'] == 1:  # iter_2's pointer goes through
                return disk_full._write(fd, data)
        return real(fd, data)

    monkeypatch.setattr(os, 'write', second_pointer_write_fails)
    with pytest.raises(OSError, match='simulated'):
        runner.train()
    monkeypatch.undo()
    assert (work_dir / 'last_checkpoint').read_text() == str(
        work_dir / 'iter_2.pth')
    assert _load_checkpoint(str(work_dir / 'iter_4.pth'),
                            logger='silent')['meta']['iter'] == 4
    assert _leftovers(work_dir) == []
