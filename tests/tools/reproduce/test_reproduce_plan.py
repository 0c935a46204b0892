"""tools/reproduce/plan.py and configs.py: the runs of the presets, what
they wait for, the shared generation 0, their estimates, the validation
points of the figure-3 runs and a run's config."""
import os.path as osp
from dataclasses import replace

import pytest

from reproduce.configs import (CHECKPOINT_EVERY, checkpoint_interval,
                               generation_config, train_config,
                               use_amp_wrapper)
from reproduce.devices import GPU_COSTS, Machine, plan_slots
from reproduce.plan import (build_plan, curve_interval, dependencies,
                            estimate_seconds, generation_chains,
                            generation_zero_signature, plan_markdown,
                            schedule_seconds)
from reproduce.presets import GENERATION_CFGS, PRESETS
from reproduce.scheduler import Slot


def test_curve_interval_aligns_stage_two_points():
    assert curve_interval(50, 150, 5) == 25  # 150 // 6, divides 50
    assert curve_interval(100, 100, 5) == 20
    assert curve_interval(0, 150, 5) == 30
    assert curve_interval(7, 10, 5) == 1  # 10 // 10 divides 7
    assert curve_interval(7, 100, 5) == 20  # none does: 100 // 5
    assert curve_interval(2, 6, 3) == 2
    assert curve_interval(0, 2, 5) == 1


def test_small_plan_equal_stage_two_and_shared_runs():
    preset = PRESETS['small']
    plan = {s.key: s for s in build_plan(preset)}
    assert plan['teacher_r26_seed0'].stage2 == preset.teacher_iters
    minimisation = ['r8_alone_seed0', 'fsp_r8_seed0',
                    'fitnet1loss_r8_seed0', 'kd_r8_seed0']
    assert {plan[k].stage2 for k in minimisation} == {
        preset.minimisation_iters}
    # stage 1 follows the teacher's schedule: FSP 1/3, FitNet 0.55 of it
    assert plan['fsp_r8_seed0'].stage1 == preset.teacher_iters // 3
    assert plan['fitnet1loss_r8_seed0'].stage1 == round(
        0.55 * preset.teacher_iters)
    # (b): stage 2 = a third of the teacher, stage 1 as long
    assert plan['fsp_r26_seed0'].stage2 == preset.teacher_iters // 3
    assert plan['fsp_r26_seed0'].stage1 == preset.teacher_iters // 3
    assert plan['r26_third_seed0'].stage2 == preset.teacher_iters // 3
    # (c) pairs training seed i with shuffle seed i + 1; the plain students
    # are (a)'s FSP runs
    assert plan['ensemble_plain_fsp'].members == (
        'fsp_r8_seed0', 'fsp_r8_seed1', 'fsp_r8_seed2')
    assert plan['ensemble_shuffled_fsp'].members == (
        'fsp_r8_shuffle1_seed0', 'fsp_r8_shuffle2_seed1',
        'fsp_r8_shuffle3_seed2')
    # figure-3 runs validate at the same stage-2 iterations
    assert plan['fsp_r8_seed0'].val_interval == \
        plan['r8_alone_seed0'].val_interval > 0
    assert plan['fsp_r8_seed0'].stage1 % plan['fsp_r8_seed0'].val_interval \
        == 0
    assert plan['fsp_r8_seed1'].val_interval == 0
    chains = generation_chains(list(plan.values()))
    assert [c[0] for c in chains] == ['D(1.0, 0.0)', 'D(1.0, 0.6)',
                                      'D(0.6, 0.6)']
    assert all(len(c[2]) == preset.num_generations >= 3 for c in chains)
    # what each run waits for
    assert dependencies(plan['fsp_r8_seed0']) == ('teacher_r26_seed0', )
    assert dependencies(plan['r8_alone_seed0']) == ()
    assert dependencies(plan['ensemble_plain_fsp']) == (
        'fsp_r8_seed0', 'fsp_r8_seed1', 'fsp_r8_seed2')


