"""Resuming a distillation run is equivalent to not stopping.

An FSP run (``configs/fsp/fsp-paper_resnet26_resnet8_1xb128_fashion-mnist.py`` with a
ResNet-8 teacher, stage 1 for iterations 1-4, the switch at 4, stage 2 for 5-8,
checkpoints every 2, the stock random crop / flip, ``randomness=dict(seed=0,
deterministic=True)``, ``num_workers=0``) through ``tools/train.py``:

- once without interruption (shared by the tests of this module);
- once crashing three times (an exception raised by a hook, as a killed job
  or an out-of-memory error would stop it) and resumed with ``--resume``
  after each: in stage 1 (at iteration 3, resumed from ``iter_2.pth``),
  exactly at the switch (at iteration 4, *after* the switch hook ran: the
  teacher freed, the optimizer reset, ``stage1_iter_4.pth`` written; resumed
  from ``iter_4.pth``, a stage-1 checkpoint) and in stage 2 (at 7, resumed
  from ``iter_6.pth``, a stage-2 checkpoint: the teacher is freed before
  the state is loaded);
- once stopped three times by real signals (SIGUSR1 and SIGTERM: slurm's
  time-limit warning and preemption), each time rerun with the very same
  command line (``--auto-resume``, as a requeued slurm job): in stage 1
  (after iteration 1), at the switch (signalled in iteration 5, which
  begins with the switch: the teacher freed, ``stage1_iter_4.pth``
  written, then the first stage-2 step; stopped after it) and in stage 2
  (after 7). Each stop exits with status 75 and leaves ``iter_<k>.pth`` as
  the latest checkpoint (tests/tools/test_preemption.py: the same on 2
  gloo processes).

Every checkpoint of the runs (weights, SGD momentum, LR scheduler state,
stage) and every iteration's logged losses are bitwise equal.

Generations (``tools/train_generations.py``): a run crashing during
generation 1 and rerun with ``--resume`` does not train generation 0 again,
resumes generation 1 from its last checkpoint and ends with generation 1's
weights bitwise equal to an uninterrupted generation 1 (same teacher). A
run stopped by signals in generation 0 and in generation 1, rerun with the
same command line each time, ends bitwise equal to an uninterrupted run.

Resuming with a config that would train differently is refused before
anything is built, with the differences listed (``--force-resume``
overrides); what does not change the result passes.
"""
import json
import shutil
from pathlib import Path

import pytest
import torch

from mmfsp.engine.hooks.preemption_hook import uninstall_signal_handlers
from tests.conftest import FAST_TRAIN_OPTIONS, REPO_ROOT, run_tool
from tests.tools.crash_hook import SimulatedCrash
from tests.tools.distill_tiny import (CKPT_INTERVAL, MAX_ITERS, SWITCH,
                                      differing_tensors, experiment,
                                      load_ckpt, logged_losses,
                                      restore_determinism, tiny_fashion_mnist,
                                      tiny_teacher, unformatted_config_text,
                                      write_fsp_cfg)

__all__ = ['restore_determinism', 'tiny_fashion_mnist', 'tiny_teacher',
           'unformatted_config_text']
pytestmark = pytest.mark.usefixtures('unformatted_config_text',
                                     'restore_determinism')
KEYS = ('loss', 'distill.loss_fsp', 'student.loss', 'lr')
REQUEUE = 75


@pytest.fixture(autouse=True)
def no_handlers_left():
    """A stopped in-process run leaves its signal handlers (as a process
    that exits would); take them away after each test."""
    yield
    uninstall_signal_handlers()


def _train(cfg, work_dir, monkeypatch, name, resume=False):
    args = [cfg, '--work-dir', work_dir, '--no-validate']
    if resume:
        args.append('--resume')
    run_tool('train.py', [*args, '--cfg-options', experiment(name)],
             monkeypatch)


@pytest.fixture(scope='module')
def straight(tmp_path_factory, tiny_fashion_mnist, tiny_teacher) -> Path:
    """The uninterrupted FSP run: its work dir (``plain.py`` next to it)."""
    import mmengine.config.config as config_module
    root = tmp_path_factory.mktemp('straight')
    plain = write_fsp_cfg(root / 'plain.py', tiny_fashion_mnist,
                          tiny_teacher)
    flags = torch.are_deterministic_algorithms_enabled()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(config_module, 'FormatCode',
                            lambda text, **kwargs: (text, False))
        _train(plain, root / 'work', monkeypatch, 'straight')
    torch.use_deterministic_algorithms(flags)
    return root / 'work'


