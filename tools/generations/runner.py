"""Runner and distributed plumbing of a generations run: one mmengine
``Runner`` per training or test, the process group started once before the
first, the final weights of each generation exported on rank 0."""
import copy
import gc
import itertools
import os.path as osp
from typing import Any, Dict, Sequence

import torch
from mmengine.config import Config
from mmengine.dist import get_rank, init_dist, is_distributed
from mmengine.runner import find_latest_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint

from mmfsp.models.algorithms import convert_distill_checkpoint
from mmfsp.utils import build_runner, setup_cpu_distributed
from .configs import build_test_config
from .settings import plain
from .workdir import GenerationsError

#: numbers the runners this process builds, so that their experiment names
#: (mmengine's logger / visualizer / message hub instances) never collide,
#: and agree between the ranks of a distributed job.
_RUNNER_IDS = itertools.count()


def init_distributed(cfg: Config, launcher: str) -> None:
    """Start the process group before the first runner, so that only rank 0
    prints and writes from the start (the runners then find it started)."""
    if launcher == 'none' or is_distributed():
        return
    if torch.cuda.is_available():
        env_cfg = cfg.get('env_cfg') or {}
        init_dist(launcher, **dict(env_cfg.get('dist_cfg') or {}))
    else:
        setup_cpu_distributed(copy.deepcopy(cfg), launcher)  # gloo


def is_main() -> bool:
    """Whether this process is rank 0 (or the only one)."""
    return get_rank() == 0


def prepare_runner_cfg(cfg: Config, launcher: str, name: str) -> Config:
    """Give ``cfg`` the launcher and an experiment name of its own."""
    cfg.launcher = launcher
    cfg.experiment_name = f'{name}_{next(_RUNNER_IDS)}'
    setup_cpu_distributed(cfg, launcher)
    return cfg


def free_memory() -> None:
    """Give a finished runner's GPU memory back (call after ``del``; a
    runner's hooks hold reference cycles, so only a collection frees its
    model). On the CPU the interpreter's own collections suffice."""
    if torch.cuda.is_available():
        gc.collect()
        torch.cuda.empty_cache()


def export_final_weights(checkpoint: str, dst: str, meta: dict) -> None:
    """Write the classifier weights of ``checkpoint`` (a plain classifier
    checkpoint, or a distillation one whose student is taken) to ``dst`` as
    a plain classifier checkpoint (``state_dict`` and ``meta`` only)."""
    convert_distill_checkpoint(
        checkpoint,
        dst,
        meta=dict(meta, source_checkpoint=osp.basename(checkpoint)),
        plain_ok=True)


def final_checkpoint(runner) -> str:
    """The checkpoint the run saved at its last iteration / epoch."""
    path = find_latest_checkpoint(runner.work_dir)
    hint = ('keep default_hooks.checkpoint.save_last=True so that every '
            'generation saves its final weights')
    if path is None:
        raise GenerationsError(f'{runner.work_dir} has no checkpoint after '
                               f'training; {hint}')
    meta = _load_checkpoint(path, map_location='cpu').get('meta', {})
    if (meta.get('iter'), meta.get('epoch')) != (runner.iter, runner.epoch):
        raise GenerationsError(
            f'the latest checkpoint {path} is from iteration '
            f'{meta.get("iter")} / epoch {meta.get("epoch")}, but training '
            f'ended at iteration {runner.iter} / epoch {runner.epoch}; {hint}')
    return path


def plain_metrics(metrics: dict) -> Dict[str, Any]:
    """Metric values as plain numbers (JSON)."""
    return {
        k: plain(v.item() if hasattr(v, 'item') else v)
        for k, v in metrics.items()
    }


def run_ensemble_test(cfg: Config, checkpoints: Sequence[str], work_dir: str,
                  launcher: str, name: str) -> Dict[str, Any]:
    """Test the mean-softmax ensemble of ``checkpoints`` with ``cfg``'s test
    dataloader and evaluator; returns the metrics."""
    tcfg = prepare_runner_cfg(
        build_test_config(cfg, checkpoints, work_dir), launcher, name)
    runner = build_runner(tcfg)
    metrics = runner.test()
    del runner
    free_memory()
    return plain_metrics(metrics)

