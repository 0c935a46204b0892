"""Find a config's errors before the Runner is built, by asking the classes
the config names.

A component that can tell from the config alone that a run cannot train as
meant owns that rule, as a classmethod ``check_config(cfg, key)`` returning
one message per error (what is wrong and what to change; ``key`` is where
the component's dict sits in ``cfg``, e.g. ``'model'`` or
``'custom_hooks.0'``). For example ``DistillStageSwitchHook`` checks its
switch against the schedule, ``SingleTeacherDistill`` its stages and the
teacher's and student's classes, ``CachedTeacherFSPDistill`` the training
pipeline it caches.

:func:`check_config` finds those classes (:func:`typed_entries` lists the
typed dicts of ``model`` and of the hooks, :func:`registry_lookup` turns a
``type`` into a class through mmfsp's registries), calls them on the final
config (after ``--cfg-options``) and raises one :class:`ConfigError`
listing every error. Nothing here imports mmfsp's engine or models.
Errors that need built modules or files are reported where those are built,
also before the first iteration (docs/failure_and_recovery.md, "Config
errors stop the run before it starts").

A fix is printed as command-line options (:func:`format_cfg_options`,
``--cfg-options key=value ...``) to append to the command as they are;
:func:`with_cfg_options` applies one to a copy of a config exactly as
``--cfg-options`` does, so that a class prints only fixes its own check
accepts, and :func:`parse_cfg_options` reads them back from a message.
"""
import copy
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

#: The config entries that hold hooks (looked up in HOOKS; the model and
#: every typed dict inside it are looked up in MODELS).
HOOK_ENTRIES = ('custom_hooks', 'default_hooks')


class ConfigError(ValueError):
    """The config cannot train as meant; the message says what to change."""


def type_name(type_: Any) -> str:
    """``'DistillStageSwitchHook'`` for a config ``type`` given as a name
    (scoped or not) or as a class."""
    if isinstance(type_, str):
        return type_.split('.')[-1]
    return getattr(type_, '__name__', str(type_))


def get_entry(cfg: Any, key: str) -> Any:
    """``cfg[key]`` for a dotted ``key`` (``'custom_hooks.0'``), None when a
    part is missing."""
    node = cfg
    for part in key.split('.'):
        if isinstance(node, (list, tuple)) and part.isdigit():
            node = node[int(part)] if int(part) < len(node) else None
        elif hasattr(node, 'get'):  # a dict, a ConfigDict or a Config
            node = node.get(part)
        else:
            return None
    return node


def _literal(value: Any) -> str:
    """``value`` (a number, bool, None, or a list / tuple of them) written
    as mmengine's ``DictAction`` reads it back."""
    if isinstance(value, (list, tuple)):
        inner = ','.join(_literal(v) for v in value)
        return f'[{inner}]' if isinstance(value, list) else f'({inner},)' \
            if len(value) == 1 else f'({inner})'
    if isinstance(value, float) and value.is_integer():
        return repr(value)  # '2.0', not '2' (DictAction would read an int)
    return str(value)


def format_cfg_options(options: Dict[str, Any]) -> str:
    """``'--cfg-options a.b=1 c=[2,3]'``: ``options`` (dotted key -> value)
    as command-line options that ``tools/train.py`` reads back into exactly
    these values."""
    return '--cfg-options ' + ' '.join(
        f'{key}={_literal(value)}' for key, value in options.items())


#: One ``--cfg-options`` fix in a message: the ``key=value`` tokens after
#: it (a message puts a space or a line break after the last value).
_CFG_OPTIONS = re.compile(r'--cfg-options((?: [\w.]+=\S+)+)')


def parse_cfg_options(text: str) -> List[Dict[str, Any]]:
    """The fixes written by :func:`format_cfg_options` in ``text``, in
    order, each read as ``--cfg-options`` reads it (mmengine's
    ``DictAction``)."""
    from mmengine.config import DictAction
    return [{
        key: DictAction._parse_iterable(value)
        for key, value in (p.split('=', 1) for p in match.group(1).split())
    } for match in _CFG_OPTIONS.finditer(text)]


