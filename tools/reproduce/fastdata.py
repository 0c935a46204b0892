"""The reproduction's in-memory training data path for Fashion-MNIST.

The shipped Fashion-MNIST configs train on mmpretrain's ``FashionMNIST``
with the pipeline ``RandomCrop(28, padding=4)``, ``RandomFlip(0.5,
'horizontal')``, ``PackInputs``: per image a few numpy copies and a
``DataSample``, then ``pseudo_collate``. For these 28x28 images that Python
work costs about as much as a tenth of a ResNet-8 iteration on one CPU
thread, and would keep a GPU waiting most of the time.
:class:`TensorTrainLoader` gives the same batches from tensors held in
memory (on the run's device): the training images as one uint8 tensor,
crops and flips drawn for the whole batch at once, the labels as light
``DataSample`` s. Same distribution of batches (a fresh random permutation
per epoch, zero padding 4, crop offsets 0-8, flip with probability 0.5),
not the same random stream. :func:`attach_train_loader` hands it to a
built runner in place of the config's train dataloader.
"""
import os.path as osp
from typing import Dict, Iterator, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F

#: the training pipeline the loader replaces (the shipped configs')
EXPECTED_PIPELINE = [
    dict(type='RandomCrop', crop_size=28, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
TRAIN_FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte')


def read_idx(path: str) -> np.ndarray:
    """An (uncompressed) IDX file of the MNIST family as a uint8 array."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:2] != b'\x00\x00' or data[2] != 8:
        raise ValueError(f'{path} is not an uncompressed uint8 IDX file')
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big')
             for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_training_set(data_root: str, limit: int = 0
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(images (N, 28, 28) uint8, labels (N,) int64)`` of the training
    set under ``data_root``, the first ``limit`` when ``limit`` > 0 (as a
    dataset's ``indices=limit``)."""
    images = read_idx(osp.join(data_root, TRAIN_FILES[0]))
    labels = read_idx(osp.join(data_root, TRAIN_FILES[1]))
    if len(images) != len(labels):
        raise ValueError(f'{data_root}: {len(images)} images but '
                         f'{len(labels)} labels')
    if limit:
        images, labels = images[:limit], labels[:limit]
    return (torch.from_numpy(images.copy()),
            torch.from_numpy(labels.astype(np.int64)))


def _same_transform(given: dict, expected: dict) -> bool:
    given = dict(given)
    if given.get('type') != expected['type']:
        return False
    defaults = dict(pad_val=0, padding_mode='constant', pad_if_needed=False)
    for key, value in given.items():
        if key == 'type':
            continue
        if key in expected:
            if value != expected[key]:
                return False
        elif defaults.get(key, object()) != value:
            return False
    return all(k in given for k in expected)


def check_pipeline(loader_cfg: dict) -> str:
    """The data root of a train dataloader config that the tensor loader
    can replace; ValueError for any other dataset or pipeline."""
    dataset = loader_cfg['dataset']
    pipeline = list(dataset.get('pipeline') or [])
    if dataset.get('type') != 'FashionMNIST':
        raise ValueError(f'the in-memory data path is for FashionMNIST, '
                         f'not {dataset.get("type")}; use --data-path '
                         f'pipeline')
    if len(pipeline) != len(EXPECTED_PIPELINE) or not all(
            _same_transform(g, e)
            for g, e in zip(pipeline, EXPECTED_PIPELINE)):
        raise ValueError(f'the in-memory data path implements '
                         f'{EXPECTED_PIPELINE}, the config has {pipeline}; '
                         f'use --data-path pipeline')
    return dataset['data_root']


class _Dataset:
    """What mmengine's loop reads of a dataset: its length and metainfo."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.metainfo = dict(classes=[str(i) for i in range(10)])

    def __len__(self) -> int:
        return self.size


class TensorTrainLoader:
    """Endless training batches from in-memory tensors.

    Args:
        images (torch.Tensor): (N, H, W) uint8.
        labels (torch.Tensor): (N, ) int64.
        batch_size (int): images per batch.
        seed (int): seed of the permutations, crops and flips.
        padding (int): zero padding before the crop. Defaults to 4.
        flip_prob (float): horizontal flip probability. Defaults to 0.5.
        device (str): where the images live and batches are made.
            Defaults to 'cpu'.

    Each batch is ``dict(inputs=(B, 1, H, W) uint8 tensor,
    data_samples=[DataSample with gt_label, ...])``, what the config's
    pipeline and ``pseudo_collate`` give the data preprocessor. Epochs
    follow each other without a pause (a batch may straddle two), as with
    mmengine's ``InfiniteSampler``; ``len()`` is the batches per epoch.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor,
                 batch_size: int, seed: int, padding: int = 4,
                 flip_prob: float = 0.5, device: str = 'cpu') -> None:
        if images.dtype != torch.uint8 or images.dim() != 3:
            raise ValueError('images must be an (N, H, W) uint8 tensor')
        if len(images) != len(labels) or len(images) == 0:
            raise ValueError(f'{len(images)} images and {len(labels)} '
                             f'labels')
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.images = images.to(device)
        self.labels = labels.to(torch.int64).cpu()
        self.batch_size = batch_size
        self.padding = padding
        self.flip_prob = flip_prob
        self.device = device
        self.generator = torch.Generator().manual_seed(int(seed))
        self.dataset = _Dataset(len(images))
        self.sampler = None

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def indices(self) -> Iterator[torch.Tensor]:
        """Batches of indices: consecutive random permutations."""
        n = len(self.images)
        carry = torch.empty(0, dtype=torch.int64)
        while True:
            perm = torch.cat([carry,
                              torch.randperm(n, generator=self.generator)])
            cut = len(perm) - len(perm) % self.batch_size
            for i in range(0, cut, self.batch_size):
                yield perm[i:i + self.batch_size]
            carry = perm[cut:]

    def augment(self, idx: torch.Tensor, offsets: torch.Tensor,
                flips: torch.Tensor) -> torch.Tensor:
        """Images ``idx`` zero-padded, cropped at ``offsets`` ((B, 2):
        row, column) and flipped where ``flips``; (B, 1, H, W) uint8."""
        x = self.images[idx.to(self.device)]
        b, h, w = x.shape
        p = self.padding
        if p:
            x = F.pad(x, (p, p, p, p))
        offsets = offsets.to(self.device)
        rows = (offsets[:, :1] + torch.arange(h, device=self.device))
        cols = (offsets[:, 1:] + torch.arange(w, device=self.device))
        batch = torch.arange(b, device=self.device)[:, None, None]
        x = x[batch, rows[:, :, None], cols[:, None, :]]
        flips = flips.to(self.device)[:, None, None]
        x = torch.where(flips, x.flip(-1), x)
        return x.unsqueeze(1)

    def batch(self, idx: torch.Tensor) -> Dict[str, object]:
        b = len(idx)
        offsets = torch.randint(0, 2 * self.padding + 1, (b, 2),
                                generator=self.generator)
        flips = torch.rand(b, generator=self.generator) < self.flip_prob
        return dict(inputs=self.augment(idx, offsets, flips),
                    data_samples=label_samples(self.labels[idx]))

    def __iter__(self) -> Iterator[Dict[str, object]]:
        for idx in self.indices():
            yield self.batch(idx)


def label_samples(labels: torch.Tensor) -> List[object]:
    """One ``DataSample`` with ``gt_label`` (a 1-element int64 tensor) per
    label, as ``PackInputs`` makes them for training."""
    from mmpretrain.structures import DataSample
    out = []
    for label in labels.split(1):
        sample = DataSample()
        sample.set_field(label, 'gt_label', dtype=torch.Tensor)
        out.append(sample)
    return out


def tensor_train_loader(cfg, device: str = 'cpu') -> TensorTrainLoader:
    """The :class:`TensorTrainLoader` that replaces ``cfg``'s train
    dataloader (same images, batch size and seed)."""
    loader_cfg = cfg.train_dataloader
    root = check_pipeline(loader_cfg)
    limit = loader_cfg['dataset'].get('indices') or 0
    if not isinstance(limit, int):
        raise ValueError('the in-memory data path takes indices=N (the '
                         'first N images) only')
    images, labels = load_training_set(root, limit)
    seed = (cfg.get('randomness') or {}).get('seed') or 0
    return TensorTrainLoader(images, labels, loader_cfg['batch_size'], seed,
                             device=device)


def attach_train_loader(runner, loader: TensorTrainLoader) -> None:
    """Make a built, not yet trained ``runner`` train on ``loader``.

    mmengine's ``Runner`` keeps the train dataloader's config and builds it
    only when ``train()`` builds the train loop, from
    ``runner._train_dataloader``; a loop accepts a built loader there."""
    if not isinstance(getattr(runner, '_train_loop', None), dict):
        raise RuntimeError('attach the train loader before runner.train()')
    runner._train_dataloader = loader

