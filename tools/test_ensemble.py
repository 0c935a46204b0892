"""Evaluate the mean-softmax ensemble of several checkpoints of one config.

    python tools/test_ensemble.py CONFIG CKPT1 CKPT2 ... [--work-dir DIR]

The config's ``model`` (the student, for a distillation config) becomes the
member of an ``EnsembleClassifier`` with one member per checkpoint; its test
dataloader and evaluator are used as they are
(``mmfsp.models.classifiers.ensemble_test_config``).
"""
import argparse

from mmfsp.utils.tool_args import (add_dump_results, add_launch_args,
                                   add_out_arg, add_work_dir_arg,
                                   apply_common_args, apply_dataloader_args,
                                   load_config, parse_tool_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test the mean-softmax ensemble of several checkpoints')
    parser.add_argument('config', help='config of the members')
    parser.add_argument(
        'checkpoints', nargs='+', help='one checkpoint per member')
    add_work_dir_arg(parser, help='the dir to save logs and metrics')
    add_out_arg(parser)
    add_launch_args(parser)
    return parse_tool_args(parser)


def main() -> dict:
    args = parse_args()
    import mmfsp  # noqa: F401
    from mmfsp.models.classifiers import ensemble_test_config
    from mmfsp.utils import build_runner, setup_cpu_distributed
    cfg = ensemble_test_config(load_config(args), args.checkpoints)
    apply_common_args(cfg, args, work_dir_suffix='_ensemble')
    apply_dataloader_args(cfg, ('test_dataloader', ))
    add_dump_results(cfg, args.out)
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    metrics = runner.test()
    print(metrics)
    return metrics


if __name__ == '__main__':
    main()