def with_cfg_options(cfg: Any, options: Dict[str, Any]) -> Any:
    """A copy of ``cfg`` (a ``Config`` or a dict) with ``options`` merged in
    as ``--cfg-options`` merges them (``Config.merge_from_dict``)."""
    from mmengine.config import Config
    plain = cfg.to_dict() if isinstance(cfg, Config) else cfg
    merged = Config(copy.deepcopy(dict(plain)))
    merged.merge_from_dict(options)
    return merged


def iter_max_iters(cfg: Any) -> Optional[int]:
    """``train_cfg.max_iters`` of an iteration-based training, else None
    (mmengine: ``type='IterBasedTrainLoop'``, or no type and
    ``by_epoch=False``)."""
    train_cfg = cfg.get('train_cfg')
    if not isinstance(train_cfg, dict):
        return None
    loop = train_cfg.get('type')
    iter_based = train_cfg.get('by_epoch') is False if loop is None else \
        type_name(loop) == 'IterBasedTrainLoop'
    max_iters = train_cfg.get('max_iters')
    return int(max_iters) if iter_based and isinstance(max_iters, int) \
        else None


def distill_loss_stages(cfg: Any, loss_name: str) -> Optional[List[int]]:
    """The stages (1-based) of ``cfg.model.stages`` that compute the distill
    loss ``loss_name`` (a stage's ``distill_losses``, ``'all'`` by
    default); None when the model has no ``stages`` (one stage computing
    every loss)."""
    model = cfg.get('model')
    stages = model.get('stages') if isinstance(model, dict) else None
    if not isinstance(stages, (list, tuple)):
        return None
    used = []
    for k, stage in enumerate(stages, start=1):
        names = stage.get('distill_losses', 'all') \
            if isinstance(stage, dict) else []
        if names == 'all' or loss_name in (names or []):
            used.append(k)
    return used


def typed_entries(cfg: Any) -> Iterator[Tuple[str, str, Any]]:
    """``(registry name, dotted key, type)`` of every hook of
    ``custom_hooks`` / ``default_hooks`` (``'HOOKS'``), then of
    ``cfg.model`` and every typed dict inside it (``'MODELS'``; ``init_cfg``
    skipped)."""

    def walk(node: Any, key: str) -> Iterator[Tuple[str, str, Any]]:
        if isinstance(node, dict):
            if node.get('type') is not None:
                yield 'MODELS', key, node['type']
            for name, value in node.items():
                if name != 'init_cfg':
                    yield from walk(value, f'{key}.{name}')
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                yield from walk(value, f'{key}.{i}')

    for entry in HOOK_ENTRIES:
        hooks = cfg.get(entry)
        items = hooks.items() if isinstance(hooks, dict) else enumerate(
            hooks or [])
        for name, hook in items:
            if isinstance(hook, dict) and hook.get('type') is not None:
                yield 'HOOKS', f'{entry}.{name}', hook['type']
    yield from walk(cfg.get('model'), 'model')


def registry_lookup(registry: str, type_: Any) -> Optional[type]:
    """The class of a config ``type`` in mmfsp's registry ``registry``
    (``'MODELS'``, ``'HOOKS'``; through its parents mmpretrain's and
    mmengine's), None when it is not registered there."""
    if isinstance(type_, type):
        return type_
    if not isinstance(type_, str):
        return None
    from mmfsp import registry as registries
    try:
        return getattr(registries, registry).get(type_)
    except Exception:  # not registered (get raises for unknown dotted names)
        return None


def check_config(cfg: Any,
                 lookup: Callable[[str, Any],
                                  Optional[type]] = registry_lookup) -> None:
    """Raise :class:`ConfigError` listing the errors that the classes named
    by the config find in it (their ``check_config(cfg, key)``); do nothing
    for a config without any.

    Args:
        cfg: the training config (``mmengine.Config`` or dict), after the
            command line's ``--cfg-options``.
        lookup: ``lookup(registry, type)`` gives the class of a config
            ``type`` or None. Defaults to :func:`registry_lookup`.
    """
    errors: List[str] = []
    for registry, key, type_ in typed_entries(cfg):
        check = getattr(lookup(registry, type_), 'check_config', None)
        if callable(check):
            errors += check(cfg, key)
    if errors:
        numbered = '\n'.join(f'  {k}. {e}' for k, e in enumerate(errors, 1))
        raise ConfigError(f'The config has {len(errors)} error(s); nothing '
                          f'was trained:\n{numbered}')