def _assert_same_run(straight: Path, other: Path) -> None:
    """Every periodic checkpoint and logged value of ``other`` is bitwise
    that of the uninterrupted run."""
    names = [f'iter_{i}.pth' for i in range(CKPT_INTERVAL, MAX_ITERS + 1,
                                            CKPT_INTERVAL)]
    for name in [*names, f'stage1_iter_{SWITCH}.pth']:
        a, b = load_ckpt(straight / name), load_ckpt(other / name)
        assert a.keys() == b.keys(), name
        for part in ('state_dict', 'optimizer', 'param_schedulers'):
            if part in a:
                diff = differing_tensors(a[part], b[part])
                assert not diff, f'{name}: {part} differs at {diff[:5]}'
        assert a['meta']['distill_stage'] == b['meta']['distill_stage']
    final = load_ckpt(other / f'iter_{MAX_ITERS}.pth')['state_dict']
    assert not any(k.startswith('teacher.') for k in final)
    # The same losses and lr at every iteration, bitwise (json floats).
    a, b = logged_losses(straight, KEYS), logged_losses(other, KEYS)
    assert sorted(a) == list(range(1, MAX_ITERS + 1))
    assert a == b
    assert a[SWITCH]['distill.loss_fsp'] is not None and \
        a[SWITCH + 1]['student.loss'] is not None


def test_fsp_resume_in_stage1_at_switch_and_in_stage2_is_bitwise(
        tmp_path, monkeypatch, tiny_fashion_mnist, tiny_teacher, straight):

    interrupted = tmp_path / 'interrupted'
    for crash_at, resume_from in ((3, 2), (SWITCH, SWITCH), (7, 6)):
        crashing = write_fsp_cfg(
            tmp_path / f'crash_{crash_at}.py', tiny_fashion_mnist,
            tiny_teacher, hooks=[f"dict(type='TestCrashHook', at={crash_at})"],
            imports=['tests.tools.crash_hook'])
        with pytest.raises(SimulatedCrash):
            _train(crashing, interrupted, monkeypatch, f'crash{crash_at}',
                   resume=crash_at != 3)
        last = (interrupted / 'last_checkpoint').read_text().strip()
        assert last == str(interrupted / f'iter_{resume_from}.pth')
    # The crash at the switch came after the switch hook had run.
    assert (interrupted / f'stage1_iter_{SWITCH}.pth').exists()
    _train(straight.parent / 'plain.py', interrupted, monkeypatch, 'last',
           resume=True)

    # Stage 1 then stage 2, as in the uninterrupted run.
    assert load_ckpt(interrupted / f'iter_{SWITCH}.pth')['meta'][
        'distill_stage'] == 1
    assert load_ckpt(interrupted / 'iter_6.pth')['meta']['distill_stage'] == 2
    _assert_same_run(straight, interrupted)


def test_fsp_stopped_by_signals_and_rerun_is_bitwise(
        tmp_path, monkeypatch, capsys, tiny_fashion_mnist, tiny_teacher,
        straight):
    """SIGUSR1 in stage 1, SIGTERM in the iteration of the switch, SIGUSR1
    in stage 2; the same command line after each stop, as a requeued
    job."""
    cfg = write_fsp_cfg(
        tmp_path / 'signals.py', tiny_fashion_mnist, tiny_teacher,
        hooks=["dict(type='TestSignalHook', at=[0, 6])",
               "dict(type='TestSignalHook', at=[4], signal='SIGTERM')"],
        imports=['tests.tools.signal_hook'])
    work = tmp_path / 'work'
    command = [cfg, '--work-dir', work, '--no-validate', '--auto-resume']
    stops = []
    for _ in range(4):
        try:
            run_tool('train.py', command, monkeypatch)
        except SystemExit as stop:
            assert stop.code == REQUEUE
            stops.append((work / 'last_checkpoint').read_text().strip())
            continue
        break
    assert stops == [str(work / f'iter_{k}.pth') for k in (1, 5, 7)]
    err = capsys.readouterr().err
    assert err.count('exit status 75 (requeue)') == 3
    assert 'no checkpoint in' in err  # the first run: a fresh start
    # The stops' checkpoints: the iteration and stage they were taken in.
    for k, stage in ((1, 1), (5, 2), (7, 2)):
        meta = load_ckpt(work / f'iter_{k}.pth')['meta']
        assert (meta['iter'], meta['distill_stage']) == (k, stage)
    assert not any(k.startswith('teacher.') for k in load_ckpt(
        work / 'iter_5.pth')['state_dict'])  # freed at the switch
    assert not list(work.glob('.*.tmp'))
    _assert_same_run(straight, work)


