"""Distillation from one frozen teacher, in stages (MMRazor's
``SingleTeacherDistill``, smaller): Algorithm 1 of Yim et al., "A Gift from
Knowledge Distillation" (CVPR 2017) with :class:`DistillStageSwitchHook`,
and any single-teacher loss (KD, FitNet, tolerant-teacher generations of
Yang et al., AAAI 2019). Stages and loss keys: docs/fsp.md ("Other
distillation losses through the same model").
"""
import copy
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmfsp.registry import MODELS
from mmfsp.utils.config_check import get_entry
from ..distillers import check_shapes_on, logits_class_errors
from .distill_checkpoint import load_teacher_weights

_STAGE_KEYS = {'student_loss', 'distill_losses'}


def _add_prefix(losses: Dict[str, Tensor], prefix: str,
                weight: float) -> Dict[str, Tensor]:
    out = {}
    for key, value in losses.items():
        if 'loss' in key and weight != 1.0:
            value = weight * value if isinstance(value, Tensor) else [
                weight * v for v in value
            ]
        out[f'{prefix}.{key}'] = value
    return out


def _has_pretrained_init(cfg) -> bool:
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        inits = init if isinstance(init, list) else [init]
        if any(isinstance(i, dict) and i.get('type') == 'Pretrained'
               for i in inits):
            return True
        return any(_has_pretrained_init(v) for v in cfg.values())
    if isinstance(cfg, (list, tuple)):
        return any(_has_pretrained_init(v) for v in cfg)
    return False


def _stage_losses(cfg: dict, known: Optional[List[str]]) -> List[str]:
    """The distill loss names of one stage entry (``'all'``: ``known``)."""
    names = cfg.get('distill_losses', 'all')
    if names == 'all':
        return list(known) if known is not None else ['all']
    return list(names or [])


def _stage_errors(stages: List[dict],
                  known: Optional[List[str]] = None) -> List[str]:
    """What is wrong with a ``stages`` list; the distill loss names are
    checked against ``known`` when given."""
    if not stages:
        return ['stages must list at least one stage']
    errors = []
    for k, cfg in enumerate(stages, start=1):
        if not isinstance(cfg, dict):
            errors.append(f'stage {k} must be a dict, got {cfg!r}')
            continue
        if set(cfg) - _STAGE_KEYS:
            errors.append(f'stage {k} has unknown keys '
                          f'{sorted(set(cfg) - _STAGE_KEYS)}; '
                          f'allowed: {sorted(_STAGE_KEYS)}')
            continue
        names = _stage_losses(cfg, known)
        unknown = [n for n in names if n not in known] \
            if known is not None else []
        if unknown:
            errors.append(f'stage {k} names distill losses {unknown} that '
                          f'the distiller does not have: {known}')
        elif not cfg.get('student_loss', True) and not names:
            errors.append(f'stage {k} computes no loss at all')
    return errors


