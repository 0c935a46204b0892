"""mmfsp's demo: FSP distillation on real data on a CPU, in a few minutes.

On Fashion-MNIST, from the ResNet-26 teacher shipped in ``checkpoints/``
(1050 iterations on the first 50,000 training images; the command that
trained it is in checkpoints/README.md), the demo trains side by side, one
process per core:

- a ResNet-8 student with mmfsp's recommended FSP recipe (stage 1: FSP loss
  against the teacher, 350 iterations; stage 2: cross-entropy, 420), and
- the same ResNet-8 trained alone for the 420 iterations of stage 2,

then prints their accuracy on the 10,000 test images. The runs are the
seed-0 runs of the FSP ablation's setting ``r26_r8`` (docs/fsp.md) on the
reproduction's faster CPU path (training images in memory, channels_last;
same distribution of batches, another random stream), so the numbers are
close to, not equal to, the ablation's. ``--full`` trains the teacher too
and adds the paper's FSP recipe and Hinton KD, with the ablation's own data
path (about 20 minutes on 2 cores).

    python tools/demo.py [--full] [--seed 0] [--work-dir work_dirs/demo]
"""
import argparse
import os
import os.path as osp
import sys
import time
from dataclasses import replace

TOOLS = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(TOOLS)
TEACHER = osp.join(REPO, 'checkpoints', 'resnet26_fashion_mnist_1050it.pth')
LABELS = {
    'teacher': 'teacher ResNet-26',
    'recommended': 'ResNet-8, FSP (mmfsp recommended recipe)',
    'paper': 'ResNet-8, FSP (paper recipe)',
    'alone': 'ResNet-8 alone',
    'kd': 'ResNet-8, Hinton KD',
}


def run_all(runs, work_dir: str, workers: int) -> dict:
    """Train ``runs`` (dicts of tools/fsp_ablation.py) in ``workers``
    processes with one progress line (tools/reproduce/scheduler.py); a run
    waits for its teacher."""
    from fsp_ablation import plan_tasks
    from reproduce.scheduler import DagScheduler, Slot
    t0 = time.time()
    tasks = plan_tasks(runs, work_dir)
    if not any(r['kind'] == 'teacher' for r in runs):
        # the shipped teacher (run['teacher_ckpt']): nothing to wait for
        tasks = [replace(t, deps=()) for t in tasks]
    outcome = DagScheduler([Slot('cpu', 1)] * workers).run(tasks)
    if outcome.failed:
        raise SystemExit(f'failed: {sorted(outcome.failed)} (logs: '
                         f'{work_dir}/<run>/worker.log)')
    print(f'done in {time.time() - t0:.0f} s')
    return outcome.results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--full', action='store_true',
                        help='train the teacher too, and add the paper\'s '
                        'FSP recipe and Hinton KD')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--smoke', action='store_true',
                        help='a few iterations on a few images (tests)')
    args = parser.parse_args()
    sys.path.insert(0, TOOLS)
    from fsp_ablation import RECOMMENDED, build_plan, run_iterations

    arms = [RECOMMENDED, 'alone'] + (['paper', 'kd'] if args.full else [])
    plan = build_plan(['r26_r8'], ['x1'], arms, [args.seed], args.smoke)
    if not args.full and not args.smoke:
        if not osp.isfile(TEACHER):
            raise SystemExit(f'{TEACHER} is missing; run tools/demo.py '
                             f'--full to train the teacher.')
        # the final test accuracy only (the ablation also measures the
        # validation split and the start of stage 2)
        plan = [dict(r, teacher_ckpt=TEACHER, quick=True) for r in plan
                if r['kind'] == 'student']
    if not args.full:
        # the in-memory data path and channels_last (tools/reproduce/): the
        # quick demo's numbers are its own, not the ablation's seed-0 runs
        plan = [dict(r, fast=True) for r in plan]
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    print(f'Fashion-MNIST, CPU, {args.workers} processes x 1 thread: '
          + ', '.join(r['key'] for r in plan))
    results = run_all(plan, work_dir, args.workers)

    lines = ['| model | iterations | test accuracy (%) |', '|---|---|---|']
    for run in plan:
        res = results[run['key']]
        if run['kind'] == 'teacher':
            name, iters = LABELS['teacher'], str(run['teacher_iters'])
        else:
            arm = 'recommended' if run['arm'] == RECOMMENDED else run['arm']
            name = LABELS[arm]
            iters = (f'{run["stage1"]} + {run["stage2"]}'
                     if run['arm'] not in ('alone', 'kd') else
                     str(run_iterations(run)))
        acc = 'diverged' if res.get('diverged') else f'{res["test_acc"]:.2f}'
        lines.append(f'| {name} | {iters} | {acc} |')
    table = '\n'.join(lines)
    print('\n' + table)
    with open(osp.join(work_dir, 'results.md'), 'w', encoding='utf-8') as f:
        f.write(table + '\n')
    print(f'\nlogs and checkpoints in {work_dir}. To run the other README '
          f'commands, activate the environment first: . .venv/bin/activate')
    return 0


if __name__ == '__main__':
    sys.exit(main())