def _resume_args(straight: Path, work: Path, *options) -> list:
    return [straight.parent / 'plain.py', '--work-dir', work, '--no-validate',
            '--resume', straight / f'iter_{SWITCH}.pth', '--cfg-options',
            *options]


def test_resume_with_a_config_that_trains_differently_is_refused(
        tmp_path, monkeypatch, capsys, straight):
    work = tmp_path / 'work'
    with pytest.raises(SystemExit) as refused:
        run_tool('train.py', _resume_args(
            straight, work, 'randomness.seed=1',
            'optim_wrapper.optimizer.momentum=0.5',
            'param_scheduler.1.milestones=[3]',
            'train_dataloader.batch_size=8',
            'model.distiller.fsp_loss.loss_weight=2.0'),
            monkeypatch)
    message = str(refused.value.code)
    assert 'Refusing to resume' in message and '--force-resume' in message
    for line in ("randomness.seed: 0 in the checkpoint's config, now 1",
                 'optim_wrapper.optimizer.momentum: 0.9 in the checkpoint',
                 'param_scheduler[1].milestones[0]: 2 in the checkpoint',
                 'train_dataloader.batch_size: 16 in the checkpoint',
                 'model.distiller.fsp_loss.loss_weight: 1.0 in the '):
        assert line in message, (line, message)
    assert not work.exists()  # refused before anything

    # --force-resume: the same differences, as a warning.
    capsys.readouterr()
    run_tool('train.py', [*_resume_args(straight, work, 'randomness.seed=1'),
                          '--force-resume', '--check'], monkeypatch)
    captured = capsys.readouterr()
    assert "randomness.seed: 0 in the checkpoint's config, now 1" in \
        captured.err and 'no error found' in captured.out


def test_resume_with_changes_that_keep_the_result_is_accepted(
        tmp_path, monkeypatch, capsys, straight, tiny_fashion_mnist):
    """Logging, checkpointing, workers, the data's location and the length
    of the run do not change what was trained (hooks that only watch:
    the crash-hook configs above resume the plain run)."""
    moved = shutil.copytree(tiny_fashion_mnist, tmp_path / 'moved_data')
    run_tool('train.py', [*_resume_args(
        straight, tmp_path / 'work', 'train_cfg.max_iters=10',
        'default_hooks.checkpoint.interval=3',
        'default_hooks.logger.interval=5', 'train_dataloader.num_workers=2',
        'train_dataloader.persistent_workers=True',
        f'train_dataloader.dataset.data_root={moved}',
        'log_level=INFO'), '--check'], monkeypatch)
    captured = capsys.readouterr()
    assert 'no error found' in captured.out
    assert 'differs' not in captured.err


# ------------------------------------------------------------ generations
GEN_CFG = \
    'configs/tolerant/tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py'


def _gen_args(tmp_path, work_dir, data_root, crash_at=None, hooks=None,
              name=None):
    """tools/train_generations.py arguments: 2 generations of 4 iterations
    (checkpoints at 2 and 4) of D(0.6, 0.6) on the tiny dataset; with
    ``crash_at``, generation 1 crashes when it reaches that iteration;
    ``hooks``: the custom hooks instead."""
    cfg = tmp_path / f'gens_{name or f"crash{crash_at}"}.py'
    if hooks is None:
        hooks = [] if crash_at is None else [
            dict(type='TestCrashHook', at=crash_at, generation=1)]
    cfg.write_text(f"""
_base_ = [{str(REPO_ROOT / GEN_CFG)!r}]
custom_imports = dict(
    imports=['mmfsp', 'tests.tools.crash_hook', 'tests.tools.signal_hook'],
    allow_failed_imports=False)
custom_hooks = {hooks!r}
randomness = dict(seed=0, deterministic=True)
log_level = 'WARNING'
""")
    options = FAST_TRAIN_OPTIONS + [
        'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'train_dataloader.batch_size=16', 'val_dataloader.batch_size=64',
        'test_dataloader.batch_size=64',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
    ]
    return [cfg, '--generations', '2', '--work-dir', work_dir,
            '--cfg-options', *options]