def test_generation_zero_is_shared_and_generations_chain():
    preset = PRESETS['full']
    plan = build_plan(preset, ['d'])
    by_key = {s.key: s for s in plan}
    gens = [s for s in plan if s.kind == 'generation']
    # D(1.0, 0.0) and D(1.0, 0.6) train generation 0 identically (plain
    # cross-entropy, same seed): one run per seed base, not two;
    # D(0.6, 0.6)'s generation 0 has the tolerant loss
    bases = [0, 10]
    assert len(gens) == len(bases) * (3 * preset.num_generations - 1)
    zeros = sorted(s.key for s in gens if s.generation == 0)
    assert zeros == ['gen0_06_06_seed0', 'gen0_06_06_seed10',
                     'gen0_10_00_and_10_06_seed0',
                     'gen0_10_00_and_10_06_seed10']
    shared = by_key['gen0_10_00_and_10_06_seed10']
    assert shared.settings == ('D(1.0, 0.0)', 'D(1.0, 0.6)')
    assert shared.seed == 10 and shared.teacher is None
    path = dict(GENERATION_CFGS)
    sig = generation_zero_signature(path['D(1.0, 0.0)'], 250, 0)
    assert sig == generation_zero_signature(path['D(1.0, 0.6)'], 250, 0)
    assert sig != generation_zero_signature(path['D(0.6, 0.6)'], 250, 0)
    assert sig != generation_zero_signature(path['D(1.0, 0.0)'], 250, 10)
    assert sig != generation_zero_signature(path['D(1.0, 0.0)'], 300, 0)
    # distilled settings learn from the previous generation; D(1.0, 0.0)
    # generations depend on nothing
    assert dependencies(by_key['gen1_10_06_seed0']) == (
        'gen0_10_00_and_10_06_seed0', )
    assert dependencies(by_key['gen2_10_06_seed0']) == ('gen1_10_06_seed0', )
    assert dependencies(by_key['gen1_06_06_seed0']) == ('gen0_06_06_seed0', )
    assert dependencies(by_key['gen2_10_00_seed0']) == ()
    assert by_key['gen2_10_06_seed0'].teacher_in_stage2
    assert dependencies(by_key['ensemble_gen_10_00_seed10_0-2']) == (
        'gen0_10_00_and_10_06_seed10', 'gen1_10_00_seed10',
        'gen2_10_00_seed10')
    chains = {(c[0], c[1]): c for c in generation_chains(plan)}
    label, base, specs, ensembles = chains[('D(1.0, 0.6)', 10)]
    assert [s.key for s in specs] == ['gen0_10_00_and_10_06_seed10',
                                      'gen1_10_06_seed10',
                                      'gen2_10_06_seed10']
    assert sorted(ensembles) == [1, 2]
    # the identity of a generation names its generation and settings;
    # older runs' identities are unchanged
    ident = shared.identity(preset)
    assert ident['generation'] == 0 and ident['settings'] == [
        'D(1.0, 0.0)', 'D(1.0, 0.6)']
    old = replace(preset, data_path='pipeline')
    teacher = build_plan(old, ['a'])[0]
    assert set(teacher.identity(old)) == {
        'key', 'kind', 'config', 'arch', 'seed', 'stage1', 'stage2',
        'teacher', 'teacher_arch', 'teacher_in_stage2', 'shuffle_seed',
        'val_interval', 'members', 'num_generations', 'batch_size',
        'train_images', 'test_images'}
    assert teacher.identity(preset)['data_path'] == 'tensor'
    assert teacher.identity(replace(preset, amp=True))['amp'] is True


def test_paper_preset_has_the_papers_schedules():
    paper = PRESETS['paper']
    plan = {s.key: s for s in build_plan(paper)}
    assert plan['teacher_r26_seed0'].stage2 == 64000
    for s in range(3):
        assert (plan[f'fsp_r8_seed{s}'].stage1,
                plan[f'fsp_r8_seed{s}'].stage2) == (21000, 64000)
        assert (plan[f'fsp_r26_seed{s}'].stage1,
                plan[f'fsp_r26_seed{s}'].stage2) == (21000, 21000)
        assert plan[f'r8_alone_seed{s}'].stage2 == 64000
        assert plan[f'r26_third_seed{s}'].stage2 == 21000
        assert (plan[f'fitnet1loss_r8_seed{s}'].stage1,
                plan[f'fitnet1loss_r8_seed{s}'].stage2) == (35000, 64000)
    # (c): the paper's ResNet-26 students; the plain ones are (b)'s runs
    assert plan['ensemble_plain_fsp'].members == (
        'fsp_r26_seed0', 'fsp_r26_seed1', 'fsp_r26_seed2')
    gens = [s for s in plan.values() if s.kind == 'generation']
    assert {s.stage2 for s in gens} == {64000}
    assert max(s.generation for s in gens) == 4
    assert sorted({s.seed for s in gens}) == [0, 10, 20]
    assert paper.all_test_images and paper.batch_size == 128


