"""tools/fsp_transfer.py: the plan, the two tasks' data and splits, what
each recipe changes in the shipped configs, the results and the report,
and tiny runs end to end on real Fashion-MNIST."""
import json
import sys

import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / 'tools'))
import fsp_ablation as abl  # noqa: E402
import fsp_transfer as tr  # noqa: E402


def test_plan_teacher_first_recipes_per_setting():
    plan = tr.build_plan(['r14_r8', 'r14_r14'], [0, 1])
    assert plan[0]['key'] == 'teacher_r14' and plan[0]['kind'] == 'teacher'
    keys = [r['key'] for r in plan]
    assert len(keys) == len(set(keys)) == 1 + 2 * (3 + 4)
    # fine-tuning the teacher only where the student is its architecture
    assert 'r14_r14_finetune_seed1' in keys
    assert not any('r14_r8_finetune' in k for k in keys)
    run = {r['key']: r for r in plan}
    assert run['r14_r8_mean_seed0']['depth'] == 8
    assert run['r14_r14_finetune_seed0']['depth'] == 14
    assert (run['r14_r8_paper_seed1']['stage1'],
            run['r14_r8_paper_seed1']['stage2']) == (350, 420)
    assert not tr.needs_teacher(run['r14_r8_alone_seed0'])
    assert tr.needs_teacher(run['r14_r14_finetune_seed0'])
    # smoke runs never share a key (a finished result) with real ones
    smoke = tr.build_plan(['r14_r8'], [0], ['mean'], smoke=True)
    assert [r['key'] for r in smoke] == ['smoke_teacher_r14',
                                         'smoke_r14_r8_mean_seed0']
    with pytest.raises(SystemExit, match='unknown'):
        tr.build_plan(['r14_r8'], [0], ['kd'])


def _config(recipe: str, setting: str = 'r14_r14', tmp_path=None):
    run = next(r for r in tr.build_plan([setting], [4], [recipe])
               if r['kind'] == 'student')
    return tr.student_config(run, str(tmp_path / run['key']), 'teacher.pth')


def test_recipes_change_what_they_say(tmp_path):
    teacher = tr.teacher_config(tr.build_plan(['r14_r8'], [0])[0],
                                str(tmp_path / 't'))
    assert teacher.model.backbone.depth == 14
    assert teacher.model.head.num_classes == 5
    assert teacher.train_cfg.max_iters == 1050
    data = teacher.train_dataloader.dataset
    assert (data.type, data.subset, data.first) == (
        tr.DATASET, [0, 1, 2, 3, 4], 50000)

    alone = _config('alone', 'r14_r8', tmp_path)
    assert alone.model.type == 'ImageClassifier'
    assert alone.model.backbone.depth == 8
    assert alone.train_cfg.max_iters == 420
    assert alone.train_dataloader.dataset.subset == [5, 6, 7, 8, 9]
    assert alone.randomness.seed == 4
    assert alone.val_dataloader is None  # evaluated by the tool

    paper, mean = _config('paper', 'r14_r8', tmp_path), _config(
        abl.RECOMMENDED, 'r14_r8', tmp_path)
    for cfg in (paper, mean):
        assert cfg.model.teacher.backbone.depth == 14
        assert cfg.model.architecture.backbone.depth == 8
        assert cfg.model.teacher.head.num_classes == 5
        assert cfg.model.architecture.head.num_classes == 5
        assert cfg.model.teacher_ckpt == 'teacher.pth'
        assert cfg.train_cfg.max_iters == 770
        switch, = [h for h in cfg.custom_hooks
                   if h['type'] == 'DistillStageSwitchHook']
        assert switch['switch_iter'] == 350
    assert paper.model.distiller.fsp_loss.get('reduction', 'sum') == 'sum'
    assert paper.optim_wrapper.optimizer.lr == 0.001
    for key, value in abl.ARMS[abl.RECOMMENDED].items():
        node = mean
        for part in key.split('.'):
            node = node[part]
        assert node == value, key

    finetune = _config('finetune', 'r14_r14', tmp_path)
    assert finetune.model.type == 'ImageClassifier'
    assert finetune.model.backbone.depth == 14
    assert finetune.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint='teacher.pth', prefix='backbone.')
    assert finetune.train_cfg.max_iters == 420
    assert finetune.train_dataloader.dataset.subset == [5, 6, 7, 8, 9]


