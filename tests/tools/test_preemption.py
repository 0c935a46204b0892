"""Preemption-safe training with real processes and real signals.

- ``tools/slurm_train.sh`` submits a batch job with ``--signal`` and
  ``--requeue``, runs the tool with ``--auto-resume`` and requeues the job
  when the tool exits with 75, also when the batch shell itself was
  signalled (checked with stand-ins for sbatch, srun and scontrol, and for
  the training command).
- SIGTERM sent to the training process *and* its dataloader workers (as
  slurm signals every process of a job step): the workers survive, the run
  stops after the iteration with a checkpoint and exit status 75, and the
  same command line continues to a result bitwise equal to an uninterrupted
  run with the same workers.
- FSP on 2 gloo processes (``torch.distributed.run``): a signal that only
  one rank receives stops both at the same iteration, in stage 1, in the
  iteration of the switch and in stage 2; rerun with the same command line,
  the run ends bitwise equal to an uninterrupted 2-process run (slow).

The single-process FSP and generations runs stopped by signals are in
tests/tools/test_distill_resume.py.
"""
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mmfsp.engine.hooks.preemption_hook import uninstall_signal_handlers
from tests.conftest import REPO_ROOT, run_tool
from tests.tools.distill_tiny import (differing_tensors, load_ckpt,
                                      logged_losses, restore_determinism,
                                      tiny_fashion_mnist, tiny_teacher,
                                      unformatted_config_text, write_fsp_cfg)

__all__ = ['restore_determinism', 'tiny_fashion_mnist', 'tiny_teacher',
           'unformatted_config_text']
REQUEUE = 75
SLURM_TRAIN = REPO_ROOT / 'tools' / 'slurm_train.sh'


@pytest.fixture(autouse=True)
def no_handlers_left():
    """A stopped in-process run leaves its handlers (as a process that
    exits would); take them away after each test."""
    yield
    uninstall_signal_handlers()


# ------------------------------------------------------- slurm_train.sh
def _script(path: Path, text: str) -> None:
    path.write_text('#!/usr/bin/env bash\n' + text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _fake_slurm(tmp_path: Path, training: str) -> dict:
    """Stand-ins on PATH: sbatch records its arguments and runs the batch
    script from stdin as the job (SLURM_JOB_ID=42); srun drops its options
    and runs the command; scontrol records its arguments; ``training``
    (bash) stands in for the Python interpreter."""
    bin_dir, log = tmp_path / 'bin', tmp_path / 'log'
    bin_dir.mkdir()
    _script(bin_dir / 'sbatch', f"""
echo "$@" > {log}/sbatch_args
cat > {log}/job.sh
SLURM_JOB_ID=42 bash {log}/job.sh > {log}/job.out 2>&1
echo $? > {log}/job_status
""")
    _script(bin_dir / 'srun', """
while [ "${1#--}" != "$1" ]; do shift; done
exec "$@"
""")
    _script(bin_dir / 'scontrol', f'echo "$@" >> {log}/scontrol_calls\n')
    _script(bin_dir / 'fake_python', f"""
printf '%s\\n' "$@" > {log}/train_args
{training}
""")
    log.mkdir()
    return dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}',
                PYTHON=str(bin_dir / 'fake_python'))


