"""Say where a missing dataset must go, before the Runner is built.

Without this, a missing Fashion-MNIST ends in mmpretrain's "Cannot find
FashionMNIST dataset in data/fashion_mnist/, you can specify `download=True`"
after the model is built, a missing CIFAR makes mmpretrain's classes (whose
``download`` defaults to True) start a 170 MB download, which on an offline
machine fails with a network error that says nothing about the files, and a
missing CUB ends in a bare "No such file" for ``images.txt``.

:func:`check_dataset_files` reads the dataset entries of a config (``type``
and ``data_root`` / ``data_prefix``, through dataset wrappers), asks the
dataset class which files it reads (its own ``train_list`` / ``test_list`` /
``base_folder``, so subclasses are covered as well), and raises one
:class:`FileNotFoundError` that names each missing file and says how to get it
there. It changes no dataset class: a dataset entry with ``download=True``
written in the config is left to mmpretrain's download, and paths on a remote
backend (``s3://`` ...) are not checked.
"""
import os.path as osp
from typing import Any, Iterator, List, Optional, Sequence, Tuple

#: What to do when a dataset is missing, by mmpretrain class name. ``{root}``
#: is the directory the config points at, ``{download}`` the ``--cfg-options``
#: that switch mmpretrain's download on for the entries concerned.
HINTS = {
    'FashionMNIST':
    'run `make data` (or `python tools/prepare_fashion_mnist.py --dst '
    '{root}`), which unzips the four Fashion-MNIST idx files there; on a '
    'machine with internet access, --cfg-options {download} lets '
    'mmpretrain download them',
    'MNIST':
    'put the four unzipped MNIST idx files (train-images-idx3-ubyte, ...) '
    'in {root}, or set --cfg-options {download} on a machine with '
    'internet access',
    'CIFAR10':
    'download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/'
    'cifar.html and extract it so that {root}/cifar-10-batches-py/'
    'data_batch_1 exists (put cifar-10-batches-py under {root}), or set '
    '--cfg-options {download} on a machine with internet access',
    'CIFAR100':
    'download cifar-100-python.tar.gz from https://www.cs.toronto.edu/~kriz/'
    'cifar.html and extract it so that {root}/cifar-100-python/train exists '
    '(put cifar-100-python under {root}), or set --cfg-options '
    '{download} on a machine with internet access',
    'CUB':
    'download CUB_200_2011.tgz (https://www.vision.caltech.edu/datasets/'
    'cub_200_2011/) and extract it so that {root}/images.txt, '
    '{root}/image_class_labels.txt, {root}/train_test_split.txt and '
    '{root}/images/ exist (the tgz holds a CUB_200_2011 folder: put it at '
    '{root})',
}
_GENERIC_HINT = ('put the dataset at {root} in the layout mmpretrain '
                 'documents for {type}, or point {key}.data_root (and the '
                 'other dataloaders\' data_root) at it')


def _dataset_entries(cfg_value: Any, key: str) -> Iterator[Tuple[str, dict]]:
    """(config key, dataset dict) for a dataset entry and the datasets inside
    wrappers (``dataset=`` / ``datasets=[...]``)."""
    if not isinstance(cfg_value, dict):
        return
    inner = cfg_value.get('dataset')
    if isinstance(inner, dict):
        yield from _dataset_entries(inner, f'{key}.dataset')
    inners = cfg_value.get('datasets')
    if isinstance(inners, (list, tuple)):
        for i, item in enumerate(inners):
            yield from _dataset_entries(item, f'{key}.datasets.{i}')
    if 'type' in cfg_value and inner is None and inners is None:
        yield key, cfg_value


def _dataset_class(type_: Any, scope: Optional[str]) -> Optional[type]:
    if isinstance(type_, type):
        return type_
    if not isinstance(type_, str):
        return None
    from mmfsp.registry import DATASETS
    try:
        if scope and '.' not in type_ and scope != 'mmfsp':
            found = DATASETS.get(f'{scope}.{type_}')
            if found is not None:
                return found
        return DATASETS.get(type_)
    except (KeyError, ImportError):
        return None


def _family(cls: type) -> Optional[str]:
    """The mmpretrain dataset family of ``cls`` (its class or a base)."""
    from mmpretrain.datasets import CIFAR10, CIFAR100, CUB, MNIST, FashionMNIST
    for family in (FashionMNIST, MNIST, CIFAR100, CIFAR10, CUB):
        if issubclass(cls, family):
            return family.__name__
    return None


def _is_remote(path: str) -> bool:
    return '://' in path


