"""Train a model with an mmfsp or mmpretrain config.

mmpretrain's ``tools/train.py``: the same arguments, merged into the config
the same way, ``--cfg-options`` last (it wins over every other flag). What
mmfsp adds is marked ``mmfsp:`` below:

* ``--check`` checks the config and builds the model, then exits (0: no
  error found) without building a Runner or training;
* missing dataset files and config errors stop the run before the Runner
  is built, with what to change (``mmfsp.utils.check_dataset_files``, and
  ``mmfsp.utils.check_config``, which asks the config's hooks and models);
* ``--launcher pytorch`` also runs on a machine without a GPU (gloo);
* SIGTERM / SIGUSR1 (slurm's preemption and time-limit warnings) stop the
  run at the end of the iteration, after a checkpoint, with exit status 75
  (``PreemptionHook``); ``--auto-resume`` continues from the work dir's
  latest checkpoint when there is one, so a requeued job reruns the same
  command (``tools/slurm_train.sh``);
* ``--resume`` with nothing to resume from says so, a checkpoint that does
  not exist is refused, and so is a config that would train differently
  from the checkpoint's run, listing the differences (``--force-resume``
  resumes anyway; ``mmfsp.utils.resume_check``);
* the Runner is built by ``mmfsp.utils.build_runner``: dicts inherited from
  ``mmpretrain::`` bases are moved into the ``mmfsp`` scope, every run gets
  its own experiment name, and the stack's known harmless warnings are
  hidden (``mmfsp/utils/quiet.py``).

Nothing but the standard library is imported before the arguments are
parsed, so ``--help`` answers at once.
"""
import argparse
import os
import os.path as osp
import sys

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given; refused when the checkpoint '
        'does not exist or its config differs in what decides the result '
        '(see --force-resume)')
    # mmfsp: --auto-resume, --force-resume
    parser.add_argument(
        '--auto-resume',
        action='store_true',
        help='resume from the latest checkpoint in the work dir when there '
        'is one, else start from the beginning (for a job that is requeued '
        'with the same command line, e.g. after a preemption)')
    parser.add_argument(
        '--force-resume',
        action='store_true',
        help='resume even when the config differs from the checkpoint\'s '
        'in what decides the result (model, schedule, stage layout, data, '
        'seed); without it such a resume is refused')
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
        help='disable pin_memory in the dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent_workers in the dataloaders')
    # mmfsp: --check
    parser.add_argument(
        '--check',
        action='store_true',
        help='check the config (dataset files, schedule, teacher and '
        'student, cache pipeline) and build the model (layer names, paired '
        'shapes, teacher checkpoint), then exit without training: exit '
        'status 0 when no error is found')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action='extend',
        metavar='KEY=VALUE',
        help='override settings of the config, merged after every other '
        'flag, e.g. train_cfg.max_iters=100 model.backbone.depth=8; a list '
        'is key="[a,b]" or key=a,b (quotes needed, no white space)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (PyTorch >= 2.0)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.auto_resume:
        if args.resume not in (None, 'auto'):
            parser.error('--auto-resume resumes from the work dir\'s latest '
                         'checkpoint; it cannot be combined with --resume '
                         'PATH')
        args.resume = 'auto'
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)

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
    """Merge the command line into the config, ``--cfg-options`` last (only
    ``--no-validate`` removes the validation parts after it, so that options
    shared with validating runs, e.g. ``val_dataloader.num_workers=0``,
    still merge)."""
    cfg.launcher = args.launcher

    # work_dir: --work-dir, else the config's, else the config file's name
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    # mmfsp: the config's pin_memory / persistent_workers are kept unless a
    # flag turns them off (mmpretrain's tool turns both on by default)
    for name in DATALOADERS:
        loader = cfg.get(name)
        if not loader:
            continue
        if args.no_pin_memory:
            loader['pin_memory'] = False
        if args.no_persistent_workers:
            loader['persistent_workers'] = False

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # mmfsp: stage lengths in one edit (``stage_iters``): the schedule is
    # rescaled to them before anything is checked or built
    from mmfsp.utils.stage_iters import StageItersError, apply_stage_iters
    try:
        message = apply_stage_iters(cfg)
    except StageItersError as error:
        sys.exit(f'{args.config}: {error}')
    if message:
        print(f'{args.config}: {message}')

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    # mmfsp: a dataloader without workers cannot keep them (PyTorch refuses
    # persistent_workers=True with num_workers=0), also after --cfg-options
    # train_dataloader.num_workers=0
    for name in DATALOADERS:
        loader = cfg.get(name)
        if loader and loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False
    return cfg


