"""mmfsp: FSP knowledge distillation and tolerant-teacher generations for
mmengine / mmpretrain.

Importing mmfsp registers all of its modules in the ``mmfsp`` registry scope
(a child of mmpretrain's) and applies the stack fixes of the README
("Installation"): safe checkpoint loading on current PyTorch.
"""
from mmpretrain.utils import register_all_modules as _register_mmpretrain

from .utils import install_safe_checkpoint_loaders as _install_loaders
from .version import __version__

_register_mmpretrain(init_default_scope=False)
_install_loaders()
from .utils import atomic_save as _atomic  # noqa: E402,F401 (installs it)

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