def test_plan_markdown_and_estimates_for_cpu_and_gpu():
    small = PRESETS['small']
    plan = build_plan(small)
    cpu2 = [Slot(), Slot()]
    text = plan_markdown(plan, small, cpu2, machine='CPU test, 2 cores')
    assert '| fsp_r8_seed0 | train |' in text
    assert 'teacher_r26_seed0 |' in text  # the "waits for" column
    assert 'on CPU test, 2 cores' in text
    assert 'with 2 workers (2 on cpu), 1 thread each' in text
    assert 'ASSUMED' not in text
    # two workers beat one, but not by more than 2x
    one = schedule_seconds(plan, small, [Slot('cpu', 2)])
    two = schedule_seconds(plan, small, cpu2)
    assert one / 2 < two < one
    h100 = Machine('cuda', 'NVIDIA H100 80GB HBM3', 16, 1, 79.2, True)
    slots = plan_slots(h100)
    paper = PRESETS['paper']
    gpu = plan_markdown(build_plan(paper), paper, slots, GPU_COSTS,
                        h100.describe())
    assert 'with 6 workers (6 on cuda:0), 2 threads each' in gpu
    assert 'GPU numbers are not measured yet' in gpu
    assert '1 x NVIDIA H100 80GB HBM3 (79 GiB), 16 CPU cores' in gpu


def test_full_plan_seeds_and_resnet26_ensemble_option():
    full = PRESETS['full']
    plan = {s.key: s for s in build_plan(full)}
    assert full.seeds_minimisation >= 2 and full.seeds_generations >= 2
    assert 'kd_r8_seed1' in plan
    assert {'gen2_06_06_seed0', 'gen2_06_06_seed10'} <= set(plan)
    assert full.all_test_images
    # the norm-reset students (--norm-reset): the FSP students' runs with
    # the *_rescaled config (same seeds, stages and figure-3 validation)
    assert not any(p.norm_reset for p in PRESETS.values())
    assert not any('rescaled' in k for k in plan)
    plan = {s.key: s for s in build_plan(replace(full, norm_reset=True))}
    for net, seeds in (('r8', 3), ('r26', 1)):
        for s in range(seeds):
            fsp, reset = plan[f'fsp_{net}_seed{s}'], \
                plan[f'fsp_{net}_rescaled_seed{s}']
            assert reset.config == fsp.config.replace('.py', '_rescaled.py')
            assert replace(reset, key=fsp.key, label=fsp.label,
                           config=fsp.config) == fsp
    assert 'fsp_r8_rescaled_seed0' not in {
        s.key for s in build_plan(PRESETS['small'])}
    # the recommended recipe's students, by default in every preset: the
    # paper's runs with the fsp_* config (loss averaged per entry, stage 1
    # at lr 0.1), same seeds, stages and figure-3 validation
    assert all(p.recommended for p in PRESETS.values())
    for net, seeds in (('r8', 3), ('r26', 1)):
        for s in range(seeds):
            fsp, rec = plan[f'fsp_{net}_seed{s}'], \
                plan[f'fsp_rec_{net}_seed{s}']
            assert rec.config == fsp.config.replace('fsp-paper_', 'fsp_')
            assert 'recommended' in rec.label and 'paper' in fsp.label
            assert replace(rec, key=fsp.key, label=fsp.label,
                           config=fsp.config) == fsp
    no_rec = build_plan(replace(full, recommended=False))
    assert not any('fsp_rec' in s.key for s in no_rec)
    assert len(no_rec) == len(build_plan(full)) - 4
    r26 = replace(full, ensemble_student='resnet26', teacher_ensemble=True,
                  fitnet=('1loss', '3loss'))
    plan = {s.key: s for s in build_plan(r26, ['c'])}
    assert plan['fsp_r26_shuffle2_seed1'].config.endswith(
        'fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_shuffled-seed2.py')
    assert plan['ensemble_teachers'].members == (
        'teacher_r26_seed0', 'teacher_r26_seed1', 'teacher_r26_seed2')
    assert not any(k.startswith('gen') for k in plan)
    with pytest.raises(ValueError, match='unknown experiments'):
        build_plan(full, ['e'])
    with pytest.raises(ValueError, match='ensemble_student'):
        replace(full, ensemble_student='resnet14')


