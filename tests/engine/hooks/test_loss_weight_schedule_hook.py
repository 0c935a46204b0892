"""LossWeightScheduleHook: linear weight from the iteration number, so
resuming gives the weights an uninterrupted run has."""
import pytest
import torch
from torch import nn

from mmfsp.engine.hooks import LossWeightScheduleHook, linear_weight
from mmfsp.models.losses import KDLoss
from tests.toy_runner import ToyModel, build_toy_runner


def test_linear_weight_from_first_to_last_iteration_of_the_window():
    # FitNet stage 2: 4 -> 1 over iterations [35000, 56000).
    assert linear_weight(35000, 35000, 56000, 4.0, 1.0) == 4.0
    assert linear_weight(55999, 35000, 56000, 4.0, 1.0) == 1.0
    assert linear_weight(45499.5, 35000, 56000, 4.0, 1.0) == \
        pytest.approx(2.5)
    assert linear_weight(0, 35000, 56000, 4.0, 1.0) == 4.0  # before
    assert linear_weight(60000, 35000, 56000, 4.0, 1.0) == 1.0  # after
    assert linear_weight(7, 7, 8, 4.0, 1.0) == 1.0  # one-iteration window


class KDToyModel(ToyModel):
    """The toy model with a distiller holding a KD loss; records the KD
    weight each training iteration sees."""

    def __init__(self) -> None:
        super().__init__()
        self.distiller = nn.Module()
        self.distiller.distill_losses = nn.ModuleDict(
            dict(loss_kd=KDLoss(tau=3)))
        self.seen = []

    def forward(self, inputs, labels, mode='tensor'):
        if mode == 'loss':
            self.seen.append(self.distiller.distill_losses['loss_kd']
                             .loss_weight)
        return super().forward(inputs, labels, mode)


def hook_cfg(**kwargs):
    cfg = dict(type='LossWeightScheduleHook', loss_name='loss_kd',
               start_value=4.0, end_value=1.0, begin=2, end=6)
    cfg.update(kwargs)
    return cfg


def test_weights_per_iteration_and_after_resume(tmp_path):
    runner = build_toy_runner(tmp_path / 'a', max_iters=6, ckpt_interval=2,
                              model=KDToyModel(), custom_hooks=[hook_cfg()])
    runner.train()
    assert runner.model.seen == [4.0, 4.0, 4.0, 3.0, 2.0, 1.0]
    assert runner.message_hub.get_scalar(
        'train/kd_weight').current() == 1.0

    resumed = build_toy_runner(
        tmp_path / 'b', max_iters=6, ckpt_interval=2, model=KDToyModel(),
        custom_hooks=[hook_cfg()],
        load_from=str(tmp_path / 'a' / 'iter_4.pth'), resume=True)
    resumed.train()
    assert resumed.model.seen == [2.0, 1.0]


def test_misconfigurations_are_named(tmp_path):
    with pytest.raises(ValueError, match='exactly one'):
        LossWeightScheduleHook(4.0, 1.0, end=10)
    with pytest.raises(ValueError, match='begin < end'):
        LossWeightScheduleHook(4.0, 1.0, begin=5, end=5, loss_name='loss_kd')
    runner = build_toy_runner(tmp_path, max_iters=1, model=KDToyModel(),
                              custom_hooks=[hook_cfg(loss_name='loss_hint')])
    with pytest.raises(KeyError, match="no loss 'loss_hint'.*loss_kd"):
        runner.train()


def test_any_module_by_name(tmp_path):
    model = KDToyModel()
    runner = build_toy_runner(
        tmp_path, max_iters=3, model=model, custom_hooks=[
            hook_cfg(loss_name=None, module='distiller.distill_losses.loss_kd',
                     begin=0, end=3, start_value=0.0, end_value=1.0)
        ])
    runner.train()
    assert model.seen == [0.0, 0.5, 1.0]
    assert isinstance(model.distiller.distill_losses['loss_kd'].loss_weight,
                      float)
    torch.testing.assert_close(torch.tensor(model.seen[-1]),
                               torch.tensor(1.0))


def _weight_cfg(max_iters, by_epoch=False, **hook):
    return dict(
        train_cfg=dict(by_epoch=by_epoch, max_iters=max_iters,
                       max_epochs=3),
        custom_hooks=[hook_cfg(**hook)])


def test_check_config_refuses_a_window_past_the_end_of_training():
    from mmfsp.utils.config_check import parse_cfg_options
    check = LossWeightScheduleHook.check_config
    assert check(_weight_cfg(6), 'custom_hooks.0') == []  # end == max_iters
    assert check(_weight_cfg(10), 'custom_hooks.0') == []  # ends earlier
    assert check(_weight_cfg(4, by_epoch=True), 'custom_hooks.0') == []
    errors = check(_weight_cfg(4), 'custom_hooks.0')
    assert len(errors) == 1
    assert ('custom_hooks[0] (LossWeightScheduleHook) schedules the weight '
            'of loss_kd over iterations [2, 6), but training ends at 4 '
            '(train_cfg.max_iters). It would end training at 3, never '
            'reaching 1.') in errors[0]
    assert parse_cfg_options(errors[0]) == [{'custom_hooks.0.end': 4},
                                            {'train_cfg.max_iters': 6}]
    # a window that begins after the end: only training longer fixes it
    errors = check(_weight_cfg(2), 'custom_hooks.0')
    assert parse_cfg_options(errors[0]) == [{'train_cfg.max_iters': 6}]
