"""The runs of a reproduction (:class:`RunSpec`, :func:`build_plan`), what
each waits for (:func:`dependencies`) and their time estimates on the
machine at hand (:func:`estimate_seconds`, :func:`plan_markdown`)."""
import functools
import json
import os.path as osp
from dataclasses import asdict, dataclass, fields, replace
from typing import Dict, List, Optional, Sequence, Tuple

from mmfsp.utils.schedule_scaling import scale_schedule, stage_lengths
from .devices import CPU_COSTS, CostModel
from .presets import (EXPERIMENTS, FITNET_NAMES, FITNET_R8_CFG, FSP_R8_CFG,
                      FSP_R8_REC_CFG, FSP_R8_RESCALED_CFG, FSP_R26_CFG,
                      FSP_R26_REC_CFG, FSP_R26_RESCALED_CFG,
                      GENERATION_CFGS, GENERATION_PATHS,
                      GENERATION_SEED_STEP, GENERATION_TAGS, KD_R8_CFG,
                      PAPER_LABEL, PLATEAU_SETTING, R8_CFG, R26_THIRD_CFG,
                      RECOMMENDED_LABEL, RESCALED_LABEL, SHUFFLED_R26_CFG,
                      TEACHER_CFG, Preset, repo_config)
from .scheduler import Slot, Task, format_duration, simulate
from .stats import markdown_table

@dataclass(frozen=True)
class RunSpec:
    """One unit of work: a training run (tested when finished), an ensemble
    test, or one generation of a training in generations (trained and
    tested; ``seed`` is its setting's seed base, the generation trains
    with ``seed + generation``; ``settings`` names the settings whose
    generation it is, two or more for a shared generation 0)."""

    key: str
    label: str
    kind: str  # 'train' | 'ensemble' | 'generation'
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
    generation: int = 0
    settings: Tuple[str, ...] = ()

    @property
    def iterations(self) -> str:
        return f'{self.stage1} + {self.stage2}' if self.stage1 else \
            str(self.stage2)

    def identity(self, preset: Preset) -> dict:
        """What the run's result depends on (compared with ``spec.json``)."""
        out = asdict(self)
        out.pop('label')
        out['members'] = list(self.members)
        # fields added later are left out at their defaults but in a
        # generation, so that the spec.json of older work dirs still matches
        for name in ('generation', 'settings'):
            if self.kind != 'generation' and out[name] == _DEFAULTS[name]:
                out.pop(name)
            elif name == 'settings':
                out[name] = list(self.settings)
        out.update(preset.data_identity())
        return out


_DEFAULTS = {f.name: f.default for f in fields(RunSpec)}


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


def _stage1(path: str, teacher_iters: int, fixed: int = 0) -> int:
    """Stage-1 iterations of the two-stage config at ``path`` for a
    teacher trained ``teacher_iters`` iterations: ``fixed`` if set, else
    its stage 1 scaled by the teacher's factor (the shipped Fashion-MNIST
    stage-1 lengths are those of the papers scaled to the 3k-iteration
    teacher)."""
    if fixed:
        return fixed
    old1, _ = stage_lengths(repo_config(path))
    factor = teacher_iters / int(repo_config(TEACHER_CFG).train_cfg.max_iters)
    return max(1, int(round(old1 * factor)))


@functools.lru_cache(maxsize=64)
def generation_zero_signature(path: str, iters: int, seed: int) -> str:
    """What generation 0 of the generations config at ``path`` trains
    (its config, schedule scaled to ``iters``, seed ``seed``, without the
    ``generations`` dict): settings with the same signature share one
    generation 0 (D(1.0, 0.0) and D(1.0, 0.6): cross-entropy alone)."""
    from generations import GenerationSettings, build_generation_config
    cfg = repo_config(path)
    scale_schedule(cfg, iters)
    cfg.randomness = dict(seed=seed)
    settings = GenerationSettings.from_cfg(cfg.get('generations'))
    zero = build_generation_config(cfg, 0, '/generations', None,
                                   settings).to_dict()
    for key in ('generations', 'work_dir', 'generation', 'filename'):
        zero.pop(key, None)
    return json.dumps(zero, sort_keys=True, default=str)


@functools.lru_cache(maxsize=16)
def _distilled(path: str) -> bool:
    """Whether the generations of the config at ``path`` after the first
    learn from their predecessor (``lam > 0``)."""
    from generations import GenerationSettings
    return GenerationSettings.from_cfg(
        repo_config(path).get('generations')).is_distilled(1)


#: the ``settings`` of a plateau-check run (not a setting: no chain)
PLATEAU = 'plateau check'