def test_estimates_order_presets():
    totals = {}
    for name, preset in PRESETS.items():
        plan = build_plan(preset)
        totals[name] = schedule_seconds(plan, preset, [Slot(), Slot()])
    assert 0 < totals['smoke'] < totals['small'] < totals['full'] < \
        totals['paper']
    # the presets' aims on the 2-core CPU
    assert totals['small'] < 15 * 60 and totals['full'] < 90 * 60
    # the configs' per-image pipeline costs more than the in-memory path
    full = PRESETS['full']
    spec = build_plan(full, ['a'])[0]
    assert estimate_seconds(spec, replace(full, data_path='pipeline')) > \
        estimate_seconds(spec, full)


def test_train_config_of_a_shuffled_fsp_student(tmp_path):
    preset = PRESETS['smoke']
    plan = {s.key: s for s in build_plan(preset)}
    spec = plan['fsp_r8_shuffle2_seed1']
    cfg = train_config(spec, preset, str(tmp_path), '/t/teacher.pth')
    assert cfg.model.teacher_ckpt == '/t/teacher.pth'
    assert cfg.model.distiller.type == 'FSPDistiller'
    assert cfg.model.distiller.shuffle_seed == 2
    assert cfg.randomness.seed == 1
    assert cfg.train_cfg.max_iters == spec.stage1 + spec.stage2
    switch = [h for h in cfg.custom_hooks
              if h.type == 'DistillStageSwitchHook'][0]
    assert switch.switch_iter == spec.stage1
    assert cfg.val_dataloader is None  # only figure-3 runs validate
    assert cfg.train_dataloader.dataset.indices == preset.train_images
    assert cfg.train_dataloader.batch_size == preset.batch_size
    assert cfg.test_dataloader.dataset.indices == preset.test_images
    assert osp.isabs(cfg.test_dataloader.dataset.data_root)
    assert [e['type'] for e in cfg.test_evaluator] == ['Accuracy',
                                                       'DumpResults']
    assert cfg.default_hooks.logger.log_metric_by_epoch is False
    curve = train_config(plan['fsp_r8_seed0'], preset, str(tmp_path),
                         '/t/teacher.pth')
    assert curve.train_cfg.val_interval == plan['fsp_r8_seed0'].val_interval
    assert curve.train_cfg.val_begin == plan['fsp_r8_seed0'].stage1 + 1


def test_checkpoints_amp_and_stage_one_saves(tmp_path):
    assert checkpoint_interval(420) == 420  # the last iteration only
    assert checkpoint_interval(CHECKPOINT_EVERY) == CHECKPOINT_EVERY
    assert checkpoint_interval(64000) == CHECKPOINT_EVERY
    preset = PRESETS['small']
    plan = {s.key: s for s in build_plan(preset)}

    def switch(cfg):
        return [h for h in cfg.custom_hooks
                if h.type == 'DistillStageSwitchHook'][0]

    seed0 = train_config(plan['fsp_r8_seed0'], preset, str(tmp_path), 't')
    seed1 = train_config(plan['fsp_r8_seed1'], preset, str(tmp_path), 't')
    # the weight-norm table reads the stage-1 checkpoint of seed 0 only
    assert switch(seed0).save_checkpoint is True
    assert switch(seed1).save_checkpoint is False
    total = plan['fsp_r8_seed1'].stage1 + plan['fsp_r8_seed1'].stage2
    assert seed1.default_hooks.checkpoint.interval == total
    assert seed1.default_hooks.checkpoint.max_keep_ckpts == 1
    assert not any(h.type == 'ProgressBarHook' for h in seed1.custom_hooks)
    assert seed1.train_dataloader.sampler.type == 'InfiniteSampler'
    assert seed1.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    use_amp_wrapper(seed1, 'bfloat16')
    assert seed1.optim_wrapper.type == 'AmpOptimWrapper'
    assert seed1.optim_wrapper.dtype == 'bfloat16'
    assert seed1.optim_wrapper.optimizer.lr > 0  # the rest kept
    with pytest.raises(ValueError, match='AMP dtype'):
        use_amp_wrapper(seed1, 'int8')


