"""tools/reproduce/worker.py: what a worker does for a run, in this
process and on a few iterations: a training run on the in-memory batches
in channels_last, a shared generation 0, a distilled generation learning
from it, the ensemble of both; results written once, then skipped."""
import os.path as osp

import pytest
import torch

from reproduce import worker
from reproduce.fastdata import TensorTrainLoader
from reproduce.plan import build_plan
from reproduce.presets import ACC_KEY, Preset
from reproduce.scheduler import TaskContext
from reproduce.store import RESULT_FILE, read_json

TINY = Preset('tiny', teacher_iters=3, minimisation_iters=2,
              generation_iters=2, num_generations=2, test_images=40,
              train_images=64, batch_size=8)


def test_runs_in_a_worker(tmp_path, fashion_mnist_root, monkeypatch):
    work = str(tmp_path)
    plan = {s.key: s for s in build_plan(TINY, ['a', 'd'])}
    runners, reports = [], []
    prepare = worker.prepare_runner

    def keep(runner, *args, **kwargs):
        runners.append(runner)
        prepare(runner, *args, **kwargs)

    monkeypatch.setattr(worker, 'prepare_runner', keep)
    threads = torch.get_num_threads()

    def run(key, inputs=None):
        ctx = TaskContext(key, inputs or {}, 'cpu', reports.append,
                          lambda: 1)
        return worker.run_task(ctx, plan[key], TINY, work)

    try:
        teacher = run('teacher_r26_seed0')
    finally:
        torch.set_num_threads(threads)
    assert 0 <= teacher['metrics'][ACC_KEY] <= 100
    assert teacher['checkpoint'] == 'runs/teacher_r26_seed0/iter_3.pth'
    assert osp.isfile(osp.join(work, teacher['predictions']))
    assert read_json(osp.join(work, 'runs', 'teacher_r26_seed0',
                              RESULT_FILE))['metrics'] == teacher['metrics']
    loop = runners[0].train_loop
    assert isinstance(loop.dataloader, TensorTrainLoader)
    assert reports and reports[0] == 0  # before_train, then iterations
    state = torch.load(osp.join(work, teacher['checkpoint']),
                       map_location='cpu', weights_only=False)['state_dict']
    conv = state['backbone.layer1.0.conv1.weight']
    assert conv.shape[1] > 1 and conv.is_contiguous(
        memory_format=torch.channels_last)
    # a finished run is not run again
    assert run('teacher_r26_seed0')['skipped'] is True
    assert len(runners) == 1

    zero = run('gen0_10_00_and_10_06_seed0')
    assert zero['checkpoint'].endswith('generation_0.pth')
    assert zero['generation'] == 0 and zero['teacher'] is None
    assert zero['settings'] == ['D(1.0, 0.0)', 'D(1.0, 0.6)']
    one = run('gen1_10_06_seed0', {'gen0_10_00_and_10_06_seed0': zero})
    assert one['teacher'] == 'gen0_10_00_and_10_06_seed0'
    assert runners[-1].model.teacher is not None  # learnt from gen 0
    ens = run('ensemble_gen_10_06_seed0_0-1',
              {'gen0_10_00_and_10_06_seed0': zero, 'gen1_10_06_seed0': one})
    assert 0 <= ens['metrics'][ACC_KEY] <= 100
    assert ens['members'] == ['gen0_10_00_and_10_06_seed0',
                              'gen1_10_06_seed0']
    assert 0 <= ens['diversity']['disagreement'] <= 100


def test_generations_with_transfer_probe(tmp_path, fashion_mnist_root):
    """With ``transfer_probe`` every generation and ensemble also reports
    the digits probe's accuracy (an ensemble: its members' concatenated
    features) and the secondary-class metric of the Fashion-MNIST
    generation configs."""
    from dataclasses import replace

    from analysis_tools.transfer_probe import (build_frozen_model,
                                               digits_target, transfer_probe)
    preset = replace(TINY, transfer_probe=True,
                     generation_settings=('D(1.0, 0.0)', ))
    work = str(tmp_path)
    plan = {s.key: s for s in build_plan(preset, ['d'])}
    threads = torch.get_num_threads()

    def run(key, inputs=None):
        ctx = TaskContext(key, inputs or {}, 'cpu', lambda it: None,
                          lambda: 1)
        return worker.run_task(ctx, plan[key], preset, work)

    try:
        zero = run('gen0_10_00_seed0')
        one = run('gen1_10_00_seed0')
        ens = run('ensemble_gen_10_00_seed0_0-1',
                  {'gen0_10_00_seed0': zero, 'gen1_10_00_seed0': one})
    finally:
        torch.set_num_threads(threads)
    for result in (zero, one, ens):
        assert 0 < result['metrics'][worker.TRANSFER_KEY] <= 100
        assert 0 <= result['metrics'][
            'secondary/superclass_share'] <= 1
    config = plan['gen0_10_00_seed0'].config
    models = [(str(i), build_frozen_model(config,
                                          osp.join(work, r['checkpoint'])))
              for i, r in enumerate((zero, one))]
    rows = transfer_probe(models, digits_target(), [[0, 1]])['rows']
    expected = [r['top1'] for r in rows if r['kind'] in ('model',
                                                         'concat')]
    assert [zero['metrics'][worker.TRANSFER_KEY],
            one['metrics'][worker.TRANSFER_KEY],
            ens['metrics'][worker.TRANSFER_KEY]] == pytest.approx(expected)
