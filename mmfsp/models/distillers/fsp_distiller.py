"""The configurable distiller plus two extras of the FSP paper: shuffled
teacher FSP matrices (diverse students) and teacher data served from a cache.

Yim, Joo, Bae, Kim, "A Gift from Knowledge Distillation" (CVPR 2017),
section 4.1 ("ensembles"): permuting the channels of a network's feature maps
(with the weights that produce and consume them) gives an equivalent network
with the same outputs, whose FSP matrices are the original ones with rows and
columns permuted: for features ``F1``, ``F2`` permuted by ``P1``, ``P2``,

    G'[b] = fsp(P1 F1, P2 F2)[b] = P1 G[b] P2^T

Stage 1 of each student of an ensemble learns the FSP matrices of a
differently permuted (equivalent) teacher, which makes the students less
correlated and their ensemble better.

**Which permutation for which feature.** Permutations are keyed by the
channel count of the recorded feature: every teacher feature with ``C``
channels is permuted by ``randperm(C)`` drawn from a generator seeded with
``crc32(f'{shuffle_seed}:{C}')``. Hence

* one recorded feature gets the same permutation in every FSP matrix that
  uses it: the output of stage ``k-1`` is the same tensor as the input of
  stage ``k`` (the 2nd map of pair ``k-1`` and the 1st map of pair ``k``)
  and both have its channel count;
* the shuffled matrices are those of a real equivalent teacher. A ResNet's
  identity shortcut forces every feature on one residual stream (same
  channel count: the stem output and the stage-1 output of a CIFAR ResNet,
  16 channels) into one permutation; a module-keyed permutation would break
  that, and the shuffled stage-1 matrix would belong to no equivalent
  network. Features of different channel counts are separated by projection
  shortcuts and can be permuted independently; using one permutation for
  equal-width features that could have been permuted independently is one
  valid choice among the equivalent teachers. For the papers' CIFAR / CUB
  ResNets every residual stream has its own width, so each stream gets its
  own permutation (the most diversity the equivalence allows);
* the same seed gives the same permutations on every run and machine
  (CPU generator, stable hash), different seeds give different students.

Only the teacher's features going through the connectors named in
``shuffle_connectors`` are permuted (by default ``'fsp'``, the teacher-side
FSP connector that ``fsp_pairs`` creates); the student and any other loss
(e.g. a KD loss on the logits) are untouched.

**Teacher data from a cache.** :meth:`teacher_specs` lists the teacher-side
inputs of the given losses (each keyed by its content) and, inside
``with distiller.teacher_data(values):``, :meth:`get_data` returns those
values instead of reading the teacher's recorders, so
:class:`~mmfsp.models.algorithms.CachedTeacherFSPDistill` can skip the
teacher's forward pass.
"""
import zlib
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmfsp.registry import MODELS
from .configurable_distiller import ConfigurableDistiller
from .fsp_pairs import FSP_CONNECTOR

SpecKey = Tuple


def spec_key(spec: dict) -> SpecKey:
    """A hashable key of a feature spec's content (two specs with the same
    content give the same data)."""
    recorder = spec['recorder']
    recorders = (recorder, ) if isinstance(recorder, str) else tuple(recorder)
    return (bool(spec['from_student']), recorders, spec.get('connector'),
            int(spec.get('record_idx', 0)), spec.get('data_idx'))


def channel_permutation(seed: int, channels: int) -> Tensor:
    """``randperm(channels)`` of the generator seeded with
    ``crc32(f'{seed}:{channels}')`` (see the module docstring)."""
    gen = torch.Generator().manual_seed(
        zlib.crc32(f'{int(seed)}:{int(channels)}'.encode()))
    return torch.randperm(int(channels), generator=gen)


