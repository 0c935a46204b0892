"""Find a distillation config's errors before the Runner is built.

``tools/train.py`` and ``tools/train_generations.py`` call
:func:`check_config` on the final config (after ``--cfg-options``), before
anything is built, so that a mistake costs seconds instead of a training
run. It reads the config only (no file, no model) and raises one
:class:`ConfigError` that lists every problem found, each with what to
change:

* a stage switch (``DistillStageSwitchHook.switch_iter``) after the end of
  an iteration-based training (``> train_cfg.max_iters``): the later stage
  would never run. ``switch_iter == max_iters`` is allowed: stage 1 alone;
* with the hook's ``stage_lr`` set (the hook restarts the lr at the
  switch), an lr scheduler that runs across the switch (``begin < switch <
  end``), or a stage-2 lr schedule whose first ``begin`` is after the
  switch: the stage-2 milestones would count from another iteration than
  the restart (see below);
* a logits loss (a distill loss fed by ``head.fc`` outputs of both
  networks, e.g. ``KDLoss``) pairing a student and a teacher whose
  ``head.num_classes`` differ;
* a teacher-FSP cache (``CachedTeacherFSPDistill``) with random transforms
  in the training pipeline or batch augments.

Errors that need built modules or files are reported where those are
built, also before the first iteration: an unknown recorder module name
(:func:`~mmfsp.models.recorders.base_recorder.find_module`, listing the
closest names), paired layers with different channel counts (the dry
forward pass of ``dummy_input_shape``), a teacher checkpoint whose number of
classes is not the teacher config's
(:func:`~mmfsp.models.algorithms.load_teacher_weights`), a missing dataset
(:func:`~mmfsp.utils.check_dataset_files`, called by the tools just before
this), and a switch after the end of an epoch-based training
(``DistillStageSwitchHook.before_train``).

Why a mismatched stage-2 ``begin`` is an error, not a warning: the switch
hook sets the lr to ``stage_lr`` at ``switch_iter`` and the stage-2
scheduler's milestones count from its own ``begin``. A ``begin`` other than
the switch (typically after ``--cfg-options custom_hooks.0.switch_iter=...``
without moving the schedule) shifts every stage-2 decay by the difference,
or lets the stage-1 scheduler keep decaying the restarted lr; the run
finishes without any sign of it, only with a worse student. Any intended
schedule can be written with ``begin == switch_iter`` (move the milestones;
``dict(type='ConstantLR', factor=1.0, begin=switch, end=...)`` for a constant
stretch), so nothing legitimate is refused. With ``stage_lr=None`` the hook
leaves the lr alone and the schedulers own it entirely: not checked.
"""
from typing import Any, Iterator, List, Optional, Tuple

_INF = float('inf')


class ConfigError(ValueError):
    """The config cannot train as meant; the message says what to change."""


def _type_name(type_: Any) -> str:
    if isinstance(type_, str):
        return type_.split('.')[-1]
    return getattr(type_, '__name__', str(type_))


def _is_a(registry, type_: Any, base: type) -> bool:
    """Whether config ``type_`` (a registered name or a class) is ``base``
    or a subclass."""
    cls = type_ if isinstance(type_, type) else None
    if isinstance(type_, str):
        try:
            cls = registry.get(type_)
        except (KeyError, ImportError):
            cls = None
    if cls is None:
        return _type_name(type_) == base.__name__
    return isinstance(cls, type) and issubclass(cls, base)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _iter_max_iters(cfg) -> Optional[int]:
    """``train_cfg.max_iters`` of an iteration-based training, else None
    (mmengine: ``type='IterBasedTrainLoop'``, or no type and
    ``by_epoch=False``)."""
    train_cfg = cfg.get('train_cfg')
    if not isinstance(train_cfg, dict):
        return None
    loop = train_cfg.get('type')
    iter_based = train_cfg.get('by_epoch') is False if loop is None else \
        _type_name(loop) == 'IterBasedTrainLoop'
    max_iters = train_cfg.get('max_iters')
    return int(max_iters) if iter_based and max_iters is not None else None


def _switch_hooks(cfg) -> Iterator[Tuple[int, dict]]:
    from mmfsp.engine.hooks import DistillStageSwitchHook
    from mmfsp.registry import HOOKS
    for i, hook in enumerate(_as_list(cfg.get('custom_hooks'))):
        if isinstance(hook, dict) and _is_a(HOOKS, hook.get('type'),
                                            DistillStageSwitchHook):
            yield i, hook


def _is_lr_scheduler(scheduler: dict) -> bool:
    return 'LR' in _type_name(scheduler.get('type')) or \
        scheduler.get('param_name') == 'lr'


def _span(scheduler: dict) -> Tuple[float, float]:
    begin = scheduler.get('begin', 0)
    end = scheduler.get('end')
    return float(begin or 0), _INF if end is None else float(end)


def _describe_scheduler(j: int, scheduler: dict) -> str:
    begin, end = _span(scheduler)
    end_text = 'not set' if end == _INF else f'{end:g}'
    return (f'param_scheduler[{j}] ({_type_name(scheduler.get("type"))}, '
            f'begin={begin:g}, end={end_text})')


