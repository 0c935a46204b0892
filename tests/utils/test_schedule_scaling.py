from mmengine.config import Config

from mmfsp.utils import scale_schedule


def test_fsp_schedule_keeps_its_shape():
    cfg = Config.fromfile(
        'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_cifar10.py')
    old_max = cfg.train_cfg.max_iters
    switch = [h for h in cfg.custom_hooks
              if h.type == 'DistillStageSwitchHook'][0].switch_iter
    scale_schedule(cfg, old_max // 100)
    assert cfg.train_cfg.max_iters == old_max // 100
    new_switch = [h for h in cfg.custom_hooks
                  if h.type == 'DistillStageSwitchHook'][0].switch_iter
    assert new_switch == round(switch / 100)
    stage2 = cfg.param_scheduler[-1]
    assert stage2.begin == new_switch
    assert stage2.milestones == [110, 160]
    assert cfg.default_hooks.logger.interval == 100  # logging not scaled


def test_plain_schedule():
    cfg = Config.fromfile('configs/resnet/resnet26_1xb128_cifar10.py')
    scale_schedule(cfg, 640)
    assert cfg.param_scheduler.milestones == [320, 480]
    assert cfg.train_cfg.val_interval == 40
    assert cfg.default_hooks.checkpoint.interval == 40


def test_two_stage_schedule_exact_stage_lengths():
    from mmfsp.utils.schedule_scaling import (scale_two_stage_schedule,
                                              stage_lengths)
    cfg = Config.fromfile(
        'configs/fitnet/fitnet_resnet26_resnet8_1xb128_fashion-mnist_1loss.py')
    assert stage_lengths(cfg) == (1650, 3000)
    scale_two_stage_schedule(cfg, 83, 150)
    assert stage_lengths(cfg) == (83, 150)
    stage1, stage2 = cfg.param_scheduler
    assert (stage1.begin, stage1.end, stage1.milestones) == (0, 83, [60])
    # stage-2 milestones count from its begin: 1500, 2250 of 3000 -> 75, 112
    assert (stage2.begin, stage2.end, stage2.milestones) == (83, 233,
                                                             [75, 112])
    weight = [h for h in cfg.custom_hooks
              if h.type == 'LossWeightScheduleHook'][0]
    assert (weight.begin, weight.end) == (83, 233)


def test_two_stage_schedule_needs_a_switch_hook():
    import pytest

    from mmfsp.utils.schedule_scaling import scale_two_stage_schedule
    cfg = Config.fromfile('configs/resnet/resnet8_1xb128_fashion-mnist.py')
    with pytest.raises(ValueError, match='DistillStageSwitchHook'):
        scale_two_stage_schedule(cfg, 10, 10)