@MODELS.register_module()
class FSPDistiller(ConfigurableDistiller):
    """:class:`ConfigurableDistiller` with shuffled teacher FSP and cacheable
    teacher data (see the module docstring). Same config as
    ``ConfigurableDistiller``, plus:

    Args:
        shuffle_seed (int, optional): permute the teacher's channels with
            this seed; None (default) leaves the teacher as it is.
        shuffle_connectors (Sequence[str]): connectors whose teacher-side
            inputs are permuted. Defaults to ``('fsp', )``.
    """

    def __init__(self,
                 shuffle_seed: Optional[int] = None,
                 shuffle_connectors: Sequence[str] = (FSP_CONNECTOR, ),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if shuffle_seed is not None and (isinstance(shuffle_seed, bool) or
                                         not isinstance(shuffle_seed, int)):
            raise TypeError(f'shuffle_seed must be an int or None, got '
                            f'{shuffle_seed!r}')
        self.shuffle_seed = shuffle_seed
        self.shuffle_connectors = tuple(shuffle_connectors)
        if shuffle_seed is not None:
            unknown = [c for c in self.shuffle_connectors
                       if c not in self.connectors]
            if unknown:
                raise ValueError(f'shuffle_connectors {unknown} are not '
                                 f'connectors of this distiller: '
                                 f'{sorted(self.connectors)}')
        self._permutations: Dict[int, Tensor] = {}
        self._teacher_values: Optional[Dict[SpecKey, object]] = None

    # ----------------------------------------------------------- shuffle
    def permutation(self, channels: int) -> Tensor:
        """The permutation of a teacher feature with ``channels`` channels
        (CPU, int64); requires ``shuffle_seed``."""
        if self.shuffle_seed is None:
            raise RuntimeError('this distiller has no shuffle_seed')
        if channels not in self._permutations:
            self._permutations[channels] = channel_permutation(
                self.shuffle_seed, channels)
        return self._permutations[channels]

    def _shuffles(self, spec: dict) -> bool:
        return (self.shuffle_seed is not None and not spec['from_student']
                and spec.get('connector') in self.shuffle_connectors)

    def _permute(self, feature: Tensor) -> Tensor:
        if not isinstance(feature, Tensor) or feature.dim() < 2:
            raise TypeError(f'shuffled FSP permutes the channels (dim 1) of '
                            f'teacher feature maps, got '
                            f'{type(feature).__name__} '
                            f'{getattr(feature, "shape", "")}')
        perm = self.permutation(feature.shape[1]).to(feature.device)
        return feature.index_select(1, perm)

    # ------------------------------------------------------ teacher data
    def teacher_specs(self, names: Optional[Sequence[str]] = None
                      ) -> List[Tuple[SpecKey, dict]]:
        """``(key, spec)`` of every distinct teacher-side input of the losses
        ``names`` (all by default)."""
        out: Dict[SpecKey, dict] = {}
        for name in (self.loss_names if names is None else names):
            for specs in self.loss_forward_mappings[name].values():
                for spec in self._as_specs(specs):
                    if not spec['from_student']:
                        out.setdefault(spec_key(spec), spec)
        return list(out.items())

    @contextmanager
    def teacher_data(self, values: Dict[SpecKey, object]) -> Iterator[None]:
        """Within the block, teacher-side inputs are taken from ``values``
        (key -> data, keys of :meth:`teacher_specs`) instead of the
        teacher's recorders."""
        previous, self._teacher_values = self._teacher_values, dict(values)
        try:
            yield
        finally:
            self._teacher_values = previous

    def get_data(self, spec: dict):
        if not spec['from_student'] and self._teacher_values is not None:
            key = spec_key(spec)
            if key not in self._teacher_values:
                raise KeyError(f'no cached teacher data for {key}; cached: '
                               f'{sorted(map(str, self._teacher_values))}')
            return self._teacher_values[key]
        if not self._shuffles(spec):
            return super().get_data(spec)
        manager = self.teacher_recorders
        data = [
            self._permute(
                manager.get_recorder(name).get_record_data(
                    spec.get('record_idx', 0), spec.get('data_idx')))
            for name in self._recorder_names(spec)
        ]
        return self.connectors[spec['connector']](*data)
