"""tools/reproduce/plan.py and configs.py: the runs of the presets, their
estimates, the validation points of the figure-3 runs and a run's config."""
import os.path as osp
from dataclasses import replace

import pytest

from reproduce.configs import train_config
from reproduce.plan import build_plan, curve_interval, estimate_seconds
from reproduce.presets import PRESETS


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
    gens = [s for s in plan.values() if s.kind == 'generations']
    assert sorted(s.label for s in gens) == [
        'D(0.6, 0.6)', 'D(1.0, 0.0)', 'D(1.0, 0.6)']
    assert all(s.num_generations >= 3 for s in gens)


def test_full_plan_seeds_and_resnet26_ensemble_option():
    full = PRESETS['full']
    plan = {s.key: s for s in build_plan(full)}
    assert full.seeds_minimisation >= 2 and full.seeds_generations >= 2
    assert 'kd_r8_seed1' in plan
    assert {'generations_06_06_seed0', 'generations_06_06_seed10'} <= set(
        plan)
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
    r26 = replace(full, ensemble_student='resnet26', teacher_ensemble=True,
                  fitnet=('1loss', '3loss'))
    plan = {s.key: s for s in build_plan(r26, ['c'])}
    assert plan['fsp_r26_shuffle2_seed1'].config.endswith(
        'fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_shuffled-seed2.py')
    assert plan['ensemble_teachers'].members == (
        'teacher_r26_seed0', 'teacher_r26_seed1', 'teacher_r26_seed2')
    assert not any(k.startswith('generations') for k in plan)
    with pytest.raises(ValueError, match='unknown experiments'):
        build_plan(full, ['e'])
    with pytest.raises(ValueError, match='ensemble_student'):
        replace(full, ensemble_student='resnet14')


def test_estimates_order_presets():
    totals = {}
    for name, preset in PRESETS.items():
        plan = build_plan(preset)
        totals[name] = sum(estimate_seconds(s, preset, plan) for s in plan)
    assert 0 < totals['smoke'] < totals['small'] < totals['full']
    assert totals['small'] < 15 * 60 and totals['full'] < 90 * 60


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
