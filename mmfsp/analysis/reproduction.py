"""Scaled-down reproduction of both papers' claims on Fashion-MNIST, on a CPU
(``tools/reproduce.py``; SPEC sections 5 and 6).

Experiments (every model is a shipped Fashion-MNIST config whose schedule is
scaled down, keeping its shape; batch 128 except in the smoke preset):

(a) **Network minimisation** (FSP paper, Table 3): a ResNet-26 teacher, then
    ResNet-8 students trained alone, with FSP (stage 1 FSP loss, stage 2
    cross-entropy), with FitNet (hints, then cross-entropy + KD; "1 loss" =
    the middle layer by default, ``fitnet=('1loss', '3loss')`` adds the three
    stage outputs) and with Hinton KD, all with the *same stage-2 iterations*
    (KD and the student alone have only that stage). Stage 1 keeps its
    config's length relative to the *teacher's* schedule, as in the paper,
    whose stage 1 does not depend on the student's stage 2: FSP 1/3 of the
    teacher's iterations (21k of 64k), FitNet 0.55 (35k of 64k).
(b) **Fast optimisation** (Table 1/2): a ResNet-26 FSP student whose stage 2
    has one third of the teacher's iterations (stage 1 as long, as the
    shipped config), against the teacher and against ResNet-26 trained alone
    for that third.
(c) **Shuffled FSP for diverse students** (Section 4.4): three FSP students
    whose stage 1 learns the teacher's FSP matrices with channels permuted
    by shuffle seeds 1, 2, 3, against three plain FSP students; student
    ``i`` of both groups uses training seed ``i``, so shuffling is the only
    difference. Single accuracies, the mean-softmax ensemble
    (``EnsembleClassifier`` via :func:`ensemble_model_cfg`), the mean
    pairwise disagreement of the students' predictions and the mean pairwise
    correlation of their correctness (the claim: shuffled students are less
    correlated, so their ensemble gains more). The students are ResNet-8
    (the (a) setting, cheap; the default) or ResNet-26 (the paper's, the
    (b) setting; ``ensemble_student='resnet26'``); the plain students are
    the (a) or (b) FSP runs of seeds 0-2. Optionally the ensemble of three
    teachers (seeds 0-2, ``teacher_ensemble=True``).
(d) **Tolerant teacher generations** (Yang et al.): D(1.0, 0.0), D(1.0, 0.6)
    and D(0.6, 0.6) with ResNet-8 (configs/tolerant/resnet8_fashion_mnist_*),
    via :func:`mmfsp.engine.generations.train_generations`: every
    generation's accuracy and the ensembles of generations 0..g. Seed bases
    0, 10, 20 (generation ``g`` of base ``b`` trains with seed ``b + g``, so
    runs of different bases never share a seed).

The teacher (seed 0) is shared by (a)-(c); seeds vary the students. Rows
give the mean over seeds, the sample standard deviation, min-max and the
number of seeds. Every model is tested on the same test images: all 10,000,
or in the quick presets a fixed subset (the first N of the test set).

Skipping finished work: each run has its own folder under
``<work_dir>/runs/<key>`` with ``spec.json`` (what it trains: config,
iterations, seed, teacher, data settings) written when it starts and
``result.json`` written atomically when it is finished and tested. A run with
a ``result.json`` is skipped; an unfinished one resumes from its last
checkpoint (a generations run skips its finished generations); a folder
whose ``spec.json`` disagrees with the run now asked for is refused (choose
another work dir). So an interrupted reproduction resumes where it stopped.

Outputs in the work dir: ``results.md`` and ``results.json`` (tables with the
preset's scale, the hardware and the command), ``figure3.png`` (the FSP
paper's Figure 3: test accuracy and training loss of FSP-initialised and
scratch students against their iterations; those runs validate
``curve_points`` times during stage 2) and ``generations.png``.
"""
import json
import os
import os.path as osp
import pickle
import statistics
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ACC_KEY = 'accuracy/top1'
TEST_SET_SIZE = 10000
RESULT_FILE = 'result.json'
SPEC_FILE = 'spec.json'
PREDICTIONS_FILE = 'predictions.npz'
EXPERIMENTS = ('a', 'b', 'c', 'd')

TEACHER_CFG = 'configs/resnet/resnet26_fashion_mnist.py'
R8_CFG = 'configs/resnet/resnet8_fashion_mnist.py'
R26_THIRD_CFG = 'configs/resnet/resnet26_fashion_mnist_1k.py'
FSP_R8_CFG = 'configs/fsp/resnet26_resnet8_fashion_mnist.py'
FSP_R26_CFG = 'configs/fsp/resnet26_fashion_mnist.py'
FSP_R8_RESCALED_CFG = 'configs/fsp/resnet26_resnet8_fashion_mnist_rescaled.py'
FSP_R26_RESCALED_CFG = 'configs/fsp/resnet26_fashion_mnist_rescaled.py'
SHUFFLED_R26_CFG = 'configs/fsp/resnet26_fashion_mnist_shuffled_seed{}.py'
KD_R8_CFG = 'configs/kd/resnet26_resnet8_fashion_mnist.py'
FITNET_R8_CFG = {
    '1loss': 'configs/fitnet/resnet26_resnet8_fashion_mnist_1loss.py',
    '3loss': 'configs/fitnet/resnet26_resnet8_fashion_mnist_3loss.py',
}
FITNET_NAMES = {'1loss': 'FitNet, 1 loss (middle layer)',
                '3loss': 'FitNet, 3 loss (three stage outputs)'}
GENERATION_CFGS = (
    ('D(1.0, 0.0)', 'configs/tolerant/resnet8_fashion_mnist_eta10_lam00.py'),
    ('D(1.0, 0.6)', 'configs/tolerant/resnet8_fashion_mnist_eta10_lam06.py'),
    ('D(0.6, 0.6)', 'configs/tolerant/resnet8_fashion_mnist_eta06_lam06.py'),
)
GENERATION_SEED_STEP = 10
RESCALED_LABEL = '{}, FSP + conv norms reset at the switch (mmfsp option)'
#: the seed-0 students of (a) and (b) that Figure 3 and the weight-norm
#: table compare: experiment -> (network, its plain config, scratch run,
#: FSP run, norm-reset FSP run)
STUDENT_GROUPS = {
    'a': ('ResNet-8', R8_CFG, 'r8_alone_seed0', 'fsp_r8_seed0',
          'fsp_r8_rescaled_seed0'),
    'b': ('ResNet-26', TEACHER_CFG, 'r26_third_seed0', 'fsp_r26_seed0',
          'fsp_r26_rescaled_seed0'),
}

#: Wall seconds per training iteration at batch 128 on this project's 2-core
#: CPU (Xeon, AVX-512) with two torch threads when it is otherwise idle:
#: ``model.train_step`` on 1x28x28 inputs, the fastest of 5 measured at a
#: quiet moment (ResNet-26 0.33 s, ResNet-8 0.125 s) plus 10 % and 0.02 s
#: of data loading; the teacher's forward pass alone (0.082 / 0.031 s);
#: evaluation per test image (1.04 / 0.31 ms at batch 500, plus 10 %); a
#: training runner's start (config 0.2 s, runner and model 1 s, the 60k
#: training images 1.3 s, test images, config dumps: ~4 s of single-threaded
#: Python, rounded up) and a test-only runner's. With one thread, or with
#: other jobs on the cores, training is about 1.6x slower. Used only for
#: the ``--plan`` estimates.
TRAIN_ITER_S = {'resnet26': 0.38, 'resnet8': 0.16}
FORWARD_ITER_S = {'resnet26': 0.09, 'resnet8': 0.035}
EVAL_IMAGE_S = {'resnet26': 0.00115, 'resnet8': 0.00035}
RUNNER_START_S = 5.0
TEST_RUNNER_START_S = 2.0