def check(cfg, resume=None, force_resume=False, auto_resume=False) -> None:
    """mmfsp: ``--check``: the checks of a training run, then the model
    built as the Runner would build it (unknown layer names, paired layers
    of other shapes, a teacher checkpoint that does not fit)."""
    from mmengine.registry import DefaultScope

    from mmfsp.registry import MODELS
    from mmfsp.utils import check_config, check_dataset_files, rescope_config
    from mmfsp.utils.resume_check import check_resume
    check_dataset_files(cfg, ('train_dataloader', 'val_dataloader'))
    check_config(cfg)
    check_resume(
        cfg, resume, force=force_resume, quiet_if_empty=auto_resume)
    if cfg.get('default_scope') == 'mmfsp':
        rescope_config(cfg._cfg_dict)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        MODELS.build(cfg.model)


def preemption_hook(runner):
    """mmfsp: the run's ``PreemptionHook``, or None."""
    from mmfsp.engine.hooks import PreemptionHook
    return next(
        (h for h in runner.hooks if isinstance(h, PreemptionHook)), None)


def main():
    args = parse_args()

    # mmfsp: hide the stack's known harmless warnings before they are given
    from mmfsp.utils.quiet import hide_known_warnings
    hide_known_warnings()

    import mmfsp  # noqa: F401  mmfsp: registers its modules, stack fixes
    from mmengine.config import Config

    from mmfsp.engine.hooks.preemption_hook import (
        clear_stop_request, ignore_signals_until_exit,
        install_signal_handlers, uninstall_signal_handlers)
    from mmfsp.utils import (build_runner, check_config, check_dataset_files,
                             setup_cpu_distributed)
    from mmfsp.utils.launch import add_preemption_hook
    from mmfsp.utils.resume_check import ResumeError, check_resume

    # load config
    cfg = Config.fromfile(args.config)

    # merge cli arguments to config
    cfg = merge_args(cfg, args)

    # mmfsp: what is wrong in the config stops the run here, before the
    # Runner prints its environment and builds anything
    if args.check:
        try:
            check(cfg, args.resume, args.force_resume, args.auto_resume)
        except Exception as error:  # the message says what to change
            sys.exit(f'{args.config}: {type(error).__name__}: {error}')
        print(f'{args.config}: no error found')
        return
    check_dataset_files(cfg, ('train_dataloader', 'val_dataloader'))
    check_config(cfg)
    # mmfsp: nothing to resume from is said, a missing checkpoint or a
    # config that would train differently is refused
    try:
        checkpoint = check_resume(
            cfg,
            args.resume,
            force=args.force_resume,
            quiet_if_empty=args.auto_resume)
    except ResumeError as error:
        sys.exit(str(error))
    if args.resume is not None and checkpoint is None:
        cfg.resume = False  # a fresh start, said above

    # mmfsp: SIGTERM / SIGUSR1 stop the run after a checkpoint; the
    # handlers are installed before anything forks (dataloader workers)
    signals = add_preemption_hook(cfg)
    install_signal_handlers(signals)
    clear_stop_request()
    try:
        # mmfsp: --launcher pytorch on a machine without a GPU
        setup_cpu_distributed(cfg, args.launcher)

        # build the runner from config (runner_type: a registered runner)
        runner = build_runner(cfg)

        # start training
        runner.train()
    except BaseException:
        uninstall_signal_handlers()
        raise

    # mmfsp: stopped by a signal: exit so that the job is requeued (the
    # signals are ignored from now on: the SIGTERM with which srun or
    # torchrun ends the other tasks, once one has exited, must not change
    # their exit status)
    hook = preemption_hook(runner)
    if hook is not None and hook.preempted:
        ignore_signals_until_exit()
        print(f'Training stopped by a signal and saved to {hook.checkpoint}; '
              f'exit status {hook.exit_code} (requeue). Run the same '
              f'command with --auto-resume (or --resume) to continue.',
              file=sys.stderr)
        sys.exit(hook.exit_code)
    uninstall_signal_handlers()


if __name__ == '__main__':
    main()
