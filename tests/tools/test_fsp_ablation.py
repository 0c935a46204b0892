"""tools/fsp_ablation.py: the plan, what each arm changes in the shipped
config, the results file, and a tiny end-to-end run on real data."""
import json
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / 'tools'))
import fsp_ablation as abl  # noqa: E402


def test_plan_teachers_first_and_budgets():
    plan = abl.build_plan(['r14_r8', 'r26_r26'], ['x1', 'x3'],
                          ['paper', 'alone'], [0, 1])
    assert [r['key'] for r in plan[:2]] == ['teacher_r14', 'teacher_r26']
    assert len(plan) == 2 + 2 * 2 * 2 * 2
    row = next(r for r in plan if r['key'] == 'r26_r26_x3_alone_seed1')
    assert (row['stage1'], row['stage2']) == (350, 1050)
    assert row['train_images'] == 50000
    with pytest.raises(SystemExit, match='unknown arms'):
        abl.build_plan(['r14_r8'], ['x1'], ['nope'], [0])


def _cfg(arm: str, setting: str = 'r26_r8', tmp_path=None):
    run = abl.build_plan([setting], ['x1'], [arm], [3])[-1]
    return run, abl.student_config(run, str(tmp_path), 'teacher.pth')


def test_arms_change_what_they_say(tmp_path):
    _, paper = _cfg('paper', tmp_path=tmp_path)
    _, mean_proj = _cfg('mean_proj', tmp_path=tmp_path)
    assert paper.model.distiller.fsp_loss.get('reduction', 'sum') == 'sum'
    assert paper.optim_wrapper.optimizer.lr == 0.001
    assert mean_proj.model.distiller.fsp_loss.reduction == 'mean'
    assert mean_proj.optim_wrapper.optimizer.lr == 0.1
    hooks = [h['type'] for h in mean_proj.custom_hooks]
    assert 'WeightNormProjectionHook' in hooks
    assert 'WeightNormProjectionHook' not in [
        h['type'] for h in paper.custom_hooks]
    _, reset = _cfg('reset', tmp_path=tmp_path)
    switch = next(h for h in reset.custom_hooks
                  if h['type'] == 'DistillStageSwitchHook')
    assert switch['rescale_weight_norms'] is True
    assert switch['switch_iter'] == 350
    assert reset.train_cfg.max_iters == 770
    # the shallow teacher, the seed, the training images
    _, kd = _cfg('kd', 'r14_r8', tmp_path)
    assert kd.model.teacher.backbone.depth == 14
    assert kd.train_cfg.max_iters == 420
    assert kd.randomness.seed == 3
    assert kd.train_dataloader.dataset.indices == 50000
    assert [h['type'] for h in kd.custom_hooks] == ['LossWeightScheduleHook']
    assert kd.custom_hooks[0]['end'] == 420  # 4 -> 1 over the budget
    # plain KD: a constant weight of 1, the same teacher and budget
    _, kd1 = _cfg('kd1', 'r14_r8', tmp_path)
    assert kd1.custom_hooks == []
    assert kd1.model.distiller.distill_losses.loss_kd.loss_weight == 1.0
    assert kd1.model.distiller.distill_losses.loss_kd.tau == 3.0
    assert kd1.model.teacher.backbone.depth == 14
    assert kd1.train_cfg.max_iters == 420
    _, alone = _cfg('alone', tmp_path=tmp_path)
    assert alone.model.type == 'ImageClassifier'
    assert alone.val_dataloader is None  # evaluated by the tool


def test_validation_split_is_held_out(fashion_mnist_root):
    x_val, y_val = abl.eval_data('val')
    x_test, _ = abl.eval_data('test')
    assert len(y_val) == 10000 and x_test.shape[0] == 10000
    # the last 10k training images, never among the 50k trained on
    train = abl._idx(str(fashion_mnist_root / 'train-images-idx3-ubyte'))
    first = (torch.from_numpy(train[50000].copy()).float() - abl.MEAN) / \
        abl.STD
    torch.testing.assert_close(x_val[0, 0], first)


def test_record_replaces_rows(tmp_path):
    path = str(tmp_path / 'rows.json')
    row = dict(setting='s', scale='x1', recipe='paper', seed=0, val_acc=1.0)
    abl.record(path, row)
    abl.record(path, dict(row, val_acc=2.0))
    abl.record(path, dict(row, seed=1, val_acc=3.0))
    rows = json.loads(open(path).read())
    assert [(r['seed'], r['val_acc']) for r in rows] == [(0, 2.0), (1, 3.0)]


def test_tiny_runs_end_to_end(tmp_path, fashion_mnist_root):
    plan = abl.build_plan(['r26_r8'], ['x1'], ['mean_proj', 'alone'], [0],
                          smoke=True)
    threads = torch.get_num_threads()
    try:
        results = {r['key']: abl.execute(r, str(tmp_path)) for r in plan}
    finally:
        torch.set_num_threads(threads)  # execute() is meant for a worker
    fsp = results['r26_r8_x1_mean_proj_seed0']
    # projection: stage 1 ends at the initial norms
    assert fsp['norm_ratio_median'] == pytest.approx(1.0, abs=1e-5)
    for res in results.values():
        assert 0.0 <= res['val_acc'] <= 100.0
        assert (tmp_path / res['key'] / 'result.json').is_file()
    assert {'val_acc_10', 'test_acc_33'} <= set(fsp)


def test_report_marks_recommended_and_aggregates(tmp_path):
    path = str(tmp_path / 'rows.json')
    for seed, acc in ((0, 80.0), (1, 82.0)):
        abl.record(path, dict(setting='r26_r8', scale='x1',
                              recipe=abl.RECOMMENDED, seed=seed,
                              val_acc=acc, test_acc=acc + 1))
    abl.record(path, dict(setting='r26_r8', scale='x1', recipe='proj',
                          seed=0, val_acc=None, test_acc=None,
                          diverged='NaN'))
    text = abl.report(path, str(tmp_path / 'table.md'))
    assert f'**{abl.RECOMMENDED}** (recommended) | 2 | 81.00 ± 1.41 | ' \
        f'82.00 ± 1.41' in text
    assert 'proj | 1 | diverged' in text
    rows = json.loads(open(path).read())
    assert [r['recommended'] for r in rows] == [
        r['recipe'] == abl.RECOMMENDED for r in rows]


def test_recommended_configs_are_the_ablation_arm(tmp_path):
    """configs/fsp/fsp_*.py is the paper's config plus exactly the
    overrides of the ablation arm that was recommended."""
    from mmengine.config import Config
    for setting in ('r26_r8', 'r26_r26'):
        run = abl.build_plan([setting], ['x1'], [abl.RECOMMENDED], [0])[-1]
        paper = Config.fromfile(str(REPO_ROOT / abl.SETTINGS[setting]['fsp']))
        for key, value in abl.ARMS[abl.RECOMMENDED].items():
            paper.merge_from_dict({key: value})
        recommended = Config.fromfile(str(
            REPO_ROOT / abl.SETTINGS[setting]['fsp'].replace(
                'fsp-paper_', 'fsp_')))
        assert recommended.to_dict() == paper.to_dict(), setting
        assert run['arm'] == abl.RECOMMENDED
