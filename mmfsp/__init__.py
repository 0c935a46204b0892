"""mmfsp: FSP knowledge distillation and tolerant-teacher generations for
mmengine / mmpretrain.

Importing mmfsp registers all of its modules in the ``mmfsp`` registry scope
(a child of mmpretrain's) and applies the stack fixes of
:mod:`mmfsp.compat` (README, "Installation") with one call.
"""
try:
    import mmcv  # noqa: F401
except ImportError as _err:  # pragma: no cover - depends on the machine
    raise ImportError(
        'mmfsp needs mmcv (mmpretrain imports it): pip install "mmfsp[lite]" '
        '(the pure-Python mmcv-lite, all mmfsp needs) or mim install mmcv '
        '(the full one)') from _err
from mmpretrain.utils import register_all_modules as _register_mmpretrain

from . import compat
from .version import __version__

_register_mmpretrain(init_default_scope=False)
compat.install()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
