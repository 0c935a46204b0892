"""Reproduce the FSP and tolerant-teacher papers' claims, scaled down, on
Fashion-MNIST on a CPU: (a) network minimisation, (b) fast optimisation,
(c) shuffled-FSP ensembles, (d) training in generations. Writes results.md,
results.json, figure3.png and generations.png into the work dir; finished
runs are skipped, so an interrupted reproduction resumes. See
docs/reproduction.md and tools/reproduce/ for what each experiment trains.

    python tools/reproduce.py --preset small   # < ~15 min on 2 idle cores
    python tools/reproduce.py --preset full    # < ~90 min, 2-3 seeds, 10k test
    python tools/reproduce.py --preset smoke   # a few minutes (tests)
    python tools/reproduce.py --preset full --plan   # runs and time estimate
"""
import argparse
import os.path as osp
import shlex
import sys
import warnings

# the reproduce/ and analysis_tools/ packages next to this file (already on
# the path when run as a script; not when run with runpy)
TOOLS_DIR = osp.dirname(osp.abspath(__file__))
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

from reproduce.presets import EXPERIMENTS, FITNET_R8_CFG, PRESETS  # noqa


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--preset', choices=sorted(PRESETS), default='small')
    parser.add_argument('--work-dir',
                        help='default: work_dirs/reproduce_<preset>')
    parser.add_argument('--experiments', nargs='+', choices=EXPERIMENTS,
                        default=list(EXPERIMENTS))
    parser.add_argument('--fitnet', nargs='+', choices=sorted(FITNET_R8_CFG),
                        help='FitNet variants of (a) (default: 1loss)')
    parser.add_argument('--teacher-ensemble', action='store_true',
                        default=None,
                        help='(c): also train teachers of seeds 1, 2 and '
                        'test the ensemble of three teachers')
    parser.add_argument('--ensemble-student', choices=['resnet8', 'resnet26'],
                        help='(c) students (default: the preset\'s, '
                        'resnet8; the paper used resnet26)')
    parser.add_argument('--norm-reset', action='store_true', default=None,
                        help='(a), (b): also train the FSP students with '
                        'their conv weight norms reset at the switch '
                        '(configs/fsp/*_rescaled.py; ~15 more minutes in '
                        'the full preset)')
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: torch\'s, one per '
                        'core); 1 is faster when other jobs share the cores')
    parser.add_argument('--plan', action='store_true',
                        help='print the runs and a time estimate, run '
                        'nothing')
    args = parser.parse_args()
    warnings.filterwarnings('ignore')
    import torch

    from reproduce.runs import run_reproduction
    if args.threads:
        torch.set_num_threads(args.threads)
    command = 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
    run_reproduction(args.preset, args.work_dir, args.experiments,
                     args.fitnet, args.teacher_ensemble,
                     args.ensemble_student, args.norm_reset, command,
                     args.plan)
    return 0


if __name__ == '__main__':
    sys.exit(main())
