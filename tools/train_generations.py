"""Train a network in generations with a tolerant teacher (Yang et al.,
AAAI 2019; docs/generations.md).

    python tools/train_generations.py CONFIG [--generations N] [--work-dir DIR]
        [--launcher none|pytorch|slurm|mpi] [--cfg-options ...] [--resume]

Generation 0 (the patriarch) is trained on the labels, every later one learns
from the previous one; after each generation it is tested alone and as the
ensemble of generations 0..g, and ``summary.md`` / ``summary.json`` in the work
dir hold the table. The work is done by the ``generations`` package next to
this file (tools/generations/).
"""
import argparse
import os.path as osp
import sys

from mmfsp.utils.tool_args import (add_launch_args, add_work_dir_arg,
                                   load_config, parse_tool_args)

# tools/ is not a package: make tools/generations importable however this
# file is run (python tools/..., torchrun, runpy).
_TOOLS_DIR = osp.dirname(osp.abspath(__file__))
if _TOOLS_DIR not in sys.path:
    sys.path.insert(0, _TOOLS_DIR)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train a classifier in generations')
    parser.add_argument('config', help='generations config file path')
    parser.add_argument(
        '--generations',
        type=int,
        help='number of generations (overrides generations.num_generations)')
    add_work_dir_arg(
        parser,
        help='the dir of the run (gen_0, gen_1, ..., summary.md); default '
        'work_dirs/<config name>')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='continue the run in the work dir: finished generations are '
        'skipped, an unfinished one resumes from its last checkpoint')
    add_launch_args(
        parser,
        cfg_options_help='override settings of the config, key=value, e.g. '
        'generations.tsd_in=all train_cfg.max_iters=1000')
    return parse_tool_args(parser)


def main() -> dict:
    args = parse_args()
    import mmfsp  # noqa: F401  registers modules, installs safe loaders
    from generations import train_generations
    from mmfsp.utils import check_dataset_files
    from mmfsp.utils.config_check import check_config
    cfg = load_config(args)
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', name)
    # Missing data: say where to put it before anything is built.
    check_dataset_files(
        cfg, ('train_dataloader', 'val_dataloader', 'test_dataloader'))
    # Config errors every generation would share (stage switch, schedule).
    check_config(cfg)
    return train_generations(
        cfg,
        work_dir=work_dir,
        num_generations=args.generations,
        launcher=args.launcher,
        resume=args.resume,
        title=name)


if __name__ == '__main__':
    main()