def _submit(tmp_path: Path, env: dict, *extra: str) -> Path:
    proc = subprocess.run(
        ['bash', str(SLURM_TRAIN), 'part', 'job', 'configs/my cfg.py',
         str(tmp_path / 'work dir'), *extra],
        env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / 'log'


def test_slurm_train_submits_with_signal_and_requeue_and_requeues_on_75(
        tmp_path):
    env = _fake_slurm(tmp_path, f'exit {REQUEUE}')
    log = _submit(tmp_path, env, '--cfg-options', 'a=1', 'b=[1, 2]')
    args = (log / 'sbatch_args').read_text().split()
    assert '--signal=USR1@180' in args and '--requeue' in args
    assert '--open-mode=append' in args
    # the same command line every time the job starts: --auto-resume
    assert (log / 'train_args').read_text().splitlines() == [
        '-u', 'tools/train.py', 'configs/my cfg.py',
        f'--work-dir={tmp_path / "work dir"}', '--launcher=slurm',
        '--auto-resume', '--cfg-options', 'a=1', 'b=[1, 2]'
    ]
    assert (log / 'scontrol_calls').read_text() == 'requeue 42\n'
    assert (log / 'job_status').read_text().strip() == str(REQUEUE)


def test_slurm_train_does_not_requeue_a_finished_or_failed_run(tmp_path):
    env = _fake_slurm(tmp_path, 'exit 0')
    log = _submit(tmp_path, env)
    assert not (log / 'scontrol_calls').exists()
    assert (log / 'job_status').read_text().strip() == '0'


def test_slurm_train_settings_are_overridable(tmp_path):
    env = _fake_slurm(tmp_path, f'exit {REQUEUE}')
    env.update(SIGNAL='TERM', SIGNAL_SECONDS='600', REQUEUE='0',
               TRAIN_TOOL='tools/train_generations.py',
               SBATCH_ARGS='--time=2:00:00 --qos=low')
    log = _submit(tmp_path, env)
    args = (log / 'sbatch_args').read_text().split()
    assert '--signal=TERM@600' in args and '--no-requeue' in args
    assert '--time=2:00:00' in args and '--qos=low' in args
    assert (log / 'train_args').read_text().splitlines()[1] == \
        'tools/train_generations.py'
    assert not (log / 'scontrol_calls').exists()


def test_slurm_batch_shell_signalled_waits_for_the_training(tmp_path):
    """Preemption signals the batch shell too: it must wait for the
    training to save and exit, then requeue."""
    env = _fake_slurm(
        tmp_path, f'kill -TERM $PPID; sleep 0.5; exit {REQUEUE}')
    log = _submit(tmp_path, env)
    assert 'signal received' in (log / 'job.out').read_text()
    assert (log / 'scontrol_calls').read_text() == 'requeue 42\n'
    assert (log / 'job_status').read_text().strip() == str(REQUEUE)


# --------------------------------------------- SIGTERM to the workers too
RESNET8 = 'configs/resnet/resnet8_1xb128_fashion-mnist.py'


def _workers_cfg(tmp_path: Path, data_root: Path, signal_at) -> Path:
    hooks = [] if signal_at is None else [
        dict(type='TestSignalHook', at=signal_at, signal='SIGTERM',
             children=True)
    ]
    path = tmp_path / f'workers_{signal_at is not None}.py'
    path.write_text(f"""
_base_ = [{str(REPO_ROOT / RESNET8)!r}]
custom_imports = dict(imports=['mmfsp', 'tests.tools.signal_hook'],
                      allow_failed_imports=False)
train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True,
    dataset=dict(data_root={str(data_root)!r}, indices=256))
custom_hooks = {hooks!r}
train_cfg = dict(max_iters=4)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=4, max_keep_ckpts=-1))
randomness = dict(seed=0, deterministic=True)
log_level = 'WARNING'
""")
    return path


@pytest.mark.usefixtures('unformatted_config_text', 'restore_determinism')
def test_sigterm_to_process_and_dataloader_workers(tmp_path, monkeypatch,
                                                   tiny_fashion_mnist):
    cfg = _workers_cfg(tmp_path, tiny_fashion_mnist, signal_at=[1])
    work = tmp_path / 'work'
    command = [cfg, '--work-dir', work, '--no-validate', '--auto-resume']
    with pytest.raises(SystemExit) as stop:
        run_tool('train.py', command, monkeypatch)
    assert stop.value.code == REQUEUE
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    run_tool('train.py', command, monkeypatch)  # the requeued job

    straight = tmp_path / 'straight'
    run_tool('train.py', [
        _workers_cfg(tmp_path, tiny_fashion_mnist, None), '--work-dir',
        straight, '--no-validate'
    ], monkeypatch)
    a, b = load_ckpt(straight / 'iter_4.pth'), load_ckpt(work / 'iter_4.pth')
    for part in ('state_dict', 'optimizer', 'param_schedulers'):
        assert not differing_tensors(a[part], b[part]), part
    assert logged_losses(straight) == logged_losses(work)
    assert sorted(logged_losses(work)) == [1, 2, 3, 4]


# ------------------------------------------------- 2 gloo processes, FSP
def _torchrun(cfg: Path, work: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS='1')
    return subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--standalone',
        '--nproc_per_node=2', 'tools/train.py', str(cfg), '--launcher',
        'pytorch', '--no-validate', '--work-dir', str(work), '--auto-resume'
    ], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=400)


@pytest.mark.slow
@pytest.mark.usefixtures('unformatted_config_text')
def test_fsp_two_gloo_processes_stopped_by_signals_is_bitwise(
        tmp_path, tiny_fashion_mnist, tiny_teacher):
    """Rank 1 alone gets SIGUSR1 in stage 1, rank 0 alone SIGTERM in the
    iteration of the switch, rank 1 SIGUSR1 in stage 2."""
    hooks = ["dict(type='TestSignalHook', at=[0, 6], rank=1)",
             "dict(type='TestSignalHook', at=[4], rank=0, signal='SIGTERM')"]
    cfg = write_fsp_cfg(tmp_path / 'signals.py', tiny_fashion_mnist,
                        tiny_teacher, batch_size=8, hooks=hooks,
                        imports=['tests.tools.signal_hook'])
    work = tmp_path / 'work'
    stops = []
    for _ in range(4):
        proc = _torchrun(cfg, work)
        out = proc.stdout + proc.stderr
        if proc.returncode == 0:
            break
        # both ranks stopped and exited with 75 (torchrun reports each)
        assert out.count(f'exitcode  : {REQUEUE}') == 2, out[-3000:]
        stops.append((work / 'last_checkpoint').read_text().strip())
    assert stops == [str(work / f'iter_{k}.pth') for k in (1, 5, 7)]
    for k, stage in ((1, 1), (5, 2), (7, 2)):
        meta = load_ckpt(work / f'iter_{k}.pth')['meta']
        assert (meta['iter'], meta['distill_stage']) == (k, stage)

    straight = tmp_path / 'straight'
    plain = write_fsp_cfg(tmp_path / 'plain.py', tiny_fashion_mnist,
                          tiny_teacher, batch_size=8)
    proc = _torchrun(plain, straight)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ('iter_2.pth', 'iter_4.pth', 'iter_6.pth', 'iter_8.pth',
                 'stage1_iter_4.pth'):
        a, b = load_ckpt(straight / name), load_ckpt(work / name)
        for part in ('state_dict', 'optimizer', 'param_schedulers'):
            if part in a:
                diff = differing_tensors(a[part], b[part])
                assert not diff, f'{name}: {part} differs at {diff[:5]}'
        assert a['meta']['distill_stage'] == b['meta']['distill_stage']
    keys = ('loss', 'distill.loss_fsp', 'student.loss', 'lr')
    assert logged_losses(straight, keys) == logged_losses(work, keys)
