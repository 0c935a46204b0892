from mmengine.config import Config

from mmfsp.utils import scale_schedule


def test_fsp_schedule_keeps_its_shape():
    cfg = Config.fromfile('configs/fsp/resnet26_cifar10.py')
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
    cfg = Config.fromfile('configs/resnet/resnet26_cifar10.py')
    scale_schedule(cfg, 640)
    assert cfg.param_scheduler.milestones == [320, 480]
    assert cfg.train_cfg.val_interval == 40
    assert cfg.default_hooks.checkpoint.interval == 40
