"""The distiller: which features to record, how to connect them, which
losses compare them (MMRazor's ``ConfigurableDistiller``, smaller). How a
distillation config uses it: docs/fsp.md ("Other distillation losses through
the same model").
"""
from typing import Any, Dict, Iterable, List, Optional, Sequence

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmfsp.registry import MODELS
from ..recorders import RecorderManager
from .fsp_pairs import expand_fsp_pairs
from .shape_check import DistillShapeError, data_shape
from .specs import (MAPPING_KEYS, SpecKey, as_specs, recorder_names,
                    spec_key)


def _merge_named(base: dict, extra: dict, what: str) -> dict:
    clash = set(base) & set(extra)
    if clash:
        raise ValueError(f'{what} {sorted(clash)} are defined twice (by '
                         f'fsp_pairs and explicitly); rename one')
    merged = dict(base)
    merged.update(extra)
    return merged


@MODELS.register_module()
class ConfigurableDistiller(BaseModule):
    """Record features of student and teacher and compute distill losses.

    Each loss is called as ``loss(**kwargs)`` with one keyword per entry of
    its ``loss_forward_mappings`` entry. :meth:`check_shapes`, called once
    at build (:func:`~mmfsp.models.distillers.shape_check.check_shapes_on`),
    checks every student tensor a loss receives against the teacher tensor
    in the same position: a mismatch (e.g. paired layers with different
    channel counts) raises :class:`DistillShapeError` naming both sides'
    modules and shapes. Training steps do not check again; a loss that
    fails on mismatched inputs raises the same error.

    Args:
        student_recorders (dict, optional): Name -> recorder config for the
            student (``ModuleOutputs`` / ``ModuleInputs``). Defaults to None.
        teacher_recorders (dict, optional): The same for the teacher.
            Defaults to None.
        connectors (dict, optional): Name -> connector module config.
            Defaults to None.
        distill_losses (dict, optional): Name -> loss config. Names should
            contain ``loss`` (mmengine sums the entries whose key does).
            Defaults to None.
        loss_forward_mappings (dict, optional): Loss name -> keyword -> one
            feature spec or a list of them (the loss then gets a list). A
            feature spec is a dict of ``from_student`` (bool: the student's
            recorders or the teacher's), ``recorder`` (a recorder name, or a
            list of names whose tensors the connector gets as positional
            arguments, e.g. the two features of an FSP matrix),
            ``connector`` (optional connector name), ``record_idx`` (which
            call of the module, 0 by default) and ``data_idx`` (which
            element of a tuple input / output, optional). Defaults to None.
        fsp_pairs (list[dict], optional): FSP layer pairs, expanded by
            :func:`~mmfsp.models.distillers.fsp_pairs.expand_fsp_pairs` into
            recorders, the ``fsp`` connector and the ``loss_fsp`` loss,
            added to whatever else is configured (FSP and a logits KD loss
            can share one distiller). Defaults to None.
        fsp_loss (dict, optional): Overrides of the ``loss_fsp`` config
            (e.g. ``dict(loss_weight=0.5)``); only with ``fsp_pairs``.
            Defaults to None.
        init_cfg (dict, optional): Initialisation of the connectors.
            Defaults to None.

    Example:
        >>> # Hinton KD on the logits of both networks
        >>> distiller = dict(
        >>>     type='ConfigurableDistiller',
        >>>     student_recorders=dict(
        >>>         fc=dict(type='ModuleOutputs', source='head.fc')),
        >>>     teacher_recorders=dict(
        >>>         fc=dict(type='ModuleOutputs', source='head.fc')),
        >>>     distill_losses=dict(loss_kd=dict(type='KDLoss', tau=4)),
        >>>     loss_forward_mappings=dict(
        >>>         loss_kd=dict(
        >>>             preds_S=dict(from_student=True, recorder='fc'),
        >>>             preds_T=dict(from_student=False, recorder='fc'))))
    """

    def __init__(self,
                 student_recorders: Optional[dict] = None,
                 teacher_recorders: Optional[dict] = None,
                 connectors: Optional[dict] = None,
                 distill_losses: Optional[dict] = None,
                 loss_forward_mappings: Optional[dict] = None,
                 fsp_pairs: Optional[List[dict]] = None,
                 fsp_loss: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        parts = dict(
            student_recorders=dict(student_recorders or {}),
            teacher_recorders=dict(teacher_recorders or {}),
            connectors=dict(connectors or {}),
            distill_losses=dict(distill_losses or {}),
            loss_forward_mappings=dict(loss_forward_mappings or {}))
        if fsp_pairs:
            fsp = expand_fsp_pairs(list(fsp_pairs), fsp_loss)
            parts = {
                key: _merge_named(parts[key], fsp[key], key)
                for key in parts
            }
        elif fsp_loss is not None:
            raise ValueError('fsp_loss is given without fsp_pairs')

        self.student_recorders = RecorderManager(parts['student_recorders'])
        self.teacher_recorders = RecorderManager(parts['teacher_recorders'])
        self.connectors = nn.ModuleDict({
            name: MODELS.build(cfg) if isinstance(cfg, dict) else cfg
            for name, cfg in parts['connectors'].items()
        })
        self.distill_losses = nn.ModuleDict({
            name: MODELS.build(cfg) if isinstance(cfg, dict) else cfg
            for name, cfg in parts['distill_losses'].items()
        })
        self.loss_forward_mappings = parts['loss_forward_mappings']
        self._check_mappings()

    # ------------------------------------------------------------ set-up
    def _check_mappings(self) -> None:
        losses, mapped = set(self.distill_losses), set(
            self.loss_forward_mappings)
        if losses - mapped:
            raise ValueError(f'distill losses {sorted(losses - mapped)} have '
                             f'no entry in loss_forward_mappings')
        if mapped - losses:
            raise ValueError(f'loss_forward_mappings names unknown losses '
                             f'{sorted(mapped - losses)}; distill_losses: '
                             f'{sorted(losses)}')
        for loss_name, mapping in self.loss_forward_mappings.items():
            if not isinstance(mapping, dict) or not mapping:
                raise ValueError(f'loss_forward_mappings[{loss_name!r}] must '
                                 f'be a non-empty dict keyword -> spec')
            for arg, specs in mapping.items():
                for spec in as_specs(specs):
                    self._check_spec(loss_name, arg, spec)

    def _check_spec(self, loss_name: str, arg: str, spec: Any) -> None:
        where = f'loss_forward_mappings[{loss_name!r}][{arg!r}]'
        if not isinstance(spec, dict) or 'recorder' not in spec or \
                'from_student' not in spec:
            raise ValueError(f'{where} must be dict(from_student=..., '
                             f'recorder=...[, connector=...]), got {spec!r}')
        unknown = set(spec) - MAPPING_KEYS
        if unknown:
            raise ValueError(f'{where} has unknown keys {sorted(unknown)}')
        recorders = self._manager(spec).recorders
        side = 'student' if spec['from_student'] else 'teacher'
        for name in recorder_names(spec):
            if name not in recorders:
                raise ValueError(f'{where} uses {side} recorder {name!r}, '
                                 f'which is not defined; {side} recorders: '
                                 f'{sorted(recorders)}')
        connector = spec.get('connector')
        if connector is not None and connector not in self.connectors:
            raise ValueError(f'{where} uses connector {connector!r}, which '
                             f'is not defined; connectors: '
                             f'{sorted(self.connectors)}')

    def prepare_from_student(self, student: nn.Module) -> None:
        """Hook the student recorders on ``student``."""
        self.student_recorders.initialize(student)

    def prepare_from_teacher(self, teacher: nn.Module) -> None:
        """Hook the teacher recorders on ``teacher``."""
        self.teacher_recorders.initialize(teacher)

    def release_teacher(self) -> None:
        """Remove the teacher hooks and recorded data (teacher freed)."""
        self.teacher_recorders.remove_hooks()

    @property
    def loss_names(self) -> List[str]:
        return list(self.distill_losses)

    # ---------------------------------------------------------- forward
    def _manager(self, spec: dict) -> RecorderManager:
        return self.student_recorders if spec['from_student'] else \
            self.teacher_recorders

    def _recorded(self, spec: dict, name: str) -> Any:
        """The data recorder ``name`` holds for ``spec``."""
        return self._manager(spec).get_recorder(name).get_record_data(
            spec.get('record_idx', 0), spec.get('data_idx'))

    def get_data(self, spec: dict,
                 teacher_values: Optional[Dict[SpecKey, Any]] = None) -> Any:
        """The data of one feature spec: the recorded data through its
        connector or, for a teacher spec when ``teacher_values`` (key of
        :func:`spec_key` -> data) is given, the value given for it."""
        if teacher_values is not None and not spec['from_student']:
            key = spec_key(spec)
            if key not in teacher_values:
                raise KeyError(f'no teacher data given for {key}; given: '
                               f'{sorted(map(str, teacher_values))}')
            return teacher_values[key]
        data = [self._recorded(spec, name)
                for name in recorder_names(spec)]
        connector = spec.get('connector')
        if connector is not None:
            return self.connectors[connector](*data)
        return data[0] if len(data) == 1 else data

    def _loss_kwargs(self, loss_name: str,
                     teacher_values: Optional[dict] = None) -> Dict[str, Any]:
        kwargs = {}
        for arg, specs in self.loss_forward_mappings[loss_name].items():
            if isinstance(specs, (list, tuple)):
                kwargs[arg] = [self.get_data(s, teacher_values) for s in specs]
            else:
                kwargs[arg] = self.get_data(specs, teacher_values)
        return kwargs

    def _describe(self, spec: dict) -> str:
        parts = []
        for name in recorder_names(spec):
            recorder = self._manager(spec).get_recorder(name)
            buffer = recorder.data_buffer
            shape = data_shape(buffer[spec.get('record_idx', 0)]) \
                if buffer else 'not recorded'
            parts.append(f'{recorder.kind} of {recorder.source} {shape}')
        text = ', '.join(parts)
        if spec.get('connector') is not None:
            text = f'{spec["connector"]}({text})'
        return text

    def _check_pairs(self, loss_name: str, kwargs: Dict[str, Any]) -> None:
        """Raise :class:`DistillShapeError` when a student input of the loss
        (``kwargs``) differs in shape from the teacher input in the same
        position."""
        sides: Dict[bool, list] = {True: [], False: []}
        for arg, specs in self.loss_forward_mappings[loss_name].items():
            many = isinstance(specs, (list, tuple))
            values = kwargs[arg] if many else [kwargs[arg]]
            for i, (spec, value) in enumerate(
                    zip(as_specs(specs), values)):
                sides[bool(spec['from_student'])].append(
                    (f'{arg}[{i}]' if many else arg, spec, value))
        for (s_arg, s_spec, s_val), (t_arg, t_spec, t_val) in zip(
                sides[True], sides[False]):
            s_shape, t_shape = data_shape(s_val), data_shape(t_val)
            if s_shape != t_shape:
                raise DistillShapeError(
                    f'Distill loss {loss_name!r}: student {s_arg} and teacher '
                    f'{t_arg} differ in shape: student '
                    f'{self._describe(s_spec)} -> {s_shape}, teacher '
                    f'{self._describe(t_spec)} -> {t_shape}. The paired '
                    f'layers must have the same channel counts in teacher and '
                    f'student (choose other layers, or map the student\'s '
                    f'channels with a connector, e.g. FSPConnector('
                    f'in_channels=..., out_channels=...)).')

    def check_shapes(self, names: Optional[Iterable[str]] = None) -> None:
        """Check the paired shapes of the losses ``names`` (all by default)
        on the data recorded by the last forward pass."""
        for name in (self.loss_names if names is None else names):
            self._check_pairs(name, self._loss_kwargs(name))

    def compute_distill_losses(
            self,
            names: Optional[Sequence[str]] = None,
            teacher_values: Optional[Dict[SpecKey, Any]] = None
    ) -> Dict[str, Tensor]:
        """The losses ``names`` (all by default) on the recorded data, the
        teacher-side inputs taken from ``teacher_values`` when given (see
        :meth:`get_data`). Shapes are not checked here (once at build, see
        the class docstring): a loss that fails is explained by a
        :class:`DistillShapeError` when its paired inputs differ in shape."""
        losses = {}
        for name in (self.loss_names if names is None else names):
            kwargs = self._loss_kwargs(name, teacher_values)
            try:
                losses[name] = self.distill_losses[name](**kwargs)
            except (RuntimeError, ValueError, IndexError):
                self._check_pairs(name, kwargs)
                raise
        return losses
