"""Resume checks of the tools: nothing to resume from is said loudly, a
checkpoint that does not exist is refused, and a config that would train
differently from the run the checkpoint came from is refused with the
differences listed (docs/failure_and_recovery.md, "Resuming").

mmengine writes the run's config into every checkpoint (``meta['cfg']``, its
``pretty_text``). That text is Python, and a checkpoint may come from
anywhere: it is read here with :mod:`ast` (literals, lists, tuples, dicts,
``dict(...)``), never executed; anything else is compared as its source text.

What is compared is what decides the weights a resumed run ends with
(:data:`RESULT_KEYS`): the model, the top-level data preprocessor, the
optimizer wrapper, the param schedulers (an unset ``end`` is the run's
length, as mmengine fills it), ``train_cfg`` (all but its length and
validation interval), the custom hooks (all but those that only watch the
run, :data:`RESULT_NEUTRAL_HOOKS` or a hook class with ``changes_result =
False``), the training dataloader (all but its workers, pinning and the
dataset's ``data_root``), ``randomness`` and ``auto_scale_lr``. Not compared:
work dir, logging, checkpoint and validation settings, launcher, the number
of iterations (resuming with a larger ``train_cfg.max_iters`` trains on).
"""
import ast
import os.path as osp
import sys
from typing import Any, Callable, Dict, List, Optional

#: the top-level config keys whose content decides the result
RESULT_KEYS = ('model', 'data_preprocessor', 'optim_wrapper',
               'param_scheduler', 'train_cfg', 'custom_hooks',
               'train_dataloader', 'randomness', 'auto_scale_lr')
#: keys of ``train_cfg`` that do not change what the iterations compute
NEUTRAL_TRAIN_CFG_KEYS = ('max_iters', 'max_epochs', 'val_interval',
                          'val_begin', 'dynamic_intervals')
#: keys of ``train_dataloader`` (and of its dataset) that do not either
NEUTRAL_LOADER_KEYS = ('num_workers', 'persistent_workers', 'pin_memory',
                       'prefetch_factor')
NEUTRAL_DATASET_KEYS = ('data_root', 'lazy_init', 'serialize_data',
                        'download')
#: custom hooks that only watch, log or stop the run
RESULT_NEUTRAL_HOOKS = frozenset({
    'PreemptionHook', 'ProgressBarHook', 'WeightNormMonitorHook',
    'NonFiniteLossHook', 'CheckpointHook', 'LoggerHook', 'IterTimerHook',
    'EmptyCacheHook', 'VisualizationHook', 'RuntimeInfoHook'
})
MAX_LISTED = 20


class ResumeError(RuntimeError):
    """A resume that would not continue the run it names: a checkpoint that
    does not exist, or a config that differs from the checkpoint's in what
    decides the result."""


# ------------------------------------------------------ reading meta['cfg']
class _Unknown(str):
    """A config value read as its source text (not a literal)."""


def _literal(node: ast.AST) -> Any:
    """The value of a config expression made of literals, lists, tuples,
    dicts and ``dict(key=...)`` calls; anything else as its source."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {
            _literal(k): _literal(v)
            for k, v in zip(node.keys, node.values)
        }
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == 'dict' and not node.args and \
            all(k.arg is not None for k in node.keywords):
        return {k.arg: _literal(k.value) for k in node.keywords}
    if isinstance(node, ast.UnaryOp) and isinstance(
            node.op, (ast.USub, ast.UAdd)) and \
            isinstance(node.operand, ast.Constant) and \
            isinstance(node.operand.value, (int, float)):
        value = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    return _Unknown(ast.unparse(node))


def read_config_text(text: str) -> Dict[str, Any]:
    """The top-level ``name = value`` assignments of a config's
    ``pretty_text``, without executing it. Raises ``SyntaxError`` for a
    text that is not Python."""
    out: Dict[str, Any] = {}
    for stmt in ast.parse(text).body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], ast.Name):
            out[stmt.targets[0].id] = _literal(stmt.value)
    return out


def _plain(value: Any) -> Any:
    """A config value (ConfigDict, tuple, ...) as dicts, lists and
    literals; other objects as ``str``, as ``pretty_text`` writes them."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return _Unknown(str(value))


