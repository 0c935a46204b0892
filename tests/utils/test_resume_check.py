"""What a resume is checked against (mmfsp.utils.resume_check); the tool
runs are in tests/tools/test_distill_resume.py and test_resume.py."""
import pytest
import torch
from mmengine.config import Config

from mmfsp.utils.resume_check import (ResumeError, check_resume,
                                      config_differences, read_config_text)

BASE = dict(
    model=dict(type='ImageClassifier', backbone=dict(depth=8)),
    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
    param_scheduler=[
        dict(type='MultiStepLR', by_epoch=False, begin=0, milestones=[2])
    ],
    train_cfg=dict(by_epoch=False, max_iters=8, val_interval=4),
    custom_hooks=[
        dict(type='DistillStageSwitchHook', switch_iter=4),
        dict(type='ProgressBarHook')
    ],
    train_dataloader=dict(
        batch_size=16, num_workers=2,
        dataset=dict(type='FashionMNIST', data_root='data/a',
                     pipeline=[dict(type='PackInputs')])),
    randomness=dict(seed=0),
    work_dir='w', log_level='INFO')


def _cfg(**changes) -> Config:
    cfg = Config(BASE)
    cfg.merge_from_dict(changes)
    return cfg


def _saved(cfg: Config) -> dict:
    """The checkpoint side, read back from the text mmengine writes."""
    return read_config_text(cfg.pretty_text)


def test_config_text_is_read_without_running_it(tmp_path):
    marker = tmp_path / 'ran'
    text = (f"x = __import__('os').system('touch {marker}')\n"
            "y = dict(a=1, b=[1, (2, 3)], c={'k-1': -2.5}, d=None)\n"
            "z = dict(**y)\n")
    values = read_config_text(text)
    assert not marker.exists()
    assert values['y'] == dict(a=1, b=[1, [2, 3]], c={'k-1': -2.5}, d=None)
    assert 'system' in values['x'] and isinstance(values['z'], str)


def test_the_same_config_has_no_differences():
    cfg = _cfg()
    assert config_differences(_saved(cfg), cfg) == []


@pytest.mark.parametrize('changes, expected', [
    (dict(randomness=dict(seed=1)),
     "randomness.seed: 0 in the checkpoint's config, now 1"),
    ({'param_scheduler.0.milestones': [3]},
     "param_scheduler[0].milestones[0]: 2 in the checkpoint's config, now 3"),
    ({'custom_hooks.0.switch_iter': 5},
     "custom_hooks[0].switch_iter: 4 in the checkpoint's config, now 5"),
    ({'model.backbone.depth': 14}, 'model.backbone.depth: 8 in'),
    ({'train_dataloader.dataset.pipeline': []},
     'train_dataloader.dataset.pipeline: ['),
    ({'train_cfg.by_epoch': True}, 'train_cfg.by_epoch: False in'),
    ({'model.neck': dict(type='GAP')},
     "model.neck: not set in the checkpoint's config, now {'type': 'GAP'}"),
])
def test_what_changes_the_result_is_listed(changes, expected):
    cfg = _cfg()
    differences = config_differences(_saved(cfg), _cfg(**changes))
    assert len(differences) == 1 and differences[0].startswith(expected), \
        differences


def test_an_unset_scheduler_end_is_the_run_length():
    """mmengine ends a scheduler without ``end`` at max_iters: a longer run
    is a different schedule then, and not otherwise."""
    cfg = _cfg()
    longer = _cfg(**{'train_cfg.max_iters': 10})
    assert config_differences(_saved(cfg), longer) == [
        "param_scheduler[0].end: 8 in the checkpoint's config, now 10"
    ]
    cfg = _cfg(**{'param_scheduler.0.end': 8})
    longer = _cfg(**{'param_scheduler.0.end': 8, 'train_cfg.max_iters': 10})
    assert config_differences(_saved(cfg), longer) == []


def test_what_does_not_change_the_result_is_not_compared():
    cfg = _cfg()
    other = _cfg(**{
        'work_dir': 'elsewhere', 'log_level': 'WARNING',
        'train_cfg.val_interval': 2, 'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': 'data/b',
        'model.backbone._scope_': 'mmfsp', 'optim_wrapper.optimizer.lr': 0.1,
    })
    other.custom_hooks = [BASE['custom_hooks'][0],
                          dict(type='mmfsp.PreemptionHook')]
    assert config_differences(_saved(cfg), other) == []
    # ints and floats of equal value are equal; bools are not numbers
    other = _cfg(**{'optim_wrapper.optimizer.momentum': 0.9,
                    'randomness.seed': 0.0})
    assert config_differences(_saved(cfg), other) == []
    other = _cfg(**{'randomness.seed': False})
    assert len(config_differences(_saved(cfg), other)) == 1


def _checkpoint(path, cfg=None):
    meta = {} if cfg is None else dict(cfg=cfg.pretty_text)
    torch.save(dict(meta=meta, state_dict={}), path)
    return path


def test_check_resume(tmp_path, capsys):
    work = tmp_path / 'work'
    cfg = _cfg(work_dir=str(work))
    assert check_resume(cfg, None) is None
    assert check_resume(cfg, 'auto') is None
    assert 'has no checkpoint' in capsys.readouterr().err
    assert check_resume(cfg, 'auto', quiet_if_empty=True) is None
    assert 'training starts from the beginning' in capsys.readouterr().err
    with pytest.raises(ResumeError, match='no such checkpoint'):
        check_resume(cfg, str(tmp_path / 'missing.pth'))
    work.mkdir()
    (work / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))
    with pytest.raises(ResumeError, match='which does not exist'):
        check_resume(cfg, 'auto')

    ckpt = _checkpoint(work / 'iter_4.pth', cfg)
    assert check_resume(cfg, 'auto') == str(ckpt)
    changed = _cfg(work_dir=str(work), randomness=dict(seed=3))
    with pytest.raises(ResumeError, match='randomness.seed: 0 in'):
        check_resume(changed, 'auto')
    capsys.readouterr()
    assert check_resume(changed, str(ckpt), force=True) == str(ckpt)
    assert '--force-resume' in capsys.readouterr().err

    _checkpoint(ckpt)  # no config in its meta
    assert check_resume(changed, 'auto') == str(ckpt)
    assert 'has no config in its meta' in capsys.readouterr().err
