"""Checkpoints of a distillation model: its student, its teacher.

A :class:`~mmfsp.models.algorithms.SingleTeacherDistill` checkpoint holds the
student under the prefix ``architecture.`` (and, before the stage switch, the
teacher under ``teacher.``). :func:`student_state_dict` takes the student
out, so that the plain student config (an mmpretrain ``ImageClassifier``)
loads it: ``tools/model_converters/convert_distill_ckpt.py`` writes such a file, and
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='architecture.')``
does the same on the fly. :func:`load_teacher_weights` loads a teacher from a
plain classifier checkpoint or from a distillation checkpoint (its student:
the next generation's teacher). Files are read through mmengine's
``CheckpointLoader``, i.e. mmfsp's ``weights_only=True`` loaders.
"""
import glob
import os
import os.path as osp
from collections import OrderedDict
from typing import Optional

from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
from torch import nn

STUDENT_PREFIX = 'architecture.'


class MissingTeacherCheckpointError(FileNotFoundError):
    """The teacher checkpoint of a distillation config does not exist."""


def _state_dict(checkpoint: dict) -> dict:
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else checkpoint
    if not isinstance(state, dict):
        raise TypeError(f'not a checkpoint: {type(checkpoint).__name__}')
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state.items())


def student_state_dict(state_dict: dict,
                       prefix: str = STUDENT_PREFIX) -> OrderedDict:
    """The entries of ``state_dict`` under ``prefix``, without it."""
    student = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                          if k.startswith(prefix))
    if not student:
        raise KeyError(f'no key starts with {prefix!r}: this is not a '
                       f'distillation checkpoint (first keys: '
                       f'{list(state_dict)[:5]})')
    return student


def _train_hint(filename: str) -> str:
    """How to make ``filename``: tools/train.py writes
    ``work_dirs/<config name>/iter_N.pth``, so look for that config."""
    name = osp.basename(osp.dirname(osp.normpath(filename)))
    roots = [os.getcwd(), osp.dirname(osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))]
    for root in roots:
        # Plain classifier configs (configs/resnet/) before distillation
        # configs that share the name.
        found = sorted(
            glob.glob(osp.join(root, 'configs', '**', f'{name}.py'),
                      recursive=True),
            key=lambda p: (osp.basename(osp.dirname(p)) != 'resnet', p))
        if name and found:
            return (f'Train the teacher first: python tools/train.py '
                    f'{osp.relpath(found[0], os.getcwd())} (it writes '
                    f'work_dirs/{name}/iter_<max_iters>.pth)')
    return ('Train the teacher first with its plain config: python '
            'tools/train.py configs/resnet/<teacher config>.py')


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
    if is_local and not osp.isfile(osp.expanduser(filename)):
        raise MissingTeacherCheckpointError(
            f'Teacher checkpoint {filename!r} does not exist. '
            f'{_train_hint(filename)}, {override}.')
    state = _state_dict(_load_checkpoint(filename, map_location=map_location))
    if any(k.startswith(STUDENT_PREFIX) for k in state):
        state = student_state_dict(state)
    _check_num_classes(teacher, state, filename)
    try:
        load_state_dict(teacher, state, strict=True)
    except RuntimeError as err:
        raise RuntimeError(
            f'Teacher checkpoint {filename!r} does not fit the teacher '
            f'config (model.teacher): {err}') from err


def convert_distill_checkpoint(src: str, dst: str) -> dict:
    """Write the student of distillation checkpoint ``src`` to ``dst`` as a
    plain classifier checkpoint (``state_dict`` + ``meta``); returns it."""
    from mmengine.runner.checkpoint import save_checkpoint
    checkpoint = _load_checkpoint(src, map_location='cpu')
    student = student_state_dict(_state_dict(checkpoint))
    meta = dict(checkpoint.get('meta', {})) if isinstance(checkpoint,
                                                          dict) else {}
    meta.pop('config', None)  # the distillation config, not the student's
    meta['converted_from'] = osp.basename(src)
    out = dict(meta=meta, state_dict=student)
    save_checkpoint(out, dst)
    return out
