"""NonFiniteLossHook stops training at the first NaN/Inf loss, naming the
loss and the iteration, before CheckpointHook can save that iteration; for a
distillation model, the distill loss key (``distill.loss_fsp``)."""
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner.checkpoint import _load_checkpoint

from mmfsp.engine.hooks import NonFiniteLossError, NonFiniteLossHook
from mmfsp.engine.hooks import nonfinite_loss_hook as hook_module
from mmfsp.registry import HOOKS
from tests.conftest import run_tool
from tests.tools.distill_tiny import (experiment, restore_determinism,
                                      tiny_fashion_mnist, tiny_teacher,
                                      unformatted_config_text, write_fsp_cfg)
from tests.toy_runner import ToyModel, build_toy_runner

__all__ = ['restore_determinism', 'tiny_fashion_mnist', 'tiny_teacher',
           'unformatted_config_text']

NONFINITE = dict(nonfinite_loss=dict(type='NonFiniteLossHook'))


@pytest.mark.parametrize('nan_from', [4, 5])
def test_nan_stops_before_the_checkpoint_of_that_iteration(
        tmp_path, nan_from):
    """NaN at a checkpoint iteration (4) and between two (5): the error
    names loss_cls and the iteration; iter_2 / iter_4 stay the latest."""
    work_dir = tmp_path / 'run'
    runner = build_toy_runner(
        work_dir, max_iters=8, ckpt_interval=2,
        model=ToyModel(nan_from=nan_from), default_hooks=NONFINITE)
    names = [type(h).__name__ for h in runner.hooks]
    assert names.index('NonFiniteLossHook') < names.index('CheckpointHook')
    last_good = 2 * ((nan_from - 1) // 2)
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    message = str(info.value)
    assert 'loss_cls' in message
    assert f'iteration {nan_from}' in message
    assert f'iter_{last_good}.pth' in message  # where to resume from
    assert info.value.iteration == nan_from
    assert 'loss_cls' in info.value.losses
    saved = sorted(p.name for p in work_dir.glob('iter_*.pth'))
    assert saved == [f'iter_{i}.pth' for i in range(2, last_good + 1, 2)]
    assert (work_dir / 'last_checkpoint').read_text() == str(
        work_dir / f'iter_{last_good}.pth')
    good = _load_checkpoint(str(work_dir / f'iter_{last_good}.pth'),
                            logger='silent')
    assert good['meta']['iter'] == last_good
    assert all(torch.isfinite(v).all() for v in good['state_dict'].values())


def test_default_runtime_enables_it():
    cfg = Config.fromfile('configs/resnet/resnet8_1xb128_fashion-mnist.py')
    assert cfg.default_hooks.nonfinite_loss.type == 'NonFiniteLossHook'


def test_which_values_are_checked():
    hook = NonFiniteLossHook()
    nan, inf = torch.tensor(math.nan), torch.tensor(math.inf)
    assert hook._bad_losses(
        dict(loss=nan, loss_cls=nan, acc=torch.tensor(1.))) == {
            'loss': pytest.approx(math.nan, nan_ok=True),
            'loss_cls': pytest.approx(math.nan, nan_ok=True)}
    assert hook._bad_losses(dict(loss=torch.tensor(1.), accuracy=nan)) == {}
    assert hook._bad_losses(dict(loss_kd=[torch.tensor(1.), inf])) == {
        'loss_kd': math.inf}
    only = NonFiniteLossHook(keys=['distill.fsp'])
    assert only._bad_losses(dict(loss=nan, **{'distill.fsp': inf})) == {
        'distill.fsp': math.inf}
    with pytest.raises(ValueError):
        NonFiniteLossHook(interval=0)


def test_nan_on_another_rank_stops_this_rank_too(monkeypatch):
    """The verdict is all-reduced: a clean rank raises too, naming the rank
    and loss (the collectives are faked; the 2-process job in
    tests/tools/test_dist_train.py runs the real ones)."""
    monkeypatch.setattr(hook_module, 'get_world_size', lambda: 2)
    monkeypatch.setattr(hook_module, 'all_reduce',
                        lambda t, op: t.add_(1.0))
    monkeypatch.setattr(hook_module, 'all_gather_object',
                        lambda obj: [obj, {'loss_cls': math.nan}])

    class Runner:
        iter = 6
        epoch = 0
        train_loop = object()

        class message_hub:
            get_info = staticmethod(lambda key: '/w/iter_6.pth')

    with pytest.raises(NonFiniteLossError,
                       match=r'iteration 7: rank 1: loss_cls=nan'):
        NonFiniteLossHook().after_train_iter(
            Runner, 0, outputs=dict(loss=torch.tensor(1.0)))


@HOOKS.register_module(name='TestPoisonTeacherHook', force=True)
class _PoisonTeacherHook(Hook):
    """Put a NaN into the frozen teacher's first convolution before the
    0-based iteration ``at`` (as a corrupt teacher or an overflow would)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at:
            with torch.no_grad():
                runner.model.teacher.backbone.conv1.weight[0, 0, 0, 0] = \
                    math.nan


@pytest.mark.usefixtures('unformatted_config_text', 'restore_determinism')
def test_nan_distill_loss_is_named(tmp_path, monkeypatch,
                                   tiny_fashion_mnist, tiny_teacher):
    """A real FSP run through tools/train.py: the NaN of stage 1 is the
    distillation term's, and the message names ``distill.loss_fsp``."""
    cfg = write_fsp_cfg(tmp_path / 'nan.py', tiny_fashion_mnist,
                        tiny_teacher,
                        hooks=["dict(type='TestPoisonTeacherHook', at=2)"])
    work_dir = tmp_path / 'run'
    with pytest.raises(NonFiniteLossError) as info:
        run_tool('train.py', [cfg, '--work-dir', work_dir, '--no-validate',
                              '--cfg-options', experiment('nan')],
                 monkeypatch)
    message = str(info.value)
    assert message.startswith('Non-finite loss at training iteration 3: '
                              'distill.loss_fsp=nan, loss=nan.')
    assert f'the last checkpoint written is {work_dir / "iter_2.pth"}' in \
        message
    assert set(info.value.losses) == {'distill.loss_fsp', 'loss'}
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_2.pth']


def test_error_survives_pickling():
    # a worker process reports it to its parent (tools/fsp_ablation.py)
    import pickle

    from mmfsp.engine.hooks import NonFiniteLossError
    err = NonFiniteLossError('loss is nan', 7, {'rank 0: loss': float('inf')})
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == 'loss is nan'
    assert back.iteration == 7 and back.losses == {'rank 0: loss': float('inf')}