def test_finetune_starts_from_the_teachers_backbone(tmp_path):
    """The finetune student is the teacher's network with the teacher's
    backbone weights and a freshly initialised head."""
    from mmengine.runner import save_checkpoint

    from mmfsp.registry import MODELS
    run = tr.build_plan(['r14_r14'], [0])[0]
    teacher = MODELS.build(tr.teacher_config(run, str(tmp_path)).model)
    teacher.init_weights()
    with torch.no_grad():
        teacher.head.fc.weight.fill_(0.5)
    path = str(tmp_path / 'teacher.pth')
    save_checkpoint(dict(state_dict=teacher.state_dict(), meta={}), path)
    cfg = _config('finetune', 'r14_r14', tmp_path)
    cfg.model.backbone.init_cfg.checkpoint = path
    student = MODELS.build(cfg.model)
    student.init_weights()
    for name, value in teacher.backbone.state_dict().items():
        torch.testing.assert_close(student.backbone.state_dict()[name],
                                   value, msg=name)
    assert not torch.equal(student.head.fc.weight, teacher.head.fc.weight)


def _labels(path) -> np.ndarray:
    return abl._idx(str(path))


def test_class_subset_dataset(fashion_mnist_root):
    from mmfsp.registry import DATASETS
    tr.register_dataset()
    tr.register_dataset()  # idempotent
    data = DATASETS.build(dict(
        type=tr.DATASET, data_root=str(fashion_mnist_root), split='train',
        download=False, subset=[5, 6, 7, 8, 9], first=1000, pipeline=[]))
    labels = _labels(fashion_mnist_root / 'train-labels-idx1-ubyte')[:1000]
    images = abl._idx(fashion_mnist_root / 'train-images-idx3-ubyte')
    kept = np.flatnonzero(labels >= 5)
    assert len(data) == len(kept)
    assert data.metainfo['classes'][0] == 'Sandal'
    for i in (0, len(kept) - 1):
        info = data.get_data_info(i)
        assert int(info['gt_label']) == labels[kept[i]] - 5
        np.testing.assert_array_equal(info['img'], images[kept[i]])


def test_validation_and_test_splits(fashion_mnist_root):
    """Validation: the student task's images among training images
    50k-60k (never trained on); test: the task's test images."""
    labels = _labels(fashion_mnist_root / 'train-labels-idx1-ubyte')
    x_val, y_val = tr.eval_data('val', tr.STUDENT_CLASSES)
    held_out = np.flatnonzero(labels[50000:] >= 5) + 50000
    assert len(y_val) == len(held_out)
    assert set(y_val.tolist()) == {0, 1, 2, 3, 4}
    first = abl._idx(fashion_mnist_root / 'train-images-idx3-ubyte')[
        held_out[0]]
    torch.testing.assert_close(
        x_val[0, 0], (torch.from_numpy(first.copy()).float() - abl.MEAN) /
        abl.STD)
    test_labels = _labels(fashion_mnist_root / 't10k-labels-idx1-ubyte')
    _, y_test = tr.eval_data('test', tr.STUDENT_CLASSES)
    assert len(y_test) == int((test_labels >= 5).sum())
    _, y_teacher = tr.eval_data('test', tr.TEACHER_CLASSES, limit=50)
    assert len(y_teacher) == 50


