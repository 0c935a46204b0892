"""The configurable distiller plus two extras of the FSP paper (Yim et al.,
CVPR 2017, section 4.1): shuffled teacher FSP matrices for diverse students
(the teacher's channels permuted, an equivalent network whose FSP matrices
are ``P1 G P2^T``; which permutation for which feature: docs/baselines.md,
"Shuffled FSP for diverse students"), and the teacher's loss inputs as
values (:meth:`FSPDistiller.teacher_values`) that
:class:`~mmfsp.models.algorithms.CachedTeacherFSPDistill` caches and gives
back to ``compute_distill_losses(teacher_values=...)``.
"""
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmfsp.registry import MODELS
from .configurable_distiller import ConfigurableDistiller
from .fsp_pairs import FSP_CONNECTOR
from .specs import SpecKey, as_specs, spec_key


def channel_permutation(seed: int, channels: int) -> Tensor:
    """``randperm(channels)`` of the generator seeded with
    ``crc32(f'{seed}:{channels}')`` (see the module docstring)."""
    gen = torch.Generator().manual_seed(
        zlib.crc32(f'{int(seed)}:{int(channels)}'.encode()))
    return torch.randperm(int(channels), generator=gen)


@MODELS.register_module()
class FSPDistiller(ConfigurableDistiller):
    """:class:`ConfigurableDistiller` with shuffled teacher FSP and the
    teacher's loss inputs as cacheable values (see the module docstring).
    Same config as ``ConfigurableDistiller``, plus:

    Args:
        shuffle_seed (int, optional): Permute the teacher's channels with
            this seed: every teacher feature with ``C`` channels by
            ``randperm(C)`` from a generator seeded with
            ``crc32(f'{shuffle_seed}:{C}')``, the same on every machine.
            Defaults to None: the teacher as it is.
        shuffle_connectors (Sequence[str]): Connectors whose teacher-side
            inputs are permuted; the student and other losses are
            untouched. Defaults to ``('fsp', )``.

    Example:
        >>> distiller = dict(type='FSPDistiller', shuffle_seed=1,
        >>>                  fsp_pairs=[...])
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

    def _recorded(self, spec: dict, name: str):
        data = super()._recorded(spec, name)
        return self._permute(data) if self._shuffles(spec) else data

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
                for spec in as_specs(specs):
                    if not spec['from_student']:
                        out.setdefault(spec_key(spec), spec)
        return list(out.items())

    def teacher_values(self, names: Optional[Sequence[str]] = None
                       ) -> Dict[SpecKey, object]:
        """The teacher-side inputs of the losses ``names`` (all by default)
        from the teacher's recorders (shuffled where configured), by key of
        :meth:`teacher_specs`: what ``compute_distill_losses(names,
        teacher_values=...)`` takes instead of the recorders."""
        return {key: self.get_data(spec)
                for key, spec in self.teacher_specs(names)}