def generation_cfgs(preset: Preset) -> List[Tuple[str, str]]:
    """(d)'s (label, config) pairs the preset trains, in
    :data:`GENERATION_CFGS` order."""
    return [(label, path) for label, path in GENERATION_CFGS
            if label in preset.generation_settings]


def generation_specs(preset: Preset) -> List[RunSpec]:
    """(d): every generation of every setting and seed base, and the
    ensemble tests of generations 0..g; a generation 0 that several
    settings train identically (:func:`generation_zero_signature`) is one
    run. Generation g learns from generation g - 1 when the setting
    distils (``lam > 0``); otherwise it depends on nothing."""
    out: List[RunSpec] = []
    iters = preset.generation_iters
    cfgs = generation_cfgs(preset)
    for i in range(preset.seeds_generations):
        base = i * GENERATION_SEED_STEP
        shared: Dict[str, List[Tuple[str, str]]] = {}
        for label, path in cfgs:
            sig = generation_zero_signature(path, iters, base)
            shared.setdefault(sig, []).append((label, path))
        zero_of: Dict[str, RunSpec] = {}
        for group in shared.values():
            labels = tuple(label for label, _ in group)
            tags = '_and_'.join(GENERATION_TAGS[label] for label in labels)
            spec = RunSpec(f'gen0_{tags}_seed{base}',
                           f'{" and ".join(labels)}, generation 0',
                           'generation', group[0][1], 'resnet8', base,
                           stage2=iters, generation=0, settings=labels)
            out.append(spec)
            for label in labels:
                zero_of[label] = spec
        for label, path in cfgs:
            tag = GENERATION_TAGS[label]
            chain = [zero_of[label]]
            distilled = _distilled(path)
            for g in range(1, preset.num_generations):
                prev = chain[-1]
                spec = RunSpec(
                    f'gen{g}_{tag}_seed{base}', f'{label}, generation {g}',
                    'generation', path, 'resnet8', base, stage2=iters,
                    teacher=prev.key if distilled else None,
                    teacher_arch='resnet8' if distilled else None,
                    teacher_in_stage2=distilled, generation=g,
                    settings=(label, ))
                chain.append(spec)
                out.append(spec)
                out.append(RunSpec(
                    f'ensemble_gen_{tag}_seed{base}_0-{g}',
                    f'{label}, ensemble of generations 0-{g}', 'ensemble',
                    path, 'resnet8', base,
                    members=tuple(s.key for s in chain), generation=g,
                    settings=(label, )))
    # last (nothing waits for them): generation 0 twice as long
    path = dict(GENERATION_CFGS)[PLATEAU_SETTING]
    for i in range(preset.plateau_seeds):
        base = i * GENERATION_SEED_STEP
        out.append(RunSpec(
            f'gen0_{GENERATION_TAGS[PLATEAU_SETTING]}_2x_seed{base}',
            f'{PLATEAU_SETTING}, generation 0, {2 * iters} iterations '
            f'(plateau check)', 'generation', path, 'resnet8', base,
            stage2=2 * iters, generation=0, settings=(PLATEAU, )))
    return out


def plateau_pairs(plan: Sequence[RunSpec]
                  ) -> List[Tuple[RunSpec, RunSpec]]:
    """(generation 0, the same twice as long) per seed base of (d)'s
    plateau check."""
    pairs = []
    for long in plan:
        if long.kind != 'generation' or long.settings != (PLATEAU, ):
            continue
        for short in plan:
            if short.kind == 'generation' and short.generation == 0 and \
                    short.seed == long.seed and \
                    PLATEAU_SETTING in short.settings:
                pairs.append((short, long))
    return pairs


