"""Evaluate a checkpoint with an mmfsp or mmpretrain config.

mmpretrain's ``tools/test.py`` for the arguments mmfsp uses, merged into the
config the same way, ``--cfg-options`` last (it wins over every other flag).
What mmfsp adds is marked ``mmfsp:`` below:

* a missing test set stops the run before the Runner is built, saying
  where the files go (``mmfsp.utils.check_dataset_files``);
* a distillation checkpoint given to a plain classifier is refused with
  the command that takes the student out (``mmfsp.compat``, installed by
  ``import mmfsp``), instead of evaluating random weights;
* ``--launcher pytorch`` also runs on a machine without a GPU (gloo);
* the Runner is built by ``mmfsp.utils.build_runner`` (``mmpretrain::``
  bases moved into the ``mmfsp`` scope, one experiment name per run, the
  stack's known harmless warnings hidden: ``mmfsp/utils/quiet.py``);
* the metrics are printed.

Nothing but the standard library is imported before the arguments are
parsed, so ``--help`` answers at once.
"""
import argparse
import os
import os.path as osp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out', help='dump the predictions to this pickle file (.pkl)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action='extend',
        metavar='KEY=VALUE',
        help='override settings of the config, merged after every other '
        'flag; a list is key="[a,b]" or key=a,b (quotes needed, no white '
        'space)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (PyTorch >= 2.0)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must be a .pkl file, got {args.out}')

    # mmfsp: KEY=VALUE pairs become a dict (mmengine's DictAction) after
    # parsing, so that --help imports nothing
    pairs, args.cfg_options = args.cfg_options, None
    if pairs:
        bad = [p for p in pairs if '=' not in p]
        if bad:
            parser.error(f'--cfg-options takes KEY=VALUE pairs, got {bad}')
        from mmengine.config import DictAction
        DictAction(option_strings=[], dest='cfg_options')(parser, args, pairs)
    return args


def merge_args(cfg, args):
    """Merge the command line into the config, ``--cfg-options`` last."""
    cfg.launcher = args.launcher

    # work_dir: --work-dir, else the config's, else the config file's name
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    cfg.load_from = args.checkpoint
    cfg.resume = False

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # mmfsp: a dataloader without workers cannot keep them (PyTorch refuses
    # persistent_workers=True with num_workers=0)
    loader = cfg.get('test_dataloader')
    if loader and loader.get('num_workers', 0) == 0:
        loader['persistent_workers'] = False

    # mmfsp: --out adds a DumpResults metric to the test evaluator (after
    # --cfg-options, which may set test_evaluator.<key>)
    if args.out is not None:
        evaluators = cfg.test_evaluator
        cfg.test_evaluator = [evaluators] if isinstance(
            evaluators, dict) else list(evaluators)
        cfg.test_evaluator.append(
            dict(type='DumpResults', out_file_path=args.out))
    return cfg


def main():
    args = parse_args()

    # mmfsp: hide the stack's known harmless warnings before they are given
    from mmfsp.utils.quiet import hide_known_warnings
    hide_known_warnings()

    import mmfsp  # noqa: F401  mmfsp: registers its modules, stack fixes
    from mmengine.config import Config

    from mmfsp.utils import (build_runner, check_dataset_files,
                             setup_cpu_distributed)

    # load config
    cfg = Config.fromfile(args.config)

    # merge cli arguments to config
    cfg = merge_args(cfg, args)

    # mmfsp: a missing test set stops the run before the Runner is built
    check_dataset_files(cfg, ('test_dataloader', ))

    # mmfsp: --launcher pytorch on a machine without a GPU
    setup_cpu_distributed(cfg, args.launcher)

    # build the runner from config (runner_type: a registered runner)
    runner = build_runner(cfg)

    # start testing
    metrics = runner.test()
    print(metrics)
    return metrics


if __name__ == '__main__':
    main()