def test_generation_configs(tmp_path):
    preset = PRESETS['small']
    plan = {s.key: s for s in build_plan(preset, ['d'])}
    zero = generation_config(plan['gen0_10_00_and_10_06_seed0'], preset,
                             str(tmp_path / 'g0'))
    assert zero.model.type == 'ImageClassifier'
    assert zero.model.head.loss.type == 'CrossEntropyLoss'
    assert zero.randomness.seed == 0 and zero.work_dir == str(tmp_path /
                                                              'g0')
    assert zero.train_cfg.max_iters == preset.generation_iters
    assert 'generations' not in zero
    tolerant = generation_config(plan['gen0_06_06_seed0'], preset,
                                 str(tmp_path / 't0'))
    assert tolerant.model.head.loss.type == 'TolerantTeacherLoss'
    strict = generation_config(plan['gen1_10_06_seed0'], preset,
                               str(tmp_path / 'g1'), '/w/generation_0.pth')
    assert strict.model.type == 'SingleTeacherDistill'
    assert strict.model.teacher_ckpt == '/w/generation_0.pth'
    assert strict.randomness.seed == 1  # seed base + generation
    alone = generation_config(plan['gen2_10_00_seed0'], preset,
                              str(tmp_path / 'a2'))
    assert alone.model.type == 'ImageClassifier'
    assert alone.randomness.seed == 2
    with pytest.raises(ValueError, match='teacher'):
        generation_config(plan['gen1_10_06_seed0'], preset,
                          str(tmp_path / 'x'))
    # the Fashion-MNIST generation configs test the secondary-class metric
    assert [e['type'] for e in alone.test_evaluator] == [
        'Accuracy', 'SecondaryClassMetric', 'DumpResults']


def test_generations_preset_plan(tmp_path):
    """The converged-generations preset: (d) alone, every setting, one
    generation 0 per training that differs (4 per seed base), the
    plateau-check runs last, twice as long."""
    from reproduce.plan import PLATEAU, plateau_pairs
    preset = PRESETS['generations']
    assert preset.experiments == ('d', )
    plan = build_plan(preset, preset.experiments)
    gen0 = [s.key for s in plan if s.kind == 'generation' and
            s.generation == 0 and s.seed == 0]
    assert gen0 == ['gen0_10_00_and_10_06_seed0',
                    'gen0_06_06_and_06_06_all_seed0', 'gen0_ls_06_seed0',
                    'gen0_cp_06_seed0', 'gen0_10_00_2x_seed0']
    # 3 seeds x (4 generation 0 + 6 settings x 2 later generations) + 3
    # plateau runs; an ensemble per later generation
    assert sum(s.kind == 'generation' for s in plan) == 3 * (4 + 12) + 3
    assert sum(s.kind == 'ensemble' for s in plan) == 3 * 12
    tail = plan[-3:]
    assert [s.settings for s in tail] == [(PLATEAU, )] * 3
    assert {s.stage2 for s in tail} == {2 * preset.generation_iters}
    pairs = plateau_pairs(plan)
    assert [(a.key, b.key) for a, b in pairs][0] == (
        'gen0_10_00_and_10_06_seed0', 'gen0_10_00_2x_seed0')
    by_key = {s.key: s for s in plan}
    assert by_key['gen1_06_06_all_seed10'].teacher == \
        'gen0_06_06_and_06_06_all_seed10'
    # TSD in every generation: generation 1 is trained with the tolerant
    # teacher loss too; the LS teacher's generation 0 with label smoothing
    tsd_all = generation_config(by_key['gen1_06_06_all_seed0'], preset,
                                str(tmp_path / 'all'), '/w/g0.pth')
    assert tsd_all.model.architecture.head.loss.type == \
        'TolerantTeacherLoss'
    ls = generation_config(by_key['gen0_ls_06_seed0'], preset,
                           str(tmp_path / 'ls'))
    assert ls.model.head.loss.type == 'LabelSmoothLoss'
    assert ls.train_dataloader.dataset.indices == 2000
    # the scale the plateau probes chose: batch 32, cosine, width x0.5
    assert ls.train_dataloader.batch_size == 32
    assert ls.param_scheduler.type == 'CosineAnnealingLR'
    assert ls.model.backbone.widen_factor == 0.5
    assert ls.train_cfg.max_iters == 6000