def _check_switch(cfg) -> List[str]:
    errors = []
    max_iters = _iter_max_iters(cfg)
    schedulers = [(j, s) for j, s in enumerate(
        _as_list(cfg.get('param_scheduler')))
                  if isinstance(s, dict) and _is_lr_scheduler(s)
                  and s.get('by_epoch', True) is False]
    for i, hook in _switch_hooks(cfg):
        switch = hook.get('switch_iter')
        if not isinstance(switch, int) or max_iters is None:
            continue  # the hook rejects a bad value; epoch loops: at runtime
        where = f'custom_hooks[{i}] (DistillStageSwitchHook)'
        stage = hook.get('stage', 2)
        if switch > max_iters:
            errors.append(
                f'{where} switches to stage {stage} at iteration {switch}, '
                f'after the end of training (train_cfg.max_iters='
                f'{max_iters}): stage {stage} would never run. Train longer '
                f'(train_cfg.max_iters > {switch}; the stage-2 scheduler\'s '
                f'end is the usual value) or switch earlier (custom_hooks.'
                f'{i}.switch_iter <= {max_iters}; switch_iter == max_iters '
                f'trains stage 1 alone).')
            continue
        if hook.get('stage_lr') is None or switch == max_iters:
            continue
        where = f'the stage switch at iteration {switch} (custom_hooks.{i}.' \
                f'switch_iter, which restarts the lr at stage_lr=' \
                f'{hook["stage_lr"]})'
        later = []
        for j, scheduler in schedulers:
            begin, end = _span(scheduler)
            if begin < switch < end:
                errors.append(
                    f'{_describe_scheduler(j, scheduler)} runs across '
                    f'{where}: it would keep changing the restarted lr, '
                    f'counting its milestones from iteration {begin:g}. '
                    f'End the stage-1 lr schedule at the switch '
                    f'(param_scheduler.{j}.end={switch}) and begin the '
                    f'stage-2 one there (begin={switch}; its milestones '
                    f'count from begin).')
            elif begin >= switch and end > switch:
                later.append((begin, j, scheduler))
        first = min(later, key=lambda x: x[:2]) if later else None
        if first is not None and first[0] > switch:
            begin, j, scheduler = first
            errors.append(
                f'The stage-2 lr schedule begins at iteration {begin:g} '
                f'({_describe_scheduler(j, scheduler)}), not at {where}: '
                f'its milestones would count from {begin:g}, '
                f'{begin - switch:g} iterations after the restart. Set '
                f'param_scheduler.{j}.begin={switch} (or custom_hooks.{i}.'
                f'switch_iter={begin:g} if the switch is what is wrong; for '
                f'a constant lr before a later decay keep begin={switch} '
                f'and move the milestones).')
    return errors


def _sources(recorders: dict, names: List[str]) -> List[str]:
    out = []
    for name in names:
        recorder = recorders.get(name)
        if isinstance(recorder, dict) and \
                _type_name(recorder.get('type')) == 'ModuleOutputs':
            out.append(str(recorder.get('source', '')))
    return out


def _spec_list(specs: Any) -> list:
    return [s for s in _as_list(specs) if isinstance(s, dict)]


def _check_logits_classes(model: dict) -> List[str]:
    """A logits loss must pair heads with the same number of classes."""
    student, teacher = model.get('architecture'), model.get('teacher')
    distiller = model.get('distiller')
    if not all(isinstance(x, dict) for x in (student, teacher, distiller)):
        return []
    s_classes = (student.get('head') or {}).get('num_classes')
    t_classes = (teacher.get('head') or {}).get('num_classes')
    if s_classes is None or t_classes is None or s_classes == t_classes:
        return []
    s_rec = dict(distiller.get('student_recorders') or {})
    t_rec = dict(distiller.get('teacher_recorders') or {})
    losses = dict(distiller.get('distill_losses') or {})
    errors = []
    for name, mapping in dict(distiller.get('loss_forward_mappings')
                              or {}).items():
        s_names, t_names = [], []
        for specs in dict(mapping or {}).values():
            for spec in _spec_list(specs):
                rec = spec.get('recorder')
                names = [rec] if isinstance(rec, str) else list(rec or [])
                (s_names if spec.get('from_student') else t_names).extend(
                    names)
        if 'head.fc' in _sources(s_rec, s_names) and \
                'head.fc' in _sources(t_rec, t_names):
            loss_type = _type_name((losses.get(name) or {}).get('type'))
            errors.append(
                f'Distill loss {name!r} ({loss_type}) compares the logits '
                f'(head.fc outputs) of a student with {s_classes} classes '
                f'(model.architecture.head.num_classes) and a teacher with '
                f'{t_classes} (model.teacher.head.num_classes). Both must '
                f'be the number of classes of the dataset: set the wrong '
                f'one (and use a teacher checkpoint trained for it).')
    return errors


def _check_cache(cfg, model: dict) -> List[str]:
    from mmfsp.datasets import (NondeterministicPipelineError,
                                check_deterministic_training)
    from mmfsp.models.algorithms import CachedTeacherFSPDistill
    from mmfsp.registry import MODELS
    if not _is_a(MODELS, model.get('type'), CachedTeacherFSPDistill) or \
            not _as_list(model.get('cache_stages', (1, ))):
        return []
    loader = cfg.get('train_dataloader')
    if not isinstance(loader, dict) or loader.get('dataset') is None:
        return []
    try:
        check_deterministic_training(
            loader['dataset'],
            model.get('data_preprocessor') or cfg.get('data_preprocessor'),
            purpose='The teacher-FSP cache (CachedTeacherFSPDistill)')
    except NondeterministicPipelineError as err:
        return [str(err)]
    return []


def check_config(cfg) -> None:
    """Raise :class:`ConfigError` listing the config's errors (see the
    module docstring); do nothing for a config without any.

    Args:
        cfg: the training config (``mmengine.Config`` or dict), after the
            command line's ``--cfg-options``.
    """
    errors = _check_switch(cfg)
    model = cfg.get('model')
    if isinstance(model, dict):
        errors += _check_logits_classes(model)
        errors += _check_cache(cfg, model)
    if errors:
        numbered = '\n'.join(f'  {k}. {e}' for k, e in enumerate(errors, 1))
        raise ConfigError(f'The config has {len(errors)} error(s); nothing '
                          f'was trained:\n{numbered}')
