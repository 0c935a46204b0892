"""The configs of a generations run: each generation's training config and
the test config of an ensemble of generations (docs/generations.md, "What
each generation trains"). Pure functions: no file is read or written."""
import copy
from typing import Optional, Sequence

from mmengine.config import Config

from mmfsp.models.classifiers import ensemble_test_config
from mmfsp.models.losses import generation_loss_cfgs
from .settings import GenerationSettings, plain
from .workdir import generation_dir


def classifier_cfg(cfg: Config) -> dict:
    """The config's ``model``, a plain classifier with a ``head.loss``, as a
    plain dict."""
    model = cfg.get('model')
    if not isinstance(model, dict) or 'architecture' in model or \
            not isinstance(model.get('head'), dict) or \
            not isinstance(model['head'].get('loss'), dict):
        raise ValueError(
            'a generations config needs a plain classifier as its model '
            '(e.g. an ImageClassifier with head=dict(..., loss=dict(type='
            "'CrossEntropyLoss'))); the distillation model of generations "
            '>= 1 is built from it')
    return plain(model)


def _fix_loaders(cfg: Config) -> None:
    """``persistent_workers`` needs workers (as tools/train.py does)."""
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if isinstance(loader, dict) and loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False


def distill_model_cfg(student: dict, teacher: dict, teacher_ckpt: str,
                      lam: float, logits_layer: str = 'head.fc') -> dict:
    """The ``SingleTeacherDistill`` config of a generation student: frozen
    ``teacher`` loaded from ``teacher_ckpt``, KD (tau 1, weight ``lam``) on
    the outputs of ``logits_layer`` of both networks."""
    kd = generation_loss_cfgs(lam)[1]
    model = dict(
        type='SingleTeacherDistill',
        architecture=student,
        teacher=teacher,
        teacher_ckpt=teacher_ckpt,
        teacher_trainable=False,
        teacher_norm_eval=True,
        distiller=dict(
            type='ConfigurableDistiller',
            student_recorders=dict(
                logits=dict(type='ModuleOutputs', source=logits_layer)),
            teacher_recorders=dict(
                logits=dict(type='ModuleOutputs', source=logits_layer)),
            distill_losses=dict(loss_kd=kd),
            loss_forward_mappings=dict(
                loss_kd=dict(
                    preds_S=dict(from_student=True, recorder='logits'),
                    preds_T=dict(from_student=False, recorder='logits')))))
    if student.get('data_preprocessor') is not None:
        model['data_preprocessor'] = copy.deepcopy(
            student['data_preprocessor'])
    return model


def build_generation_config(cfg: Config,
                            generation: int,
                            work_dir: Optional[str] = None,
                            teacher_ckpt: Optional[str] = None,
                            settings: Optional[GenerationSettings] = None
                            ) -> Config:
    """The training config of generation ``generation`` (``cfg`` is not
    modified).

    Generation 0 and, with ``lam = 0``, every generation is the plain
    classifier with the generation's head loss; a later generation with
    ``lam > 0`` is a ``SingleTeacherDistill`` (:func:`distill_model_cfg`)
    whose teacher is the same classifier. With ``randomness.seed = s``,
    generation ``g`` uses seed ``s + g``.

    Args:
        cfg (Config): the generations config (a plain classifier config
            with a ``generations`` dict).
        generation (int): 0 for the patriarch.
        work_dir (str, optional): the run's root; the generation trains in
            ``work_dir/gen_<generation>``. Defaults to ``cfg.work_dir``.
        teacher_ckpt (str, optional): generation ``generation - 1``'s final
            weights; required when the generation is distilled.
            Defaults to None.
        settings (GenerationSettings, optional): the checked
            ``generations`` dict. Defaults to the one read from ``cfg``.
    """
    if not isinstance(generation, int) or generation < 0:
        raise ValueError(f'generation must be an int >= 0, got {generation!r}')
    if settings is None:
        settings = GenerationSettings.from_cfg(cfg.get('generations'))
    root = work_dir if work_dir is not None else cfg.get('work_dir')
    if root is None:
        raise ValueError('no work_dir: pass one or set cfg.work_dir')
    classifier = classifier_cfg(cfg)
    out = copy.deepcopy(cfg)
    student = copy.deepcopy(classifier)
    student['head']['loss'] = settings.head_loss(generation,
                                                 classifier['head']['loss'])
    if settings.is_distilled(generation):
        if teacher_ckpt is None:
            raise ValueError(f'generation {generation} learns from generation '
                             f'{generation - 1}: pass its final weights as '
                             f'teacher_ckpt')
        out.model = distill_model_cfg(student, copy.deepcopy(classifier),
                                      teacher_ckpt, settings.lam,
                                      settings.logits_layer)
    else:
        out.model = student
    out.work_dir = generation_dir(root, generation)
    out.generation = generation
    randomness = out.get('randomness')
    if isinstance(randomness, dict) and randomness.get('seed') is not None:
        randomness['seed'] = int(randomness['seed']) + generation
    _fix_loaders(out)
    return out


def build_test_config(cfg: Config, checkpoints: Sequence[str],
                      work_dir: str) -> Config:
    """The config that tests the mean-softmax ensemble of ``checkpoints``
    (final weights of generations, plain classifier checkpoints) with
    ``cfg``'s test dataloader and evaluator; one checkpoint tests that
    generation alone. ``cfg`` is not modified; training and validation
    parts are dropped (``ensemble_test_config``)."""
    classifier_cfg(cfg)  # a generations config's model
    out = ensemble_test_config(cfg, checkpoints, work_dir)
    out.pop('generations', None)
    _fix_loaders(out)
    return out
