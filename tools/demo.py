"""mmfsp's demo: FSP on real data on a CPU, in a few minutes.

Trains, on Fashion-MNIST, (1) a ResNet-26 teacher, (2) a ResNet-8 student with
FSP (stage 1: FSP loss against the teacher; stage 2: cross-entropy), and
(3) the same ResNet-8 trained alone for as many iterations as the FSP
student's stage 2, then prints their test accuracies side by side. The
configs are the shipped Fashion-MNIST ones (configs/resnet/resnet26_fashion_
mnist.py, configs/fsp/resnet26_resnet8_fashion_mnist.py, configs/resnet/
resnet8_fashion_mnist.py) with their schedules scaled down by one factor.

    python tools/demo.py [--teacher-iters 600] [--student-iters 600] \
        [--work-dir work_dirs/demo] [--seed 0]
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
import warnings

from mmengine.config import Config


def _runner_cfg(config: str, work_dir: str, iters: int, seed: int,
                label: str, subset: int = 0) -> Config:
    from mmfsp.utils import scale_schedule
    cfg = Config.fromfile(config)
    scale_schedule(cfg, iters)
    cfg.work_dir = work_dir
    cfg.experiment_name = f'demo_{label}_{int(time.time() * 1000)}'
    cfg.randomness = dict(seed=seed)
    cfg.log_level = 'WARNING'
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=iters,
        max_keep_ckpts=1)
    cfg.train_cfg.val_interval = iters
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='ProgressBarHook', description=label)
    ]
    if subset:
        cfg.train_dataloader.dataset.indices = subset
        cfg.val_dataloader.dataset.indices = subset
        cfg.test_dataloader.dataset.indices = subset
        for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[name].num_workers = 0
            cfg[name].persistent_workers = False
    return cfg


def _train_and_test(cfg: Config) -> float:
    from mmfsp.utils import build_runner, check_dataset_files
    check_dataset_files(cfg)
    runner = build_runner(cfg)
    runner.train()
    metrics = runner.test()
    return float(metrics['accuracy/top1'])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--teacher-iters', type=int, default=600)
    parser.add_argument('--student-iters', type=int, default=600,
                        help='stage-2 iterations of the FSP student, and the '
                        'iterations of the student trained alone; stage 1 '
                        'gets a third of this')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--subset', type=int, default=0,
                        help='use only this many images (smoke tests)')
    args = parser.parse_args()
    warnings.filterwarnings('ignore')
    import mmfsp  # noqa: F401

    root = args.work_dir
    results = []

    print(f'[1/3] ResNet-26 teacher, {args.teacher_iters} iterations')
    teacher_cfg = _runner_cfg('configs/resnet/resnet26_fashion_mnist.py',
                              osp.join(root, 'teacher'), args.teacher_iters,
                              args.seed, 'teacher ResNet-26', args.subset)
    acc = _train_and_test(teacher_cfg)
    teacher_ckpt = osp.join(root, 'teacher', f'iter_{args.teacher_iters}.pth')
    results.append(('teacher ResNet-26', f'{args.teacher_iters}', acc))

    stage1 = max(1, args.student_iters // 3)
    total = stage1 + args.student_iters
    print(f'[2/3] ResNet-8 FSP student: stage 1 {stage1} + stage 2 '
          f'{args.student_iters} iterations')
    fsp_cfg = _runner_cfg('configs/fsp/resnet26_resnet8_fashion_mnist.py',
                          osp.join(root, 'fsp_student'), total, args.seed,
                          'FSP student ResNet-8', args.subset)
    fsp_cfg.model.teacher_ckpt = teacher_ckpt
    acc = _train_and_test(fsp_cfg)
    results.append(('ResNet-8, FSP (stage 1 + stage 2)',
                    f'{stage1} + {args.student_iters}', acc))

    print(f'[3/3] ResNet-8 alone, {args.student_iters} iterations')
    alone_cfg = _runner_cfg('configs/resnet/resnet8_fashion_mnist.py',
                            osp.join(root, 'student_alone'),
                            args.student_iters, args.seed,
                            'ResNet-8 alone', args.subset)
    acc = _train_and_test(alone_cfg)
    results.append(('ResNet-8 alone', f'{args.student_iters}', acc))

    lines = ['| model | iterations | Fashion-MNIST test accuracy (%) |',
             '|---|---|---|']
    lines += [f'| {name} | {iters} | {acc:.2f} |'
              for name, iters, acc in results]
    table = '\n'.join(lines)
    print('\n' + table)
    os.makedirs(root, exist_ok=True)
    with open(osp.join(root, 'results.md'), 'w', encoding='utf-8') as f:
        f.write(table + '\n')
    with open(osp.join(root, 'results.json'), 'w', encoding='utf-8') as f:
        json.dump([dict(model=n, iterations=i, accuracy=a)
                   for n, i, a in results], f, indent=2)
    print(f'\nlogs, checkpoints and results in {root}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
