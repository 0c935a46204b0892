"""Resuming a distillation run is equivalent to not stopping.

An FSP run (``configs/fsp/fsp-paper_resnet26_resnet8_1xb128_fashion-mnist.py`` with a
ResNet-8 teacher, stage 1 for iterations 1-4, the switch at 4, stage 2 for 5-8,
checkpoints every 2, the stock random crop / flip, ``randomness=dict(seed=0,
deterministic=True)``, ``num_workers=0``) through ``tools/train.py``:

- once without interruption;
- once crashing three times (an exception raised by a hook, as a killed job
  or an out-of-memory error would stop it) and resumed with ``--resume``
  after each: in stage 1 (at iteration 3, resumed from ``iter_2.pth``),
  exactly at the switch (at iteration 4, *after* the switch hook ran: the
  teacher freed, the optimizer reset, ``stage1_iter_4.pth`` written; resumed
  from ``iter_4.pth``, a stage-1 checkpoint) and in stage 2 (at 7, resumed
  from ``iter_6.pth``, a stage-2 checkpoint: the teacher is freed before
  the state is loaded).

Every checkpoint of the two runs (weights, SGD momentum, LR scheduler
state, stage) and every iteration's logged losses are bitwise equal.

Generations (``tools/train_generations.py``): a run crashing during
generation 1 and rerun with ``--resume`` does not train generation 0 again,
resumes generation 1 from its last checkpoint and ends with generation 1's
weights bitwise equal to an uninterrupted generation 1 (same teacher).
"""
import shutil

import pytest

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


def _train(cfg, work_dir, monkeypatch, name, resume=False):
    args = [cfg, '--work-dir', work_dir, '--no-validate']
    if resume:
        args.append('--resume')
    run_tool('train.py', [*args, '--cfg-options', experiment(name)],
             monkeypatch)


def test_fsp_resume_in_stage1_at_switch_and_in_stage2_is_bitwise(
        tmp_path, monkeypatch, tiny_fashion_mnist, tiny_teacher):
    plain = write_fsp_cfg(tmp_path / 'plain.py', tiny_fashion_mnist,
                          tiny_teacher)
    straight = tmp_path / 'straight'
    _train(plain, straight, monkeypatch, 'straight')

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
    _train(plain, interrupted, monkeypatch, 'last', resume=True)

    # Stage 1 then stage 2, as in the uninterrupted run.
    assert load_ckpt(interrupted / f'iter_{SWITCH}.pth')['meta'][
        'distill_stage'] == 1
    assert load_ckpt(interrupted / 'iter_6.pth')['meta']['distill_stage'] == 2
    names = [f'iter_{i}.pth' for i in range(CKPT_INTERVAL, MAX_ITERS + 1,
                                            CKPT_INTERVAL)]
    for name in [*names, f'stage1_iter_{SWITCH}.pth']:
        a, b = load_ckpt(straight / name), load_ckpt(interrupted / name)
        assert a.keys() == b.keys(), name
        for part in ('state_dict', 'optimizer', 'param_schedulers'):
            if part in a:
                diff = differing_tensors(a[part], b[part])
                assert not diff, f'{name}: {part} differs at {diff[:5]}'
        assert a['meta']['distill_stage'] == b['meta']['distill_stage']
    final = load_ckpt(interrupted / f'iter_{MAX_ITERS}.pth')['state_dict']
    assert not any(k.startswith('teacher.') for k in final)
    # The same losses and lr at every iteration, bitwise (json floats).
    a, b = logged_losses(straight, KEYS), logged_losses(interrupted, KEYS)
    assert sorted(a) == list(range(1, MAX_ITERS + 1))
    assert a == b
    assert a[SWITCH]['distill.loss_fsp'] is not None and \
        a[SWITCH + 1]['student.loss'] is not None


# ------------------------------------------------------------ generations
GEN_CFG = \
    'configs/tolerant/tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py'


def _gen_args(tmp_path, work_dir, data_root, crash_at=None):
    """tools/train_generations.py arguments: 2 generations of 4 iterations
    (checkpoints at 2 and 4) of D(0.6, 0.6) on the tiny dataset; with
    ``crash_at``, generation 1 crashes when it reaches that iteration."""
    cfg = tmp_path / f'gens_crash{crash_at}.py'
    hooks = [] if crash_at is None else [
        dict(type='TestCrashHook', at=crash_at, generation=1)]
    cfg.write_text(f"""
_base_ = [{str(REPO_ROOT / GEN_CFG)!r}]
custom_imports = dict(imports=['mmfsp', 'tests.tools.crash_hook'],
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
