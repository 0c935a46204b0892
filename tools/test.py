"""Evaluate a checkpoint with an mmfsp / mmpretrain config."""
import argparse

from mmfsp.utils.tool_args import (add_dump_results, add_launch_args,
                                   add_out_arg, add_work_dir_arg,
                                   apply_common_args, apply_dataloader_args,
                                   load_config, parse_tool_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a classifier')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_work_dir_arg(parser, help='the dir to save logs and metrics')
    add_out_arg(parser)
    add_launch_args(parser)
    return parse_tool_args(parser)


def main() -> None:
    args = parse_args()
    import mmfsp  # noqa: F401
    from mmfsp.utils import (build_runner, check_dataset_files,
                             setup_cpu_distributed)
    cfg = load_config(args)
    apply_common_args(cfg, args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    apply_dataloader_args(cfg, ('test_dataloader', ))
    add_dump_results(cfg, args.out)
    check_dataset_files(cfg, ('test_dataloader', ))
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    metrics = runner.test()
    print(metrics)


if __name__ == '__main__':
    main()
