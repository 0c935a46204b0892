"""Evaluate the mean-softmax ensemble of several checkpoints of one config.

    python tools/test_ensemble.py CONFIG CKPT1 CKPT2 ... [--work-dir DIR]

The config's ``model`` (the student, for a distillation config) becomes the
member of an ``EnsembleClassifier`` with one member per checkpoint; its test
dataloader and evaluator are used as they are.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test the mean-softmax ensemble of several checkpoints')
    parser.add_argument('config', help='config of the members')
    parser.add_argument(
        'checkpoints', nargs='+', help='one checkpoint per member')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out', help='dump the predictions to this pickle file (.pkl)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> dict:
    args = parse_args()
    import mmfsp  # noqa: F401
    from mmfsp.models.classifiers import ensemble_model_cfg
    from mmfsp.utils import build_runner, setup_cpu_distributed
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.model = ensemble_model_cfg(
        cfg.model, args.checkpoints,
        cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor'))
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        name = osp.splitext(osp.basename(args.config))[0]
        cfg.work_dir = osp.join('./work_dirs', f'{name}_ensemble')
    cfg.load_from = None
    cfg.resume = False
    if cfg.get('test_dataloader') and \
            cfg.test_dataloader.get('num_workers', 0) == 0:
        cfg.test_dataloader['persistent_workers'] = False
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError('--out must be a .pkl file, got ' + args.out)
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(
            cfg.test_evaluator, dict) else list(cfg.test_evaluator)
        cfg.test_evaluator.append(
            dict(type='DumpResults', out_file_path=args.out))
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    metrics = runner.test()
    print(metrics)
    return metrics


if __name__ == '__main__':
    main()
