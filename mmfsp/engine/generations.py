"""Training in generations with a tolerant teacher (SPEC section 6).

Yang, Xie, Qiao, Yuille, "Knowledge Distillation in Generations: More
Tolerant Teachers Educate Better Students" (arXiv:1805.05551, 2018; AAAI-19
"Training Deep Neural Networks in Generations"). Generation 0, the
*patriarch*, is trained on the labels; every later generation ``g`` has the
same architecture and learns from generation ``g - 1``, its teacher:

    teacher loss (label term)  L_T = eta * CE(y, p) + (1 - eta) * TSD(p)
    student loss (g >= 1)      L_S = (1 - lam) * <label term>
                                     + lam * KL(p_T || p_S)

with plain softmax outputs (KD temperature 1). The paper names a setting
``D(eta, lam)``: D(1.0, 0.0) is plain training in every generation (the
baseline), D(1.0, 0.6) strict-teacher generations, D(0.6, 0.6) the tolerant
teacher.

A config for :func:`train_generations` (``tools/train_generations.py``) is a
plain classifier config (its ``model`` an mmpretrain ``ImageClassifier`` with
a ``head.loss``) plus::

    generations = dict(
        num_generations=5,       # generations 0..N-1
        eta=0.6,                 # label weight of the teacher loss
        lam=0.6,                 # weight of KL(p_T || p_S) in generations >= 1
        k=5,                     # TSD's K
        tsd_in='patriarch',      # 'patriarch' | 'all'
        reparam='none',          # u(eta): 'none' | 'unit_ce'
        teacher_loss=None,       # an alternative teacher loss, e.g.
                                 # dict(type='LabelSmoothLoss', ...)
        logits_layer='head.fc')  # module whose output is the logits

What each generation trains (:func:`build_generation_config`):

* the **label term** of generation ``g`` is the *teacher loss* when it
  applies to ``g`` and the config's own ``model.head.loss`` (plain
  cross-entropy) otherwise. The teacher loss is
  ``TolerantTeacherLoss(eta, k, reparam)`` when ``eta < 1``, the alternative
  ``teacher_loss`` when given (label smoothing, ``ConfidencePenaltyLoss``;
  ``eta`` must then be 1), else the config's head loss;
* generation 0: a plain classifier whose head loss is the label term;
* generation ``g >= 1`` with ``lam > 0``: a ``SingleTeacherDistill`` whose
  student (``architecture``) is the same classifier with the label term
  scaled by ``1 - lam`` (``loss_weight``), whose frozen teacher is the same
  classifier loaded from generation ``g - 1``'s final weights, and whose
  ``ConfigurableDistiller`` records ``logits_layer`` of both and adds
  ``KDLoss(tau=1, loss_weight=lam)`` (:func:`generation_loss_cfgs`); the
  logged keys are ``student.loss`` and ``distill.loss_kd``;
* generation ``g >= 1`` with ``lam = 0`` (the D(1.0, 0.0) baseline): a plain
  classifier trained again from scratch, no teacher.

Choices the paper leaves open (mmfsp's defaults, both configurable):

* **Where TSD applies** (``tsd_in``). ``'patriarch'`` (default): only
  generation 0 is trained with the teacher loss; later generations use plain
  cross-entropy as their label term. This follows the AAAI-19 version's
  abstract, which adds the extra loss term "to a patriarch network" and then
  "gradually fine-tune[s] [the students] to fit one-hot distributions".
  ``'all'``: every generation's label term is the teacher loss, since every
  generation is the next one's teacher; the last one gets it too, so that a
  run extended later with ``--generations`` trains the same models.
* **u(eta)**, the paper's reparameterisation for stability (``reparam``).
  ``'none'`` (default): ``u(eta) = eta``, i.e. weights ``eta`` and
  ``1 - eta`` exactly as written above. ``'unit_ce'``: the loss divided by
  ``eta`` (weights 1 and ``(1 - eta) / eta``), which keeps the gradient scale
  of the label term that of plain cross-entropy. See
  :class:`~mmfsp.models.losses.TolerantTeacherLoss`.

Seeds: when the config sets ``randomness.seed = s``, generation ``g`` uses
``s + g`` (so the D(1.0, 0.0) generations are different networks).

Work directory layout (``work_dir``)::

    gen_0/ ...                 # mmengine run: logs, iter_*.pth, ...
    gen_0/generation_0.pth     # final weights, plain classifier state dict
    gen_0/generation_done.json # written atomically when gen 0 is finished
    gen_1/ensemble_test/       # test run of the ensemble of generations 0..1
    gen_1/ ...
    summary.md, summary.json

A finished generation (its ``generation_done.json`` exists) is skipped when
training is resumed; an unfinished one resumes from its last checkpoint.
"""
import copy
import gc
import itertools
import json
import os
import os.path as osp
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from mmengine.config import Config

