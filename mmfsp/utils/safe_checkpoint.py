"""Checkpoint loading with ``torch.load(weights_only=True)`` and an allow-list.

A checkpoint is a pickle: loading it with ``weights_only=False`` runs whatever
code it carries. mmengine 0.10.7 calls ``torch.load`` without ``weights_only``,
so on PyTorch >= 2.6 its own checkpoints are refused (they hold a
``HistoryBuffer`` and numpy arrays in the message hub). mmfsp does not turn the
check off: :func:`install_safe_checkpoint_loaders` (called by
``mmfsp.compat.install``) sends every checkpoint mmengine loads (local files,
URLs, S3/petrel; docs/failure_and_recovery.md) through :func:`safe_load`:
``weights_only=True`` allowing exactly the extra types mmengine writes, listed
in :data:`MMENGINE_SAFE_GLOBALS`.

The only callable among them that is not a constructor is ``getattr``: mmengine
pickles ``HistoryBuffer._statistics_methods`` as ``getattr(HistoryBuffer,
'min')`` and so on. Instead of allowing the builtin, the name
``builtins.getattr`` is bound to :func:`_history_buffer_method`, which returns
only those four methods and refuses everything else.

Errors name the file and say what is wrong:

- :class:`CheckpointSecurityError`: the file references a class or function
  outside the allow-list (``os.system``, ``builtins.eval``, any user class...).
  Nothing of it was executed. When ``torch.load`` stops on a pickle opcode it
  does not support (a plain ``pickle.dump`` of protocol 4/5 stops at its first
  ``FRAME``), the file's pickles are scanned statically with
  :mod:`pickletools` (which only parses, never executes) for the globals they
  reference, so a hostile pickle is reported as such and not as corrupt.
- :class:`CorruptCheckpointError`: truncated, empty or not a checkpoint at all.
"""
import io
import os
import pickle
import pickletools
import re
import zipfile
from typing import Any, Callable, Iterable, List, Optional, Union
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner import checkpoint as _mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

_HISTORY_BUFFER_METHODS = ('min', 'max', 'mean', 'current')

# How much of a non-zip (legacy / raw pickle) file is scanned for globals, and
# how many consecutive pickles (the legacy format writes five before storage).
_SCAN_BYTES = 64 << 20
_SCAN_PICKLES = 6
_IDENTIFIER = re.compile(r'[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*')
# Phrases of torch's weights-only unpickler that mean "refused an object", as
# opposed to "could not parse the bytes".
_REFUSAL_HINTS = ('unsupported global', 'unrecognized function',
                  'can only create new object', 'can only build',
                  'is blocked', 'refused getattr', 'must be imported')
# Phrases of ``torch.load`` RuntimeErrors that mean a damaged file; any other
# RuntimeError (e.g. a CUDA map_location on a CPU machine) passes through.
_CORRUPT_HINTS = ('pytorchstreamreader', 'zip archive', 'magic number',
                  'corrupt', 'truncat', 'eof', 'crc', 'unexpected end')


class CheckpointSecurityError(pickle.UnpicklingError):
    """A checkpoint holds an object outside mmfsp's allow-list.

    ``filename`` is the checkpoint, ``refused`` the globals found (possibly
    empty when torch refused an object the scan cannot name)."""

    def __init__(self, message: str, filename: str = '',
                 refused: Iterable[str] = ()):
        super().__init__(message)
        self.filename = filename
        self.refused = list(refused)


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is truncated or is not a PyTorch checkpoint."""

    def __init__(self, message: str, filename: str = ''):
        super().__init__(message)
        self.filename = filename


def _history_buffer_method(obj: Any, name: str) -> Callable:
    """Stand-in for ``builtins.getattr`` inside a checkpoint.

    Only ``getattr(HistoryBuffer, 'min'|'max'|'mean'|'current')`` is allowed.
    """
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise CheckpointSecurityError(
        f'refused getattr({obj!r}, {name!r}) in a checkpoint: only '
        f'HistoryBuffer.{{{",".join(_HISTORY_BUFFER_METHODS)}}} are allowed')


def _numpy_globals() -> list:
    """numpy's array/scalar reconstructors and dtype classes, under both the
    numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) module names (a
    checkpoint written with either loads with either)."""
    try:  # numpy >= 2 (and 1.26); importing it does not warn
        from numpy._core import multiarray
    except ImportError:  # numpy < 1.26
        from numpy.core import multiarray
    found: list = [np.ndarray, np.dtype]
    for mod_name in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        found += [(multiarray._reconstruct, f'{mod_name}._reconstruct'),
                  (multiarray.scalar, f'{mod_name}.scalar')]
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [getattr(dtypes, n) for n in dir(dtypes)
                  if n.endswith('DType')]
    return found


#: The types and functions an mmengine 0.10 checkpoint contains beyond what
#: ``torch.load(weights_only=True)`` allows by default.
MMENGINE_SAFE_GLOBALS: list = [
    HistoryBuffer,
    (_history_buffer_method, 'builtins.getattr'),
    (_history_buffer_method, '__builtin__.getattr'),
] + _numpy_globals()


def _global_name(entry: Any) -> str:
    if isinstance(entry, tuple):
        return entry[1]
    return f'{entry.__module__}.{entry.__qualname__}'


def _allowed_global_names() -> set:
    """Names ``torch.load(weights_only=True)`` accepts inside
    :func:`safe_load`: torch's defaults, any user allow-list, and ours."""
    names = {_global_name(g) for g in MMENGINE_SAFE_GLOBALS}
    names |= {_global_name(g) for g in torch.serialization.get_safe_globals()}
    try:  # torch's default allow-list has no public accessor
        from torch._weights_only_unpickler import _get_allowed_globals
        names |= set(_get_allowed_globals())
    except (ImportError, AttributeError):  # pragma: no cover
        names.add('torch.*')  # cannot tell: trust torch's own names
    return names


