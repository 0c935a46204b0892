"""The tools' shared command-line arguments (mmfsp.utils.tool_args)."""
import argparse
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmfsp.utils.tool_args import (add_dump_results, add_launch_args,
                                   add_out_arg, add_work_dir_arg,
                                   apply_common_args, apply_dataloader_args,
                                   parse_tool_args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_work_dir_arg(parser)
    add_out_arg(parser)
    add_launch_args(parser)
    return parser


def test_parse_and_local_rank(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = parse_tool_args(_parser(), [
        'configs/x/my_cfg.py', '--local-rank', '3', '--launcher', 'pytorch',
        '--cfg-options', 'a.b=1', 'c=[1,2]'
    ])
    assert args.launcher == 'pytorch' and args.local_rank == 3
    assert args.cfg_options == {'a.b': 1, 'c': [1, 2]}
    assert os.environ['LOCAL_RANK'] == '3'
    # A launcher's LOCAL_RANK wins.
    monkeypatch.setenv('LOCAL_RANK', '1')
    parse_tool_args(_parser(), ['cfg.py', '--local_rank', '5'])
    assert os.environ['LOCAL_RANK'] == '1'
    with pytest.raises(SystemExit):
        parse_tool_args(_parser(), ['cfg.py', '--launcher', 'bogus'])


def test_work_dir_and_launcher():
    args = parse_tool_args(_parser(), ['configs/x/my_cfg.py'])
    cfg = apply_common_args(Config(dict()), args, work_dir_suffix='_ens')
    assert cfg.launcher == 'none'
    assert cfg.work_dir == osp.join('./work_dirs', 'my_cfg_ens')
    # The config's own work_dir stays, --work-dir wins over both.
    cfg = apply_common_args(Config(dict(work_dir='mine')), args)
    assert cfg.work_dir == 'mine'
    args = parse_tool_args(_parser(), ['my_cfg.py', '--work-dir', 'there'])
    assert apply_common_args(Config(dict(work_dir='mine')),
                             args).work_dir == 'there'


def test_dataloader_args():
    cfg = Config(
        dict(
            train_dataloader=dict(num_workers=2, persistent_workers=True),
            val_dataloader=None,
            test_dataloader=dict(num_workers=0, persistent_workers=True)))
    apply_dataloader_args(cfg)
    assert cfg.train_dataloader.persistent_workers is True
    assert 'pin_memory' not in cfg.train_dataloader
    assert cfg.test_dataloader.persistent_workers is False
    assert cfg.val_dataloader is None
    apply_dataloader_args(
        cfg, ('train_dataloader', ), pin_memory=False,
        persistent_workers=False)
    assert cfg.train_dataloader.pin_memory is False
    assert cfg.train_dataloader.persistent_workers is False


def test_dump_results():
    cfg = Config(dict(test_evaluator=dict(type='Accuracy')))
    assert add_dump_results(cfg, None).test_evaluator == dict(
        type='Accuracy')
    add_dump_results(cfg, 'preds.pkl')
    assert [e['type'] for e in cfg.test_evaluator] == [
        'Accuracy', 'DumpResults'
    ]
    assert cfg.test_evaluator[1]['out_file_path'] == 'preds.pkl'
    with pytest.raises(ValueError, match='.pkl'):
        add_dump_results(cfg, 'preds.json')