TSD_IN = ('patriarch', 'all')
GENERATIONS_KEYS = ('num_generations', 'eta', 'lam', 'k', 'tsd_in', 'reparam',
                    'teacher_loss', 'logits_layer')
DONE_FILE = 'generation_done.json'
SUMMARY_MD = 'summary.md'
SUMMARY_JSON = 'summary.json'

#: numbers the runners this process builds, so that their experiment names
#: (mmengine's logger / visualizer / message hub instances) never collide,
#: and agree between the ranks of a distributed job.
_RUNNER_IDS = itertools.count()

_CONFIG_SHAPE = (
    "generations = dict(num_generations=5, eta=0.6, lam=0.6, k=5, "
    "tsd_in='patriarch', reparam='none', teacher_loss=None, "
    "logits_layer='head.fc')")


class GenerationsError(RuntimeError):
    """A generations run cannot go on as asked (stale or inconsistent work
    directory, missing final checkpoint)."""


@dataclass(frozen=True)
class GenerationSettings:
    """The ``generations`` dict of a config, checked. See the module
    docstring for the meaning of each field."""

    num_generations: int
    eta: float = 1.0
    lam: float = 0.0
    k: int = 5
    tsd_in: str = 'patriarch'
    reparam: str = 'none'
    teacher_loss: Optional[dict] = None
    logits_layer: str = 'head.fc'

    def __post_init__(self) -> None:
        from mmfsp.models.losses import tolerant_teacher_weights
        if not isinstance(self.num_generations, int) or \
                isinstance(self.num_generations, bool) or \
                self.num_generations < 1:
            raise ValueError(f'generations.num_generations must be an int >= '
                             f'1, got {self.num_generations!r}')
        for name in ('eta', 'lam'):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(
                    f'generations.{name} must lie in [0, 1], got {value!r}')
        if not isinstance(self.k, int) or self.k < 2:
            raise ValueError(f'generations.k must be an int >= 2, got '
                             f'{self.k!r}')
        if self.tsd_in not in TSD_IN:
            raise ValueError(f'generations.tsd_in must be one of {TSD_IN}, '
                             f'got {self.tsd_in!r}')
        tolerant_teacher_weights(self.eta, self.reparam)  # checks reparam
        if self.teacher_loss is not None:
            if not isinstance(self.teacher_loss, dict) or \
                    'type' not in self.teacher_loss:
                raise ValueError(
                    f'generations.teacher_loss must be a loss config with a '
                    f'type, got {self.teacher_loss!r}')
            if self.eta != 1:
                raise ValueError(
                    f'generations.teacher_loss replaces the tolerant '
                    f'teacher loss; set eta=1.0 with it (got eta={self.eta})')
        if not isinstance(self.logits_layer, str) or not self.logits_layer:
            raise ValueError(f'generations.logits_layer must name a module, '
                             f'got {self.logits_layer!r}')

    @classmethod
    def from_cfg(cls,
                 generations: Optional[dict],
                 num_generations: Optional[int] = None
                 ) -> 'GenerationSettings':
        """Settings from a config's ``generations`` dict;
        ``num_generations`` (the command line's ``--generations``) overrides
        the config's."""
        if not isinstance(generations, dict):
            raise ValueError(f'the config has no generations dict; add e.g. '
                             f'{_CONFIG_SHAPE}')
        values = {k: copy.deepcopy(v) for k, v in dict(generations).items()}
        unknown = sorted(set(values) - set(GENERATIONS_KEYS))
        if unknown:
            raise ValueError(f'generations has unknown keys {unknown}; '
                             f'allowed: {list(GENERATIONS_KEYS)}')
        if num_generations is not None:
            values['num_generations'] = num_generations
        if 'num_generations' not in values:
            raise ValueError(
                'generations.num_generations is not set (nor --generations)')
        if isinstance(values.get('teacher_loss'), dict):
            values['teacher_loss'] = _plain(values['teacher_loss'])
        return cls(**values)

    @property
    def label(self) -> str:
        """The paper's name of the setting, e.g. ``'D(0.6, 0.6)'``; an
        alternative teacher loss is named after its type."""
        text = f'D({_number(self.eta)}, {_number(self.lam)})'
        if self.teacher_loss is not None:
            text += f' with teacher loss {self.teacher_loss["type"]}'
        return text

    def identity(self) -> dict:
        """What a generation's training depends on (everything but
        ``num_generations``): a resumed run must agree on it."""
        out = asdict(self)
        out.pop('num_generations')
        return out

    def applies_teacher_loss(self, generation: int) -> bool:
        """Whether generation ``generation``'s label term is the teacher
        loss (TSD or its alternative) rather than plain cross-entropy."""
        return generation == 0 or self.tsd_in == 'all'

    def teacher_loss_cfg(self, base_loss: dict) -> dict:
        """The teacher loss: the alternative, the tolerant loss for
        ``eta < 1``, or ``base_loss`` (the config's head loss)."""
        if self.teacher_loss is not None:
            return copy.deepcopy(self.teacher_loss)
        if self.eta < 1:
            return dict(
                type='TolerantTeacherLoss',
                eta=float(self.eta),
                k=self.k,
                reparam=self.reparam)
        return copy.deepcopy(base_loss)

    def is_distilled(self, generation: int) -> bool:
        """Whether generation ``generation`` learns from a teacher."""
        return generation > 0 and self.lam > 0

    def head_loss(self, generation: int, base_loss: dict) -> dict:
        """The head loss of generation ``generation``'s classifier: the
        label term, scaled by ``1 - lam`` when the generation is
        distilled."""
        loss = self.teacher_loss_cfg(base_loss) if \
            self.applies_teacher_loss(generation) else copy.deepcopy(base_loss)
        if self.is_distilled(generation):
            loss['loss_weight'] = float(loss.get('loss_weight', 1.0)) * (
                1.0 - float(self.lam))
        return loss


