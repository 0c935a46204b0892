"""Shared test fixtures: repository paths, tiny dataset layouts, tool runner."""
import os
import pickle
import runpy
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
FASHION_MNIST_DIR = REPO_ROOT / 'data' / 'fashion_mnist'

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

import mmfsp  # noqa: E402,F401
from mmengine.registry import init_default_scope  # noqa: E402

# What a Runner does for a config with default_scope='mmfsp': nested builds
# (an mmpretrain ImageClassifier building an mmfsp backbone) look in mmfsp.
init_default_scope('mmfsp')


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def fashion_mnist_root() -> Path:
    """The real Fashion-MNIST files (``make data`` puts them there)."""
    if not (FASHION_MNIST_DIR / 't10k-labels-idx1-ubyte').exists():
        pytest.fail('Fashion-MNIST is missing from data/fashion_mnist: run '
                    '`make data` (or python tools/prepare_fashion_mnist.py)')
    return FASHION_MNIST_DIR


def run_tool(tool: str, args: Sequence[str], monkeypatch) -> object:
    """Run ``tools/<tool>`` in this process, as ``python tools/<tool> ARGS``.

    In-process so that test-only registered modules (such as the tiny CIFAR
    dataset below) are visible to the tool.
    """
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, 'argv', [f'tools/{tool}', *map(str, args)])
    return runpy.run_path(str(REPO_ROOT / 'tools' / tool),
                          run_name='__main__')


def write_tiny_cifar10(root: Path, per_batch: int = 20,
                       test_size: int = 20, seed: int = 0) -> Path:
    """Write random images in the exact CIFAR-10 python layout
    (``root/cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta``:
    protocol-2 pickles of dicts with str keys, as the original files load
    with ``encoding='latin1'``)."""
    rng = np.random.default_rng(seed)
    folder = root / 'cifar-10-batches-py'
    folder.mkdir(parents=True, exist_ok=True)

    def batch(n: int, name: str) -> None:
        entry = {
            'batch_label': name,
            'labels': rng.integers(0, 10, n).tolist(),
            'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            'filenames': [f'{name}_{i}.png' for i in range(n)],
        }
        with open(folder / name, 'wb') as f:
            pickle.dump(entry, f, protocol=2)

    for i in range(1, 6):
        batch(per_batch, f'data_batch_{i}')
    batch(test_size, 'test_batch')
    meta = {
        'label_names': [
            'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
            'horse', 'ship', 'truck'
        ],
        'num_cases_per_batch': per_batch,
        'num_vis': 3072
    }
    with open(folder / 'batches.meta', 'wb') as f:
        pickle.dump(meta, f, protocol=2)
    return root


def _register_tiny_cifar() -> None:
    """CIFAR-10 / CIFAR-100 classes for tiny test files: the md5 sums of the
    real archives are switched off explicitly here, in the tests only."""
    import mmfsp  # noqa: F401
    from mmpretrain.datasets import CIFAR10, CIFAR100

    from mmfsp.registry import DATASETS

    for base in (CIFAR10, CIFAR100):
        name = f'Tiny{base.__name__}'
        if name in DATASETS.module_dict:
            continue
        attrs = dict(
            train_list=[[f, None] for f, _ in base.train_list],
            test_list=[[f, None] for f, _ in base.test_list],
            meta=dict(base.meta, md5=None))
        DATASETS.register_module(name=name, module=type(name, (base, ), attrs))


@pytest.fixture()
def tiny_cifar10(tmp_path: Path) -> Path:
    _register_tiny_cifar()
    return write_tiny_cifar10(tmp_path / 'cifar10')


FAST_TRAIN_OPTIONS = [
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1',
]
