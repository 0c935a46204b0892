"""Train a network in generations with a tolerant teacher (Yang et al.,
AAAI 2019; docs/generations.md).

    python tools/train_generations.py CONFIG [--generations N] [--work-dir DIR]
        [--launcher none|pytorch|slurm|mpi] [--cfg-options ...]
        [--resume | --auto-resume] [--force-resume]

Generation 0 (the patriarch) is trained on the labels, every later one learns
from the previous one; after each generation it is tested alone and as the
ensemble of generations 0..g, and ``summary.md`` / ``summary.json`` in the work
dir hold the table. The work is done by the ``generations`` package next to
this file (tools/generations/).

``--cfg-options`` are merged last: they win over ``--work-dir`` and
``--generations``, as in tools/train.py. SIGTERM / SIGUSR1 stop the
generation in training after a checkpoint, and the tool exits with status
75 so that a slurm job is requeued (``PreemptionHook``); the same command
with ``--auto-resume`` then goes on where it stopped.
"""
import argparse
import os.path as osp
import sys

from mmfsp.utils.tool_args import (add_launch_args, add_work_dir_arg,
                                   load_config, merge_cfg_options,
                                   parse_tool_args)

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
    parser.add_argument(
        '--auto-resume',
        action='store_true',
        help='--resume when the work dir holds a run, else start one (for a '
        'job that is requeued with the same command line)')
    parser.add_argument(
        '--force-resume',
        action='store_true',
        help='resume a generation even when the config differs from its '
        'checkpoint\'s in what decides the result')
    add_launch_args(
        parser,
        cfg_options_help='override settings of the config, key=value, e.g. '
        'generations.tsd_in=all train_cfg.max_iters=1000')
    return parse_tool_args(parser)


def merge_args(cfg, args: argparse.Namespace):
    """The command line into the config: ``--work-dir`` and
    ``--generations``, then ``--cfg-options`` last (they win)."""
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    if args.generations is not None and isinstance(
            cfg.get('generations'), dict):
        cfg.generations.num_generations = args.generations
    merge_cfg_options(cfg, args.cfg_options)
    if cfg.get('work_dir') is None:
        name = osp.splitext(osp.basename(args.config))[0]
        cfg.work_dir = osp.join('./work_dirs', name)
    return cfg


def main() -> dict:
    args = parse_args()
    import mmfsp  # noqa: F401  registers modules, installs safe loaders
    from generations import train_generations
    from mmfsp.engine.hooks.preemption_hook import (
        TrainingPreempted, clear_stop_request, ignore_signals_until_exit,
        install_signal_handlers, uninstall_signal_handlers)
    from mmfsp.utils import check_dataset_files
    from mmfsp.utils.config_check import check_config
    from mmfsp.utils.launch import add_preemption_hook
    from mmfsp.utils.resume_check import ResumeError
    cfg = merge_args(load_config(args, merge_options=False), args)
    # Missing data: say where to put it before anything is built.
    check_dataset_files(
        cfg, ('train_dataloader', 'val_dataloader', 'test_dataloader'))
    # Config errors every generation would share (stage switch, schedule).
    check_config(cfg)
    # SIGTERM / SIGUSR1 stop training after a checkpoint (every
    # generation's config gets the hook); handlers before anything forks.
    install_signal_handlers(add_preemption_hook(cfg))
    clear_stop_request()
    try:
        summary = train_generations(
            cfg,
            work_dir=cfg.work_dir,
            num_generations=args.generations if not isinstance(
                cfg.get('generations'), dict) else None,
            launcher=args.launcher,
            resume='auto' if args.auto_resume else args.resume,
            force_resume=args.force_resume,
            title=osp.splitext(osp.basename(args.config))[0])
    except TrainingPreempted as stop:
        ignore_signals_until_exit()  # see tools/train.py
        print(f'{stop} Exit status {stop.exit_code} (requeue); run the same '
              f'command with --auto-resume (or --resume) to continue.',
              file=sys.stderr)
        sys.exit(stop.exit_code)
    except BaseException as error:
        uninstall_signal_handlers()
        if isinstance(error, ResumeError):
            sys.exit(str(error))
        raise
    uninstall_signal_handlers()
    return summary


if __name__ == '__main__':
    main()
