"""Re-scope the parts of a config inherited from ``mmpretrain::`` bases.

mmengine marks every dict that comes from another package's base config with
``_scope_='mmpretrain'``, so it is built from mmpretrain's registries, which do
not know mmfsp's modules: a user who sets ``train_dataloader.dataset.type`` or
``model.head.loss.type`` to an mmfsp module would get a KeyError. mmfsp's scope
is a child of mmpretrain's and finds every mmpretrain module through its
parent, so moving those dicts to ``_scope_='mmfsp'`` builds the same objects
and lets mmfsp's modules be named anywhere.
"""
from typing import Any


def rescope_config(cfg: Any, src: str = 'mmpretrain',
                   dst: str = 'mmfsp') -> Any:
    """Replace ``_scope_=src`` by ``_scope_=dst`` everywhere in ``cfg``
    (in place for dicts and lists; returns ``cfg``)."""
    if isinstance(cfg, dict):
        if cfg.get('_scope_') == src:
            cfg['_scope_'] = dst
        for value in cfg.values():
            rescope_config(value, src, dst)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            rescope_config(value, src, dst)
    return cfg
