"""Checkpoints of a distillation model: its student, its teacher.

A :class:`~mmfsp.models.algorithms.SingleTeacherDistill` checkpoint holds the
student under the prefix ``architecture.`` (:data:`STUDENT_PREFIX`) and,
before the stage switch, the teacher under ``teacher.``.
:func:`student_state_dict` is the one function that takes the student out
(used by :func:`load_teacher_weights`, :func:`convert_distill_checkpoint`,
``EnsembleClassifier`` and tools/train_generations.py), so that the plain
student config (an mmpretrain ``ImageClassifier``) loads it. In a config,
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='architecture.')``
(mmengine's ``_load_checkpoint_with_prefix``) does the same on the fly.
Files are read through mmengine's ``CheckpointLoader``, i.e. mmfsp's
``weights_only=True`` loaders. See docs/fsp.md and docs/generations.md.
"""
import logging
import os.path as osp
from collections import OrderedDict
from typing import Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner.checkpoint import (_load_checkpoint, load_state_dict,
                                        save_checkpoint)
from torch import nn

#: where mmfsp's distillation algorithms keep the student in a checkpoint
STUDENT_PREFIX = 'architecture.'


class MissingTeacherCheckpointError(FileNotFoundError):
    """The teacher checkpoint of a distillation config does not exist."""


def student_state_dict(checkpoint: dict,
                       prefix: Optional[str] = STUDENT_PREFIX,
                       plain_ok: bool = False) -> OrderedDict:
    """The student's weights in a checkpoint, as a plain classifier's state
    dict.

    Args:
        checkpoint (dict): a checkpoint (a dict with a ``state_dict``) or a
            state dict. ``module.`` prefixes (a checkpoint saved from a
            DDP-wrapped model) are stripped first.
        prefix (str, optional): the key prefix of the student; None takes
            every key as it is. Defaults to 'architecture.'.
        plain_ok (bool): when no key starts with ``prefix``, return the
            state dict as it is (a plain classifier checkpoint) instead of
            raising. Defaults to False.

    Returns:
        OrderedDict: the entries under ``prefix``, without it.

    Raises:
        KeyError: no key starts with ``prefix`` and ``plain_ok`` is False.
        TypeError: ``checkpoint`` is not a dict.
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else checkpoint
    if not isinstance(state, dict):
        raise TypeError(f'not a checkpoint: {type(checkpoint).__name__}')
    state = OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state.items())
    if not prefix:
        return state
    student = OrderedDict((k[len(prefix):], v) for k, v in state.items()
                          if k.startswith(prefix))
    if student:
        return student
    if plain_ok:
        return state
    raise KeyError(f'no key starts with {prefix!r}: this is not a '
                   f'distillation checkpoint (first keys: {list(state)[:5]})')


def _train_hint(filename: str) -> str:
    """How to make ``filename``: tools/train.py writes
    ``work_dirs/<config name>/iter_N.pth``, so the teacher's config is the
    one named after the work dir (plain classifiers are in configs/resnet/).
    The name is derived from the path alone; no folder is searched."""
    name = osp.basename(osp.dirname(osp.normpath(filename))) if filename \
        else ''
    if name in ('', '.', '..'):
        return ('Train the teacher first with its plain config: python '
                'tools/train.py configs/resnet/<teacher config>.py')
    return (f'Train the teacher first: python tools/train.py '
            f'configs/resnet/{name}.py (or the configs/**/{name}.py that '
            f'wrote that work dir: tools/train.py writes '
            f'work_dirs/<config name>/iter_<max_iters>.pth)')


class TeacherClassesMismatchError(RuntimeError):
    """The teacher checkpoint was trained for another number of classes
    than the teacher config has."""


def _check_num_classes(teacher: nn.Module, state: dict,
                       filename: str) -> None:
    """Compare the classifier layer (``head.fc``) of the checkpoint with the
    teacher's: a different number of rows is a teacher trained on another
    dataset or a config with the wrong ``num_classes``, worth a message that
    says so rather than a size mismatch among the other keys."""
    fc = dict(teacher.named_modules()).get('head.fc')
    weight = state.get('head.fc.weight')
    if not isinstance(fc, nn.Linear) or getattr(weight, 'dim', None) is None \
            or weight.dim() != 2 or weight.shape[0] == fc.out_features:
        return
    raise TeacherClassesMismatchError(
        f'Teacher checkpoint {filename!r} is a {weight.shape[0]}-class model '
        f'(its head.fc.weight has shape {tuple(weight.shape)}), but the '
        f'teacher config has {fc.out_features} classes '
        f'(model.teacher.head.num_classes={fc.out_features}). Use a teacher '
        f'trained on this dataset (--cfg-options model.teacher_ckpt=...), '
        f'or set model.teacher.head.num_classes={weight.shape[0]} if that '
        f'is the dataset\'s number of classes (and the student\'s, '
        f'model.architecture.head.num_classes, for a logits loss).')


def finished_run_checkpoint(
        work_dir: str) -> Optional[Tuple[str, dict, Tuple[int, int]]]:
    """The checkpoint a work dir's ``last_checkpoint`` names, and how far
    its run got.

    tools/train.py writes ``iter_<max_iters>.pth``; a teacher trained with
    another length (``--cfg-options train_cfg.max_iters=...``) has another
    file name, so a config's ``teacher_ckpt`` falls back to the work dir's
    last checkpoint, *if* that run finished.

    Args:
        work_dir (str): a tools/train.py work dir.

    Returns:
        tuple, optional: ``(path, checkpoint, (done, total))`` with the
        iterations (epochs for an epoch-based run) the checkpoint reached
        and the run's ``train_cfg`` length; None when the work dir has no
        ``last_checkpoint`` or the file it names does not exist.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer, encoding='utf-8') as f:
        path = f.read().strip()
    if not osp.isfile(path):
        return None
    checkpoint = _load_checkpoint(path, map_location='cpu')
    meta = checkpoint.get('meta', {}) if isinstance(checkpoint, dict) else {}
    try:
        train_cfg = Config.fromstring(meta['cfg'], '.py').train_cfg
    except Exception:  # no or an unreadable config: the run is unknown
        return path, checkpoint, (-1, 0)
    if train_cfg.get('max_iters') is not None:
        return path, checkpoint, (meta.get('iter', -1), train_cfg.max_iters)
    return path, checkpoint, (meta.get('epoch', -1),
                              train_cfg.get('max_epochs', 0))


