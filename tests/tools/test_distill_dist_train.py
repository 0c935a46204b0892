"""FSP stage 1 on 2 CPU processes (gloo, ``torch.distributed.run`` and
``tools/train.py --launcher pytorch``) gives the same per-iteration losses
and weights as one process with the same global batch.

Why they can agree (see also tests/tools/test_dist_train.py):

- data: mmengine's ``DefaultSampler`` gives rank r the positions r, r+2, ...
  of one seeded permutation, so the two per-rank batches of B/2 are together
  the single process's batch of B; random crop / flip are off (each process
  draws its own), so the test trains on the test pipeline;
- the teacher is frozen in eval mode: its BatchNorm uses running
  statistics, per sample, whatever the batch; it stays BN;
- the student's normalisation must not depend on the batch split either:
  training-mode BN normalises with the statistics of the local B/2 samples
  (SyncBN needs CUDA), so the student uses GroupNorm here;
- the FSP loss is a batch mean, ``(1/B) sum_b l_b``. Each rank computes the
  mean over its own B/2 samples and DDP averages the gradients over the 2
  ranks: ``1/2 (2/B sum_{b in rank 0} grad l_b + 2/B sum_{b in rank 1}
  grad l_b) = 1/B sum_b grad l_b``, the gradient of the global mean, as
  long as the ranks' batches have equal sizes (mmengine's sampler pads the
  dataset to a multiple of the world size, so they do). The losses
  themselves are per rank: the global loss is the mean of the two ranks'.

Equal up to float rounding (summation order differs), so the comparison is
``allclose``, not bitwise.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook

from mmfsp.registry import HOOKS
from tests.conftest import REPO_ROOT, run_tool
from tests.tools.distill_tiny import (differing_tensors, load_ckpt,
                                      restore_determinism, tiny_fashion_mnist,
                                      tiny_teacher, unformatted_config_text,
                                      write_fsp_cfg)

__all__ = ['restore_determinism', 'tiny_fashion_mnist', 'tiny_teacher',
           'unformatted_config_text']
GLOBAL_BATCH = 16
ITERS = 3
GROUP_NORM = dict(type='GN', num_groups=4, requires_grad=True)


def _cfg(tmp_path: Path, name: str, batch: int, data_root: Path,
         teacher: Path, hooks=()) -> Path:
    # Stage 1 alone (switch_iter == max_iters); every rank records its loss.
    return write_fsp_cfg(
        tmp_path / f'{name}.py', data_root, teacher, switch=ITERS,
        max_iters=ITERS, batch_size=batch, augment=False,
        student_norm=GROUP_NORM, imports=['tests.tools.dist_loss_recorder'],
        hooks=["dict(type='TestLossRecorderHook')", *hooks])


@HOOKS.register_module(name='TestInitialWeightsHook', force=True)
class InitialWeightsHook(Hook):
    """Save the model's weights as training starts (after init_weights)
    to ``<work_dir>/initial.pth``."""

    def before_train(self, runner) -> None:
        torch.save(runner.model.state_dict(),
                   Path(runner.work_dir) / 'initial.pth')


def _losses(work_dir: Path, rank: int) -> list:
    lines = (work_dir / f'losses_rank{rank}.jsonl').read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e['iter'] for e in entries] == list(range(1, ITERS + 1))
    return [e['loss'] for e in entries]


@pytest.mark.usefixtures('unformatted_config_text', 'restore_determinism')
def test_fsp_stage1_two_gloo_processes_match_one(tmp_path, monkeypatch,
                                                 tiny_fashion_mnist,
                                                 tiny_teacher):
    dist_dir = tmp_path / 'dist'
    cfg = _cfg(tmp_path, 'dist', GLOBAL_BATCH // 2, tiny_fashion_mnist,
               tiny_teacher)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS='1')
    proc = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--standalone',
        '--nproc_per_node=2', 'tools/train.py', str(cfg), '--launcher',
        'pytorch', '--no-validate', '--work-dir', str(dist_dir)
    ], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    single_dir = tmp_path / 'single'
    run_tool('train.py', [
        _cfg(tmp_path, 'single', GLOBAL_BATCH, tiny_fashion_mnist,
             tiny_teacher, ["dict(type='TestInitialWeightsHook')"]),
        '--no-validate', '--work-dir', single_dir
    ], monkeypatch)

    single = _losses(single_dir, 0)
    rank0, rank1 = _losses(dist_dir, 0), _losses(dist_dir, 1)
    assert rank0 != rank1  # the ranks saw different samples
    # The FSP loss over B = the mean of the ranks' FSP losses over B/2, at
    # every iteration (iterations 2 and 3 after DDP-averaged updates).
    for k in range(ITERS):
        assert single[k] == pytest.approx((rank0[k] + rank1[k]) / 2,
                                          rel=1e-5)
    single_ckpt = load_ckpt(single_dir / f'iter_{ITERS}.pth')
    dist_ckpt = load_ckpt(dist_dir / f'iter_{ITERS}.pth')
    assert single_ckpt['meta']['distill_stage'] == \
        dist_ckpt['meta']['distill_stage'] == 1
    state, dist_state = single_ckpt['state_dict'], dist_ckpt['state_dict']
    assert state.keys() == dist_state.keys()
    # The frozen teacher did not move; the student moved the same way.
    assert not differing_tensors(
        {k: v for k, v in state.items() if k.startswith('teacher.')},
        {k: v for k, v in dist_state.items() if k.startswith('teacher.')})
    # Weights agree to float32 rounding of three SGD steps on FSP
    # gradients (the FSP loss is ~1e3 here): the students' updates since
    # their common initialisation differ by < 1e-4 of their size.
    init = torch.load(single_dir / 'initial.pth')
    # The head gets no gradient in stage 1.
    assert torch.equal(init['architecture.head.fc.weight'],
                       state['architecture.head.fc.weight'])
    for key, value in state.items():
        torch.testing.assert_close(dist_state[key], value, rtol=1e-4,
                                   atol=1e-5, msg=lambda m: f'{key}: {m}')
        if key in init and key.startswith('architecture.backbone') and \
                value.is_floating_point():
            update = value - init[key]
            if update.norm() > 0:
                error = (dist_state[key] - value).norm() / update.norm()
                assert error < 1e-4, f'{key}: relative update error {error}'