def _number(value: float) -> str:
    """``1 -> '1.0'``, ``0.6 -> '0.6'``, ``0.65 -> '0.65'`` (the paper's
    D(1.0, 0.0) style)."""
    value = float(value)
    return f'{value:.1f}' if round(value, 1) == value else f'{value:g}'


def _plain(value: Any) -> Any:
    """ConfigDicts and tuples as plain dicts and lists (JSON-friendly)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def generation_dir(work_dir: str, generation: int) -> str:
    """``work_dir/gen_<generation>``."""
    return osp.join(work_dir, f'gen_{generation}')


def final_weights_path(work_dir: str, generation: int) -> str:
    """Where generation ``generation``'s final weights (a plain classifier
    checkpoint) are written."""
    return osp.join(
        generation_dir(work_dir, generation), f'generation_{generation}.pth')


def _classifier_cfg(cfg: Config) -> dict:
    model = cfg.get('model')
    if not isinstance(model, dict) or 'architecture' in model or \
            not isinstance(model.get('head'), dict) or \
            not isinstance(model['head'].get('loss'), dict):
        raise ValueError(
            'a generations config needs a plain classifier as its model '
            '(e.g. an ImageClassifier with head=dict(..., loss=dict(type='
            "'CrossEntropyLoss'))); the distillation model of generations "
            '>= 1 is built from it')
    return _plain(model)


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
    from mmfsp.models.losses import generation_loss_cfgs
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
    """The training config of generation ``generation`` (pure: ``cfg`` is
    not modified and no file is read).

    Args:
        cfg: the generations config (a plain classifier config with a
            ``generations`` dict).
        generation: 0 for the patriarch.
        work_dir: the run's root; the generation trains in
            ``work_dir/gen_<generation>``. Defaults to ``cfg.work_dir``.
        teacher_ckpt: generation ``generation - 1``'s final weights;
            required when the generation is distilled.
        settings: the checked ``generations`` dict; read from ``cfg`` when
            omitted.
    """
    if not isinstance(generation, int) or generation < 0:
        raise ValueError(f'generation must be an int >= 0, got {generation!r}')
    if settings is None:
        settings = GenerationSettings.from_cfg(cfg.get('generations'))
    root = work_dir if work_dir is not None else cfg.get('work_dir')
    if root is None:
        raise ValueError('no work_dir: pass one or set cfg.work_dir')
    classifier = _classifier_cfg(cfg)
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
    generation alone. Pure; training and validation parts are dropped."""
    from mmfsp.models.classifiers import ensemble_model_cfg
    classifier = _classifier_cfg(cfg)
    out = copy.deepcopy(cfg)
    out.model = ensemble_model_cfg(
        classifier, list(checkpoints),
        classifier.get('data_preprocessor') or _plain(
            cfg.get('data_preprocessor')))
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler', 'val_dataloader', 'val_cfg',
                'val_evaluator', 'auto_scale_lr'):
        out[key] = None
    out.work_dir = work_dir
    out.load_from = None
    out.resume = False
    out.pop('generations', None)
    _fix_loaders(out)
    return out


