"""mmfsp.compat: one idempotent install; a plain classifier refuses a
distillation checkpoint wherever mmengine loads one."""
import mmengine.runner.checkpoint as ckpt_module
import mmengine.runner.runner as runner_module
import pytest
import torch
from mmengine.runner import load_checkpoint, save_checkpoint

from mmfsp import compat
from mmfsp.compat import DistillCheckpointError, check_not_distill_checkpoint
from mmfsp.models.backbones import CifarResNet
from tests.toy_runner import ToyModel, build_toy_runner


def _distill_state(model: torch.nn.Module) -> dict:
    state = model.state_dict()
    out = {f'architecture.{k}': v for k, v in state.items()}
    out.update({f'teacher.{k}': v.clone() for k, v in state.items()})
    return out


def test_install_is_idempotent_and_patches_both_lookups():
    compat.install()
    first = ckpt_module._load_checkpoint_to_model
    compat.install()
    assert ckpt_module._load_checkpoint_to_model is first
    assert runner_module._load_checkpoint_to_model is first
    assert getattr(first, '__wrapped__', None) is not None
    assert not hasattr(first.__wrapped__, '__wrapped__')


def test_load_checkpoint_refuses_distill_checkpoint(tmp_path):
    net = CifarResNet(depth=8, in_channels=1)
    path = tmp_path / 'distill.pth'
    save_checkpoint(dict(state_dict=_distill_state(net)), str(path))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(DistillCheckpointError,
                       match='convert_distill_ckpt.py'):
        load_checkpoint(net, str(path))
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    # the prefix way loads it
    load_checkpoint(net, str(path), revise_keys=[(r'^architecture\.', '')])


def test_runner_load_checkpoint_refuses_distill_checkpoint(tmp_path):
    model = ToyModel()
    path = tmp_path / 'distill.pth'
    save_checkpoint(dict(state_dict=_distill_state(model)), str(path))
    runner = build_toy_runner(tmp_path / 'run', model=model)
    with pytest.raises(DistillCheckpointError, match='plain ToyModel'):
        runner.load_checkpoint(str(path))


def test_plain_and_distill_models_load_as_before():
    net = CifarResNet(depth=8, in_channels=1)
    check_not_distill_checkpoint(net, dict(state_dict=net.state_dict()))

    class Distill(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.architecture = CifarResNet(depth=8, in_channels=1)

    distill = Distill()
    check_not_distill_checkpoint(
        distill, dict(state_dict=_distill_state(distill.architecture)))
    # a partial checkpoint with some plain keys is mmengine's business
    mixed = _distill_state(net)
    mixed['conv1.weight'] = net.conv1.weight
    check_not_distill_checkpoint(net, dict(state_dict=mixed))


def test_mmfsp_config_package_fix_is_idempotent_and_narrow():
    """Fix 4: ``mmfsp::`` is a known config package, and mmengine's config
    loader finds the imported mmfsp package even where an editable install
    leaves no site-packages/mmfsp; other packages are looked up as before."""
    from mmengine.config import config as config_module
    from mmengine.config.utils import MODULE2PACKAGE
    from mmengine.utils import get_installed_path

    import mmfsp
    compat.install()
    first = config_module.get_installed_path
    compat.install()
    assert config_module.get_installed_path is first
    assert first.__wrapped__ is get_installed_path
    assert MODULE2PACKAGE['mmfsp'] == 'mmfsp'
    import os.path as osp
    assert osp.samefile(first('mmfsp'), osp.dirname(mmfsp.__file__))
    assert first('mmpretrain') == get_installed_path('mmpretrain')
