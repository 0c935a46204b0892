"""How meaningful a model's secondary classes are, judged by CIFAR-100's
20 superclasses, as Yang et al. (AAAI 2019, "Training Deep Neural Networks
in Generations"; arXiv:1805.05551) measure the tolerant teacher's effect.
Their Dist^C and Dist^S are not defined exactly; what mmfsp reports
(``top{K}_same_superclass``, ``superclass_mass``, ``superclass_share``):
docs/losses_and_metrics.md ("Secondary-class metric"). Fashion-MNIST has
no superclasses; mmfsp's grouping of its 10 classes
(:data:`FASHION_MNIST_SUPERCLASSES`) is explained in docs/generations.md
("The secondary-class metric on Fashion-MNIST").
"""
import pickle
from pathlib import Path
from typing import Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.datasets import FashionMNIST
from torch import Tensor

from mmfsp.registry import METRICS

_EXCLUDE = ('label', 'pred')
_CIFAR100_URL = 'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz'

#: mmfsp's superclasses of Fashion-MNIST (docs/generations.md): garments
#: worn on the upper body (a dress included: its images share the tops'
#: silhouette, and a trained classifier confuses it with them, not with
#: trousers), footwear, and the two classes with no look-alike among the
#: ten, each alone.
FASHION_MNIST_SUPERCLASSES: dict[str, tuple[str, ...]] = {
    'upper-body garments':
    ('T-shirt/top', 'Pullover', 'Dress', 'Coat', 'Shirt'),
    'trousers': ('Trouser', ),
    'footwear': ('Sandal', 'Sneaker', 'Ankle boot'),
    'bags': ('Bag', ),
}


def fashion_mnist_fine_to_coarse() -> list[int]:
    """The superclass index (the order of :data:`FASHION_MNIST_SUPERCLASSES`)
    of each Fashion-MNIST class, in the class order of mmpretrain's
    ``FashionMNIST``: ``[0, 1, 0, 0, 0, 2, 0, 2, 3, 2]``."""
    coarse_of = {
        name: i
        for i, names in enumerate(FASHION_MNIST_SUPERCLASSES.values())
        for name in names
    }
    classes = FashionMNIST.METAINFO['classes']
    if sorted(coarse_of) != sorted(classes):
        raise ValueError(f'the Fashion-MNIST superclasses name '
                         f'{sorted(coarse_of)}, mmpretrain\'s FashionMNIST '
                         f'has {sorted(classes)}')
    return [coarse_of[name] for name in classes]


class _LabelsUnpickler(pickle.Unpickler):
    """Reads a CIFAR python batch without running arbitrary code: only the
    numpy array reconstructors the files use (and ``_codecs.encode``, with
    which protocol-2 pickles store bytes) are allowed."""

    _ALLOWED = {
        ('_codecs', 'encode'),
        ('numpy.core.multiarray', '_reconstruct'),
        ('numpy._core.multiarray', '_reconstruct'),
        ('numpy.core.multiarray', 'scalar'),
        ('numpy._core.multiarray', 'scalar'),
        ('numpy', 'ndarray'),
        ('numpy', 'dtype'),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f'refused {module}.{name} in a CIFAR-100 file: it should only '
            f'hold lists, bytes and numpy arrays')


def load_cifar100_fine_to_coarse(data_root: str = 'data/cifar100',
                                 split: str = 'test') -> list[int]:
    """The superclass of each of the 100 fine classes, read from
    ``data_root/cifar-100-python/<split>`` (its ``fine_labels`` and
    ``coarse_labels``)."""
    path = Path(data_root) / 'cifar-100-python' / split
    if not path.is_file():
        raise FileNotFoundError(
            f'CIFAR-100 file {path} not found. The superclass metric reads '
            f'the fine-to-coarse label map from the CIFAR-100 python files: '
            f'download {_CIFAR100_URL} and extract it into {data_root} so '
            f'that {Path(data_root) / "cifar-100-python"}/{{train,test,meta}}'
            f' exist (mmpretrain\'s CIFAR100 layout), set data_root, or pass '
            f'fine_to_coarse=[...] (100 superclass indices) instead.')
    with open(path, 'rb') as f:
        entry = _LabelsUnpickler(f, encoding='latin1').load()
    entry = {k.decode() if isinstance(k, bytes) else k: v
             for k, v in entry.items()}
    missing = {'fine_labels', 'coarse_labels'} - set(entry)
    if missing:
        raise ValueError(f'{path} has no {sorted(missing)}: not a CIFAR-100 '
                         f'python file (CIFAR-10 has no superclasses)')
    mapping: dict[int, int] = {}
    for fine, coarse in zip(entry['fine_labels'], entry['coarse_labels']):
        if mapping.setdefault(int(fine), int(coarse)) != int(coarse):
            raise ValueError(f'{path}: fine class {fine} appears under two '
                             f'superclasses ({mapping[int(fine)]}, {coarse})')
    num_classes = max(mapping) + 1
    absent = sorted(set(range(num_classes)) - set(mapping))
    if absent:
        raise ValueError(f'{path} lacks fine classes {absent}; read the map '
                         f'from a split that has them all')
    return [mapping[c] for c in range(num_classes)]