# --------------------------------------------------------------- summary
def _metric_keys(rows: Sequence[dict]) -> List[str]:
    keys: List[str] = []
    for row in rows:
        for key in row['metrics']:
            if key not in keys:
                keys.append(key)
    return keys


def _format(key: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return '' if value is None else str(value)
    return f'{value:.2f}' if 'accuracy' in key else f'{value:.4f}'


def summary_rows(records: Sequence[dict]) -> List[dict]:
    """One row per generation (alone) and one per ensemble of generations
    ``0..g`` (g >= 1), from the generations' records."""
    rows = [
        dict(
            model=f'generation {r["generation"]}',
            members=[r['generation']],
            metrics=r['metrics']) for r in records
    ]
    rows += [
        dict(
            model=f'ensemble 0-{r["generation"]}',
            members=list(range(r['generation'] + 1)),
            metrics=r['ensemble_metrics']) for r in records
        if r['generation'] > 0
    ]
    return rows


def summary_markdown(title: str, settings: GenerationSettings,
                     rows: Sequence[dict]) -> str:
    """The summary table as Markdown."""
    keys = _metric_keys(rows)
    lines = [
        f'# {title}: {settings.label}', '',
        f'eta={settings.eta:g}, lam={settings.lam:g}, k={settings.k}, '
        f'tsd_in={settings.tsd_in}, reparam={settings.reparam}, '
        f'teacher_loss={settings.teacher_loss}, '
        f'generations={settings.num_generations}', '',
        '| model | ' + ' | '.join(keys) + ' |',
        '|---|' + '---|' * len(keys)
    ]
    for row in rows:
        cells = [_format(k, row['metrics'].get(k)) for k in keys]
        lines.append(f'| {row["model"]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def _write_text(path: str, text: str) -> None:
    from mmfsp.utils import atomic_write
    atomic_write(path, text.encode('utf-8'))


def summary_data(title: str, settings: GenerationSettings,
                 records: Sequence[dict]) -> dict:
    """What ``summary.json`` holds: the settings, the generations' records
    and the table's rows."""
    return dict(
        title=title,
        setting=settings.label,
        settings=_plain(asdict(settings)),
        generations=list(records),
        rows=summary_rows(records))


def write_summary(work_dir: str, title: str, settings: GenerationSettings,
                  records: Sequence[dict]) -> str:
    """Write ``summary.md`` and ``summary.json`` into ``work_dir``; returns
    the Markdown."""
    text = summary_markdown(title, settings, summary_rows(records))
    _write_text(osp.join(work_dir, SUMMARY_MD), text)
    data = summary_data(title, settings, records)
    _write_text(
        osp.join(work_dir, SUMMARY_JSON), json.dumps(data, indent=2) + '\n')
    return text


# ------------------------------------------------------------ markers
def read_done(work_dir: str, generation: int) -> Optional[dict]:
    """The record of a finished generation, or None."""
    path = osp.join(generation_dir(work_dir, generation), DONE_FILE)
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def finished_generations(work_dir: str) -> List[int]:
    """The generations of ``work_dir`` marked finished."""
    if not osp.isdir(work_dir):
        return []
    found = []
    for name in os.listdir(work_dir):
        match = re.fullmatch(r'gen_(\d+)', name)
        if match and osp.isfile(osp.join(work_dir, name, DONE_FILE)):
            found.append(int(match.group(1)))
    return sorted(found)


def _check_record(record: dict, settings: GenerationSettings,
                  work_dir: str, generation: int) -> None:
    if record.get('settings') != _plain(settings.identity()):
        raise GenerationsError(
            f'generation {generation} in {work_dir} was trained with '
            f'generations settings {record.get("settings")}, but the config '
            f'now has {settings.identity()}; use another --work-dir (only '
            f'num_generations may change when resuming)')
    weights = osp.join(work_dir, record['checkpoint'])
    if not osp.isfile(weights):
        raise GenerationsError(
            f'generation {generation} is marked finished but its weights '
            f'{weights} are missing; delete '
            f'{osp.join(generation_dir(work_dir, generation), DONE_FILE)} '
            f'to train it again')


# ------------------------------------------------------------ running
def _init_distributed(cfg: Config, launcher: str) -> None:
    """Start the process group before the first runner, so that only rank 0
    prints and writes from the start (the runners then find it started)."""
    if launcher == 'none':
        return
    import torch
    from mmengine.dist import init_dist, is_distributed

    from mmfsp.utils import setup_cpu_distributed
    if is_distributed():
        return
    if torch.cuda.is_available():
        env_cfg = cfg.get('env_cfg') or {}
        init_dist(launcher, **dict(env_cfg.get('dist_cfg') or {}))
    else:
        setup_cpu_distributed(copy.deepcopy(cfg), launcher)  # gloo


def _is_main() -> bool:
    from mmengine.dist import get_rank
    return get_rank() == 0


def _barrier() -> None:
    from mmengine.dist import barrier
    barrier()


def _prepare_runner_cfg(cfg: Config, launcher: str, name: str) -> Config:
    from mmfsp.utils import setup_cpu_distributed
    cfg.launcher = launcher
    cfg.experiment_name = f'{name}_{next(_RUNNER_IDS)}'
    setup_cpu_distributed(cfg, launcher)
    return cfg


def _free_memory() -> None:
    """Give a finished runner's GPU memory back (call after ``del``; a
    runner's hooks hold reference cycles, so only a collection frees its
    model). On the CPU the interpreter's own collections suffice."""
    import torch
    if torch.cuda.is_available():
        gc.collect()
        torch.cuda.empty_cache()


def export_final_weights(checkpoint: str, dst: str, meta: dict) -> None:
    """Write the classifier weights of ``checkpoint`` (a plain classifier
    checkpoint, or a distillation one whose student is taken) to ``dst`` as
    a plain classifier checkpoint (``state_dict`` and ``meta`` only)."""
    from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint

    from mmfsp.models.algorithms import student_state_dict
    from mmfsp.models.algorithms.distill_checkpoint import STUDENT_PREFIX
    loaded = _load_checkpoint(checkpoint, map_location='cpu')
    state = loaded.get('state_dict', loaded)
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    if any(k.startswith(STUDENT_PREFIX) for k in state):
        state = student_state_dict(state)
    meta = dict(meta, source_checkpoint=osp.basename(checkpoint))
    save_checkpoint(dict(meta=meta, state_dict=state), dst)


def _final_checkpoint(runner) -> str:
    """The checkpoint the run saved at its last iteration / epoch."""
    from mmengine.runner.checkpoint import _load_checkpoint
    from mmengine.runner import find_latest_checkpoint
    path = find_latest_checkpoint(runner.work_dir)
    hint = ('keep default_hooks.checkpoint.save_last=True so that every '
            'generation saves its final weights')
    if path is None:
        raise GenerationsError(f'{runner.work_dir} has no checkpoint after '
                               f'training; {hint}')
    meta = _load_checkpoint(path, map_location='cpu').get('meta', {})
    if (meta.get('iter'), meta.get('epoch')) != (runner.iter, runner.epoch):
        raise GenerationsError(
            f'the latest checkpoint {path} is from iteration '
            f'{meta.get("iter")} / epoch {meta.get("epoch")}, but training '
            f'ended at iteration {runner.iter} / epoch {runner.epoch}; {hint}')
    return path


def _test(cfg: Config, checkpoints: Sequence[str], work_dir: str,
          launcher: str, name: str) -> Dict[str, Any]:
    from mmfsp.utils import build_runner
    tcfg = _prepare_runner_cfg(
        build_test_config(cfg, checkpoints, work_dir), launcher, name)
    runner = build_runner(tcfg)
    metrics = runner.test()
    del runner
    _free_memory()
    return _metrics(metrics)


def _metrics(metrics: dict) -> Dict[str, Any]:
    """Metric values as plain numbers (JSON)."""
    return {
        k: _plain(v.item() if hasattr(v, 'item') else v)
        for k, v in metrics.items()
    }


def train_generations(cfg: Config,
                      work_dir: Optional[str] = None,
                      num_generations: Optional[int] = None,
                      launcher: str = 'none',
                      resume: bool = False,
                      title: Optional[str] = None,
                      log: Callable[[str], None] = print) -> dict:
    """Train generations ``0..N-1`` of ``cfg``, test each one alone and the
    ensemble of generations ``0..g``, and write the summary.

    Args:
        cfg: a generations config (see the module docstring), after the
            command line's ``--cfg-options``.
        work_dir: the run's root; defaults to ``cfg.work_dir``.
        num_generations: overrides ``generations.num_generations``.
        launcher: 'none', 'pytorch', 'slurm' or 'mpi', as tools/train.py.
        resume: skip finished generations and resume an unfinished one from
            its last checkpoint. Without it, a work dir that already holds
            finished generations is refused.
        title: the summary's title (the config's name, by default).
        log: where progress lines and the summary table go (rank 0 only).

    Returns:
        dict: the summary (what ``summary.json`` holds).
    """
    settings = GenerationSettings.from_cfg(
        cfg.get('generations'), num_generations)
    root = work_dir if work_dir is not None else cfg.get('work_dir')
    if root is None:
        raise ValueError('no work_dir: pass one or set cfg.work_dir')
    root = osp.abspath(root)
    _init_distributed(cfg, launcher)
    title = title or osp.splitext(osp.basename(cfg.filename or 'config'))[0]
    say = log if _is_main() else (lambda text: None)

    done = finished_generations(root)
    if done and not resume:
        raise GenerationsError(
            f'{root} already holds finished generations {done}: pass '
            f'--resume to continue that run (finished generations are '
            f'skipped), or choose another --work-dir')
    if done != list(range(len(done))):
        raise GenerationsError(
            f'{root} has finished generations {done} but not all of those '
            f'before them, whose training would change their teachers; '
            f'delete the gen_*/{DONE_FILE} of the later ones to retrain them')
    records: List[dict] = []
    for generation in range(settings.num_generations):
        record = read_done(root, generation)
        if record is not None:
            _check_record(record, settings, root, generation)
            say(f'generation {generation}: finished, skipped '
                f'({osp.join(root, record["checkpoint"])})')
        else:
            record = _train_one(cfg, settings, root, generation, records,
                                launcher, resume, say)
        records.append(record)
        if _is_main():
            write_summary(root, title, settings, records)
        _barrier()
    say(summary_markdown(title, settings, summary_rows(records)))
    say(f'summary written to {osp.join(root, SUMMARY_MD)} and '
        f'{osp.join(root, SUMMARY_JSON)}')
    return summary_data(title, settings, records)


def _train_one(cfg: Config, settings: GenerationSettings, root: str,
               generation: int, records: List[dict], launcher: str,
               resume: bool, say: Callable[[str], None]) -> dict:
    from mmfsp.utils import build_runner
    teacher = None
    if settings.is_distilled(generation):
        teacher = osp.join(root, records[generation - 1]['checkpoint'])
    gcfg = build_generation_config(cfg, generation, root, teacher, settings)
    gcfg.resume = bool(resume)
    gcfg.load_from = None
    kind = 'distilled' if settings.is_distilled(generation) else 'plain'
    head_loss = settings.head_loss(generation,
                                   _classifier_cfg(cfg)['head']['loss'])
    say(f'generation {generation}: training ({kind}, head loss {head_loss}'
        f'{", teacher " + teacher if teacher else ""}) in {gcfg.work_dir}')
    _prepare_runner_cfg(gcfg, launcher, f'gen{generation}_train')
    runner = build_runner(gcfg)
    runner.train()
    final_ckpt = _final_checkpoint(runner)
    # The generation alone, on the test set: the trained model as it is
    # (the student of a distillation model), i.e. its final weights.
    metrics = _metrics(runner.test())
    del runner
    _free_memory()

    gen_dir = generation_dir(root, generation)
    weights = final_weights_path(root, generation)
    if _is_main():
        export_final_weights(
            final_ckpt, weights,
            dict(generation=generation, setting=settings.label))
    _barrier()

    if generation == 0:
        ensemble_metrics = dict(metrics)
    else:
        members = [osp.join(root, r['checkpoint'])
                   for r in records] + [weights]
        ensemble_metrics = _test(cfg, members,
                                 osp.join(gen_dir, 'ensemble_test'),
                                 launcher, f'gen{generation}_ensemble_test')
    record = dict(
        generation=generation,
        kind=kind,
        checkpoint=osp.relpath(weights, root),
        trained_checkpoint=osp.relpath(final_ckpt, root),
        teacher=None if teacher is None else osp.relpath(teacher, root),
        head_loss=head_loss,
        settings=_plain(settings.identity()),
        metrics=metrics,
        ensemble_metrics=ensemble_metrics)
    if _is_main():
        _write_text(
            osp.join(gen_dir, DONE_FILE), json.dumps(record, indent=2) + '\n')
        say(f'generation {generation}: done, {metrics}; ensemble 0-'
            f'{generation}: {ensemble_metrics}')
    _barrier()
    return record