def load_teacher_weights(teacher: nn.Module,
                         filename: Optional[str],
                         map_location: str = 'cpu') -> None:
    """Load ``filename`` into ``teacher`` strictly.

    A distillation checkpoint (keys under ``architecture.``) gives its
    student. Raises :class:`MissingTeacherCheckpointError` with the command
    that trains the teacher when the file does not exist,
    :class:`TeacherClassesMismatchError` naming both numbers of classes and
    the file when the checkpoint's ``head.fc`` has another number of classes
    than the teacher config's, and a ``RuntimeError`` naming the missing /
    unexpected keys when the checkpoint does not fit the teacher config
    otherwise.
    """
    override = ('or point the config at an existing one with --cfg-options '
                'model.teacher_ckpt=/path/to/teacher.pth')
    if filename is None:
        raise MissingTeacherCheckpointError(
            'The distillation config has no teacher checkpoint '
            f'(model.teacher_ckpt=None). {_train_hint("")}, {override}.')
    is_local = '://' not in filename
    checkpoint = None
    if is_local and not osp.isfile(osp.expanduser(filename)):
        found = finished_run_checkpoint(osp.dirname(osp.expanduser(filename)))
        if found is None:
            raise MissingTeacherCheckpointError(
                f'Teacher checkpoint {filename!r} does not exist. '
                f'{_train_hint(filename)}, {override}.')
        path, checkpoint, (done, total) = found
        if done != total:
            raise MissingTeacherCheckpointError(
                f'Teacher checkpoint {filename!r} does not exist, and its '
                f'work dir holds an unfinished run (last checkpoint '
                f'{path!r}: {done} of {total}). Finish it (the teacher '
                f'config with --resume), {override}.')
        print_log(
            f'Teacher checkpoint {filename!r} does not exist; using the '
            f'final checkpoint of the finished run in its work dir, '
            f'{path!r} ({done} of {total}).', logger='current',
            level=logging.WARNING)
        filename = path
    if checkpoint is None:
        checkpoint = _load_checkpoint(filename, map_location=map_location)
    state = student_state_dict(checkpoint, plain_ok=True)
    _check_num_classes(teacher, state, filename)
    try:
        load_state_dict(teacher, state, strict=True)
    except RuntimeError as err:
        raise RuntimeError(
            f'Teacher checkpoint {filename!r} does not fit the teacher '
            f'config (model.teacher): {err}') from err


def convert_distill_checkpoint(src: str,
                               dst: str,
                               meta: Optional[dict] = None,
                               plain_ok: bool = False) -> dict:
    """Write the student of distillation checkpoint ``src`` to ``dst`` as a
    plain classifier checkpoint (``state_dict`` and ``meta`` only).

    Args:
        src (str): the distillation checkpoint.
        dst (str): the file to write.
        meta (dict, optional): the ``meta`` to write. Defaults to ``src``'s
            meta without ``cfg`` / ``config`` (the distillation config, not
            the student's: a tool reading it would build the wrong model),
            plus ``converted_from``.
        plain_ok (bool): accept a plain classifier checkpoint as ``src``
            (its weights are written as they are); see
            :func:`student_state_dict`. Defaults to False.

    Returns:
        dict: what was written.
    """
    checkpoint = _load_checkpoint(src, map_location='cpu')
    student = student_state_dict(checkpoint, plain_ok=plain_ok)
    if meta is None:
        meta = dict(checkpoint.get('meta', {})) if isinstance(
            checkpoint, dict) else {}
        meta.pop('config', None)
        meta.pop('cfg', None)
        meta['converted_from'] = osp.basename(src)
    out = dict(meta=meta, state_dict=student)
    save_checkpoint(out, dst)
    return out
