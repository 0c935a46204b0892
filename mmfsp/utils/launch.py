"""Helpers shared by the tools: CPU distributed set-up, the preemption
hook, runner building."""
import os
import os.path as osp
import time
import uuid
from typing import Any, List, Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmfsp.registry import RUNNERS

from .config_scope import rescope_config
from .quiet import hide_known_log_messages


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Let ``--launcher pytorch`` run on a machine without a GPU.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and its default
    DDP wrapper passes ``device_ids``; both fail without CUDA. On such a
    machine this initialises the process group with gloo itself (the Runner
    then skips its own initialisation) and wraps the model in DDP without
    ``device_ids``. On a GPU machine it does nothing.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} needs GPUs; on a CPU-only machine use '
            f'--launcher pytorch (torchrun) or --launcher none.')
    import torch.distributed as dist
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    if not dist.is_initialized():
        os.environ.setdefault('LOCAL_RANK', '0')
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    # mmengine's Runner.wrap_model passes device_ids=[LOCAL_RANK] as a
    # *default* argument to any DDP wrapper; an explicit None in the config
    # wins over it (a CPU module takes no device_ids).
    wrapper_type = wrapper['type']
    if isinstance(wrapper_type, str):
        from mmfsp.registry import MODEL_WRAPPERS
        wrapper_type = MODEL_WRAPPERS.get(wrapper_type)
    from torch.nn.parallel import DistributedDataParallel
    if isinstance(wrapper_type, type) and \
            issubclass(wrapper_type, DistributedDataParallel):
        wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper


def add_preemption_hook(cfg: Config) -> Optional[List[Any]]:
    """Add a ``PreemptionHook`` (SIGTERM / SIGUSR1 stop training after a
    checkpoint, :mod:`mmfsp.engine.hooks.preemption_hook`) to
    ``cfg.custom_hooks`` unless the config has one; returns its
    ``signals`` (None: the hook's default) for
    :func:`~mmfsp.engine.hooks.preemption_hook.install_signal_handlers`.
    ``custom_hooks=[dict(type='PreemptionHook', signals=[])]`` in a config
    turns the handling off."""
    hooks = list(cfg.get('custom_hooks') or [])
    for hook in hooks:
        kind = hook.get('type') if isinstance(hook, dict) else None
        name = kind if isinstance(kind, str) else getattr(
            kind, '__name__', '')
        if str(name).split('.')[-1] == 'PreemptionHook':
            signals = hook.get('signals')
            return None if signals is None else list(signals)
    hooks.append(dict(type='mmfsp.PreemptionHook'))
    cfg.custom_hooks = hooks
    return None


def make_run_unique(cfg: Config) -> None:
    """Give the run its own logger, visualizer, message hub and log dir.

    mmengine names a run's logger, visualizer and message hub after
    ``experiment_name`` (default: the start time, to the second) and its log
    dir ``<work_dir>/<start time>``: two runs started in the same second of
    one process would share them (the second one writing into the first
    one's closed log file). This appends a random token to the experiment
    name and, when the work dir already has a log dir of the current second,
    waits for the next second.
    """
    name = cfg.get('experiment_name') or osp.splitext(
        osp.basename(cfg.filename or 'run'))[0]
    cfg.experiment_name = f'{name}_{uuid.uuid4().hex[:8]}'
    work_dir = cfg.get('work_dir')
    if not work_dir:
        return
    while osp.exists(osp.join(work_dir, _start_stamp())):
        time.sleep(1.0 - time.time() % 1.0 + 0.01)


def _start_stamp() -> str:
    """The name mmengine's Runner gives a log dir started now."""
    return time.strftime('%Y%m%d_%H%M%S', time.localtime(time.time()))


def build_runner(cfg: Config) -> Runner:
    """``Runner.from_cfg``, or the registered runner named by
    ``cfg.runner_type`` (the mmpretrain convention), after moving the
    dicts inherited from ``mmpretrain::`` bases into the mmfsp scope and
    giving the run its own name (:func:`make_run_unique`). mmengine's known
    harmless log warnings are hidden from the runner's logger
    (:func:`~mmfsp.utils.quiet.hide_known_log_messages`)."""
    if cfg.get('default_scope') == 'mmfsp':
        rescope_config(cfg._cfg_dict)
    make_run_unique(cfg)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    hide_known_log_messages(runner.logger)
    return runner
