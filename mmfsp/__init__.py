"""mmfsp: FSP knowledge distillation and tolerant-teacher generations for
mmengine / mmpretrain.

Importing mmfsp registers all of its modules in the ``mmfsp`` registry scope
(a child of mmpretrain's) and applies the stack fixes of
:mod:`mmfsp.compat` (README, "Installation") with one call.
"""
from .utils.quiet import hide_known_warnings as _hide_known_warnings

# two narrow filters (mmcv-lite's missing CUDA op, setuptools' pkg_resources
# notice), set before mmpretrain's import prints the first one
_hide_known_warnings()

try:
    import mmcv  # noqa: F401
except ImportError as _err:  # pragma: no cover - depends on the machine
    raise ImportError(
        'mmfsp needs mmcv (mmpretrain imports it): pip install "mmfsp[lite]" '
        '(the pure-Python mmcv-lite, all mmfsp needs) or mim install mmcv '
        '(the full one)') from _err
from mmpretrain.utils import \
    register_all_modules as _register_mmpretrain  # noqa: E402

from . import compat  # noqa: E402
from .version import __version__  # noqa: E402

_register_mmpretrain(init_default_scope=False)
compat.install()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