@MODELS.register_module()
class SingleTeacherDistill(BaseModel):
    """A student (``architecture``) distilled from one teacher.

    Args:
        architecture (dict): The student, a plain classifier config (e.g. an
            mmpretrain ``ImageClassifier``), the same as its standalone
            config's ``model``.
        teacher (dict): The teacher's classifier config.
        distiller (dict): A :class:`ConfigurableDistiller` config.
        teacher_ckpt (str, optional): The trained teacher's checkpoint (a
            plain one, or a distillation checkpoint whose student is taken),
            loaded strictly with ``weights_only=True``. Required unless the
            teacher is trainable or its config has a ``Pretrained``
            init_cfg. Defaults to None.
        teacher_trainable (bool): Let distill losses train the teacher.
            Defaults to False: the teacher's parameters do not require grad
            and it runs under ``torch.no_grad()``.
        teacher_norm_eval (bool): Keep the teacher's normalisation layers in
            eval mode (running statistics frozen). A frozen teacher
            (``teacher_trainable=False``) is then kept entirely in eval mode.
            Defaults to True.
        stages (list[dict], optional): What each stage computes: stage
            ``k`` is entry ``k - 1``, ``dict(student_loss=bool,
            distill_losses='all' | [names])``; the teacher runs only in
            stages with a distill loss. Defaults to None: one stage with the
            student's loss and every distill loss.
        stage (int): The stage to start in (1-based). Defaults to 1.
        student_loss_weight (float): Factor on the student's loss entries.
            Defaults to 1.0.
        distill_loss_weight (float): Factor on the distill loss entries.
            Defaults to 1.0.
        dummy_input_shape (Sequence[int], optional): ``(C, H, W)`` of one
            input image. If given, a forward pass of two such zero images
            through teacher and student at build time checks every distill
            loss's paired shapes, so that a configuration error (paired
            layers with different channels) is raised before training
            (training steps do not check them again). Defaults to None.
        data_preprocessor (dict, optional): The data preprocessor.
            Defaults to None: ``ClsDataPreprocessor``.
        init_cfg (dict, optional): The initialisation config. Defaults to
            None.

    Example:
        >>> # FSP (Algorithm 1): stage 1 FSP loss only, stage 2 CE only
        >>> model = dict(
        >>>     type='SingleTeacherDistill',
        >>>     architecture=dict(type='ImageClassifier', ...),
        >>>     teacher=dict(type='ImageClassifier', ...),
        >>>     teacher_ckpt='work_dirs/resnet26_1xb128_cifar10/iter_64000.pth',
        >>>     distiller=dict(type='ConfigurableDistiller', fsp_pairs=[...]),
        >>>     stages=[dict(student_loss=False, distill_losses='all'),
        >>>             dict(student_loss=True, distill_losses=[])])
    """

    def __init__(self,
                 architecture: Union[dict, nn.Module],
                 teacher: Union[dict, nn.Module],
                 distiller: dict,
                 teacher_ckpt: Optional[str] = None,
                 teacher_trainable: bool = False,
                 teacher_norm_eval: bool = True,
                 stages: Optional[List[dict]] = None,
                 stage: int = 1,
                 student_loss_weight: float = 1.0,
                 distill_loss_weight: float = 1.0,
                 dummy_input_shape: Optional[Sequence[int]] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = {}
        if isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor)
            data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)

        self.architecture = self._build(architecture, 'architecture')
        self.teacher = self._build(teacher, 'teacher')
        self.teacher_trainable = teacher_trainable
        self.teacher_norm_eval = teacher_norm_eval
        if teacher_ckpt is not None or not (
                teacher_trainable or _has_pretrained_init(teacher)):
            load_teacher_weights(self.teacher, teacher_ckpt)
            # The teacher's weights are final: init_weights() must not
            # re-initialise them (nor download ImageNet weights).
            self.teacher._is_init = True
        self.teacher_ckpt = teacher_ckpt
        if not teacher_trainable:
            self.teacher.requires_grad_(False)

        self.distiller = MODELS.build(distiller) if isinstance(
            distiller, dict) else distiller
        self.distiller.prepare_from_student(self.architecture)
        self.distiller.prepare_from_teacher(self.teacher)

        self.stages = self._check_stages(stages)
        self.stage = 1
        self.set_stage(stage)
        self.student_loss_weight = float(student_loss_weight)
        self.distill_loss_weight = float(distill_loss_weight)
        self.train(self.training)
        if dummy_input_shape is not None:
            # The only shape check (training steps do not repeat it).
            check_shapes_on(self.distiller, self.teacher, self.architecture,
                            dummy_input_shape)

    # ------------------------------------------------------------ set-up
    @staticmethod
    def _build(cfg: Union[dict, nn.Module], what: str) -> nn.Module:
        if isinstance(cfg, nn.Module):
            return cfg
        if not isinstance(cfg, dict) or 'type' not in cfg:
            raise TypeError(f'model.{what} must be a model config dict with '
                            f'a type (e.g. ImageClassifier), got {cfg!r}')
        return MODELS.build(copy.deepcopy(cfg))

    def _check_stages(self, stages: Optional[List[dict]]) -> List[dict]:
        if stages is None:
            stages = [dict(student_loss=True, distill_losses='all')]
        known = self.distiller.loss_names
        errors = _stage_errors(stages, known)
        if errors:
            raise ValueError(errors[0])
        return [
            dict(student_loss=bool(cfg.get('student_loss', True)),
                 distill_losses=_stage_losses(cfg, known)) for cfg in stages
        ]

    @classmethod
    def check_config(cls, cfg, key: str) -> List[str]:
        """The errors of the model at ``key`` of ``cfg`` that the config
        alone shows (see :func:`mmfsp.utils.check_config`): a malformed
        ``stages`` entry, and a logits loss (a distill loss fed by the
        ``head.fc`` outputs of both networks, e.g. ``KDLoss``) between a
        student and a teacher whose ``head.num_classes`` differ."""
        model = get_entry(cfg, key)
        if not isinstance(model, dict):
            return []
        stages = model.get('stages')
        errors = [f'{key}.stages: {e}' for e in _stage_errors(stages)] \
            if stages is not None else []
        return errors + logits_class_errors(model, key)

    @property
    def student(self) -> nn.Module:
        return self.architecture

    @property
    def num_stages(self) -> int:
        return len(self.stages)

    def stage_uses_teacher(self, stage: Optional[int] = None) -> bool:
        """Whether stage ``stage`` (the current one by default) runs the
        teacher, i.e. has a distill loss."""
        stage = self.stage if stage is None else stage
        return bool(self.stages[stage - 1]['distill_losses'])

    def set_stage(self, stage: int) -> None:
        """Switch to ``stage`` (1-based)."""
        if not isinstance(stage, int) or not 1 <= stage <= len(self.stages):
            raise ValueError(f'stage must be 1..{len(self.stages)} '
                             f'(model.stages has {len(self.stages)} '
                             f'entries), got {stage!r}')
        if self.teacher is None and self.stage_uses_teacher(stage):
            raise RuntimeError(f'stage {stage} needs the teacher, which was '
                               f'freed')
        self.stage = stage

    def free_teacher(self) -> List[nn.Parameter]:
        """Drop the teacher (no later stage needs it) and return its former
        parameters, so that optimizers can forget them too."""
        if self.teacher is None:
            return []
        later = range(self.stage, len(self.stages) + 1)
        if any(self.stage_uses_teacher(s) for s in later):
            raise RuntimeError(
                f'cannot free the teacher: stage(s) '
                f'{[s for s in later if self.stage_uses_teacher(s)]} still '
                f'use it')
        params = list(self.teacher.parameters())
        self.distiller.release_teacher()
        self.teacher = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return params

    def train(self, mode: bool = True) -> 'SingleTeacherDistill':
        """As ``nn.Module.train``; the teacher stays in eval mode when
        frozen, or only its norm layers with ``teacher_norm_eval``."""
        super().train(mode)
        if getattr(self, 'teacher', None) is None:
            return self
        if self.teacher_norm_eval and not self.teacher_trainable:
            self.teacher.eval()
        elif self.teacher_norm_eval:
            for module in self.teacher.modules():
                if isinstance(module, (_BatchNorm, nn.GroupNorm,
                                       nn.LayerNorm)):
                    module.eval()
        return self

    # ---------------------------------------------------------- forward
    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """``loss``: the current stage's losses; ``predict`` and ``tensor``:
        the student's."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode in ('predict', 'tensor'):
            return self.architecture(inputs, data_samples, mode=mode)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self, inputs: Tensor,
             data_samples: List[BaseDataElement]) -> Dict[str, Tensor]:
        cfg = self.stages[self.stage - 1]
        names = cfg['distill_losses']
        if not names:
            student_losses = self._student_forward(inputs, data_samples,
                                                   cfg['student_loss'])
            return _add_prefix(student_losses, 'student',
                               self.student_loss_weight)
        teacher_values = self._teacher_forward(inputs, data_samples, names)
        with self.distiller.student_recorders:
            student_losses = self._student_forward(inputs, data_samples,
                                                   cfg['student_loss'])
        distill = self.distiller.compute_distill_losses(names, teacher_values)
        # Free the recorded features once the losses hold the graph.
        self.distiller.teacher_recorders.reset_data()
        self.distiller.student_recorders.reset_data()
        losses = _add_prefix(distill, 'distill', self.distill_loss_weight)
        if cfg['student_loss']:
            losses.update(
                _add_prefix(student_losses, 'student',
                            self.student_loss_weight))
        return losses

    def _teacher_forward(self, inputs: Tensor,
                         data_samples: List[BaseDataElement],
                         names: List[str]) -> Optional[Dict[Any, Tensor]]:
        """Provide the teacher-side inputs of the distill losses ``names``
        for this batch. Here: a teacher forward pass (under
        ``torch.no_grad()`` unless the teacher is trainable) with the
        distiller's teacher recorders on; returns None (the distiller reads
        the recorders). Subclasses may return the inputs themselves, as
        ``teacher_values`` of ``compute_distill_losses``
        (:class:`CachedTeacherFSPDistill`: from a per-sample cache)."""
        with self.distiller.teacher_recorders, torch.set_grad_enabled(
                self.teacher_trainable and torch.is_grad_enabled()):
            self.teacher(inputs, data_samples, mode='tensor')
        return None

    def _student_forward(self, inputs: Tensor,
                         data_samples: List[BaseDataElement],
                         with_loss: bool) -> Dict[str, Tensor]:
        if with_loss:
            return self.architecture(inputs, data_samples, mode='loss')
        self.architecture(inputs, data_samples, mode='tensor')
        return {}