def test_preset_checks_its_generation_settings():
    from reproduce.presets import Preset
    with pytest.raises(ValueError, match='generation_settings'):
        Preset('x', 12, 6, 4, generation_settings=('D(0.5, 0.5)', ))
    with pytest.raises(ValueError, match='experiments'):
        Preset('x', 12, 6, 4, experiments=('e', ))


def test_validation_split_instead_of_the_test_set(tmp_path):
    """evaluate_on='validation': every model is tested on training images
    50,000-59,999, which no model trains on; refused otherwise."""
    from reproduce.presets import Preset
    with pytest.raises(ValueError, match='train_images between 1 and'):
        replace(PRESETS['generations'], train_images=0,
                evaluate_on='validation')
    with pytest.raises(ValueError, match='train_images between 1 and'):
        replace(PRESETS['generations'], train_images=50001,
                evaluate_on='validation')
    with pytest.raises(ValueError, match='evaluate_on'):
        Preset('x', 12, 6, 4, evaluate_on='train')
    preset = replace(PRESETS['generations'], evaluate_on='validation')
    assert preset.data_identity()['evaluate_on'] == 'validation'
    assert 'evaluate_on' not in PRESETS['generations'].data_identity()
    spec = build_plan(preset, ['d'])[0]
    cfg = generation_config(spec, preset, str(tmp_path))
    test = cfg.test_dataloader.dataset
    assert (test.split, test.test_mode) == ('train', False)
    assert test.indices == list(range(50000, 60000))
    assert cfg.train_dataloader.dataset.indices == preset.train_images
    sub = replace(preset, test_images=300)
    assert generation_config(spec, sub, str(tmp_path)).test_dataloader[
        'dataset'].indices == list(range(50000, 50300))
    # the scale line says which images
    from reproduce.report import scale_lines
    assert 'validation split; NOT the test set' in scale_lines(
        preset, build_plan(preset, ['d']))['data']


@pytest.mark.slow
def test_plateau_probe_end_to_end(tmp_path, fashion_mnist_root):
    """tools/reproduce/plateau_probe.py: generation 0 at I and 2I
    iterations, evaluated on validation images."""
    import json

    from reproduce.plateau_probe import plateau_probe
    out = plateau_probe(64, 2, 'D(0.6, 0.6)', seed=3,
                        work_dir=str(tmp_path), log=lambda _: None,
                        base='smoke')
    assert out['gain'] == pytest.approx(out['val_acc_2x'] - out['val_acc'])
    spec = json.loads((tmp_path / 'runs' / 'gen0_06_06_seed3_2x' /
                       'spec.json').read_text())
    assert spec['stage2'] == 4 and spec['seed'] == 3
    assert spec['evaluate_on'] == 'validation'
    assert spec['config'].endswith(
        'tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py')