def test_report_pairs_seeds_and_marks_the_recommended(tmp_path):
    path = str(tmp_path / 'rows.json')
    abl.record(path, tr._as_row(dict(
        key='teacher_r14', kind='teacher', setting='teacher',
        recipe='teacher', seed=0, depth=14, iters=1050, val_acc=90.0,
        test_acc=89.5, classes=[0, 1, 2, 3, 4])))
    for seed, alone, mean in ((0, 80.0, 83.0), (1, 82.0, 83.0)):
        for recipe, acc in (('alone', alone), (abl.RECOMMENDED, mean)):
            abl.record(path, tr._as_row(dict(
                setting='r14_r8', recipe=recipe, seed=seed, depth=8,
                val_acc=acc, test_acc=acc)))
    abl.record(path, tr._as_row(dict(
        setting='r14_r8', recipe='paper', seed=0, depth=8, val_acc=None,
        test_acc=None, diverged='NaN')))
    text = tr.report(path, str(tmp_path / 'table.md'))
    assert 'Teacher: ResNet-14 on classes [0, 1, 2, 3, 4], 1050 ' \
        'iterations, seed 0: validation 90.00 %, test 89.50 %' in text
    # paired by seed: +3 and +1
    assert f'| r14_r8 | **{abl.RECOMMENDED}** (recommended) | ResNet-8 | 2 ' \
        '| 83.00 ± 0.00 | 83.00 ± 0.00 | 2.00 ± 1.41 (n = 2) |' in text
    assert '| r14_r8 | paper | ResNet-8 | 1 | diverged |' in text
    assert (tmp_path / 'table.md').read_text() == text
    rows = json.loads(open(path).read())
    assert [r['recommended'] for r in rows] == [
        r['recipe'] == abl.RECOMMENDED for r in rows]


def test_tiny_runs_end_to_end_and_resume(tmp_path, fashion_mnist_root,
                                         capsys):
    """The teacher, then an FSP student of the recommended recipe, trained
    and evaluated; a second call finds both finished and trains nothing."""
    plan = tr.build_plan(['r14_r8'], [0], [abl.RECOMMENDED], smoke=True)
    threads = torch.get_num_threads()
    try:
        results = [tr.execute(run, str(tmp_path)) for run in plan]
    finally:
        torch.set_num_threads(threads)  # execute() is meant for a worker
    teacher, student = results
    assert teacher['classes'] == [0, 1, 2, 3, 4]
    assert student['classes'] == [5, 6, 7, 8, 9]
    assert student['iters'] == tr.SMOKE['stage1'] + tr.SMOKE['stage2']
    for res in results:
        assert 0.0 <= res['val_acc'] <= 100.0
        assert 0.0 <= res['test_acc'] <= 100.0
        assert (tmp_path / res['key'] / 'result.json').is_file()
    assert (tmp_path / 'smoke_teacher_r14' /
            f'iter_{tr.SMOKE["teacher_iters"]}.pth').is_file()

    results_path = str(tmp_path / 'results.json')
    tr.run_plan(plan, str(tmp_path), 1, results_path)
    assert '2 of 2 runs finished before; 0 to train' in capsys.readouterr(
    ).out
    rows = json.loads(open(results_path).read())
    assert sorted((r['setting'], r['recipe']) for r in rows) == [
        ('r14_r8', abl.RECOMMENDED), ('teacher', 'teacher')]
    assert all('key' not in r and 'kind' not in r for r in rows)


def test_dead_worker_is_retried_in_a_new_pool(tmp_path, capsys):
    """A worker process that dies breaks the process pool: its run (and
    any run it took down) is queued again in a new pool, the students
    still wait for the teacher, and every row is recorded."""
    from tests.tools.transfer_workers import die_once
    plan = tr.build_plan(['r14_r8'], [0], ['alone', abl.RECOMMENDED],
                         smoke=True)
    results = str(tmp_path / 'rows.json')
    tr.run_plan(plan, str(tmp_path), 1, results, worker=die_once)
    out = capsys.readouterr().out
    assert out.count('a worker died') == 3
    assert 'FAILED' not in out
    rows = json.loads(open(results).read())
    assert sorted(r['recipe'] for r in rows) == sorted(
        ['teacher', 'alone', abl.RECOMMENDED])
    # one attempt only: the run is reported, the others go on
    alone = [r for r in plan if r['recipe'] == 'alone']
    alone = [dict(alone[0], key='other_alone')]
    tr.run_plan(alone, str(tmp_path), 1, results, max_attempts=1,
                worker=die_once)
    assert 'other_alone FAILED' in capsys.readouterr().out
