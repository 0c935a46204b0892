"""The stack fixes mmfsp applies to mmengine, in one idempotent call.

``import mmfsp`` (or ``custom_imports=dict(imports=['mmfsp'])``) calls
:func:`install` once; no other module patches anything when imported.

1. Checkpoints load with ``weights_only=True`` and an allow-list
   (:mod:`mmfsp.utils.safe_checkpoint`): mmengine 0.10 calls ``torch.load``
   without it, which current PyTorch refuses for mmengine's own files, and
   turning the check off would run any pickle.
2. Local checkpoint writes are atomic (:mod:`mmfsp.utils.atomic_save`): a
   job killed mid-save leaves the previous file, never a truncated one.
3. A distillation checkpoint is refused by a plain classifier
   (:func:`check_not_distill_checkpoint`): its keys are all under
   ``architecture.`` / ``teacher.``, so mmengine would load nothing, warn
   about missing keys and evaluate random weights.
4. Configs inherit mmfsp's configs by package name, as OpenMMLab packages
   do: ``_base_ = ['mmfsp::fsp/fsp_resnet26_resnet8_1xb128_cifar10.py']``
   (:func:`register_config_package`). mmengine refuses packages missing
   from ``mmengine.config.utils.MODULE2PACKAGE`` ("mmengine does not support
   to load mmfsp config"), so ``'mmfsp'`` is added to it; and for an
   editable install mmengine's ``get_installed_path('mmfsp')`` returns
   ``site-packages/mmfsp``, which does not exist (the package is the
   checkout's ``mmfsp/``), so mmengine's config loader gets, for
   ``'mmfsp'`` only and only when that path does not exist, the directory
   of the imported mmfsp package (whose ``.mim`` the editable install
   symlinks to the checkout's ``configs/``; setup.py).
"""
import os.path as osp
import re
from typing import Sequence, Tuple

from mmengine.config import config as _config_module
from mmengine.config import utils as _config_utils
from mmengine.runner import checkpoint as _checkpoint_module
from mmengine.runner import runner as _runner_module
from torch import nn

from mmfsp.utils.atomic_save import install_atomic_saves
from mmfsp.utils.safe_checkpoint import install_safe_checkpoint_loaders

DISTILL_PREFIXES = ('architecture.', 'teacher.')
_INSTALLED = '_mmfsp_distill_guard'


class DistillCheckpointError(ValueError):
    """A distillation checkpoint was loaded into a plain classifier."""


def check_not_distill_checkpoint(
        model: nn.Module,
        checkpoint,
        revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )
) -> None:
    """Raise :class:`DistillCheckpointError` when ``checkpoint`` holds a
    distillation model (every weight under ``architecture.`` or
    ``teacher.`` once mmengine's ``revise_keys`` are applied) and ``model``
    is not one (no ``architecture.`` weights)."""
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else None
    if not isinstance(state, dict) or not state:
        return
    keys = list(state)
    for pattern, replacement in revise_keys:
        keys = [re.sub(pattern, replacement, k) for k in keys]
    if not any(k.startswith(DISTILL_PREFIXES[0]) for k in keys) or \
            not all(k.startswith(DISTILL_PREFIXES) or
                    k.startswith('data_preprocessor.') for k in keys):
        return
    if any(k.startswith(DISTILL_PREFIXES[0]) for k in model.state_dict()):
        return
    raise DistillCheckpointError(
        f'This checkpoint holds a distillation model (the student under '
        f"'architecture.', the teacher under 'teacher.'), but the model "
        f'being loaded is a plain {type(model).__name__}: none of its '
        f'weights would be loaded and it would be evaluated with random '
        f'ones. Take the student out first:\n'
        f'    python tools/model_converters/convert_distill_ckpt.py '
        f'DISTILL.pth student.pth\n'
        f'and load student.pth, or load it in the config with '
        f"init_cfg=dict(type='Pretrained', checkpoint='DISTILL.pth', "
        f"prefix='architecture.').")


def _guarded(load_to_model):
    def load_checkpoint_to_model(model,
                                 checkpoint,
                                 strict=False,
                                 logger=None,
                                 revise_keys=[(r'^module\.', '')]):
        check_not_distill_checkpoint(model, checkpoint, revise_keys)
        return load_to_model(model, checkpoint, strict, logger, revise_keys)

    setattr(load_checkpoint_to_model, _INSTALLED, True)
    load_checkpoint_to_model.__wrapped__ = load_to_model
    return load_checkpoint_to_model


def _mmfsp_package_path(get_installed_path):

    def get_mmfsp_aware_installed_path(package: str) -> str:
        if package != 'mmfsp':
            return get_installed_path(package)
        try:
            path = get_installed_path(package)
        except Exception:  # an editable install mmengine cannot place
            path = None
        if path is None or not osp.isdir(path):
            import mmfsp
            path = osp.dirname(osp.abspath(mmfsp.__file__))
        return path

    setattr(get_mmfsp_aware_installed_path, _INSTALLED, True)
    get_mmfsp_aware_installed_path.__wrapped__ = get_installed_path
    return get_mmfsp_aware_installed_path


def register_config_package() -> None:
    """Fix 4 of the module docstring: ``mmfsp::`` config paths. Idempotent;
    other packages are looked up as before."""
    _config_utils.MODULE2PACKAGE.setdefault('mmfsp', 'mmfsp')
    original = _config_module.get_installed_path
    if not getattr(original, _INSTALLED, False):
        _config_module.get_installed_path = _mmfsp_package_path(original)


def install() -> None:
    """Apply the four fixes of the module docstring. Idempotent."""
    install_safe_checkpoint_loaders()
    install_atomic_saves()
    register_config_package()
    original = _checkpoint_module._load_checkpoint_to_model
    if not getattr(original, _INSTALLED, False):
        guarded = _guarded(original)
        # load_checkpoint (init_cfg Pretrained, load_from in tools) and
        # Runner.load_checkpoint (--resume, load_from, tools/test.py) each
        # look the function up in their own module
        _checkpoint_module._load_checkpoint_to_model = guarded
        _runner_module._load_checkpoint_to_model = guarded
