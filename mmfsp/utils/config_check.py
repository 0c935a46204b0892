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
"""
from typing import Any, Callable, Iterator, List, Optional, Tuple

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