def generation_chains(plan: Sequence[RunSpec]
                      ) -> List[Tuple[str, int, List[RunSpec],
                                      Dict[int, RunSpec]]]:
    """Per (setting, seed base) of (d), in plan order: ``(setting, base,
    generation specs 0..N-1, {g: ensemble spec of generations 0..g})``."""
    out = []
    for label, _ in GENERATION_CFGS:
        bases = sorted({s.seed for s in plan if s.kind == 'generation' and
                        label in s.settings})
        for base in bases:
            gens = sorted((s for s in plan if s.kind == 'generation' and
                           label in s.settings and s.seed == base),
                          key=lambda s: s.generation)
            ens = {s.generation: s for s in plan if s.kind == 'ensemble'
                   and s.settings == (label, ) and s.seed == base}
            out.append((label, base, gens, ens))
    return out


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
    fsp8_s1 = _stage1(FSP_R8_CFG, preset.teacher_iters, preset.fsp_stage1)
    val_a = curve_interval(fsp8_s1, s2a, preset.curve_points)
    s2b = preset.fast_iters
    fsp26_s1 = _stage1(FSP_R26_CFG, preset.teacher_iters, preset.fsp_stage1)
    val_b = curve_interval(fsp26_s1, s2b, preset.curve_points)

    def fsp8(seed: int, shuffle: Optional[int] = None) -> RunSpec:
        key = f'fsp_r8_seed{seed}' if shuffle is None else \
            f'fsp_r8_shuffle{shuffle}_seed{seed}'
        label = PAPER_LABEL.format('ResNet-8') if shuffle is None else \
            f'ResNet-8, shuffled FSP (shuffle seed {shuffle})'
        return RunSpec(key, label, 'train', FSP_R8_CFG, 'resnet8', seed,
                       fsp8_s1, s2a, shuffle_seed=shuffle,
                       val_interval=val_a if seed == 0 and shuffle is None
                       else 0, **common)

    def fsp26(seed: int, shuffle: Optional[int] = None) -> RunSpec:
        key = f'fsp_r26_seed{seed}' if shuffle is None else \
            f'fsp_r26_shuffle{shuffle}_seed{seed}'
        label = PAPER_LABEL.format('ResNet-26') if shuffle is None else \
            f'ResNet-26, shuffled FSP (shuffle seed {shuffle})'
        config = FSP_R26_CFG if shuffle is None else \
            SHUFFLED_R26_CFG.format(shuffle)
        return RunSpec(key, label, 'train', config, 'resnet26', seed,
                       fsp26_s1, s2b, shuffle_seed=shuffle,
                       val_interval=val_b if seed == 0 and shuffle is None
                       else 0, **common)

    def fsp_arms(paper: RunSpec, net: str, tag: str, rescaled_cfg: str,
                 recommended_cfg: str) -> List[RunSpec]:
        """The paper-recipe FSP run and, as the preset asks, the same
        student with the norm reset and with the recommended recipe."""
        out = [paper]
        if preset.norm_reset:
            out.append(replace(paper, key=f'fsp_{tag}_rescaled_seed'
                               f'{paper.seed}', config=rescaled_cfg,
                               label=RESCALED_LABEL.format(net)))
        if preset.recommended:
            out.append(replace(
                paper, key=f'fsp_rec_{tag}_seed{paper.seed}',
                label=RECOMMENDED_LABEL.format(net), config=recommended_cfg,
                stage1=_stage1(recommended_cfg, preset.teacher_iters,
                               preset.fsp_stage1)))
        return out

    if 'a' in experiments:
        for s in range(preset.seeds_minimisation):
            add(RunSpec(f'r8_alone_seed{s}', 'ResNet-8 alone', 'train',
                        R8_CFG, 'resnet8', s, stage2=s2a,
                        val_interval=val_a if s == 0 else 0))
            for spec in fsp_arms(fsp8(s), 'ResNet-8', 'r8',
                                 FSP_R8_RESCALED_CFG, FSP_R8_REC_CFG):
                add(spec)
            for variant in preset.fitnet:
                path = FITNET_R8_CFG[variant]
                add(RunSpec(f'fitnet{variant}_r8_seed{s}',
                            f'ResNet-8, {FITNET_NAMES[variant]}', 'train',
                            path, 'resnet8', s,
                            _stage1(path, preset.teacher_iters,
                                    preset.fitnet_stage1), s2a,
                            teacher_in_stage2=True, **common))
            add(RunSpec(f'kd_r8_seed{s}', 'ResNet-8, Hinton KD', 'train',
                        KD_R8_CFG, 'resnet8', s, stage2=s2a,
                        teacher_in_stage2=True, **common))
    if 'b' in experiments:
        for s in range(preset.seeds_fast):
            for spec in fsp_arms(fsp26(s), 'ResNet-26', 'r26',
                                 FSP_R26_RESCALED_CFG, FSP_R26_REC_CFG):
                add(spec)
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
        for spec in generation_specs(preset):
            add(spec)
    return list(plan.values())


def dependencies(spec: RunSpec) -> Tuple[str, ...]:
    """The runs ``spec`` needs finished: its teacher, its members."""
    deps = ((spec.teacher, ) if spec.teacher else ()) + tuple(spec.members)
    return tuple(dict.fromkeys(deps))


def width_cost(width: float) -> float:
    """Time of a CIFAR ResNet at ``widen_factor`` ``width`` over its
    time at width 1: ``width ** 1.2``, fitted to one measurement (ResNet-8
    at x0.5, 8/16/32 channels: 0.44 of the time of a training iteration at
    batch 32, one thread, on the 2-core CPU; not w ** 2, as the FLOPs
    would say, because small convolutions use the CPU less well)."""
    return width ** 1.2