class ReproductionError(RuntimeError):
    """The work dir holds a run that disagrees with the one asked for."""


@dataclass(frozen=True)
class Preset:
    """The scale of a reproduction.

    Args:
        teacher_iters: the ResNet-26 teacher's iterations.
        minimisation_iters: (a) stage-2 iterations of every ResNet-8.
        generation_iters: (d) iterations per generation.
        num_generations: (d) generations per setting (0..N-1).
        seeds_minimisation / seeds_fast / seeds_generations: seeds of (a),
            (b) and (d).
        test_images: test images every model is evaluated on (the first N
            of the 10k test set; 0 or 10000 for all).
        train_images: training images (first N; 0 for all 60k).
        batch_size: training batch size.
        ensemble_student: (c) students, 'resnet8' or 'resnet26'.
        teacher_ensemble: also train teachers of seeds 1 and 2 for (c).
        curve_points: validations during stage 2 of the figure-3 runs.
        fitnet: FitNet variants of (a), '1loss' and/or '3loss'.
        norm_reset: also train, in (a) and (b), FSP students whose conv
            weight norms are reset at the switch (the ``*_rescaled.py``
            configs: ``DistillStageSwitchHook(rescale_weight_norms=True)``,
            an mmfsp option), with the seeds of the FSP students.
    """

    name: str
    teacher_iters: int
    minimisation_iters: int
    generation_iters: int
    num_generations: int = 3
    seeds_minimisation: int = 1
    seeds_fast: int = 1
    seeds_generations: int = 1
    test_images: int = 0
    train_images: int = 0
    batch_size: int = 128
    ensemble_student: str = 'resnet8'
    teacher_ensemble: bool = False
    curve_points: int = 5
    fitnet: Tuple[str, ...] = ('1loss', )
    norm_reset: bool = False

    def __post_init__(self) -> None:
        if self.ensemble_student not in ('resnet8', 'resnet26'):
            raise ValueError(f'ensemble_student must be resnet8 or resnet26, '
                             f'got {self.ensemble_student!r}')
        unknown = set(self.fitnet) - set(FITNET_R8_CFG)
        if unknown or not self.fitnet:
            raise ValueError(f'fitnet variants must be among '
                             f'{sorted(FITNET_R8_CFG)}, got {self.fitnet}')
        if self.teacher_iters < 3:
            raise ValueError('teacher_iters must be at least 3')

    @property
    def fast_iters(self) -> int:
        """(b) stage-2 iterations: one third of the teacher's."""
        return max(1, self.teacher_iters // 3)

    @property
    def all_test_images(self) -> bool:
        return self.test_images in (0, TEST_SET_SIZE)

    @property
    def num_test_images(self) -> int:
        return TEST_SET_SIZE if self.all_test_images else self.test_images

    def data_identity(self) -> dict:
        return dict(batch_size=self.batch_size,
                    train_images=self.train_images,
                    test_images=self.num_test_images)


PRESETS: Dict[str, Preset] = {
    # the tool end to end in 1.5-2 minutes (tests): tiny batches, subsets
    'smoke': Preset('smoke', teacher_iters=12, minimisation_iters=6,
                    generation_iters=4, num_generations=2, test_images=200,
                    train_images=512, batch_size=16, curve_points=3),
    # under ~15 minutes on the 2-core CPU when it is otherwise idle
    'small': Preset('small', teacher_iters=240, minimisation_iters=96,
                    generation_iters=60, num_generations=3,
                    test_images=2000),
    # under ~90 minutes there: 3 seeds for (a), 2 for (d), all test images
    'full': Preset('full', teacher_iters=1050, minimisation_iters=420,
                   generation_iters=250, num_generations=3,
                   seeds_minimisation=3, seeds_fast=1, seeds_generations=2,
                   test_images=0),
}


@dataclass(frozen=True)
class RunSpec:
    """One unit of work: a training run (tested when finished), an ensemble
    test, or a generations run."""

    key: str
    label: str
    kind: str  # 'train' | 'ensemble' | 'generations'
    config: str
    arch: str = 'resnet8'
    seed: int = 0
    stage1: int = 0  # 0: a one-stage run
    stage2: int = 0  # iterations after the switch (all of a one-stage run)
    teacher: Optional[str] = None  # key of the teacher run
    teacher_arch: Optional[str] = None
    teacher_in_stage2: bool = False  # KD / FitNet stage 2 run the teacher
    shuffle_seed: Optional[int] = None
    val_interval: int = 0  # 0: no validation while training
    members: Tuple[str, ...] = ()
    num_generations: int = 0

    @property
    def iterations(self) -> str:
        return f'{self.stage1} + {self.stage2}' if self.stage1 else \
            str(self.stage2)

    def identity(self, preset: Preset) -> dict:
        """What the run's result depends on (compared with ``spec.json``)."""
        out = asdict(self)
        out.pop('label')
        out['members'] = list(self.members)
        out.update(preset.data_identity())
        return out


# ----------------------------------------------------------- statistics
def mean_spread(values: Sequence[float]) -> dict:
    """``mean``, sample ``std`` (None for one value), ``min``, ``max`` and
    ``n`` of ``values``."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError('mean_spread needs at least one value')
    return dict(
        mean=statistics.fmean(values),
        std=statistics.stdev(values) if len(values) > 1 else None,
        min=min(values),
        max=max(values),
        n=len(values))


def format_stat(stat: Optional[dict], digits: int = 2) -> str:
    """``'85.12 ± 0.31'`` (mean ± std), ``'85.12'`` for one value, ``''``
    for none."""
    if not stat:
        return ''
    text = f'{stat["mean"]:.{digits}f}'
    if stat.get('std') is not None:
        text += f' ± {stat["std"]:.{digits}f}'
    return text


def format_range(stat: Optional[dict], digits: int = 2) -> str:
    """``'84.80-85.40'`` (min-max); ``''`` for none."""
    if not stat:
        return ''
    return f'{stat["min"]:.{digits}f}-{stat["max"]:.{digits}f}'


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A Markdown table; cells are converted with ``str``."""
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f'row {row!r} has {len(row)} cells, the header '
                             f'{len(header)}')
        lines.append('| ' + ' | '.join(str(c) for c in row) + ' |')
    return '\n'.join(lines)


def prediction_diversity(scores: Sequence[np.ndarray],
                         labels: np.ndarray) -> dict:
    """How alike several models' test predictions are.

    Args:
        scores: one (N, C) array of softmax scores per model, rows in the
            same image order.
        labels: (N, ) true classes.

    Returns:
        dict: ``disagreement`` (mean over pairs of the % of images whose
        predicted classes differ), ``error_correlation`` (mean over pairs
        of the Pearson correlation of the 0/1 "correct" vectors; None when
        a model is right or wrong everywhere), ``ensemble_accuracy`` (% of
        argmax of the mean softmax = label) and ``single`` (accuracy of each
        model, %).
    """
    if len(scores) < 2:
        raise ValueError('prediction_diversity needs two or more models')
    labels = np.asarray(labels)
    preds = [np.asarray(s).argmax(1) for s in scores]
    correct = [(p == labels).astype(np.float64) for p in preds]
    disagreements, correlations = [], []
    for i in range(len(preds)):
        for j in range(i + 1, len(preds)):
            disagreements.append(float(np.mean(preds[i] != preds[j])) * 100)
            if correct[i].std() > 0 and correct[j].std() > 0:
                correlations.append(
                    float(np.corrcoef(correct[i], correct[j])[0, 1]))
    ensemble = np.mean([np.asarray(s) for s in scores], axis=0).argmax(1)
    return dict(
        disagreement=statistics.fmean(disagreements),
        error_correlation=statistics.fmean(correlations)
        if correlations else None,
        ensemble_accuracy=float(np.mean(ensemble == labels)) * 100,
        single=[float(c.mean()) * 100 for c in correct])


