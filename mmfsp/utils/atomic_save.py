"""Atomic local checkpoint writes (a stack fix; :func:`mmfsp.compat.install`
applies it when mmfsp is imported).

mmengine 0.10.7 writes a checkpoint by serialising it into memory and calling
``LocalBackend.put(bytes, path)``, which opens ``path`` with ``'wb'`` (that
truncates an existing file at once) and writes into it; ``CheckpointHook`` then
writes the ``last_checkpoint`` pointer with a plain ``open(path, 'w')``. A job
killed, out of disk or out of quota in the middle leaves a truncated file under
the final name, and ``--resume`` then stops on it (or, for a pointer truncated
to nothing, on an empty path).

Here every such write goes to a temporary file in the same directory
(``.<name>.<pid>.<random>.tmp``), is flushed and ``fsync``-ed, and is then
renamed over the final name with :func:`os.replace` (atomic on POSIX and on
Windows for a same-directory rename); the directory is fsync-ed after the
rename so the new name survives a power cut. A reader sees the old file or the
complete new one, never a part. A failed write removes its temporary file; a
process killed with SIGKILL can leave one behind (hidden, never under a
checkpoint name, safe to delete).

Why patch ``LocalBackend.put`` / ``put_text`` and not subclass
``CheckpointHook``: every local checkpoint, whoever saves it
(``CheckpointHook``'s periodic, best and published checkpoints,
``Runner.save_checkpoint``, ``mmengine.runner.save_checkpoint`` called by a
tool), goes through ``get_file_backend(path).put``; a hook subclass would cover
only the hook, and every config (mmpretrain's included) would have to name it.
The patch keeps the methods' signatures and behaviour (directories are still
created), only the way bytes reach the disk changes; other backends (S3,
petrel, HTTP) are untouched. ``CheckpointHook`` writes its pointer with the
builtin ``open`` rather than the backend, so :func:`install_atomic_saves` also
binds the name ``open`` in ``mmengine.hooks.checkpoint_hook`` (that module
only) to :func:`_open_for_checkpoint_hook`, which makes write modes atomic and
passes every other mode to the builtin.
"""
import builtins
import os
import os.path as osp
import uuid
from typing import Any, Union

_CHUNK = 16 << 20  # bytes per os.write call
_INSTALLED = '_mmfsp_atomic'


def _fsync_dir(directory: str) -> None:
    """Make a rename in ``directory`` durable; a no-op where directories
    cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Union[str, os.PathLike], data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either its previous
    content or all of ``data``, never a part.

    Temporary file in the same directory, write, flush + fsync,
    :func:`os.replace`, fsync of the directory. A symbolic link at ``path`` is
    followed (its target is replaced), as ``open(path, 'wb')`` would.
    """
    path = os.fspath(path)
    if osp.islink(path):
        path = osp.realpath(path)
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = osp.join(
        directory,
        f'.{osp.basename(path)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp')
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0)
    fd = os.open(tmp, flags, 0o666)  # the umask applies, as for open()
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view[:_CHUNK])
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _atomic_put(self, obj: bytes, filepath) -> None:
    """``LocalBackend.put`` with :func:`atomic_write`."""
    atomic_write(filepath, obj)


def _atomic_put_text(self, obj: str, filepath, encoding: str = 'utf-8'):
    """``LocalBackend.put_text`` with :func:`atomic_write`."""
    atomic_write(filepath, obj.encode(encoding))


class _AtomicTextFile:
    """What :func:`_open_for_checkpoint_hook` returns for a write mode:
    collects the writes and commits them with :func:`atomic_write` on a
    clean ``close()`` / ``with`` exit; an exception inside the ``with``
    discards them and leaves the file as it was."""

    def __init__(self, path, mode: str, encoding=None):
        self.name = path
        self.mode = mode
        self._binary = 'b' in mode
        self._encoding = encoding or 'utf-8'
        self._parts: list = []
        self.closed = False

    def write(self, data: Any) -> int:
        self._parts.append(data)
        return len(data)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        data = b''.join(self._parts) if self._binary else \
            ''.join(self._parts).encode(self._encoding)
        atomic_write(self.name, data)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.closed = True  # discard: keep the previous file


def _open_for_checkpoint_hook(file, mode: str = 'r', *args, **kwargs):
    """``open`` as seen by ``mmengine.hooks.checkpoint_hook``: write and
    truncate modes (``'w'``, ``'wb'``, ``'wt'``) are atomic, every other use is
    the builtin."""
    if mode in ('w', 'wt', 'wb') and not args and \
            set(kwargs) <= {'encoding'}:
        return _AtomicTextFile(file, mode, kwargs.get('encoding'))
    return builtins.open(file, mode, *args, **kwargs)


def install_atomic_saves() -> None:
    """Make mmengine's local checkpoint writes atomic (see the module
    docstring). Idempotent."""
    from mmengine.fileio.backends.local_backend import LocalBackend
    from mmengine.hooks import checkpoint_hook
    if getattr(LocalBackend, _INSTALLED, False):
        return
    LocalBackend.put = _atomic_put
    LocalBackend.put_text = _atomic_put_text
    checkpoint_hook.open = _open_for_checkpoint_hook
    setattr(LocalBackend, _INSTALLED, True)
