"""The runs of a reproduction (:class:`RunSpec`, :func:`build_plan`) and
their time estimates on this project's CPU (:func:`estimate_seconds`)."""
from dataclasses import asdict, dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

from mmfsp.utils.schedule_scaling import stage_lengths
from .presets import (EXPERIMENTS, FITNET_NAMES, FITNET_R8_CFG, FSP_R8_CFG,
                      FSP_R8_RESCALED_CFG, FSP_R26_CFG, FSP_R26_RESCALED_CFG,
                      GENERATION_CFGS, GENERATION_SEED_STEP, KD_R8_CFG,
                      R8_CFG, R26_THIRD_CFG, RESCALED_LABEL, SHUFFLED_R26_CFG,
                      TEACHER_CFG, Preset, repo_config)
from .stats import markdown_table

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


def _stage1(path: str, teacher_iters: int) -> int:
    """Stage-1 iterations of the two-stage config at ``path`` for a
    teacher trained ``teacher_iters`` iterations: its stage 1 scaled by the
    teacher's factor (the shipped Fashion-MNIST stage-1 lengths are those
    of the papers scaled to the 3k-iteration teacher)."""
    old1, _ = stage_lengths(repo_config(path))
    factor = teacher_iters / int(repo_config(TEACHER_CFG).train_cfg.max_iters)
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


def plan_seconds(plan: Sequence[RunSpec], preset: Preset) -> float:
    """The estimate of the whole plan."""
    return sum(estimate_seconds(s, preset, plan) for s in plan)


def plan_markdown(plan: Sequence[RunSpec], preset: Preset) -> str:
    """What ``--plan`` prints: one row per run, and the total estimate."""
    rows = [[s.key, s.kind, s.config,
             s.iterations if s.kind != 'ensemble' else '', s.seed,
             s.shuffle_seed if s.shuffle_seed is not None else '',
             f'{estimate_seconds(s, preset, plan):.0f}']
            for s in plan]
    table = markdown_table(
        ['run', 'kind', 'config', 'iterations', 'seed', 'shuffle',
         'est. s'], rows)
    minutes = plan_seconds(plan, preset) / 60
    return (f'{table}\n\nestimated total {minutes:.1f} min on an idle '
            f'2-core CPU')
