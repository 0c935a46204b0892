"""Train a model from an mmfsp / mmpretrain config (mmpretrain's arguments)."""
import argparse

from mmengine.config import Config

from mmfsp.utils.tool_args import (add_launch_args, add_work_dir_arg,
                                   apply_common_args, apply_dataloader_args,
                                   load_config, parse_tool_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a classifier')
    parser.add_argument('config', help='train config file path')
    add_work_dir_arg(parser)
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate with the total batch size')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='do not pin memory in the dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='do not keep dataloader workers alive between epochs')
    add_launch_args(
        parser,
        cfg_options_help='override settings of the config, key=value, e.g. '
        'train_cfg.max_iters=100 model.backbone.depth=8')
    return parse_tool_args(parser)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to the config, as mmpretrain's train.py."""
    apply_common_args(cfg, args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    return apply_dataloader_args(
        cfg,
        pin_memory=not args.no_pin_memory,
        persistent_workers=not args.no_persistent_workers)


def main() -> None:
    args = parse_args()
    import mmfsp  # noqa: F401  registers modules, installs safe loaders
    from mmfsp.utils import (build_runner, check_dataset_files,
                             setup_cpu_distributed)
    from mmfsp.utils.config_check import check_config
    cfg = merge_args(load_config(args), args)
    # Missing data: say where to put it before anything is built.
    check_dataset_files(cfg, ('train_dataloader', 'val_dataloader'))
    # Config errors (stage switch after the end, stage-2 lr schedule off the
    # switch, teacher / student classes, cache with random transforms).
    check_config(cfg)
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