def test_cosine_generation_schedule(tmp_path):
    """generation_schedule='cosine': every generation's lr decays from
    the config's to 0 over the generation (mmengine's scheduler, stepped
    as the runner steps it); the configs' steps otherwise; refused if
    unknown; part of the runs' identity only when not the default."""
    import torch
    from mmengine.optim.scheduler import CosineAnnealingLR

    from reproduce.presets import Preset
    with pytest.raises(ValueError, match='generation_schedule'):
        Preset('x', 12, 6, 4, generation_schedule='linear')
    short = PRESETS['generations-short']
    preset = replace(short, generation_schedule='cosine')
    assert preset.data_identity()['generation_schedule'] == 'cosine'
    assert 'generation_schedule' not in short.data_identity()
    specs = build_plan(preset, ['d'])
    for spec in (specs[0], next(s for s in specs if s.generation == 1)):
        cfg = generation_config(spec, preset, str(tmp_path / spec.key))
        sched = dict(cfg.param_scheduler)
        assert sched.pop('type') == 'CosineAnnealingLR'
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))],
                              lr=cfg.optim_wrapper.optimizer.lr)
        lr = CosineAnnealingLR(opt, **sched)
        lrs = []
        for _ in range(spec.stage2):
            lrs.append(opt.param_groups[0]['lr'])
            opt.step()
            lr.step()
        assert lrs[0] == pytest.approx(0.1)
        assert lrs[spec.stage2 // 2] == pytest.approx(0.05, rel=0.01)
        assert lrs[-1] < 1e-3
        assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    step = generation_config(specs[0], short, str(tmp_path / 'step'))
    assert step.param_scheduler.type == 'MultiStepLR'
    assert step.param_scheduler.milestones == [300, 450]


def test_generation_width(tmp_path):
    """generation_width=0.5: every (d) model (generations, students and
    their teachers, ensembles, what the transfer probe builds) is the
    ResNet-8 with 8/16/32 channels, and a checkpoint of one loads into
    the others; the other experiments keep their networks; a width that
    gives no whole number of channels is refused."""
    import torch

    from mmfsp.registry import MODELS
    from reproduce.configs import ensemble_config
    from reproduce.presets import Preset, model_config
    with pytest.raises(ValueError, match='generation_width'):
        Preset('x', 12, 6, 4, generation_width=0.3)
    preset = replace(PRESETS['small'], generation_width=0.5)
    assert preset.data_identity()['generation_width'] == 0.5
    plan = build_plan(preset, ['a', 'd'])
    by_key = {s.key: s for s in plan}
    zero = generation_config(by_key['gen0_10_00_and_10_06_seed0'], preset,
                             str(tmp_path / 'g0'))
    student = generation_config(by_key['gen1_10_06_seed0'], preset,
                                str(tmp_path / 'g1'), teacher_ckpt='t.pth')
    ens = next(s for s in plan if s.kind == 'ensemble' and
               s.config.startswith('configs/tolerant'))
    ensemble = ensemble_config(ens, preset, str(tmp_path / 'e'),
                               ['a.pth', 'b.pth'])
    members = [ensemble.model.model]
    for backbone in [zero.model.backbone,
                     student.model.architecture.backbone,
                     student.model.teacher.backbone,
                     model_config(ens.config, preset).model.backbone] + \
            [m.backbone for m in members]:
        assert backbone.widen_factor == 0.5
    net = MODELS.build(zero.model)
    assert net.backbone.conv1.out_channels == 8
    assert net.head.fc.in_features == 32
    MODELS.build(student.model.architecture).load_state_dict(
        net.state_dict())
    # (a) is untouched
    fsp = train_config(by_key['fsp_r8_seed0'], preset, str(tmp_path / 'f'),
                       teacher_ckpt='t.pth')
    assert fsp.model.architecture.backbone.get('widen_factor', 1) == 1
    assert torch.is_tensor(net(torch.zeros(1, 1, 28, 28)))
    assert 'x0.5 (8/16/32 channels)' in __import__(
        'reproduce.report', fromlist=['scale_lines']).scale_lines(
            preset, plan)['d']


def test_estimates_of_narrower_generations():
    """The plan's estimate of a (d) run at width x0.5 is width_cost(0.5)
    of the same run at width 1 (start-up aside); (a) is unchanged."""
    from reproduce.devices import CPU_COSTS
    from reproduce.plan import estimate_seconds, width_cost
    assert width_cost(1) == 1 and 0.4 < width_cost(0.5) < 0.5
    wide = PRESETS['small']
    narrow = replace(wide, generation_width=0.5)
    plan = build_plan(wide, ['a', 'd'])
    for spec in plan:
        a = estimate_seconds(spec, wide, plan) - CPU_COSTS.runner_start_s
        b = estimate_seconds(spec, narrow, plan) - CPU_COSTS.runner_start_s
        if spec.kind == 'ensemble':
            a -= CPU_COSTS.test_runner_start_s - CPU_COSTS.runner_start_s
            b -= CPU_COSTS.test_runner_start_s - CPU_COSTS.runner_start_s
        if spec.config.startswith('configs/tolerant/'):
            assert b == pytest.approx(a * width_cost(0.5))
        else:
            assert b == pytest.approx(a)