def curve_interval(stage1: int, stage2: int, points: int = 5,
                   max_points: int = 12) -> int:
    """A validation interval giving about ``points`` validations in stage 2
    that fall at the same stage-2 iterations for a distillation run (stage 1
    of ``stage1`` iterations) and for a scratch run: the largest
    ``stage2 // k`` (``points <= k <= max_points``) that divides both stage
    lengths; ``stage2 // points`` if none does."""
    points = max(1, min(points, stage2))
    for k in range(points, max(points, max_points) + 1):
        if stage2 % k == 0 and stage1 % (stage2 // k) == 0:
            return stage2 // k
    return max(1, stage2 // points)


# ------------------------------------------------------------ skip logic
def _write_json(path: str, data) -> None:
    from mmfsp.utils import atomic_write
    atomic_write(path, (json.dumps(data, indent=2) + '\n').encode('utf-8'))


def _read_json(path: str):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def claim_run_dir(run_dir: str, identity: dict) -> None:
    """Make ``run_dir`` the home of the run ``identity``: write its
    ``spec.json``, or check that the one there agrees."""
    path = osp.join(run_dir, SPEC_FILE)
    if osp.isfile(path):
        found = _read_json(path)
        if found != identity:
            changed = sorted(k for k in set(found) | set(identity)
                             if found.get(k) != identity.get(k))
            raise ReproductionError(
                f'{run_dir} holds a run with other settings ({changed}: '
                f'{[found.get(k) for k in changed]} there, '
                f'{[identity.get(k) for k in changed]} now); use another '
                f'--work-dir, or delete that folder to run it again')
        return
    os.makedirs(run_dir, exist_ok=True)
    _write_json(path, identity)


def finished_result(run_dir: str, identity: dict) -> Optional[dict]:
    """The ``result.json`` of a finished run of ``identity`` in
    ``run_dir``, or None when it has not finished. A result of another
    run is refused (:class:`ReproductionError`)."""
    path = osp.join(run_dir, RESULT_FILE)
    if not osp.isfile(path):
        return None
    result = _read_json(path)
    if result.get('spec') != identity:
        raise ReproductionError(
            f'{path} is the result of another run; use another --work-dir, '
            f'or delete {run_dir} to run it again')
    return result


def run_once(run_dir: str, identity: dict, work: Callable[[], dict]) -> dict:
    """``work()``'s result for the run ``identity``, computed once: a
    finished run's ``result.json`` is returned without calling ``work``;
    otherwise ``work()`` runs and its dict (plus ``spec``) is written
    atomically as ``result.json``."""
    done = finished_result(run_dir, identity)
    if done is not None:
        done['skipped'] = True
        return done
    claim_run_dir(run_dir, identity)
    result = dict(work())
    result['spec'] = identity
    _write_json(osp.join(run_dir, RESULT_FILE), result)
    result['skipped'] = False
    return result


# ------------------------------------------------------------------ plan
def _cfg(path: str):
    from mmengine.config import Config
    return Config.fromfile(osp.join(REPO_ROOT, path))


def _stage1(path: str, teacher_iters: int) -> int:
    """Stage-1 iterations of the two-stage config at ``path`` for a
    teacher trained ``teacher_iters`` iterations: its stage 1 scaled by the
    teacher's factor (the shipped Fashion-MNIST stage-1 lengths are those
    of the papers scaled to the 3k-iteration teacher)."""
    from mmfsp.utils.schedule_scaling import stage_lengths
    old1, _ = stage_lengths(_cfg(path))
    factor = teacher_iters / int(_cfg(TEACHER_CFG).train_cfg.max_iters)
    return max(1, int(round(old1 * factor)))


def build_plan(preset: Preset,
               experiments: Sequence[str] = EXPERIMENTS) -> List[RunSpec]:
    """The runs of ``experiments`` in execution order (shared runs once)."""
    unknown = set(experiments) - set(EXPERIMENTS)
    if unknown:
        raise ValueError(f'unknown experiments {sorted(unknown)}; choose '
                         f'from {EXPERIMENTS}')
    plan: Dict[str, RunSpec] = {}

    def add(spec: RunSpec) -> None:
        if spec.key in plan and plan[spec.key] != spec:
            raise ValueError(f'two different runs named {spec.key}')
        plan.setdefault(spec.key, spec)

    teacher = 'teacher_r26_seed0'
    needs_teacher = set(experiments) & {'a', 'b', 'c'}
    if needs_teacher:
        for s in range(3 if ('c' in experiments and preset.teacher_ensemble)
                       else 1):
            add(RunSpec(f'teacher_r26_seed{s}', 'teacher ResNet-26', 'train',
                        TEACHER_CFG, 'resnet26', s,
                        stage2=preset.teacher_iters))
    common = dict(teacher=teacher, teacher_arch='resnet26')

    s2a = preset.minimisation_iters
    fsp8_s1 = _stage1(FSP_R8_CFG, preset.teacher_iters)
    val_a = curve_interval(fsp8_s1, s2a, preset.curve_points)
    s2b = preset.fast_iters
    fsp26_s1 = _stage1(FSP_R26_CFG, preset.teacher_iters)
    val_b = curve_interval(fsp26_s1, s2b, preset.curve_points)

    def fsp8(seed: int, shuffle: Optional[int] = None) -> RunSpec:
        key = f'fsp_r8_seed{seed}' if shuffle is None else \
            f'fsp_r8_shuffle{shuffle}_seed{seed}'
        label = 'ResNet-8, FSP' if shuffle is None else \
            f'ResNet-8, shuffled FSP (shuffle seed {shuffle})'
        return RunSpec(key, label, 'train', FSP_R8_CFG, 'resnet8', seed,
                       fsp8_s1, s2a, shuffle_seed=shuffle,
                       val_interval=val_a if seed == 0 and shuffle is None
                       else 0, **common)

    def fsp26(seed: int, shuffle: Optional[int] = None) -> RunSpec:
        key = f'fsp_r26_seed{seed}' if shuffle is None else \
            f'fsp_r26_shuffle{shuffle}_seed{seed}'
        label = 'ResNet-26, FSP' if shuffle is None else \
            f'ResNet-26, shuffled FSP (shuffle seed {shuffle})'
        config = FSP_R26_CFG if shuffle is None else \
            SHUFFLED_R26_CFG.format(shuffle)
        return RunSpec(key, label, 'train', config, 'resnet26', seed,
                       fsp26_s1, s2b, shuffle_seed=shuffle,
                       val_interval=val_b if seed == 0 and shuffle is None
                       else 0, **common)

    if 'a' in experiments:
        for s in range(preset.seeds_minimisation):
            add(RunSpec(f'r8_alone_seed{s}', 'ResNet-8 alone', 'train',
                        R8_CFG, 'resnet8', s, stage2=s2a,
                        val_interval=val_a if s == 0 else 0))
            add(fsp8(s))
            if preset.norm_reset:
                add(replace(fsp8(s), key=f'fsp_r8_rescaled_seed{s}',
                            label=RESCALED_LABEL.format('ResNet-8'),
                            config=FSP_R8_RESCALED_CFG))
            for variant in preset.fitnet:
                path = FITNET_R8_CFG[variant]
                add(RunSpec(f'fitnet{variant}_r8_seed{s}',
                            f'ResNet-8, {FITNET_NAMES[variant]}', 'train',
                            path, 'resnet8', s,
                            _stage1(path, preset.teacher_iters), s2a,
                            teacher_in_stage2=True, **common))
            add(RunSpec(f'kd_r8_seed{s}', 'ResNet-8, Hinton KD', 'train',
                        KD_R8_CFG, 'resnet8', s, stage2=s2a,
                        teacher_in_stage2=True, **common))
    if 'b' in experiments:
        for s in range(preset.seeds_fast):
            add(fsp26(s))
            if preset.norm_reset:
                add(replace(fsp26(s), key=f'fsp_r26_rescaled_seed{s}',
                            label=RESCALED_LABEL.format('ResNet-26'),
                            config=FSP_R26_RESCALED_CFG))
            add(RunSpec(f'r26_third_seed{s}', 'ResNet-26 alone, 1/3 '
                        'iterations', 'train', R26_THIRD_CFG, 'resnet26', s,
                        stage2=s2b, val_interval=val_b if s == 0 else 0))
    if 'c' in experiments:
        student = fsp8 if preset.ensemble_student == 'resnet8' else fsp26
        plain = [student(s) for s in range(3)]
        shuffled = [student(s, s + 1) for s in range(3)]
        for spec in plain + shuffled:
            add(spec)
        add(RunSpec('ensemble_plain_fsp', 'ensemble of 3 FSP students',
                    'ensemble', plain[0].config, plain[0].arch,
                    members=tuple(p.key for p in plain)))
        add(RunSpec('ensemble_shuffled_fsp',
                    'ensemble of 3 shuffled-FSP students', 'ensemble',
                    plain[0].config, plain[0].arch,
                    members=tuple(p.key for p in shuffled)))
        if preset.teacher_ensemble:
            add(RunSpec('ensemble_teachers', 'ensemble of 3 teachers',
                        'ensemble', TEACHER_CFG, 'resnet26',
                        members=tuple(f'teacher_r26_seed{s}'
                                      for s in range(3))))
    if 'd' in experiments:
        for label, path in GENERATION_CFGS:
            tag = label[2:-1].replace(', ', '_').replace('.', '')
            for i in range(preset.seeds_generations):
                seed = i * GENERATION_SEED_STEP
                add(RunSpec(f'generations_{tag}_seed{seed}', label,
                            'generations', path, 'resnet8', seed,
                            stage2=preset.generation_iters,
                            num_generations=preset.num_generations))
    return list(plan.values())


def estimate_seconds(spec: RunSpec, preset: Preset,
                     plan: Optional[Sequence[RunSpec]] = None) -> float:
    """Rough wall seconds of a run on the idle 2-core CPU (see
    :data:`TRAIN_ITER_S`)."""
    batch = preset.batch_size / 128
    test = preset.num_test_images
    if spec.kind == 'ensemble':
        by_key = {p.key: p for p in plan or []}
        archs = [by_key[m].arch if m in by_key else spec.arch
                 for m in spec.members]
        return TEST_RUNNER_START_S + test * sum(EVAL_IMAGE_S[a]
                                                for a in archs)
    if spec.kind == 'generations':
        iters = spec.stage2 * batch
        lam = 0.0 if 'lam00' in spec.config else 0.6
        total = 0.0
        for g in range(spec.num_generations):
            total += RUNNER_START_S + iters * (
                TRAIN_ITER_S[spec.arch] +
                (FORWARD_ITER_S[spec.arch] if g and lam else 0))
            total += test * EVAL_IMAGE_S[spec.arch]  # the generation alone
            if g:  # the ensemble of generations 0..g
                total += TEST_RUNNER_START_S + test * (g + 1) * \
                    EVAL_IMAGE_S[spec.arch]
        return total
    train = TRAIN_ITER_S[spec.arch]
    fwd = FORWARD_ITER_S[spec.teacher_arch] if spec.teacher_arch else 0.0
    seconds = spec.stage1 * (train + fwd) * batch
    seconds += spec.stage2 * (train + (fwd if spec.teacher_in_stage2 else 0)
                              ) * batch
    evals = 1 + (spec.stage2 // spec.val_interval if spec.val_interval else 0)
    return RUNNER_START_S + seconds + evals * test * EVAL_IMAGE_S[spec.arch]


# ------------------------------------------------------------- configs
def _data_settings(cfg, preset: Preset, validate: bool) -> None:
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if not isinstance(loader, dict):
            continue
        loader['num_workers'] = 0
        loader['persistent_workers'] = False
        dataset = loader['dataset']
        # no worker processes share the data list: skip its serialisation
        # (halves the start of a Fashion-MNIST runner)
        dataset['serialize_data'] = False
        root = dataset.get('data_root')
        if isinstance(root, str) and not osp.isabs(root):
            dataset['data_root'] = osp.join(REPO_ROOT, root)
        if name == 'train_dataloader':
            loader['batch_size'] = preset.batch_size
            if preset.train_images:
                dataset['indices'] = preset.train_images
        elif not preset.all_test_images:
            dataset['indices'] = preset.test_images
    if not validate:
        cfg.val_dataloader = None
        cfg.val_cfg = None
        cfg.val_evaluator = None


def _test_with_dump(cfg, run_dir: str) -> None:
    evaluator = cfg.get('test_evaluator')
    evaluators = [evaluator] if isinstance(evaluator, dict) else \
        list(evaluator)
    evaluators.append(
        dict(type='DumpResults',
             out_file_path=osp.join(run_dir, 'predictions.pkl')))
    cfg.test_evaluator = evaluators


def _runtime(cfg, spec: RunSpec, run_dir: str, total: int) -> None:
    cfg.work_dir = run_dir
    cfg.experiment_name = f'{spec.key}_{time.time_ns()}'
    cfg.randomness = dict(seed=spec.seed)
    cfg.log_level = 'WARNING'
    log_interval = max(1, spec.stage2 // 50)
    # validation metrics logged at their iteration (LoggerHook's default
    # logs them at the epoch, always 0 in an iteration-based run)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=log_interval, log_metric_by_epoch=False)
    # each logged loss is the mean over its own interval, not over 100
    cfg.log_processor = dict(by_epoch=False, window_size=log_interval)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False,
        interval=checkpoint_interval(total), max_keep_ckpts=1,
        save_last=True)


def checkpoint_interval(total: int) -> int:
    """About three checkpoints per run to resume from; only the last one
    for tiny runs (each save formats the config, about a second)."""
    return total if total < 30 else max(1, total // 3)


def train_config(spec: RunSpec, preset: Preset, run_dir: str,
                 teacher_ckpt: Optional[str] = None):
    """The runner config of a training run ``spec``."""
    from mmfsp.utils.schedule_scaling import (scale_schedule,
                                              scale_two_stage_schedule)
    cfg = _cfg(spec.config)
    if spec.stage1:
        scale_two_stage_schedule(cfg, spec.stage1, spec.stage2)
    else:
        scale_schedule(cfg, spec.stage2)
    total = spec.stage1 + spec.stage2
    _runtime(cfg, spec, run_dir, total)
    if spec.teacher is not None:
        if teacher_ckpt is None:
            raise ValueError(f'{spec.key} needs its teacher\'s checkpoint')
        cfg.model.teacher_ckpt = teacher_ckpt
    if spec.shuffle_seed is not None:
        cfg.model.distiller.type = 'FSPDistiller'
        cfg.model.distiller.shuffle_seed = spec.shuffle_seed
    validate = spec.val_interval > 0
    if validate:
        cfg.train_cfg.val_interval = spec.val_interval
        # no validation in stage 1: its head is not trained
        cfg.train_cfg.val_begin = spec.stage1 + 1
    else:
        cfg.train_cfg.val_interval = total
    _data_settings(cfg, preset, validate)
    _test_with_dump(cfg, run_dir)
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='ProgressBarHook', description=spec.key)
    ]
    cfg.resume = bool(_checkpoints(run_dir))
    cfg.load_from = None
    return cfg


def ensemble_config(spec: RunSpec, preset: Preset, run_dir: str,
                    checkpoints: Sequence[str]):
    """The test-only config of the mean-softmax ensemble ``spec`` (as
    tools/test_ensemble.py builds it)."""
    from mmfsp.models.classifiers import ensemble_model_cfg
    cfg = _cfg(spec.config)
    cfg.model = ensemble_model_cfg(
        cfg.model, list(checkpoints),
        cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor'))
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler', 'auto_scale_lr'):
        cfg[key] = None
    cfg.custom_hooks = []
    cfg.work_dir = run_dir
    cfg.experiment_name = f'{spec.key}_{time.time_ns()}'
    cfg.log_level = 'WARNING'
    cfg.load_from = None
    cfg.resume = False
    _data_settings(cfg, preset, validate=False)
    _test_with_dump(cfg, run_dir)
    return cfg


def generations_config(spec: RunSpec, preset: Preset):
    """The generations config of ``spec`` (its schedule scaled to
    ``spec.stage2`` iterations per generation)."""
    from mmfsp.utils.schedule_scaling import scale_schedule
    cfg = _cfg(spec.config)
    scale_schedule(cfg, spec.stage2)
    cfg.randomness = dict(seed=spec.seed)
    cfg.log_level = 'WARNING'
    log_interval = max(1, spec.stage2 // 20)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=log_interval, log_metric_by_epoch=False)
    cfg.log_processor = dict(by_epoch=False, window_size=log_interval)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False,
        interval=checkpoint_interval(spec.stage2), max_keep_ckpts=1,
        save_last=True)
    cfg.train_cfg.val_interval = spec.stage2
    _data_settings(cfg, preset, validate=False)
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='ProgressBarHook', description=spec.key)
    ]
    return cfg


def _checkpoints(run_dir: str) -> List[str]:
    if not osp.isdir(run_dir):
        return []
    return sorted(f for f in os.listdir(run_dir)
                  if f.startswith('iter_') and f.endswith('.pth'))


def save_predictions(run_dir: str) -> str:
    """Turn the test run's ``predictions.pkl`` (mmengine ``DumpResults``)
    into ``predictions.npz`` (``scores`` (N, C) softmax, ``labels``,
    ``sample_idx``, rows sorted by ``sample_idx``); returns its path."""
    pkl = osp.join(run_dir, 'predictions.pkl')
    with open(pkl, 'rb') as f:
        samples = pickle.load(f)  # written just now by this process
    idx = np.array([int(s['sample_idx']) for s in samples])
    order = np.argsort(idx)
    scores = np.stack([np.asarray(samples[i]['pred_score'], np.float32)
                       for i in order])
    labels = np.array([int(np.asarray(samples[i]['gt_label']).reshape(-1)[0])
                       for i in order])
    out = osp.join(run_dir, PREDICTIONS_FILE)
    tmp = out + '.tmp.npz'
    np.savez(tmp, scores=scores, labels=labels, sample_idx=idx[order])
    os.replace(tmp, out)
    os.remove(pkl)
    return out


def load_predictions(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """``(scores, labels)`` of a ``predictions.npz``."""
    with np.load(path) as data:
        return data['scores'], data['labels']


# ------------------------------------------------------------- running
class Reproduction:
    """Plan, run (skipping finished runs), tabulate and plot.

    Args:
        preset: the scale.
        work_dir: where runs, results and figures go.
        experiments: a subset of ('a', 'b', 'c', 'd').
        command: the command line, for the output's header.
        log: where progress lines go.
    """

    def __init__(self, preset: Preset, work_dir: str,
                 experiments: Sequence[str] = EXPERIMENTS,
                 command: str = '', log: Callable[[str], None] = print):
        self.preset = preset
        self.work_dir = osp.abspath(work_dir)
        self.experiments = tuple(e for e in EXPERIMENTS if e in experiments)
        self.command = command
        self.log = log
        self.plan = build_plan(preset, self.experiments)
        self.results: Dict[str, dict] = {}

    def run_dir(self, key: str) -> str:
        return osp.join(self.work_dir, 'runs', key)

    def estimate(self) -> float:
        return sum(estimate_seconds(s, self.preset, self.plan)
                   for s in self.plan)

    def plan_markdown(self) -> str:
        rows = [[s.key, s.kind, s.config,
                 s.iterations if s.kind != 'ensemble' else '', s.seed,
                 s.shuffle_seed if s.shuffle_seed is not None else '',
                 f'{estimate_seconds(s, self.preset, self.plan):.0f}']
                for s in self.plan]
        table = markdown_table(
            ['run', 'kind', 'config', 'iterations', 'seed', 'shuffle',
             'est. s'], rows)
        return (f'{table}\n\nestimated total {self.estimate() / 60:.1f} '
                f'min on an idle 2-core CPU')

    def _checkpoint(self, key: str) -> str:
        return osp.join(self.work_dir, self.results[key]['checkpoint'])

    def execute(self) -> dict:
        """Run the plan; returns the results data (also written)."""
        # registers ProgressBarHook (the runs show a progress bar)
        import mmfsp.engine.hooks.progress_bar_hook  # noqa: F401
        from mmfsp.utils import check_dataset_files
        start = time.time()
        check_dataset_files(_cfg(TEACHER_CFG))
        for i, spec in enumerate(self.plan, 1):
            run_dir = self.run_dir(spec.key)
            identity = spec.identity(self.preset)
            done = finished_result(run_dir, identity)
            if done is not None:
                self.log(f'[{i}/{len(self.plan)}] {spec.key}: finished '
                         f'before, skipped')
                done['skipped'] = True
                self.results[spec.key] = done
                continue
            what = f'members {", ".join(spec.members)}' \
                if spec.kind == 'ensemble' else \
                f'{spec.iterations} iterations, seed {spec.seed}'
            self.log(f'[{i}/{len(self.plan)}] {spec.key} ({spec.label}, '
                     f'{what})')
            t0 = time.time()
            result = run_once(run_dir, identity,
                              lambda: self._work(spec, run_dir))
            self.results[spec.key] = result
            self.log(f'    done in {time.time() - t0:.0f} s: '
                     f'{_accuracy_text(result)}')
        data = self.write_outputs(time.time() - start)
        return data

    def _work(self, spec: RunSpec, run_dir: str) -> dict:
        t0 = time.time()
        if spec.kind == 'train':
            out = self._train(spec, run_dir)
        elif spec.kind == 'ensemble':
            out = self._ensemble(spec, run_dir)
        else:
            out = self._generations(spec, run_dir)
        out.update(key=spec.key, label=spec.label, kind=spec.kind,
                   seconds=time.time() - t0)
        return out

    def _train(self, spec: RunSpec, run_dir: str) -> dict:
        from mmfsp.utils import build_runner
        teacher = self._checkpoint(spec.teacher) if spec.teacher else None
        cfg = train_config(spec, self.preset, run_dir, teacher)
        runner = build_runner(cfg)
        runner.train()
        metrics = runner.test()
        total = spec.stage1 + spec.stage2
        final = osp.join(run_dir, f'iter_{total}.pth')
        if not osp.isfile(final):
            raise ReproductionError(f'{spec.key}: no final checkpoint {final}')
        del runner
        preds = save_predictions(run_dir)
        return dict(metrics=_plain_metrics(metrics),
                    checkpoint=osp.relpath(final, self.work_dir),
                    predictions=osp.relpath(preds, self.work_dir))

    def _ensemble(self, spec: RunSpec, run_dir: str) -> dict:
        from mmfsp.utils import build_runner
        ckpts = [self._checkpoint(m) for m in spec.members]
        cfg = ensemble_config(spec, self.preset, run_dir, ckpts)
        runner = build_runner(cfg)
        metrics = runner.test()
        del runner
        preds = save_predictions(run_dir)
        member_preds = [
            load_predictions(osp.join(self.work_dir,
                                      self.results[m]['predictions']))
            for m in spec.members
        ]
        diversity = prediction_diversity([p[0] for p in member_preds],
                                         member_preds[0][1])
        return dict(metrics=_plain_metrics(metrics),
                    predictions=osp.relpath(preds, self.work_dir),
                    members=list(spec.members), diversity=diversity)

    def _generations(self, spec: RunSpec, run_dir: str) -> dict:
        from mmfsp.engine.generations import train_generations
        cfg = generations_config(spec, self.preset)
        summary = train_generations(
            cfg, run_dir, spec.num_generations, resume=True,
            title=f'{spec.label}, seed {spec.seed}',
            log=lambda text: None)
        return dict(summary=summary)

    # ------------------------------------------------------------ output
    def write_outputs(self, seconds: float) -> dict:
        tables = self.tables()
        figures = self.figures()
        from mmfsp.analysis.speed_benchmark import hardware_description
        data = dict(
            preset=asdict(self.preset),
            experiments=list(self.experiments),
            scale=self.scale_lines(),
            command=self.command,
            hardware=hardware_description('cpu'),
            wall_seconds=seconds,
            run_seconds=sum(r.get('seconds', 0) for r in
                            self.results.values() if not r.get('skipped')),
            all_runs_seconds=sum(r.get('seconds', 0)
                                 for r in self.results.values()),
            tables=tables,
            figures=figures,
            runs={k: {kk: vv for kk, vv in v.items() if kk != 'skipped'}
                  for k, v in self.results.items()})
        text = results_markdown(data)
        with_out = osp.join(self.work_dir, 'results.md')
        from mmfsp.utils import atomic_write
        atomic_write(with_out, text.encode('utf-8'))
        _write_json(osp.join(self.work_dir, 'results.json'), data)
        self.log(text)
        self.log(f'results in {with_out} and '
                 f'{osp.join(self.work_dir, "results.json")}')
        return data

    def scale_lines(self) -> Dict[str, str]:
        p = self.preset
        test = 'all 10,000 test images' if p.all_test_images else \
            f'the first {p.test_images} of the 10,000 test images (a fixed ' \
            f'subset, the same for every model)'
        train = 'all 60,000 training images' if not p.train_images else \
            f'the first {p.train_images} training images'
        by_key = {s.key: s for s in self.plan}

        def its(key: str) -> str:
            return by_key[key].iterations if key in by_key else '?'
        out = dict(
            data=f'Fashion-MNIST, batch {p.batch_size}, {train}; evaluated '
            f'on {test}.',
            teacher=f'teacher ResNet-26: {p.teacher_iters} iterations, '
            f'seed 0')
        out['a'] = (f'ResNet-8 students, stage 2 {p.minimisation_iters} '
                    f'iterations (FSP {its("fsp_r8_seed0")}, '
                    + ', '.join(f'FitNet {v} {its(f"fitnet{v}_r8_seed0")}'
                                for v in p.fitnet)
                    + f'), {p.seeds_minimisation} seed(s), '
                    f'{p.num_test_images} test images')
        out['b'] = (f'ResNet-26 student, FSP {its("fsp_r26_seed0")} '
                    f'iterations (stage 2 = 1/3 of the teacher\'s '
                    f'{p.teacher_iters}), {p.seeds_fast} seed(s), '
                    f'{p.num_test_images} test images')
        r8 = p.ensemble_student == 'resnet8'
        student = 'fsp_r8_seed0' if r8 else 'fsp_r26_seed0'
        out['c'] = (f'{"ResNet-8" if r8 else "ResNet-26"} FSP students, '
                    f'{its(student)} iterations, training seeds 0-2 '
                    f'(shuffle seeds 1-3), {p.num_test_images} test images')
        out['d'] = (f'ResNet-8, {p.num_generations} generations x '
                    f'{p.generation_iters} iterations, '
                    f'{p.seeds_generations} seed(s) per setting, '
                    f'{p.num_test_images} test images')
        return out

    def _acc(self, key: str) -> Optional[float]:
        result = self.results.get(key)
        if not result or 'metrics' not in result:
            return None
        return float(result['metrics'][ACC_KEY])

    def _row(self, model: str, keys: Sequence[str], iterations: str,
             baseline: Optional[dict] = None) -> dict:
        values = [v for v in (self._acc(k) for k in keys) if v is not None]
        stat = mean_spread(values) if values else None
        delta = None
        if stat and baseline:
            delta = stat['mean'] - baseline['mean']
        return dict(model=model, iterations=iterations, runs=list(keys),
                    accuracy=stat, delta=delta)

    def tables(self) -> Dict[str, dict]:
        p = self.preset
        by_key = {s.key: s for s in self.plan}
        tables: Dict[str, dict] = {}
        teacher = ['teacher_r26_seed0']
        teacher_row = self._row('teacher ResNet-26', teacher,
                                str(p.teacher_iters))
        if 'a' in self.experiments:
            seeds = range(p.seeds_minimisation)
            alone = self._row('ResNet-8 alone',
                              [f'r8_alone_seed{s}' for s in seeds],
                              by_key['r8_alone_seed0'].iterations)
            base = alone['accuracy']
            rows = [teacher_row, alone,
                    self._row('ResNet-8, FSP',
                              [f'fsp_r8_seed{s}' for s in seeds],
                              by_key['fsp_r8_seed0'].iterations, base)]
            if p.norm_reset:
                rows.append(self._row(
                    RESCALED_LABEL.format('ResNet-8'),
                    [f'fsp_r8_rescaled_seed{s}' for s in seeds],
                    by_key['fsp_r8_rescaled_seed0'].iterations, base))
            for v in p.fitnet:
                rows.append(self._row(
                    f'ResNet-8, {FITNET_NAMES[v]}',
                    [f'fitnet{v}_r8_seed{s}' for s in seeds],
                    by_key[f'fitnet{v}_r8_seed0'].iterations, base))
            rows.append(self._row('ResNet-8, Hinton KD (tau 3, weight 4->1)',
                                  [f'kd_r8_seed{s}' for s in seeds],
                                  by_key['kd_r8_seed0'].iterations, base))
            tables['a'] = dict(rows=rows, baseline='ResNet-8 alone')
        if 'b' in self.experiments:
            seeds = range(p.seeds_fast)
            alone = self._row('ResNet-26 alone, 1/3 of the iterations',
                              [f'r26_third_seed{s}' for s in seeds],
                              by_key['r26_third_seed0'].iterations)
            rows = [teacher_row,
                    self._row('ResNet-26, FSP (stage 2 = 1/3)',
                              [f'fsp_r26_seed{s}' for s in seeds],
                              by_key['fsp_r26_seed0'].iterations,
                              alone['accuracy'])]
            if p.norm_reset:
                rows.append(self._row(
                    RESCALED_LABEL.format('ResNet-26') + ' (stage 2 = 1/3)',
                    [f'fsp_r26_rescaled_seed{s}' for s in seeds],
                    by_key['fsp_r26_rescaled_seed0'].iterations,
                    alone['accuracy']))
            rows.append(alone)
            tables['b'] = dict(rows=rows,
                               baseline='ResNet-26 alone, 1/3 iterations')
        if 'c' in self.experiments:
            rows = []
            for name, key in (('plain FSP students', 'ensemble_plain_fsp'),
                              ('shuffled-FSP students',
                               'ensemble_shuffled_fsp'),
                              ('teachers', 'ensemble_teachers')):
                if key not in self.results:
                    continue
                res = self.results[key]
                single = mean_spread(
                    [self._acc(m) for m in res['members']])
                ens = float(res['metrics'][ACC_KEY])
                div = res['diversity']
                rows.append(dict(
                    group=name, members=res['members'], single=single,
                    ensemble=ens, gain=ens - single['mean'],
                    disagreement=div['disagreement'],
                    error_correlation=div['error_correlation']))
            tables['c'] = dict(rows=rows)
        if 'd' in self.experiments:
            summaries = self.generation_summaries()
            tables['d'] = dict(rows=generation_rows(summaries))
        norms = self.weight_norm_rows()
        if norms:
            tables['weight_norms'] = dict(rows=norms)
        return tables

    def weight_norm_rows(self) -> List[dict]:
        """Conv weight norm ratios ``||w|| / ||w_init||``
        (:mod:`mmfsp.analysis.weight_norms`) of the seed-0 FSP students at
        the stage switch and at the end, and of the same networks trained
        alone, for experiments (a) and (b)."""
        from mmfsp.analysis.weight_norms import (conv_norm_ratios,
                                                 initial_conv_weight_norms,
                                                 ratio_summary)
        by_key = {s.key: s for s in self.plan}
        rows = []
        for exp, group in STUDENT_GROUPS.items():
            if exp not in self.experiments:
                continue
            net, cfg_path, alone_key, fsp_key, rescaled_key = group
            if any('checkpoint' not in self.results.get(key, {})
                   for key in (fsp_key, alone_key)):
                continue
            initial = initial_conv_weight_norms(_cfg(cfg_path).model)
            spec = by_key[fsp_key]
            points = [
                (f'{net}, FSP', f'end of stage 1 (iteration '
                 f'{spec.stage1})', osp.join(self.run_dir(fsp_key),
                                            f'stage1_iter_{spec.stage1}.pth')),
                (f'{net}, FSP', f'end (iteration {spec.stage1 + spec.stage2})',
                 self._checkpoint(fsp_key)),
                (f'{net} alone', f'end (iteration '
                 f'{by_key[alone_key].iterations})',
                 self._checkpoint(alone_key))]
            if 'checkpoint' in self.results.get(rescaled_key, {}):
                points.insert(2, (
                    f'{net}, FSP + norm reset', f'end (iteration '
                    f'{spec.stage1 + spec.stage2})',
                    self._checkpoint(rescaled_key)))
            for model, point, path in points:
                if not osp.isfile(path):
                    continue
                summary = ratio_summary(conv_norm_ratios(path, initial))
                rows.append(dict(model=model, point=point, ratio=summary,
                                 checkpoint=osp.relpath(path,
                                                        self.work_dir)))
        return rows

    def generation_summaries(self) -> List[dict]:
        return [r['summary'] for s in self.plan
                if s.kind == 'generations' and s.key in self.results
                for r in [self.results[s.key]]]

    def _figure3_panel(self, exp: str) -> dict:
        """Figure 3's panel of experiment ``exp``: its seed-0 scratch, FSP
        and (if planned) norm-reset FSP students."""
        net, _, alone_key, fsp_key, rescaled_key = STUDENT_GROUPS[exp]
        spec = next(s for s in self.plan if s.key == fsp_key)
        runs = [dict(label=f'{net} alone (scratch)',
                     work_dir=self.run_dir(alone_key), offset=0),
                dict(label=f'{net}, FSP-initialised (after {spec.stage1} '
                     f'stage-1 it.)', work_dir=self.run_dir(fsp_key),
                     offset=spec.stage1)]
        if any(s.key == rescaled_key for s in self.plan):
            runs.append(dict(label='... + conv norms reset at the switch',
                             work_dir=self.run_dir(rescaled_key),
                             offset=spec.stage1))
        return dict(title=f'{net} ({exp}), stage 2 {spec.stage2} it.',
                    runs=runs)

    def figures(self) -> Dict[str, str]:
        from mmfsp.analysis.figures import (plot_generations,
                                            plot_student_curves)
        out: Dict[str, str] = {}
        panels = [self._figure3_panel(exp) for exp in STUDENT_GROUPS
                  if exp in self.experiments]
        if panels:
            out['figure3'] = plot_student_curves(
                panels, osp.join(self.work_dir, 'figure3.png'),
                title=f'FSP-initialised vs scratch students, Fashion-MNIST '
                f'(preset {self.preset.name}, seed 0, '
                f'{self.preset.num_test_images} test images)')
        summaries = self.generation_summaries()
        if summaries:
            out['generations'] = plot_generations(
                summaries, osp.join(self.work_dir, 'generations.png'),
                title=f'ResNet-8 generations, Fashion-MNIST (preset '
                f'{self.preset.name}, {self.preset.generation_iters} it. per '
                f'generation, {self.preset.num_test_images} test images)')
        return {k: osp.relpath(v, self.work_dir) for k, v in out.items()}


def _plain_metrics(metrics: dict) -> dict:
    return {k: float(v.item() if hasattr(v, 'item') else v)
            for k, v in metrics.items()}


def _accuracy_text(result: dict) -> str:
    if 'metrics' in result:
        return f'accuracy {result["metrics"][ACC_KEY]:.2f}%'
    gens = result.get('summary', {}).get('generations', [])
    return 'generations ' + ', '.join(
        f'{r["metrics"][ACC_KEY]:.2f}%' for r in gens)


def generation_rows(summaries: Sequence[dict]) -> List[dict]:
    """Table (d): per setting, each generation's accuracy and each ensemble
    0..g as mean/spread over the summaries (seeds) of that setting."""
    from mmfsp.analysis.figures import generation_curves
    rows = []
    for setting, entry in generation_curves(summaries, ACC_KEY).items():
        single = {g: mean_spread(v)
                  for g, v in sorted(entry['single'].items())}
        ensemble = {g: mean_spread(v)
                    for g, v in sorted(entry['ensemble'].items())}
        best = max(single, key=lambda g: single[g]['mean'])
        rows.append(dict(
            setting=setting, seeds=single[0]['n'],
            single={str(g): s for g, s in single.items()},
            ensemble={str(g): s for g, s in ensemble.items()},
            best_generation=best,
            best_minus_gen0=single[best]['mean'] - single[0]['mean']))
    return rows


def results_markdown(data: dict) -> str:
    """results.md from what results.json holds."""
    preset = data['preset']
    scale = data['scale']
    lines = [
        f'# FSP and tolerant-teacher reproduction on Fashion-MNIST '
        f'(preset {preset["name"]})', '',
        f'Command: `{data["command"]}`  ',
        f'Hardware: {data["hardware"]}  ',
        f'Time: {data["wall_seconds"] / 60:.1f} min this invocation '
        f'({data["run_seconds"] / 60:.1f} min of runs trained now, runs '
        f'finished before skipped); all runs together took '
        f'{data["all_runs_seconds"] / 60:.1f} min  ',
        f'Data: {scale["data"]}  ',
        f'Teacher: {scale["teacher"]}', '',
        'Accuracy = top-1 % on the test images named above; "± x" is the '
        'sample standard deviation over seeds, n the number of seeds. '
        'These are scaled-down CPU runs (a few epochs at most): they show '
        'whether the effects point the papers\' way at this scale, not the '
        'papers\' numbers.', ''
    ]
    tables = data['tables']

    def fmt(x: Optional[float], signed: bool = False) -> str:
        if x is None:
            return ''
        return f'{x:+.2f}' if signed else f'{x:.2f}'

    for exp, title, claim in (
            ('a', 'Network minimisation', 'an FSP-trained small student '
             'beats the same network trained alone, and FitNet/KD'),
            ('b', 'Fast optimisation', 'an FSP student with 1/3 of the '
             'iterations gets close to the teacher and beats the same '
             'network trained alone for 1/3')):
        if exp not in tables:
            continue
        t = tables[exp]
        lines += [f'## ({exp}) {title}: {scale[exp]}', '',
                  f'Claim: {claim}.', '']
        rows = [[r['model'], r['iterations'], format_stat(r['accuracy']),
                 format_range(r['accuracy']),
                 r['accuracy']['n'] if r['accuracy'] else 0,
                 fmt(r['delta'], True)] for r in t['rows']]
        lines += [markdown_table(
            ['model', 'iterations (stage 1 + stage 2)', 'accuracy',
             'min-max', 'n', f'vs {t["baseline"]}'], rows), '']
    if 'c' in tables:
        lines += [f'## (c) Shuffled FSP for diverse students: {scale["c"]}',
                  '', 'Claim: students taught with differently shuffled '
                  'teacher FSP matrices are less correlated than plain FSP '
                  'students, so their ensemble gains more.', '']
        rows = [[r['group'], format_stat(r['single']),
                 fmt(r['ensemble']), fmt(r['gain'], True),
                 fmt(r['disagreement']),
                 fmt(r['error_correlation']) if r['error_correlation']
                 is not None else 'n/a'] for r in tables['c']['rows']]
        lines += [markdown_table(
            ['3 models', 'single (mean ± std over the 3)', 'ensemble',
             'ensemble gain', 'pairwise disagreement (%)',
             'error correlation'], rows), '',
            'Ensemble = mean of the softmax outputs (EnsembleClassifier). '
            'Disagreement: % of test images two members classify '
            'differently; error correlation: Pearson correlation of two '
            'members\' right/wrong vectors; both averaged over the 3 '
            'pairs.', '']
    if 'd' in tables and tables['d']['rows']:
        rows_d = tables['d']['rows']
        gens = sorted({int(g) for r in rows_d for g in r['single']})
        header = ['setting', 'n'] + [f'gen {g}' for g in gens] + \
            [f'ensemble 0-{g}' for g in gens if g > 0] + \
            ['best gen - gen 0']
        rows = []
        for r in rows_d:
            rows.append([r['setting'], r['seeds']] +
                        [format_stat(r['single'].get(str(g))) for g in gens] +
                        [format_stat(r['ensemble'].get(str(g)))
                         for g in gens if g > 0] +
                        [f'{r["best_minus_gen0"]:+.2f} (gen '
                         f'{r["best_generation"]})'])
        lines += [f'## (d) Training in generations: {scale["d"]}', '',
                  'Claim: generations taught by a tolerant teacher '
                  '(D(0.6, 0.6)) end better than strict-teacher generations '
                  '(D(1.0, 0.6)) and than independent networks '
                  '(D(1.0, 0.0)); ensembles of generations add more.', '',
                  markdown_table(header, rows), '',
                  'D(eta, lam): eta = label weight of the teacher loss '
                  '(TSD applied to the patriarch only, mmfsp\'s default), '
                  'lam = weight of KL(p_T || p_S) in the students\' loss.',
                  '']
    if 'weight_norms' in tables:
        rows = [[r['model'], r['point'], f'{r["ratio"]["median"]:.2f}',
                 f'{r["ratio"]["min"]:.2f}-{r["ratio"]["max"]:.2f}',
                 r['ratio']['max_layer']]
                for r in tables['weight_norms']['rows']]
        lines += ['## Conv weight norms of the students (seed 0)', '',
                  'r = ||w|| / ||w_init|| per conv layer (w_init: a fresh '
                  'initialisation of the same network). Each conv feeds a '
                  'batch norm, so a conv whose norm grew r-fold learns at '
                  '1/r^2 of the nominal learning rate '
                  '(mmfsp/analysis/weight_norms.py).', '',
                  markdown_table(['student', 'checkpoint', 'median r',
                                  'min-max r', 'largest r at'], rows), '']
    figures = data.get('figures') or {}
    if figures:
        lines += ['## Figures', '']
        if 'figure3' in figures:
            lines += [f'- `{figures["figure3"]}`: test accuracy and training '
                      'cross-entropy of FSP-initialised and scratch students '
                      'against their (stage-2) iterations (the FSP paper\'s '
                      'Figure 3).']
        if 'generations' in figures:
            lines += [f'- `{figures["generations"]}`: test accuracy per '
                      'generation (solid) and of the ensembles of '
                      'generations 0..g (dashed), mean over seeds, min-max '
                      'bars.']
        lines.append('')
    return '\n'.join(lines)


def run_reproduction(preset: str, work_dir: Optional[str] = None,
                     experiments: Sequence[str] = EXPERIMENTS,
                     fitnet: Optional[Sequence[str]] = None,
                     teacher_ensemble: Optional[bool] = None,
                     ensemble_student: Optional[str] = None,
                     norm_reset: Optional[bool] = None,
                     command: str = '', plan_only: bool = False,
                     log: Callable[[str], None] = print) -> dict:
    """Run (or with ``plan_only`` just print the plan of) a preset; returns
    the results data (``{'plan': ...}`` for ``plan_only``)."""
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose from '
                         f'{sorted(PRESETS)}')
    chosen = PRESETS[preset]
    changes = {}
    if fitnet:
        changes['fitnet'] = tuple(fitnet)
    if teacher_ensemble is not None:
        changes['teacher_ensemble'] = bool(teacher_ensemble)
    if ensemble_student is not None:
        changes['ensemble_student'] = ensemble_student
    if norm_reset is not None:
        changes['norm_reset'] = bool(norm_reset)
    if changes:
        chosen = replace(chosen, **changes)
    work_dir = work_dir or osp.join('work_dirs', f'reproduce_{preset}')
    repro = Reproduction(chosen, work_dir, experiments, command, log)
    if plan_only:
        text = repro.plan_markdown()
        log(text)
        return dict(plan=[asdict(s) for s in repro.plan],
                    estimate_seconds=repro.estimate())
    return repro.execute()


__all__ = [
    'PRESETS', 'Preset', 'RunSpec', 'Reproduction', 'ReproductionError',
    'build_plan', 'curve_interval', 'estimate_seconds', 'finished_result',
    'format_range', 'format_stat', 'generation_rows', 'markdown_table',
    'mean_spread', 'prediction_diversity', 'results_markdown', 'run_once',
    'run_reproduction'
]
