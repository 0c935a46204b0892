"""tools/analysis_tools/transfer_probe.py: the linear probe learns what
separable features hold and nothing from random labels, is deterministic,
and the tool runs end to end on frozen checkpoints (digits target and a
dataset config)."""
import json

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from analysis_tools.transfer_probe import (build_frozen_model,
                                           config_target, digits_target,
                                           ensemble_features,
                                           extract_features, linear_probe,
                                           main, parse_ensemble,
                                           transfer_probe)
from tests.conftest import REPO_ROOT

FMNIST_CFG = str(REPO_ROOT / 'configs/resnet/resnet8_1xb128_fashion-mnist.py')


@pytest.fixture
def one_thread():
    """Small matrices: one thread is faster (and, on a busy machine, much
    faster) than two; the suite's setting is put back afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def clusters(num_classes=5, per_class=60, dim=8, spread=0.3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(num_classes, dim, generator=gen)
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    feats = centres[labels] + spread * torch.randn(
        len(labels), dim, generator=gen)
    order = torch.randperm(len(labels), generator=gen)
    return feats[order], labels[order]


def test_probe_separates_clusters_and_not_random_labels(one_thread):
    # one draw split in two: train and test share the cluster centres
    x, y = clusters(per_class=120)
    separable = linear_probe(x[:300], y[:300], x[300:], y[300:], l2=1e-2)
    assert separable['top1'] == pytest.approx(100.0)
    assert separable['train_top1'] == pytest.approx(100.0)
    gen = torch.Generator().manual_seed(3)
    noise = torch.randn(600, 8, generator=gen)
    labels = torch.randint(0, 5, (600, ), generator=gen)
    chance = linear_probe(noise[:300], labels[:300], noise[300:],
                          labels[300:])  # l2 chosen on 20% of the train
    assert 10.0 <= chance['top1'] <= 30.0  # 5 classes: chance is 20%
    assert 10.0 <= chance['val_top1'] <= 35.0
    assert chance['l2'] in (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def test_probe_is_deterministic_and_checks_shapes():
    x, y = clusters(spread=2.0, per_class=80)
    a = linear_probe(x[:200], y[:200], x[200:], y[200:], l2=1e-3)
    b = linear_probe(x[:200], y[:200], x[200:], y[200:], l2=1e-3)
    assert a == b and 'val_top1' not in a and a['l2'] == 1e-3
    assert 40.0 < a['top1'] < 100.0  # overlapping clusters: in between
    with pytest.raises(ValueError, match='one D'):
        linear_probe(x, y, x[:, :3], y)
    with pytest.raises(ValueError, match='l2'):
        linear_probe(x, y, x, y, l2=-1.0)


def test_ensemble_features():
    a, b = torch.ones(4, 3), torch.zeros(4, 3)
    assert ensemble_features([a, b], 'concat').shape == (4, 6)
    assert torch.equal(ensemble_features([a, b], 'mean'), a / 2)
    with pytest.raises(ValueError, match='one feature size'):
        ensemble_features([a, torch.ones(4, 5)], 'mean')
    with pytest.raises(ValueError, match='mode'):
        ensemble_features([a], 'max')


def test_parse_ensemble():
    assert parse_ensemble('0-2', 3) == [0, 1, 2]
    assert parse_ensemble('0,2', 3) == [0, 2]
    for spec in ('0', '0-3', '1,1', 'a-b'):
        with pytest.raises(ValueError):
            parse_ensemble(spec, 3)


def test_digits_target_is_fixed_and_fashion_mnist_like():
    pytest.importorskip('sklearn')
    target = digits_target(batch_size=400)
    train = torch.cat([b['inputs'] for b in target.train])
    test = torch.cat([b['inputs'] for b in target.test])
    assert train.shape == (1000, 1, 28, 28) and test.shape == (797, 1, 28,
                                                               28)
    assert train.min() >= 0 and 200 < train.max() <= 255
    labels = torch.cat([
        s.gt_label for b in target.train for s in b['data_samples']
    ])
    assert sorted(labels.unique().tolist()) == list(range(10))
    again = digits_target(batch_size=400)
    assert torch.equal(train, torch.cat([b['inputs'] for b in again.train]))


def _checkpoint(tmp_path, seed: int) -> str:
    """A ResNet-8 checkpoint with the initial weights of ``seed``."""
    model = build_frozen_model(FMNIST_CFG, None, seed=seed)
    path = tmp_path / f'gen{seed}.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


def test_frozen_model_features(tmp_path):
    model = build_frozen_model(FMNIST_CFG, _checkpoint(tmp_path, 0))
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    # the model normalises with its own (Fashion-MNIST) preprocessor
    assert model.data_preprocessor.mean.flatten().tolist() == \
        pytest.approx([72.94])
    from mmpretrain.structures import DataSample
    batch = dict(
        inputs=torch.full((3, 1, 28, 28), 72.94),
        data_samples=[DataSample().set_gt_label(i) for i in range(3)])
    feats, labels = extract_features(model, [batch, batch])
    assert feats.shape == (6, 64) and labels.tolist() == [0, 1, 2] * 2
    assert not feats.requires_grad


def test_tool_on_digits_end_to_end(tmp_path, capsys, one_thread):
    pytest.importorskip('sklearn')
    ckpts = [_checkpoint(tmp_path, s) for s in (0, 1)]
    out = tmp_path / 'probe.json'
    result = main([
        '--model', FMNIST_CFG, ckpts[0], '--model', FMNIST_CFG, ckpts[1],
        '--name', 'gen0', '--name', 'gen1', '--l2', '1e-3', '--out',
        str(out), '--random-init'
    ])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    rows = {r['name']: r for r in result['rows']}
    assert list(rows) == [
        'gen0', 'gen1', 'random-init', 'ensemble gen0,gen1 (concat)',
        'ensemble gen0,gen1 (mean)'
    ]
    assert rows['ensemble gen0,gen1 (concat)']['feature_dim'] == 128
    assert rows['ensemble gen0,gen1 (mean)']['feature_dim'] == 64
    assert result['target']['train_size'] == 1000
    # random ResNet-8 features still carry the digits well above chance
    for row in rows.values():
        assert 30.0 < row['top1'] <= 100.0, row
    assert rows['gen0']['top1'] != rows['gen1']['top1']
    # the random-init row is the first config's model with init_weights()
    # under seed 0, the weights gen0.pth was saved with
    assert rows['random-init']['top1'] == rows['gen0']['top1']
    printed = capsys.readouterr().out
    assert '| ensemble gen0,gen1 (concat) | 128 |' in printed


def _image_folder_config(tmp_path) -> str:
    """A dataset config in mmpretrain's CustomDataset layout: a class per
    folder, 28x28 grey PNGs, bright in class 'b' and dark in class 'a'."""
    rng = np.random.default_rng(0)
    for split in ('train', 'test'):
        for cls, level in (('a', 40), ('b', 200)):
            folder = tmp_path / split / cls
            folder.mkdir(parents=True)
            for i in range(6):
                pixels = np.clip(level + rng.normal(0, 10, (28, 28)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(
                    folder / f'{i}.png')
    pipeline = [
        dict(type='LoadImageFromFile', color_type='grayscale'),
        dict(type='PackInputs')
    ]

    def loader(split):
        return dict(
            batch_size=5,
            num_workers=0,
            dataset=dict(
                type='CustomDataset',
                data_root=str(tmp_path / split),
                pipeline=pipeline),
            sampler=dict(type='DefaultSampler', shuffle=False))

    path = tmp_path / 'folders.py'
    Config(dict(train_dataloader=loader('train'),
                test_dataloader=loader('test'))).dump(str(path))
    return str(path)


def test_config_target(tmp_path, one_thread):
    target = config_target(_image_folder_config(tmp_path))
    assert target.num_classes == 2 and target.name == 'folders'
    model = build_frozen_model(FMNIST_CFG, _checkpoint(tmp_path, 0))
    result = transfer_probe([('gen0', model)], target, l2=1e-3)
    row, = result['rows']
    assert row['top1'] == pytest.approx(100.0)  # bright vs dark
    # members of different feature sizes: concatenated, not averaged
    wide = Config.fromfile(FMNIST_CFG)
    wide.model.backbone.widen_factor = 2
    wide.model.head.in_channels = 128
    result = transfer_probe(
        [('gen0', model), ('wide', build_frozen_model(wide, None))],
        target,
        l2=1e-3)
    rows = {r['name']: r for r in result['rows']}
    assert rows['ensemble gen0,wide (concat)']['feature_dim'] == 64 + 128
    assert 'one feature size' in rows['ensemble gen0,wide (mean)']['skipped']
    assert 'top1' not in rows['ensemble gen0,wide (mean)']
    with pytest.raises(ValueError, match='test_dataloader'):
        config_target(Config(dict(train_dataloader=dict())))


def test_cifar10_probe_config_has_no_augmentation(tmp_path, monkeypatch):
    cfg = Config.fromfile(
        str(REPO_ROOT / 'configs/_base_/datasets/cifar10_probe.py'))
    for key in ('train_dataloader', 'test_dataloader'):
        loader = cfg[key]
        assert [t['type'] for t in loader.dataset.pipeline] == ['PackInputs']
        assert loader.sampler.shuffle is False
    assert cfg.train_dataloader.dataset.split == 'train'
    assert cfg.test_dataloader.dataset.split == 'test'
    # without the files: where they go, before any download is tried
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match='cifar-10-batches-py'):
        config_target(cfg)
