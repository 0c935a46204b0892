import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from mmengine.config import Config

from mmfsp.evaluation import (FASHION_MNIST_SUPERCLASSES,
                              SecondaryClassMetric,
                              fashion_mnist_fine_to_coarse,
                              load_cifar100_fine_to_coarse,
                              secondary_class_stats)
from mmfsp.registry import METRICS
from tests.conftest import REPO_ROOT

# 6 fine classes in 3 superclasses: {0, 1}, {2, 3}, {4, 5}
FINE_TO_COARSE = [0, 0, 1, 1, 2, 2]
SCORES = torch.tensor([
    # true 0: secondary (k=2) = {2, 1}: one of two in superclass 0
    [0.50, 0.15, 0.20, 0.05, 0.05, 0.05],
    # true 3, predicted 2: secondary excluding the label = {2, 5}
    [0.05, 0.05, 0.60, 0.10, 0.05, 0.15],
])
LABELS = torch.tensor([0, 3])


def test_hand_made_case():
    stats = secondary_class_stats(SCORES, LABELS,
                                  torch.tensor(FINE_TO_COARSE), k=2)
    torch.testing.assert_close(stats['same_superclass'],
                               torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(stats['superclass_mass'],
                               torch.tensor([0.15, 0.60]))
    torch.testing.assert_close(stats['superclass_share'],
                               torch.tensor([0.15 / 0.50, 0.60 / 0.90]))
    # excluding the (wrong) top-1 prediction of image 2 instead: {5, 3}, and
    # the true class 3 counts as a class of the true superclass
    stats = secondary_class_stats(SCORES, LABELS,
                                  torch.tensor(FINE_TO_COARSE), k=2,
                                  exclude='pred')
    torch.testing.assert_close(stats['same_superclass'],
                               torch.tensor([0.5, 0.5]))
    stats = secondary_class_stats(SCORES, LABELS,
                                  torch.tensor(FINE_TO_COARSE), k=1)
    torch.testing.assert_close(stats['same_superclass'],
                               torch.tensor([0.0, 1.0]))


def run_metric(metric, scores=SCORES, labels=LABELS) -> dict:
    samples = [
        DataSample().set_pred_score(s).set_gt_label(int(y)).to_dict()
        for s, y in zip(scores, labels)
    ]
    metric.process({}, samples[:1])
    metric.process({}, samples[1:])
    return metric.evaluate(len(samples))


def test_metric_from_explicit_map():
    metric = METRICS.build(
        dict(type='SecondaryClassMetric', k=2, fine_to_coarse=FINE_TO_COARSE))
    result = run_metric(metric)
    assert result == pytest.approx({
        'secondary/top2_same_superclass': 0.5,
        'secondary/superclass_mass': (0.15 + 0.60) / 2,
        'secondary/superclass_share': (0.15 / 0.5 + 0.6 / 0.9) / 2,
    })


def test_needs_scores():
    metric = SecondaryClassMetric(k=2, fine_to_coarse=FINE_TO_COARSE)
    sample = DataSample().set_pred_label(0).set_gt_label(0).to_dict()
    with pytest.raises(KeyError, match='pred_score'):
        metric.process({}, [sample])
    with pytest.raises(ValueError, match='6 classes'):
        secondary_class_stats(SCORES, LABELS, torch.tensor([0, 1]))


def write_tiny_cifar100(root: Path, fine_to_coarse: list[int],
                        per_class: int = 2) -> Path:
    """Files in the exact cifar-100-python layout (latin1-era pickles with
    bytes keys and a uint8 data array)."""
    folder = root / 'cifar-100-python'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    num = len(fine_to_coarse) * per_class
    for split in ('train', 'test'):
        fine = [c for c in range(len(fine_to_coarse))] * per_class
        rng.shuffle(fine)
        entry = {
            b'filenames': [f'img_{i}.png'.encode() for i in range(num)],
            b'batch_label': f'{split} batch'.encode(),
            b'fine_labels': fine,
            b'coarse_labels': [fine_to_coarse[c] for c in fine],
            b'data': rng.integers(0, 256, (num, 3072), dtype=np.uint8),
        }
        with open(folder / split, 'wb') as f:
            pickle.dump(entry, f, protocol=2)
    meta = {
        b'fine_label_names':
        [f'fine{i}'.encode() for i in range(len(fine_to_coarse))],
        b'coarse_label_names':
        [f'coarse{i}'.encode() for i in range(max(fine_to_coarse) + 1)],
    }
    with open(folder / 'meta', 'wb') as f:
        pickle.dump(meta, f, protocol=2)
    return root


def test_map_read_from_cifar100_files(tmp_path):
    root = write_tiny_cifar100(tmp_path / 'cifar100', FINE_TO_COARSE)
    for split in ('train', 'test'):
        assert load_cifar100_fine_to_coarse(str(root), split) == \
            FINE_TO_COARSE
    metric = SecondaryClassMetric(k=2, data_root=str(root))
    assert metric.fine_to_coarse.tolist() == FINE_TO_COARSE
    assert run_metric(metric)['secondary/top2_same_superclass'] == 0.5


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'cifar-100-python.*fine_to_coarse'):
        SecondaryClassMetric(data_root=str(tmp_path / 'nowhere'))