def estimate_seconds(spec: RunSpec, preset: Preset,
                     plan: Optional[Sequence[RunSpec]] = None,
                     costs: CostModel = CPU_COSTS) -> float:
    """Rough wall seconds of a run on one slot of the machine ``costs``
    describes (see :mod:`.devices`)."""
    batch = preset.batch_size / 128
    test = preset.num_test_images
    # (d)'s networks at the preset's width
    width = width_cost(preset.generation_width) \
        if spec.config in GENERATION_PATHS else 1.0
    if spec.kind == 'ensemble':
        by_key = {p.key: p for p in plan or []}
        archs = [by_key[m].arch if m in by_key else spec.arch
                 for m in spec.members]
        return costs.test_runner_start_s + test * width * sum(
            costs.eval_image_s[a] for a in archs)
    train = costs.train_iter_s[spec.arch] * width
    if preset.data_path == 'pipeline':
        train += costs.pipeline_iter_s
    fwd = costs.forward_iter_s[spec.teacher_arch] * width \
        if spec.teacher_arch else 0.0
    seconds = spec.stage1 * (train + fwd) * batch
    seconds += spec.stage2 * (train + (fwd if spec.teacher_in_stage2 else 0)
                              ) * batch
    evals = 1 + (spec.stage2 // spec.val_interval if spec.val_interval else 0)
    return costs.runner_start_s + seconds + evals * test * width * \
        costs.eval_image_s[spec.arch]


def plan_seconds(plan: Sequence[RunSpec], preset: Preset,
                 costs: CostModel = CPU_COSTS) -> float:
    """The sum of the runs' estimates (one run after the other)."""
    return sum(estimate_seconds(s, preset, plan, costs) for s in plan)


def plan_tasks(plan: Sequence[RunSpec], preset: Preset,
               costs: CostModel = CPU_COSTS) -> List[Task]:
    """The plan as scheduler tasks without work (for estimates)."""
    return [Task(s.key, _no_work, (), dependencies(s),
                 estimate_seconds(s, preset, plan, costs)) for s in plan]


def _no_work(ctx) -> None:  # pragma: no cover - never run
    raise RuntimeError('an estimate-only task was run')


def schedule_seconds(plan: Sequence[RunSpec], preset: Preset,
                     slots: Sequence[Slot],
                     costs: CostModel = CPU_COSTS) -> float:
    """Simulated wall seconds of the plan on ``slots`` (critical path
    first, idle slots' threads given to the runs left)."""
    return simulate(plan_tasks(plan, preset, costs), slots, costs.speedup,
                    device_share=costs.device_share)


def describe_slots(slots: Sequence[Slot]) -> str:
    """``'2 workers (2 on cpu), 1 thread each'``, ``'1 worker (cpu), 2
    threads'``."""
    devices: Dict[str, int] = {}
    for slot in slots:
        devices[slot.device] = devices.get(slot.device, 0) + 1
    threads = slots[0].threads
    plural = 's' if threads > 1 else ''
    if len(slots) == 1:
        return f'1 worker ({slots[0].device}), {threads} thread{plural}'
    where = ', '.join(f'{n} on {d}' for d, n in devices.items())
    return f'{len(slots)} workers ({where}), {threads} thread{plural} each'


def plan_markdown(plan: Sequence[RunSpec], preset: Preset,
                  slots: Sequence[Slot] = (Slot(), ),
                  costs: CostModel = CPU_COSTS,
                  machine: str = '') -> str:
    """What ``--plan`` prints: one row per run (what it waits for, its
    estimate on one slot) and the estimates of the whole plan."""
    rows = [[s.key, s.kind, osp.basename(s.config),
             s.iterations if s.kind != 'ensemble' else '', s.seed,
             s.shuffle_seed if s.shuffle_seed is not None else '',
             ', '.join(dependencies(s)),
             format_duration(estimate_seconds(s, preset, plan, costs))]
            for s in plan]
    table = markdown_table(
        ['run', 'kind', 'config', 'iterations', 'seed', 'shuffle',
         'waits for', 'est.'], rows)
    one = plan_seconds(plan, preset, costs)
    wall = schedule_seconds(plan, preset, slots, costs)
    lines = [
        table, '',
        f'{len(plan)} runs on {machine or costs.name}.',
        f'Estimated wall time with {describe_slots(slots)}: '
        f'{format_duration(wall)} (h:mm:ss); the runs\' own times add up to '
        f'{format_duration(one)} (one thread each).',
        f'Costs: {costs.name}.',
    ]
    if not costs.measured:
        lines.append('These are ASSUMED costs for a GPU: GPU numbers are not '
                     'measured yet.')
    return '\n'.join(lines)