def _data_dir(entry: dict) -> str:
    """The directory an mmpretrain MNIST / CIFAR dataset reads: ``data_root``
    joined with ``data_prefix`` (as mmengine's ``BaseDataset`` joins them)."""
    root = entry.get('data_root') or ''
    prefix = entry.get('data_prefix') or ''
    if isinstance(prefix, dict):
        prefix = prefix.get('root', prefix.get('img_path', '')) or ''
    return osp.join(root, prefix) if prefix else root


def _required_files(cls: type, family: str, entry: dict) -> List[str]:
    """The files the dataset class reads, as paths."""
    if family in ('MNIST', 'FashionMNIST'):
        root = _data_dir(entry)
        names = [
            name[:-3] if name.endswith('.gz') else name
            for name, _ in list(cls.train_list) + list(cls.test_list)
        ]
        return [osp.join(root, name) for name in names]
    if family in ('CIFAR10', 'CIFAR100'):
        folder = osp.join(_data_dir(entry), cls.base_folder)
        names = [name for name, _ in list(cls.train_list) +
                 list(cls.test_list)] + [cls.meta['filename']]
        return [osp.join(folder, name) for name in names]
    if family == 'CUB':
        root = entry.get('data_root') or ''
        return [
            osp.join(root, name) for name in
            ('images.txt', 'image_class_labels.txt', 'train_test_split.txt',
             'images')
        ]
    return []


def _problem(key: str, entry: dict,
             scope: Optional[str]) -> Optional[Tuple[str, str, tuple]]:
    """(type name, root, missing paths) of one dataset entry, or None."""
    if entry.get('download') is True:
        return None  # the user asked mmpretrain to download it
    if (entry.get('backend_args') or {}).get('backend', 'local') != 'local':
        return None
    cls = _dataset_class(entry.get('type'), entry.get('_scope_', scope))
    if cls is None:
        return None  # unknown type: the Runner reports it
    family = _family(cls)
    type_name = getattr(cls, '__name__', str(entry.get('type')))
    if family is None:
        root = entry.get('data_root') or ''
        if root and not _is_remote(root) and not osp.exists(root):
            return type_name, root, (root, )
        return None
    files = _required_files(cls, family, entry)
    if not files or any(_is_remote(f) for f in files):
        return None
    missing = tuple(f for f in files if not osp.exists(f))
    if not missing:
        return None
    root = entry.get('data_root') if family == 'CUB' else _data_dir(entry)
    return type_name, root.rstrip('/') or '.', missing


def _describe(keys: List[str], type_name: str, root: str,
              missing: tuple, family: Optional[str]) -> str:
    shown = ', '.join(missing[:4]) + (
        f' (and {len(missing) - 4} more)' if len(missing) > 4 else '')
    key = keys[0]
    download = ' '.join(f'{k}.download=True' for k in keys)
    if family is None:
        hint = _GENERIC_HINT.format(root=root, type=type_name, key=key)
        what = f'data_root {root} does not exist'
    else:
        hint = HINTS[family].format(root=root, download=download)
        what = f'missing {shown}'
    return f'{", ".join(keys)} ({type_name}): {what}. To fix it, {hint}.'


def check_dataset_files(
    cfg: Any,
    keys: Sequence[str] = ('train_dataloader', 'val_dataloader',
                           'test_dataloader')
) -> None:
    """Raise :class:`FileNotFoundError` if a dataset the config's
    ``keys`` dataloaders read is missing, saying where to put it.

    A dataloader set to None (``--no-validate``), a dataset with
    ``download=True`` in the config, a remote path and an unknown type are
    skipped. Relative paths are taken from the current directory, as the
    datasets do. Entries with the same missing files are reported once.
    """
    scope = cfg.get('default_scope')
    found: dict = {}  # (type name, root, missing) -> (family, [keys])
    for key in keys:
        loader = cfg.get(key)
        if not isinstance(loader, dict):
            continue
        for entry_key, entry in _dataset_entries(
                loader.get('dataset'), f'{key}.dataset'):
            problem = _problem(entry_key, entry, scope)
            if problem is None:
                continue
            cls = _dataset_class(entry.get('type'),
                                 entry.get('_scope_', scope))
            family = _family(cls)
            found.setdefault(problem, (family, []))[1].append(entry_key)
    if found:
        lines = [
            _describe(entry_keys, *problem, family)
            for problem, (family, entry_keys) in found.items()
        ]
        raise FileNotFoundError(
            'Dataset files are missing (relative paths are from '
            f'{osp.abspath(".")}):\n  ' + '\n  '.join(lines))