def test_file_with_code_is_refused(tmp_path):
    folder = tmp_path / 'cifar-100-python'
    folder.mkdir()

    class Evil:

        def __reduce__(self):
            return (print, ('pwned', ))

    with open(folder / 'test', 'wb') as f:
        pickle.dump({b'fine_labels': [Evil()]}, f)
    with pytest.raises(pickle.UnpicklingError, match='refused'):
        load_cifar100_fine_to_coarse(str(tmp_path))


def test_a_class_alone_in_its_superclass_is_left_out():
    # classes {0, 1}, {2} (alone), {3, 4}
    fine_to_coarse = torch.tensor([0, 0, 1, 2, 2])
    scores = torch.tensor([[0.6, 0.3, 0.05, 0.03, 0.02],
                           [0.1, 0.1, 0.6, 0.1, 0.1],
                           [0.1, 0.1, 0.1, 0.3, 0.4]])
    stats = secondary_class_stats(scores, torch.tensor([0, 2, 3]),
                                  fine_to_coarse, k=1)
    for name in ('same_superclass', 'superclass_mass', 'superclass_share'):
        assert torch.isnan(stats[name][1]), name
        assert not torch.isnan(stats[name][[0, 2]]).any(), name
    torch.testing.assert_close(stats['same_superclass'][[0, 2]],
                               torch.tensor([1.0, 1.0]))
    metric = SecondaryClassMetric(k=1, fine_to_coarse=[0, 0, 1, 2, 2])
    result = run_metric(metric, scores, torch.tensor([0, 2, 3]))
    # the mean over the two counted images only
    assert result['secondary/top1_same_superclass'] == 1.0
    assert result['secondary/superclass_mass'] == pytest.approx(
        (0.3 + 0.4) / 2)


def test_fashion_mnist_grouping():
    fine_to_coarse = fashion_mnist_fine_to_coarse()
    assert fine_to_coarse == [0, 1, 0, 0, 0, 2, 0, 2, 3, 2]
    assert list(FASHION_MNIST_SUPERCLASSES) == [
        'upper-body garments', 'trousers', 'footwear', 'bags'
    ]
    classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
    by_name = dict(zip(classes, fine_to_coarse))
    assert {by_name[c] for c in ('Sandal', 'Sneaker', 'Ankle boot')} == {2}
    assert by_name['Dress'] == by_name['Shirt'] == by_name['Coat']
    assert len({by_name['Trouser'], by_name['Bag'], by_name['Shirt'],
                by_name['Sneaker']}) == 4


def test_fashion_mnist_secondary_config_uses_the_grouping():
    cfg = Config.fromfile(
        str(REPO_ROOT / 'configs/_base_/datasets/'
            'fashion_mnist_bs128_secondary.py'))
    accuracy, secondary = cfg.test_evaluator
    assert accuracy['type'] == 'Accuracy'
    assert secondary['fine_to_coarse'] == fashion_mnist_fine_to_coarse()
    assert cfg.val_evaluator == cfg.test_evaluator
    # a model that puts its secondary mass on the look-alikes of each class
    # scores 1.0; one that puts it on the other groups scores 0.0
    labels = torch.arange(10)
    coarse = torch.tensor(fashion_mnist_fine_to_coarse())
    same = coarse[:, None] == coarse[None, :]
    metric = METRICS.build(secondary)
    good = torch.where(same, 0.1, 0.01) + torch.eye(10)
    bad = torch.where(same, 0.01, 0.1) + torch.eye(10)
    good_result = run_metric(metric, good / good.sum(1, keepdim=True),
                             labels)
    metric = METRICS.build(secondary)
    bad_result = run_metric(metric, bad / bad.sum(1, keepdim=True), labels)
    assert good_result['secondary/top2_same_superclass'] == 1.0
    assert bad_result['secondary/top2_same_superclass'] == 0.0
