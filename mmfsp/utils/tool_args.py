"""Command-line arguments of tools/test_ensemble.py and
tools/train_generations.py, spelled as mmpretrain's tools spell them, and
what they do to the config. (tools/train.py and tools/test.py define theirs
themselves, as mmpretrain's do.)

A tool adds its positional arguments, :func:`add_work_dir_arg`, its own
options, then :func:`add_launch_args` (the order of ``--help``), parses with
:func:`parse_tool_args`, loads the config with :func:`load_config`
(``merge_options=False``), applies :func:`apply_common_args` and its own
settings, merges ``--cfg-options`` last with :func:`merge_cfg_options` (they
win over every flag, as in mmpretrain's tools), then
:func:`apply_dataloader_args`. mmengine is imported only after the arguments
are parsed.
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def add_work_dir_arg(parser: argparse.ArgumentParser,
                     help: str = 'the dir to save logs and models') -> None:
    parser.add_argument('--work-dir', help=help)


def add_out_arg(parser: argparse.ArgumentParser) -> None:
    """``--out``: the test tools' prediction dump, see
    :func:`add_dump_results`."""
    parser.add_argument(
        '--out', help='dump the predictions to this pickle file (.pkl)')


def add_launch_args(
        parser: argparse.ArgumentParser,
        cfg_options_help: str = 'override settings of the config, key=value'
) -> None:
    """``--cfg-options`` (a dict once parsed by :func:`parse_tool_args`),
    ``--launcher`` and ``--local_rank``."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action='extend',
        metavar='KEY=VALUE',
        help=cfg_options_help)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser: argparse.ArgumentParser,
                    argv: Optional[Sequence[str]] = None
                    ) -> argparse.Namespace:
    """Parse; turn ``--cfg-options`` into a dict (mmengine's
    ``DictAction``, imported only now so that ``--help`` stays fast) and
    export ``--local_rank`` as ``LOCAL_RANK`` unless a launcher has set
    it."""
    args = parser.parse_args(argv)
    pairs = getattr(args, 'cfg_options', None)
    if pairs is not None:
        args.cfg_options = None
        bad = [p for p in pairs if '=' not in p]
        if bad:
            parser.error(f'--cfg-options takes KEY=VALUE pairs, got {bad}')
        from mmengine.config import DictAction
        DictAction(option_strings=[], dest='cfg_options')(parser, args, pairs)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(args: argparse.Namespace, merge_options: bool = True):
    """``args.config`` (an ``mmengine.Config``), with ``--cfg-options``
    merged in unless ``merge_options`` is False (then merge them last, with
    :func:`merge_cfg_options`, after the tool's own settings)."""
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if merge_options:
        merge_cfg_options(cfg, args.cfg_options)
    return cfg


def split_cfg_options(options: Optional[dict],
                      key: str) -> Tuple[dict, dict]:
    """``--cfg-options`` (a dict) split into those that set ``key`` or a
    part of it (``key``, ``key.x.y``) and the others."""
    inside, outside = {}, {}
    for name, value in (options or {}).items():
        part = inside if name == key or name.startswith(key + '.') else \
            outside
        part[name] = value
    return inside, outside


def merge_cfg_options(cfg, options: Optional[dict]):
    """Merge ``--cfg-options`` (a dict, or None) into ``cfg``; returns
    ``cfg``."""
    if options:
        cfg.merge_from_dict(options)
    return cfg


def default_work_dir(config: str, suffix: str = '') -> str:
    """``./work_dirs/<config name><suffix>``."""
    name = osp.splitext(osp.basename(config))[0]
    return osp.join('./work_dirs', f'{name}{suffix}')


def apply_common_args(cfg, args: argparse.Namespace,
                      work_dir_suffix: str = ''):
    """Set ``cfg.launcher`` and ``cfg.work_dir`` (``--work-dir``, else the
    config's, else :func:`default_work_dir`)."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(args.config, work_dir_suffix)
    return cfg


def apply_dataloader_args(cfg,
                          names: Sequence[str] = DATALOADERS,
                          pin_memory: bool = True,
                          persistent_workers: bool = True):
    """On the dataloaders ``names`` that the config has: turn pin_memory off
    unless ``pin_memory``, and persistent_workers off unless
    ``persistent_workers`` or when there are no workers (which PyTorch
    rejects)."""
    for name in names:
        loader = cfg.get(name)
        if not loader:
            continue
        if not pin_memory:
            loader['pin_memory'] = False
        if not persistent_workers or loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False
    return cfg


def add_dump_results(cfg, out: Optional[str]):
    """With ``--out``, add a ``DumpResults`` metric writing the predictions
    to ``out`` (a .pkl file) to the test evaluator."""
    if out is None:
        return cfg
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError('--out must be a .pkl file, got ' + out)
    cfg.test_evaluator = [cfg.test_evaluator] if isinstance(
        cfg.test_evaluator, dict) else list(cfg.test_evaluator)
    cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=out))
    return cfg