def test_generations_resume_mid_generation_1_is_bitwise(
        tmp_path, monkeypatch, capsys, tiny_fashion_mnist):
    work = tmp_path / 'gens'
    with pytest.raises(SimulatedCrash):
        run_tool('train_generations.py',
                 _gen_args(tmp_path, work, tiny_fashion_mnist, crash_at=3),
                 monkeypatch)
    gen0, gen1 = work / 'gen_0', work / 'gen_1'
    assert (gen0 / 'generation_done.json').exists()
    assert not (gen1 / 'generation_done.json').exists()
    assert (gen1 / 'last_checkpoint').read_text().strip() == str(
        gen1 / 'iter_2.pth')

    # The uninterrupted generation 1, with the same teacher: generation 0
    # copied into a fresh work dir (a finished generation is skipped).
    reference = tmp_path / 'reference'
    reference.mkdir()
    shutil.copytree(gen0, reference / 'gen_0')
    run_tool('train_generations.py',
             [*_gen_args(tmp_path, reference, tiny_fashion_mnist), '--resume'],
             monkeypatch)

    gen0_runs = sorted(gen0.glob('2*'))
    gen0_mtime = (gen0 / 'generation_0.pth').stat().st_mtime_ns
    capsys.readouterr()
    run_tool('train_generations.py',
             [*_gen_args(tmp_path, work, tiny_fashion_mnist), '--resume'],
             monkeypatch)
    out = capsys.readouterr().out
    assert 'generation 0: finished, skipped' in out
    assert sorted(gen0.glob('2*')) == gen0_runs  # no new gen-0 run
    assert (gen0 / 'generation_0.pth').stat().st_mtime_ns == gen0_mtime
    # Generation 1 went on from iteration 2: its second run logged 3, 4.
    runs = sorted(gen1.glob('2*/vis_data/scalars.json'))
    assert len(runs) == 2
    assert sorted(logged_losses(gen1)) == [1, 2, 3, 4]

    ref1 = reference / 'gen_1'
    for name in ('iter_2.pth', 'iter_4.pth'):
        a, b = load_ckpt(ref1 / name), load_ckpt(gen1 / name)
        for part in ('state_dict', 'optimizer', 'param_schedulers'):
            diff = differing_tensors(a[part], b[part])
            assert not diff, f'{name}: {part} differs at {diff[:5]}'
    assert not differing_tensors(
        load_ckpt(ref1 / 'generation_1.pth')['state_dict'],
        load_ckpt(gen1 / 'generation_1.pth')['state_dict'])
    keys = ('loss', 'student.loss', 'distill.loss_kd')
    assert logged_losses(gen1, keys) == logged_losses(ref1, keys)


@pytest.mark.slow
def test_generations_stopped_by_signals_and_rerun_is_bitwise(
        tmp_path, monkeypatch, capsys, tiny_fashion_mnist):
    """SIGUSR1 in generation 0 (after iteration 1) and SIGTERM in
    generation 1 (after iteration 3), the same command line after each
    stop; then everything as in an uninterrupted run."""
    hooks = [dict(type='TestSignalHook', at=[0], generation=0),
             dict(type='TestSignalHook', at=[2], generation=1,
                  signal='SIGTERM')]
    work = tmp_path / 'gens'
    command = [*_gen_args(tmp_path, work, tiny_fashion_mnist, hooks=hooks,
                          name='signals'), '--auto-resume']
    stops = []
    for _ in range(3):
        try:
            run_tool('train_generations.py', command, monkeypatch)
        except SystemExit as stop:
            assert stop.code == REQUEUE
            stops.append(sorted(p.name for p in work.glob('gen_*/iter_*')))
            continue
        break
    assert stops == [['iter_1.pth'],
                     ['iter_1.pth', 'iter_2.pth', 'iter_2.pth', 'iter_3.pth',
                      'iter_4.pth']]
    assert capsys.readouterr().err.count('Exit status 75 (requeue)') == 2
    meta = load_ckpt(work / 'gen_1' / 'iter_3.pth')['meta']
    assert (meta['iter'], meta['generation']) == (3, 1)

    reference = tmp_path / 'reference'
    run_tool('train_generations.py',
             _gen_args(tmp_path, reference, tiny_fashion_mnist), monkeypatch)
    for gen in (0, 1):
        ref, got = reference / f'gen_{gen}', work / f'gen_{gen}'
        for name in ('iter_2.pth', 'iter_4.pth'):
            a, b = load_ckpt(ref / name), load_ckpt(got / name)
            for part in ('state_dict', 'optimizer', 'param_schedulers'):
                diff = differing_tensors(a[part], b[part])
                assert not diff, f'gen {gen} {name}: {part} at {diff[:5]}'
        assert not differing_tensors(
            load_ckpt(ref / f'generation_{gen}.pth')['state_dict'],
            load_ckpt(got / f'generation_{gen}.pth')['state_dict'])
        keys = ('loss', 'student.loss', 'distill.loss_kd')
        assert logged_losses(got, keys) == logged_losses(ref, keys)
    rows = [json.loads((d / 'summary.json').read_text())['rows']
            for d in (reference, work)]
    assert rows[0] == rows[1]
