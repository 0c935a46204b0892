"""Checkpoint loading with ``torch.load(weights_only=True)`` and an allow-list.

A checkpoint is a pickle: loading it with ``weights_only=False`` runs whatever
code it carries. mmengine 0.10.7 calls ``torch.load`` without ``weights_only``,
so on PyTorch >= 2.6 its own checkpoints are refused (they hold a
``HistoryBuffer`` and numpy arrays in the message hub). mmfsp does not turn the
check off: it registers its own loaders for local files and URLs in mmengine's
``CheckpointLoader`` (used by ``resume``, ``load_from``, ``tools/test.py`` and
``init_cfg=dict(type='Pretrained')``) that load with ``weights_only=True`` and
allow exactly the extra types mmengine writes, listed in
:data:`MMENGINE_SAFE_GLOBALS`.

The only callable among them that is not a constructor is ``getattr``: mmengine
pickles ``HistoryBuffer._statistics_methods`` as ``getattr(HistoryBuffer,
'min')`` and so on. Instead of allowing the builtin, the name
``builtins.getattr`` is bound to :func:`_history_buffer_method`, which returns
only those four methods and refuses everything else.
"""
import os
import pickle
import zipfile
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

_HISTORY_BUFFER_METHODS = ('min', 'max', 'mean', 'current')


class CheckpointSecurityError(pickle.UnpicklingError):
    """A checkpoint holds an object outside mmfsp's allow-list."""


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is truncated or is not a PyTorch checkpoint."""


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
    numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) module names."""
    multiarray = np.core.multiarray if hasattr(np, 'core') else None
    try:
        from numpy._core import multiarray as multiarray2
    except ImportError:  # numpy < 1.26
        multiarray2 = None
    found: list = [np.ndarray, np.dtype]
    for mod_name, mod in (('numpy.core.multiarray', multiarray),
                          ('numpy._core.multiarray', multiarray2)):
        if mod is None:
            continue
        found += [(mod._reconstruct, f'{mod_name}._reconstruct'),
                  (mod.scalar, f'{mod_name}.scalar')]
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
        ]
    return found


#: The types and functions an mmengine 0.10 checkpoint contains beyond what
#: ``torch.load(weights_only=True)`` allows by default.
MMENGINE_SAFE_GLOBALS: list = [
    HistoryBuffer,
    (_history_buffer_method, 'builtins.getattr'),
    (_history_buffer_method, '__builtin__.getattr'),
] + _numpy_globals()


def safe_load(file: Union[str, os.PathLike, Any],
              map_location: Optional[Any] = None) -> Any:
    """``torch.load`` a checkpoint with ``weights_only=True`` and the
    allow-list. Raises :class:`CheckpointSecurityError` for a file that holds
    anything else and :class:`CorruptCheckpointError` for an unreadable one,
    both naming the file."""
    name = os.fspath(file) if isinstance(file, (str, os.PathLike)) else \
        getattr(file, 'name', repr(file))
    try:
        with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
            return torch.load(
                file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if 'weights_only' in str(err) or 'global' in str(err).lower() or \
                isinstance(err, CheckpointSecurityError):
            first_line = str(err).strip().splitlines()[0]
            raise CheckpointSecurityError(
                f'Refusing to load checkpoint {name}: it contains an object '
                f'that is not a tensor or one of the types mmengine writes '
                f'({first_line}). Loading it could run arbitrary code, so '
                f'mmfsp loads checkpoints with weights_only=True. If you '
                f'trust this file, re-save its state dict as plain tensors '
                f'(torch.save({{"state_dict": sd}}, path)) and use that.'
            ) from err
        raise CorruptCheckpointError(
            f'Checkpoint {name} is corrupt or truncated ({err}); re-download '
            f'or re-save it, or resume from an earlier checkpoint.') from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError,
            AttributeError, IndexError) as err:
        raise CorruptCheckpointError(
            f'Checkpoint {name} is corrupt or truncated ({type(err).__name__}:'
            f' {err}); re-download or re-save it, or resume from an earlier '
            f'checkpoint.') from err


def _load_from_local(filename: str, map_location=None) -> Any:
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    return safe_load(filename, map_location=map_location)


def _load_from_url(url: str, map_location=None, model_dir=None) -> Any:
    """Download ``url`` into torch hub's cache (as mmengine does) and load it
    with :func:`safe_load`."""
    from torch.hub import download_url_to_file, get_dir
    from urllib.parse import urlparse
    model_dir = model_dir or os.path.join(get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = os.path.join(model_dir, os.path.basename(urlparse(url).path))
    if not os.path.exists(cached):
        download_url_to_file(url, cached, progress=True)
    return safe_load(cached, map_location=map_location)


def install_safe_checkpoint_loaders() -> None:
    """Make mmengine's ``CheckpointLoader`` load local files and URLs through
    :func:`safe_load`. Idempotent."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_from_local, force=True)
    CheckpointLoader.register_scheme(
        prefixes=['http://', 'https://'], loader=_load_from_url, force=True)