def _scan_pickle(stream: io.BytesIO, found: List[str]) -> bool:
    """Add the globals one pickle in ``stream`` references to ``found``.

    Parses opcodes only (:func:`pickletools.genops` never calls anything).
    ``STACK_GLOBAL`` takes its module and name from the strings pushed before
    it (directly or through the memo); one that cannot be resolved is reported
    as ``<unresolved STACK_GLOBAL>``. Returns False when the pickle cannot be
    parsed to its ``STOP``.
    """
    pushed: list = []  # values pushed so far: the string, or None
    memo: dict = {}
    try:
        for op, arg, _ in pickletools.genops(stream):
            name = op.name
            if name in ('GLOBAL', 'INST'):
                module, _, attr = str(arg).partition(' ')
                found.append(f'{module}.{attr}')
            elif name == 'STACK_GLOBAL':
                strs = pushed[-2:]
                if len(strs) == 2 and all(isinstance(s, str) for s in strs):
                    found.append(f'{strs[0]}.{strs[1]}')
                else:
                    found.append('<unresolved STACK_GLOBAL>')
                pushed.append(None)
            elif name in ('EXT1', 'EXT2', 'EXT4'):
                found.append(f'<copyreg extension {arg}>')
            elif name in ('PUT', 'BINPUT', 'LONG_BINPUT'):
                memo[arg] = pushed[-1] if pushed else None
            elif name == 'MEMOIZE':
                memo[len(memo)] = pushed[-1] if pushed else None
            elif name in ('GET', 'BINGET', 'LONG_BINGET'):
                pushed.append(memo.get(arg))
            elif name == 'STOP':
                return True
            elif name in ('FRAME', 'PROTO'):
                continue
            else:
                pushed.append(arg if isinstance(arg, str) else None)
    except Exception:  # noqa: BLE001 - malformed bytes: stop scanning
        return False
    return False


def _referenced_globals(file: Any) -> List[str]:
    """The globals the pickles of a checkpoint reference, without loading it.

    Zip checkpoints (``torch.save`` since 1.6): the ``data.pkl`` records.
    Anything else (legacy ``torch.save`` format, a raw pickle): up to
    :data:`_SCAN_PICKLES` consecutive pickles from the first
    :data:`_SCAN_BYTES` bytes. Returns [] when the file cannot be read.
    """
    found: List[str] = []
    is_path = isinstance(file, (str, os.PathLike))
    try:
        if is_path:
            with open(file, 'rb') as f:
                head = f.read(_SCAN_BYTES)
        else:
            file.seek(0)
            head = file.read(_SCAN_BYTES)
        if zipfile.is_zipfile(io.BytesIO(head)) or (
                is_path and zipfile.is_zipfile(file)):
            with zipfile.ZipFile(file if is_path else io.BytesIO(head)) as zf:
                for info in zf.infolist():
                    if info.filename.endswith('.pkl') and \
                            info.file_size <= _SCAN_BYTES:
                        _scan_pickle(io.BytesIO(zf.read(info)), found)
            return found
        if head.startswith(b'PK'):
            return found  # a damaged zip: nothing torch could unpickle
        stream = io.BytesIO(head)
        for _ in range(_SCAN_PICKLES):
            if not _scan_pickle(stream, found):
                break
    except Exception:  # noqa: BLE001 - unreadable: nothing to report
        pass
    return found


def _refused_globals(file: Any) -> List[str]:
    """Globals of ``file`` outside the allow-list, well-formed names only (a
    random byte run that parses as a ``GLOBAL`` is damage, not an attack)."""
    allowed = _allowed_global_names()
    refused = []
    for name in _referenced_globals(file):
        if name in allowed or name in refused or (
                'torch.*' in allowed and name.startswith('torch.')):
            continue
        if name.startswith('<') or _IDENTIFIER.fullmatch(name):
            refused.append(name)
    return refused


