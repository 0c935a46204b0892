"""Evaluate the mean-softmax ensemble of several checkpoints of one config.

    python tools/test_ensemble.py CONFIG CKPT1 CKPT2 ... [--work-dir DIR]

The config's ``model`` (the student, for a distillation config) becomes the
member of an ``EnsembleClassifier`` with one member per checkpoint; its test
dataloader and evaluator are used as they are
(``mmfsp.models.classifiers.ensemble_test_config``).

``--cfg-options`` win over every flag (merged last, as in tools/train.py);
those under ``model`` describe the members and are merged into the config's
model before the ensemble is built from it.
"""
import argparse

from mmfsp.utils.tool_args import (add_dump_results, add_launch_args,
                                   add_out_arg, add_work_dir_arg,
                                   apply_common_args, apply_dataloader_args,
                                   load_config, merge_cfg_options,
                                   parse_tool_args, split_cfg_options)


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


def ensemble_config(args: argparse.Namespace):
    """The test config of the ensemble, ``--cfg-options`` merged last
    (those under ``model`` into the members' model, before the ensemble is
    built from it)."""
    from mmfsp.models.classifiers import ensemble_test_config
    member_options, options = split_cfg_options(args.cfg_options, 'model')
    cfg = merge_cfg_options(load_config(args, merge_options=False),
                            member_options)
    cfg = ensemble_test_config(cfg, args.checkpoints)
    apply_common_args(cfg, args, work_dir_suffix='_ensemble')
    add_dump_results(cfg, args.out)
    merge_cfg_options(cfg, options)  # last: they win over every flag
    apply_dataloader_args(cfg, ('test_dataloader', ))
    return cfg


def main() -> dict:
    args = parse_args()
    import mmfsp  # noqa: F401
    from mmfsp.utils import build_runner, setup_cpu_distributed
    cfg = ensemble_config(args)
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    metrics = runner.test()
    print(metrics)
    return metrics


if __name__ == '__main__':
    main()