def secondary_class_stats(scores: Tensor,
                          labels: Tensor,
                          fine_to_coarse: Tensor,
                          k: int = 4,
                          exclude: str = 'label') -> dict[str, Tensor]:
    """Per-image statistics of the module docstring, each of shape (N,).

    Args:
        scores: class probabilities (N, C).
        labels: true classes (N,).
        fine_to_coarse: superclass of each class (C,).
        k: number of secondary classes.
        exclude: 'label' or 'pred': the class left out of the secondary ones.

    Returns:
        ``same_superclass`` (fraction of the k secondary classes in the true
        superclass), ``superclass_mass`` and ``superclass_share``. NaN where
        undefined: all three for an image whose true class is alone in its
        superclass (no class can share it), the share where the model puts
        no mass outside the left-out class.
    """
    num, num_classes = scores.shape
    if fine_to_coarse.numel() != num_classes:
        raise ValueError(
            f'scores have {num_classes} classes but the fine-to-coarse map '
            f'has {fine_to_coarse.numel()}')
    if not 1 <= k < num_classes:
        raise ValueError(f'k must lie in [1, {num_classes - 1}], got {k}')
    if exclude not in _EXCLUDE:
        raise ValueError(f'exclude must be one of {_EXCLUDE}, got {exclude!r}')
    rows = torch.arange(num)
    fine_to_coarse = fine_to_coarse.to(labels.device)
    in_superclass = fine_to_coarse[None, :] == fine_to_coarse[labels][:, None]
    left_out = labels if exclude == 'label' else scores.argmax(dim=1)
    masked = scores.clone()
    masked[rows, left_out] = float('-inf')
    secondary = masked.topk(k, dim=1).indices
    same = in_superclass.gather(1, secondary).float().mean(dim=1)

    not_label = torch.ones_like(in_superclass)
    not_label[rows, labels] = False
    mass = (scores * (in_superclass & not_label)).sum(dim=1)
    other_mass = (scores * not_label).sum(dim=1)
    share = torch.where(other_mass > 0, mass / other_mass,
                        torch.full_like(mass, float('nan')))
    alone = ~(in_superclass & not_label).any(dim=1)
    nan = torch.tensor(float('nan'))
    return dict(
        same_superclass=torch.where(alone, nan, same),
        superclass_mass=torch.where(alone, nan, mass),
        superclass_share=torch.where(alone, nan, share))


@METRICS.register_module()
class SecondaryClassMetric(BaseMetric):
    """Superclass agreement of the secondary classes (module docstring).

    Needs ``pred_score`` in the predictions (mmpretrain's classifiers and
    mmfsp's ensemble set it). Images whose class is alone in its superclass
    are left out of the means (see :func:`secondary_class_stats`).
    Example::

        test_evaluator = [
            dict(type='Accuracy', topk=(1, 5)),
            dict(type='SecondaryClassMetric', data_root='data/cifar100'),
        ]

    On Fashion-MNIST (``configs/_base_/datasets/
    fashion_mnist_bs128_secondary.py``), with mmfsp's grouping
    (:func:`fashion_mnist_fine_to_coarse`)::

        dict(type='SecondaryClassMetric', k=2,
             fine_to_coarse=[0, 1, 0, 0, 0, 2, 0, 2, 3, 2])

    Args:
        k: number of secondary classes. Defaults to 4.
        exclude: 'label' (secondary = top classes other than the true one;
            the default) or 'pred' (other than the top-1 prediction).
        fine_to_coarse: superclass of each class; when given, no file is
            read. Defaults to None.
        data_root: CIFAR-100 root holding ``cifar-100-python/``. Defaults to
            'data/cifar100'.
        split: which CIFAR-100 file to read the map from, 'test' (smaller)
            or 'train'. Defaults to 'test'.
        collect_device, prefix: as mmengine's ``BaseMetric``; the prefix
            defaults to 'secondary'.
    """
    default_prefix = 'secondary'

    def __init__(self,
                 k: int = 4,
                 exclude: str = 'label',
                 fine_to_coarse: Optional[Sequence[int]] = None,
                 data_root: str = 'data/cifar100',
                 split: str = 'test',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if exclude not in _EXCLUDE:
            raise ValueError(
                f'exclude must be one of {_EXCLUDE}, got {exclude!r}')
        if fine_to_coarse is None:
            fine_to_coarse = load_cifar100_fine_to_coarse(data_root, split)
        self.fine_to_coarse = torch.as_tensor(
            list(fine_to_coarse), dtype=torch.long)
        self.k = int(k)
        self.exclude = exclude

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        if not data_samples:
            return
        if any('pred_score' not in s for s in data_samples):
            raise KeyError('SecondaryClassMetric needs pred_score in the '
                           'predictions (class probabilities), not only '
                           'pred_label')
        scores = torch.stack(
            [s['pred_score'].detach().cpu().float() for s in data_samples])
        labels = torch.cat(
            [s['gt_label'].detach().cpu().reshape(1) for s in data_samples])
        stats = secondary_class_stats(scores, labels, self.fine_to_coarse,
                                      self.k, self.exclude)
        for i in range(len(data_samples)):
            self.results.append({n: v[i].item() for n, v in stats.items()})

    def compute_metrics(self, results: list) -> dict[str, float]:
        if not results:
            raise ValueError('SecondaryClassMetric got no predictions')

        def mean(name: str) -> float:
            return torch.tensor([r[name] for r in results],
                                dtype=torch.float64).nanmean().item()

        return {
            f'top{self.k}_same_superclass': mean('same_superclass'),
            'superclass_mass': mean('superclass_mass'),
            'superclass_share': mean('superclass_share'),
        }
