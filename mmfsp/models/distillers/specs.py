"""The feature specs of a distiller's ``loss_forward_mappings`` (MMRazor's
vocabulary: ``dict(from_student, recorder, connector, record_idx,
data_idx)``, see :class:`~mmfsp.models.distillers.ConfigurableDistiller`),
and what a distiller config pairs, read from the config alone (for the
algorithm's config check before anything is built; docs/fsp.md, "Other
distillation losses through the same model").
"""
from typing import Any, Dict, List, Tuple

from mmfsp.utils.config_check import type_name

MAPPING_KEYS = {'from_student', 'recorder', 'connector', 'record_idx',
                'data_idx'}
SpecKey = Tuple


def as_specs(specs: Any) -> List[dict]:
    """One mapping entry (a spec or a list of them) as a list."""
    return list(specs) if isinstance(specs, (list, tuple)) else [specs]


def recorder_names(spec: dict) -> List[str]:
    rec = spec['recorder']
    return [rec] if isinstance(rec, str) else list(rec)


def spec_key(spec: dict) -> SpecKey:
    """A hashable key of a feature spec's content (two specs with the same
    content give the same data)."""
    return (bool(spec['from_student']), tuple(recorder_names(spec)),
            spec.get('connector'), int(spec.get('record_idx', 0)),
            spec.get('data_idx'))


def losses_comparing(cfg: dict, source: str) -> Dict[str, str]:
    """``{loss name: loss type}`` of the distill losses of the distiller
    config ``cfg`` that get the outputs of module ``source`` (e.g.
    ``'head.fc'``) of both networks (``fsp_pairs`` record feature maps,
    never such outputs)."""
    recorders = {True: dict(cfg.get('student_recorders') or {}),
                 False: dict(cfg.get('teacher_recorders') or {})}
    losses = dict(cfg.get('distill_losses') or {})
    found = {}
    for name, mapping in dict(cfg.get('loss_forward_mappings')
                              or {}).items():
        sides = set()
        for specs in dict(mapping or {}).values():
            for spec in as_specs(specs):
                if not isinstance(spec, dict) or 'recorder' not in spec:
                    continue
                side = bool(spec.get('from_student'))
                for rec in recorder_names(spec):
                    rec_cfg = recorders[side].get(rec)
                    if isinstance(rec_cfg, dict) and \
                            rec_cfg.get('source') == source and \
                            type_name(rec_cfg.get('type')) == 'ModuleOutputs':
                        sides.add(side)
        if sides == {True, False}:
            found[name] = type_name((losses.get(name) or {}).get('type'))
    return found


def logits_class_errors(model: dict, key: str) -> List[str]:
    """A logits loss (fed by the ``head.fc`` outputs of both networks) of
    the distillation model config ``model`` (at ``key``) must pair heads
    with the same number of classes."""
    student, teacher = model.get('architecture'), model.get('teacher')
    distiller = model.get('distiller')
    if not all(isinstance(x, dict) for x in (student, teacher, distiller)):
        return []
    s_classes = (student.get('head') or {}).get('num_classes')
    t_classes = (teacher.get('head') or {}).get('num_classes')
    if s_classes is None or t_classes is None or s_classes == t_classes:
        return []
    return [
        f'Distill loss {name!r} ({loss_type}) compares the logits (head.fc '
        f'outputs) of a student with {s_classes} classes ({key}.'
        f'architecture.head.num_classes) and a teacher with {t_classes} '
        f'({key}.teacher.head.num_classes). Both must be the number of '
        f'classes of the dataset: set the wrong one (and use a teacher '
        f'checkpoint trained for it).'
        for name, loss_type in losses_comparing(distiller, 'head.fc').items()
    ]