def _torch_reason(err: BaseException) -> str:
    """The informative part of torch's weights-only error message."""
    text = str(err)
    if 'WeightsUnpickler error:' in text:
        text = text.split('WeightsUnpickler error:', 1)[1]
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def _security_error(name: str, refused: List[str],
                    reason: str) -> CheckpointSecurityError:
    what = ', '.join(refused[:5]) + (' ...' if len(refused) > 5 else '') \
        if refused else reason
    return CheckpointSecurityError(
        f'Refusing to load checkpoint {name}: it references {what}, which is '
        f'not a tensor or one of the types mmengine writes. Loading it could '
        f'run arbitrary code, so mmfsp loads checkpoints with '
        f'torch.load(weights_only=True) and an allow-list; nothing in it was '
        f'executed. If you trust this file, re-save its weights as plain '
        f'tensors (torch.save({{"state_dict": sd}}, path)) and use that.',
        filename=name, refused=refused)


def safe_load(file: Union[str, os.PathLike, Any],
              map_location: Optional[Any] = None) -> Any:
    """``torch.load`` a checkpoint with ``weights_only=True`` and the
    allow-list.

    Raises :class:`CheckpointSecurityError` for a file that references
    anything else and :class:`CorruptCheckpointError` for an unreadable one,
    both naming the file. Errors that are neither (a missing file, a
    ``map_location`` the machine cannot honour) pass through with a note
    naming the file.
    """
    name = os.fspath(file) if isinstance(file, (str, os.PathLike)) else \
        getattr(file, 'name', repr(file))
    try:
        with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
            return torch.load(
                file, map_location=map_location, weights_only=True)
    except (OSError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as err:  # noqa: BLE001 - classified below
        is_unpickling = isinstance(err, pickle.UnpicklingError)
        if isinstance(err, RuntimeError) and not any(
                hint in str(err).lower() for hint in _CORRUPT_HINTS):
            err.add_note(f'(while loading checkpoint {name})')
            raise
        refused = _refused_globals(file)
        reason = _torch_reason(err)
        if refused or (is_unpickling and any(
                hint in reason.lower() for hint in _REFUSAL_HINTS)):
            raise _security_error(name, refused, reason) from err
        raise CorruptCheckpointError(
            f'Checkpoint {name} is corrupt, truncated or not a PyTorch '
            f'checkpoint ({type(err).__name__}: {reason}); re-download or '
            f're-save it, or resume from an earlier checkpoint.',
            filename=name) from err


def _load_from_local(filename: str, map_location=None) -> Any:
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    return safe_load(filename, map_location=map_location)


def _load_from_url(url: str, map_location=None, model_dir=None,
                   progress=None) -> Any:
    """Download ``url`` into torch hub's cache (as mmengine does: rank 0
    first, the other ranks after a barrier) and load it with
    :func:`safe_load`. ``torch.hub.download_url_to_file`` writes to a
    temporary file and renames it, so an interrupted download leaves no
    partial file under the cached name."""
    model_dir = model_dir or os.path.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = os.path.join(model_dir, os.path.basename(urlparse(url).path))
    rank, world_size = get_dist_info()
    if rank == 0 and not os.path.exists(cached):
        torch.hub.download_url_to_file(
            url, cached, progress=bool(progress) if progress is not None
            else os.isatty(0))
    if world_size > 1:
        barrier()
        if not os.path.exists(cached):
            torch.hub.download_url_to_file(url, cached, progress=False)
    return safe_load(cached, map_location=map_location)


def _load_from_ceph(filename: str, map_location=None,
                    backend: str = 'petrel') -> Any:
    """mmengine's ``load_from_ceph`` with :func:`safe_load`."""
    file_backend = get_file_backend(
        filename, backend_args={'backend': backend})
    buffer = io.BytesIO(file_backend.get(filename))
    buffer.name = filename  # for the error messages
    return safe_load(buffer, map_location=map_location)


def install_safe_checkpoint_loaders() -> None:
    """Make mmengine's ``CheckpointLoader`` load local files, URLs and
    S3/petrel paths through :func:`safe_load`, and route mmengine's
    ``torchvision://`` / ``open-mmlab://`` / ``mmcls://`` loaders (which call
    the module-level ``load_from_http``) to :func:`_load_from_url`.
    Idempotent."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_from_local, force=True)
    CheckpointLoader.register_scheme(
        prefixes=['http://', 'https://'], loader=_load_from_url, force=True)
    CheckpointLoader.register_scheme(
        prefixes=[r'(\S+\:)?s3://', r'(\S+\:)?petrel://'],
        loader=_load_from_ceph, force=True)
    _mmengine_checkpoint.load_from_http = _load_from_url
