import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from mmfsp.evaluation import (SecondaryClassMetric,
                              load_cifar100_fine_to_coarse,
                              secondary_class_stats)
from mmfsp.registry import METRICS

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
