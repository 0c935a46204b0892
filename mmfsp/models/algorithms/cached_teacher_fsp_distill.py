"""Stage 1 with the teacher's FSP matrices computed once per training sample.

Yim et al., "A Gift from Knowledge Distillation" (CVPR 2017), section 4.1:
stage 1 took 35 s per 100 iterations against 16 s for plain training, and
19 s with the teacher's FSP matrices stored. A frozen teacher gives the same
matrices for the same image every time, so they are kept per training sample
(keyed by the dataset index ``sample_idx``) and the teacher runs only for
samples not seen yet. Conditions (all checked) and memory: docs/baselines.md
("Teacher-FSP cache").

The cache has one home, :class:`CachedTeacherFSPDistill`: it verifies the
training data path (when :class:`~mmfsp.engine.hooks.TeacherFSPCacheHook`
asks it to, at the start of training), fills the cache from teacher forward
passes and serves it; its :class:`~mmfsp.models.distillers.FSPDistiller`
only computes the teacher's matrices of a recorded batch and the losses from
the matrices it is given.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.logging import MMLogger
from torch import Tensor

from mmfsp.datasets.pipeline_check import (NondeterministicPipelineError,
                                           check_deterministic_training,
                                           describe_pipeline)
from mmfsp.registry import MODELS
from mmfsp.utils.config_check import get_entry
from ..distillers import FSPDistiller
from ..distillers.specs import SpecKey
from .single_teacher_distill import SingleTeacherDistill

_PURPOSE = 'The teacher-FSP cache (CachedTeacherFSPDistill)'


class TeacherDataCache:
    """Per-sample teacher data on the CPU: one tensor per key with a row per
    dataset index, and a mask of the filled rows. Grows as larger indices
    arrive (or is sized once by :meth:`reserve`)."""

    def __init__(self) -> None:
        self.store: Dict[SpecKey, Tensor] = {}
        self.filled = torch.zeros(0, dtype=torch.bool)

    @property
    def capacity(self) -> int:
        return self.filled.numel()

    def __len__(self) -> int:
        return int(self.filled.sum())

    @property
    def bytes_per_sample(self) -> int:
        return sum(t[0].numel() * t.element_size()
                   for t in self.store.values())

    def reserve(self, size: int) -> None:
        """Make room for indices ``0 .. size - 1``."""
        if size > self.capacity:
            extra = size - self.capacity
            self.filled = torch.cat(
                [self.filled, torch.zeros(extra, dtype=torch.bool)])
            for key, t in self.store.items():
                self.store[key] = torch.cat(
                    [t, t.new_empty((extra, *t.shape[1:]))])

    def clear(self) -> None:
        self.store = {}
        self.filled = torch.zeros(0, dtype=torch.bool)

    def has_all(self, indices: Tensor) -> bool:
        if indices.numel() == 0 or int(indices.max()) >= self.capacity:
            return False
        return bool(self.filled[indices].all())

    def put(self, indices: Tensor, values: Dict[SpecKey, Tensor]) -> None:
        """Store ``values[key][b]`` as the row of sample ``indices[b]``."""
        n = indices.numel()
        for key, value in values.items():
            if not isinstance(value, Tensor) or value.dim() == 0 or \
                    value.shape[0] != n:
                raise TypeError(
                    f'the teacher-FSP cache stores one tensor per input with '
                    f'the batch first; teacher input {key} is '
                    f'{type(value).__name__} '
                    f'{tuple(getattr(value, "shape", ()))} for a batch of {n}')
            if key in self.store and (
                    self.store[key].shape[1:] != value.shape[1:]
                    or self.store[key].dtype != value.dtype):
                raise ValueError(
                    f'teacher input {key} changed from '
                    f'{tuple(self.store[key].shape[1:])} '
                    f'{self.store[key].dtype} to {tuple(value.shape[1:])} '
                    f'{value.dtype}: not a per-sample constant')
        self.reserve(int(indices.max()) + 1)
        for key, value in values.items():
            if key not in self.store:
                # Unfilled rows are never read (``filled``): no need to
                # touch the memory before the samples arrive.
                self.store[key] = torch.empty(
                    (self.capacity, *value.shape[1:]), dtype=value.dtype)
            self.store[key][indices] = value.detach().to('cpu')
        self.filled[indices] = True

    def get(self, indices: Tensor,
            device: torch.device) -> Dict[SpecKey, Tensor]:
        return {
            key: t[indices].to(device, non_blocking=True)
            for key, t in self.store.items()
        }


def sample_indices(data_samples: Optional[List]) -> Tensor:
    """The ``sample_idx`` of each data sample, as a CPU int64 tensor."""
    if not data_samples:
        raise RuntimeError('the teacher-FSP cache needs the data samples of '
                           'the batch (their sample_idx), got none')
    out = []
    for sample in data_samples:
        meta = getattr(sample, 'metainfo', None)
        idx = meta.get('sample_idx') if isinstance(meta, dict) else None
        if idx is None and isinstance(sample, dict):
            idx = sample.get('sample_idx')
        if idx is None:
            raise RuntimeError(
                'the teacher-FSP cache keys on each sample\'s dataset index '
                '`sample_idx`, which this batch does not carry: keep '
                '\'sample_idx\' in the meta_keys of PackInputs (it is there '
                'by default) and use an mmengine BaseDataset')
        out.append(int(idx))
    return torch.tensor(out, dtype=torch.long)


@MODELS.register_module()
class CachedTeacherFSPDistill(SingleTeacherDistill):
    """:class:`SingleTeacherDistill` whose stage-1 teacher data is cached
    per training sample (see the module docstring). Same arguments, plus:

    Args:
        cache_stages (Sequence[int]): The stages that use the cache.
            Defaults to ``(1, )``.

    Train it with ``custom_hooks=[dict(type='TeacherFSPCacheHook')]``, which
    has the model check the training data path
    (:meth:`verify_training_data`) at the start of training.

    Example:
        >>> model = dict(
        >>>     type='CachedTeacherFSPDistill',
        >>>     distiller=dict(type='FSPDistiller', fsp_pairs=[...]),
        >>>     ...)  # the other arguments of SingleTeacherDistill
        >>> custom_hooks = [
        >>>     dict(type='DistillStageSwitchHook', switch_iter=21000,
        >>>          stage_lr=0.1),
        >>>     dict(type='TeacherFSPCacheHook'),
        >>> ]
    """

    def __init__(self, *args, cache_stages: Sequence[int] = (1, ),
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.distiller, FSPDistiller):
            raise TypeError(
                f'CachedTeacherFSPDistill needs an FSPDistiller (the '
                f'ConfigurableDistiller that can serve cached teacher data), '
                f'got {type(self.distiller).__name__}: set '
                f"model.distiller.type='FSPDistiller'")
        if self.teacher_trainable or not self.teacher_norm_eval:
            raise ValueError(
                'the teacher-FSP cache needs a frozen teacher in eval mode '
                '(teacher_trainable=False, teacher_norm_eval=True): '
                'otherwise its outputs change during training or depend on '
                'the batch')
        cache_stages = tuple(int(s) for s in cache_stages)
        bad = [s for s in cache_stages if not 1 <= s <= self.num_stages]
        if bad:
            raise ValueError(f'cache_stages {bad} are not stages of this '
                             f'model (1..{self.num_stages})')
        self.cache_stages = cache_stages
        self.teacher_cache = TeacherDataCache()
        #: description of the verified training data path, None until
        #: :meth:`verify_training_data` has passed
        self.cache_verified: Optional[str] = None

    @classmethod
    def check_config(cls, cfg, key: str) -> List[str]:
        """:meth:`SingleTeacherDistill.check_config`, plus: the training
        data path of a model that caches must be deterministic (no random
        transform in ``train_dataloader.dataset``'s pipeline, no batch
        augment in the data preprocessor)."""
        errors = super().check_config(cfg, key)
        model = get_entry(cfg, key)
        loader = cfg.get('train_dataloader')
        if not isinstance(model, dict) or not model.get(
                'cache_stages', (1, )) or not isinstance(loader, dict) or \
                loader.get('dataset') is None:
            return errors
        try:
            check_deterministic_training(
                loader['dataset'],
                model.get('data_preprocessor')
                or cfg.get('data_preprocessor'),
                purpose=_PURPOSE)
        except NondeterministicPipelineError as err:
            errors.append(str(err))
        return errors

    # ------------------------------------------------------------ set-up
    def verify_training_data(self, dataset, data_preprocessor=None) -> None:
        """Check that ``dataset`` (the training set, built or config) and
        the data preprocessor are deterministic, then allow the cache;
        raises :class:`~mmfsp.datasets.NondeterministicPipelineError`
        naming the random transforms otherwise."""
        if data_preprocessor is None:
            data_preprocessor = self.data_preprocessor
        inner, pipeline = check_deterministic_training(
            dataset, data_preprocessor, purpose=_PURPOSE)
        self.cache_verified = describe_pipeline(pipeline)
        # sample_idx indexes the dataset that owns the pipeline (a
        # RepeatDataset repeats its indices). A config dict has no length:
        # the cache then grows as samples arrive.
        if not isinstance(inner, dict) and hasattr(inner, '__len__'):
            self.teacher_cache.reserve(len(inner))
        MMLogger.get_current_instance().info(
            f'Teacher-FSP cache on for stage(s) {list(self.cache_stages)}; '
            f'training data path checked deterministic: '
            f'{self.cache_verified}')

    def uses_cache(self, stage: Optional[int] = None) -> bool:
        stage = self.stage if stage is None else stage
        return stage in self.cache_stages and self.stage_uses_teacher(stage)

    def set_stage(self, stage: int) -> None:
        super().set_stage(stage)
        cache = getattr(self, 'teacher_cache', None)
        if cache is not None and stage not in self.cache_stages:
            cache.clear()

    def free_teacher(self):
        params = super().free_teacher()
        self.teacher_cache.clear()
        return params

    # ---------------------------------------------------------- forward
    def _teacher_forward(self, inputs: Tensor, data_samples: List,
                         names: List[str]) -> Optional[Dict[SpecKey, Tensor]]:
        """In the cached stages, the teacher-side inputs of the batch from
        the cache, or from a teacher forward pass that fills it."""
        if not self.uses_cache():
            return super()._teacher_forward(inputs, data_samples, names)
        if self.cache_verified is None:
            raise RuntimeError(
                'CachedTeacherFSPDistill caches the teacher only after its '
                'training data path has been checked for random transforms: '
                "add custom_hooks=[dict(type='TeacherFSPCacheHook')] to the "
                'config (or call model.verify_training_data(dataset) '
                'yourself)')
        indices = sample_indices(data_samples)
        if self.teacher_cache.has_all(indices):
            return self.teacher_cache.get(indices, inputs.device)
        with torch.no_grad():
            with self.distiller.teacher_recorders:
                self.teacher(inputs, data_samples, mode='tensor')
            values = self.distiller.teacher_values(names)
        self.distiller.teacher_recorders.reset_data()
        first = len(self.teacher_cache) == 0
        self.teacher_cache.put(indices, values)
        if first:
            per = self.teacher_cache.bytes_per_sample
            MMLogger.get_current_instance().info(
                f'Teacher-FSP cache: {per / 1024:.1f} KiB per sample on the '
                f'CPU, {per * self.teacher_cache.capacity / 2**20:.1f} MiB '
                f'for {self.teacher_cache.capacity} samples; training data '
                f'path: {self.cache_verified}')
        return values