# ------------------------------------------------------------ comparing
def _hook_changes_result(hook: Any) -> bool:
    if not isinstance(hook, dict):
        return True
    kind = hook.get('type')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    name = str(name).split('.')[-1]
    if name in RESULT_NEUTRAL_HOOKS:
        return False
    try:
        from mmfsp.registry import HOOKS
        cls = HOOKS.get(kind) if isinstance(kind, str) else kind
    except Exception:  # noqa: BLE001 - unknown: assume it matters
        cls = None
    return getattr(cls, 'changes_result', True) is not False


def _strip_scope(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_scope(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, list):
        return [_strip_scope(v) for v in value]
    return value


def result_config(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The parts of a config (plain dicts, e.g. from :func:`_plain` or
    :func:`read_config_text`) that decide the result of training, with
    what does not (see the module docstring) left out."""
    cfg = _strip_scope(cfg)
    out = {k: cfg.get(k) for k in RESULT_KEYS}
    train_cfg = dict(out['train_cfg'] or {})
    length = train_cfg.get('max_iters', train_cfg.get('max_epochs'))
    for key in NEUTRAL_TRAIN_CFG_KEYS:
        train_cfg.pop(key, None)
    out['train_cfg'] = train_cfg
    schedulers = out['param_scheduler']
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    if isinstance(schedulers, list):
        # mmengine sets an unset end to the run's length
        out['param_scheduler'] = [
            dict(s, end=s.get('end', length)) if isinstance(s, dict) else s
            for s in schedulers
        ]
    hooks = out['custom_hooks'] or []
    out['custom_hooks'] = [h for h in hooks if _hook_changes_result(h)]
    loader = out['train_dataloader']
    if isinstance(loader, dict):
        loader = {k: v for k, v in loader.items()
                  if k not in NEUTRAL_LOADER_KEYS}
        if isinstance(loader.get('dataset'), dict):
            loader['dataset'] = {
                k: v for k, v in loader['dataset'].items()
                if k not in NEUTRAL_DATASET_KEYS
            }
        out['train_dataloader'] = loader
    return out


def _short(value: Any, width: int = 70) -> str:
    text = repr(value) if not isinstance(value, _Unknown) else str(value)
    return text if len(text) <= width else text[:width - 3] + '...'


def _diff(old: Any, new: Any, path: str, out: List[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            sub = f'{path}.{key}' if path else str(key)
            if key not in new:
                out.append(f'{sub}: {_short(old[key])} in the checkpoint\'s '
                           f'config, not set now')
            elif key not in old:
                out.append(f'{sub}: not set in the checkpoint\'s config, '
                           f'now {_short(new[key])}')
            else:
                _diff(old[key], new[key], sub, out)
    elif isinstance(old, list) and isinstance(new, list) and \
            len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            _diff(a, b, f'{path}[{i}]', out)
    elif old != new or type(old) is not type(new) and not (
            isinstance(old, (int, float)) and isinstance(new, (int, float))
            and not isinstance(old, bool) and not isinstance(new, bool)):
        out.append(f'{path}: {_short(old)} in the checkpoint\'s config, now '
                   f'{_short(new)}')


def config_differences(saved: Dict[str, Any], current: Any) -> List[str]:
    """What differs, in what decides the result, between a checkpoint's
    config (``read_config_text`` of its ``meta['cfg']``) and ``current``
    (a Config or dict), one ``key: old ..., now new`` line each.
    Custom hooks that only watch the run are left out on both sides, so
    their indices are those of the remaining hooks."""
    if not isinstance(current, dict):  # an mmengine Config
        current = current._cfg_dict
    out: List[str] = []
    _diff(result_config(saved), result_config(_plain(current)), '', out)
    return out


# ------------------------------------------------------------- the check
def resume_checkpoint(work_dir: str, resume: Optional[str]) -> Optional[str]:
    """The checkpoint a resume would load: ``resume`` itself, or with
    ``resume='auto'`` the one ``work_dir/last_checkpoint`` names (None when
    there is none)."""
    if resume is None:
        return None
    if resume != 'auto':
        return resume
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer, encoding='utf-8') as f:
        return f.read().strip() or None


def check_resume(cfg,
                 resume: Optional[str],
                 force: bool = False,
                 quiet_if_empty: bool = False,
                 warn: Callable[[str], None] = lambda text: print(
                     text, file=sys.stderr)) -> Optional[str]:
    """Check a resume before the Runner is built; returns the checkpoint
    that will be resumed (None: training starts from scratch).

    Args:
        cfg (Config): the final config (work dir set).
        resume (str, optional): None (no resume), ``'auto'`` (the work
            dir's latest checkpoint) or a checkpoint path / URL.
        force (bool): only warn about a config that differs from the
            checkpoint's. Defaults to False.
        quiet_if_empty (bool): with ``'auto'``, a work dir without a
            checkpoint is a fresh start, said in one line (``--auto-resume``
            of a job that may be requeued). Defaults to False: a loud
            warning.
        warn (Callable): where warnings go. Defaults to stderr.

    Raises:
        ResumeError: the checkpoint does not exist, ``last_checkpoint``
            names one that does not, or the configs differ (unless
            ``force``).
    """
    if resume is None:
        return None
    work_dir = cfg.get('work_dir')
    checkpoint = resume_checkpoint(work_dir, resume)
    if checkpoint is None:
        if quiet_if_empty:
            warn(f'--auto-resume: no checkpoint in {work_dir} yet; '
                 f'training starts from the beginning.')
        else:
            warn(f'WARNING: --resume: {work_dir} has no checkpoint (no '
                 f'last_checkpoint file); training starts from scratch. Is '
                 f'the work dir right (--work-dir)?')
        return None
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        if resume == 'auto':
            raise ResumeError(
                f'--resume: {osp.join(work_dir, "last_checkpoint")} names '
                f'{checkpoint}, which does not exist (deleted or moved?). '
                f'Give an existing checkpoint with --resume PATH, or delete '
                f'last_checkpoint to start from scratch.')
        raise ResumeError(
            f'--resume {checkpoint}: no such checkpoint. Give an existing '
            f'file, or --resume alone to continue from the latest '
            f'checkpoint in the work dir.')
    check_resume_config(cfg, checkpoint, force=force, warn=warn)
    return checkpoint


def check_resume_config(cfg,
                        checkpoint: str,
                        force: bool = False,
                        warn: Callable[[str], None] = lambda text: print(
                            text, file=sys.stderr)) -> List[str]:
    """Refuse to resume ``checkpoint`` with ``cfg`` when they differ in
    what decides the result (:func:`config_differences`); with ``force``,
    warn instead. Returns the differences.

    Raises:
        ResumeError: they differ and ``force`` is False.
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    meta = _load_checkpoint(
        checkpoint, map_location='cpu', logger='silent').get('meta') or {}
    text = meta.get('cfg')
    if not isinstance(text, str):
        warn(f'WARNING: {checkpoint} has no config in its meta (not saved '
             f'by an mmengine Runner?): the config it was trained with '
             f'cannot be compared with this one.')
        return []
    try:
        saved = read_config_text(text)
    except SyntaxError as err:
        warn(f'WARNING: the config in {checkpoint} cannot be read ({err}); '
             f'it is not compared with this one.')
        return []
    differences = config_differences(saved, cfg)
    if not differences:
        return []
    listed = '\n'.join(f'  {d}' for d in differences[:MAX_LISTED])
    more = len(differences) - MAX_LISTED
    if more > 0:
        listed += f'\n  ... and {more} more'
    message = (f'the config differs from the one {checkpoint} was trained '
               f'with, in what decides the result:\n{listed}\n')
    if force:
        warn(f'WARNING: --force-resume: {message}Resuming anyway: the run '
             f'will not be the one the checkpoint started.')
        return differences
    raise ResumeError(
        f'Refusing to resume: {message}Resume with the config (and '
        f'--cfg-options) of that run, start a new run in another '
        f'--work-dir, or pass --force-resume to continue with this config.')
