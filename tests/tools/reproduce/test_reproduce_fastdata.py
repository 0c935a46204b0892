"""tools/reproduce/fastdata.py: the in-memory training batches are the
configs' pipeline (mmpretrain RandomCrop(28, padding=4), RandomFlip(0.5))
applied to the whole batch, over consecutive random permutations."""
import numpy as np
import pytest
import torch

from reproduce.fastdata import (EXPECTED_PIPELINE, TensorTrainLoader,
                                check_pipeline, load_training_set)
from reproduce.presets import R8_CFG, repo_config


def test_crops_and_flips_match_the_mmpretrain_transforms():
    from mmpretrain.datasets.transforms import RandomCrop, RandomFlip
    rng = np.random.RandomState(0)
    images = torch.from_numpy(rng.randint(0, 256, (6, 28, 28),
                                          dtype=np.uint8))
    loader = TensorTrainLoader(images, torch.arange(6), 6, seed=0)
    crop = RandomCrop(crop_size=28, padding=4)
    flip = RandomFlip(prob=0.5, direction='horizontal')
    offsets, flips, expected = [], [], []
    for i in range(6):
        np.random.seed(100 + i)
        oh, ow = np.random.randint(0, 9), np.random.randint(0, 9)
        np.random.seed(100 + i)
        out = flip.transform(crop.transform(dict(img=images[i].numpy())))
        offsets.append((oh, ow))
        flips.append(bool(out['flip']))
        expected.append(out['img'])
    assert any(flips) and not all(flips)
    got = loader.augment(torch.arange(6), torch.tensor(offsets),
                         torch.tensor(flips))
    assert got.shape == (6, 1, 28, 28) and got.dtype == torch.uint8
    assert np.array_equal(got[:, 0].numpy(), np.stack(expected))


def test_batches_cover_each_image_once_per_epoch():
    images = torch.zeros(10, 28, 28, dtype=torch.uint8)
    labels = torch.arange(10) % 3
    loader = TensorTrainLoader(images, labels, 4, seed=1)
    assert len(loader) == 3 and len(loader.dataset) == 10
    it = loader.indices()
    seen = torch.cat([next(it) for _ in range(5)])  # 20 = two epochs
    assert sorted(seen[:10].tolist()) == list(range(10))
    assert sorted(seen.tolist()) == sorted(list(range(10)) * 2)
    batch = next(iter(TensorTrainLoader(images, labels, 4, seed=1)))
    assert batch['inputs'].shape == (4, 1, 28, 28)
    first = next(TensorTrainLoader(images, labels, 4, seed=1).indices())
    assert [int(s.gt_label) for s in batch['data_samples']] == \
        (labels[first]).tolist()
    # the same seed gives the same stream
    again = next(iter(TensorTrainLoader(images, labels, 4, seed=1)))
    assert torch.equal(again['inputs'], batch['inputs'])
    with pytest.raises(ValueError, match='uint8'):
        TensorTrainLoader(images.float(), labels, 4, 0)


def test_training_set_and_pipeline_check(fashion_mnist_root):
    images, labels = load_training_set(str(fashion_mnist_root), 100)
    assert images.shape == (100, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and 0 <= int(labels.min())
    cfg = repo_config(R8_CFG)
    assert check_pipeline(cfg.train_dataloader) == 'data/fashion_mnist'
    assert cfg.train_dataloader.dataset.pipeline == EXPECTED_PIPELINE
    cfg.train_dataloader.dataset.pipeline[1]['prob'] = 0.3
    with pytest.raises(ValueError, match='pipeline'):
        check_pipeline(cfg.train_dataloader)
    cfg.train_dataloader.dataset.type = 'CIFAR10'
    with pytest.raises(ValueError, match='FashionMNIST'):
        check_pipeline(cfg.train_dataloader)
