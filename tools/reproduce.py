"""Reproduce the FSP and tolerant-teacher papers' claims on Fashion-MNIST:
(a) network minimisation, (b) fast optimisation, (c) shuffled-FSP
ensembles, (d) training in generations. Writes results.md, results.json,
figure3.png and generations.png into the work dir; finished runs are
skipped, so an interrupted reproduction resumes. Independent runs train in
parallel worker processes (one per core, one thread each; several per GPU),
each as soon as the runs it needs have finished. See docs/reproduction.md
and tools/reproduce/ for what each experiment trains.

    python tools/reproduce.py --preset small   # scaled down, CPU
    python tools/reproduce.py --preset full    # 2-3 seeds, 10k test images
    python tools/reproduce.py --preset smoke   # a few minutes (tests)
    python tools/reproduce.py --preset paper --plan   # the papers' schedules:
                                                      # runs, time estimate
    python tools/reproduce.py --preset generations    # (d) alone: 3 seeds, six
                                                      # settings, plateau check
    python tools/reproduce.py --preset generations-short  # its previous scale
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
                        help='default: the preset\'s (all four; (d) alone '
                        'for the generations preset)')
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
    parser.add_argument('--no-recommended', dest='recommended',
                        action='store_false', default=None,
                        help='(a), (b): leave out the FSP students of '
                        'mmfsp\'s recommended recipe (configs/fsp/fsp_*; '
                        'trained next to the paper\'s by default)')
    parser.add_argument('--workers', type=int,
                        help='worker processes, each training one run at a '
                        'time (default: one per CPU core, or '
                        '--runs-per-device per GPU); 0: every run in this '
                        'process, one after the other')
    parser.add_argument('--threads', type=int,
                        help='torch threads per worker (default: the cores '
                        'divided among the workers, 1 with one worker per '
                        'core); idle workers\' threads go to the runs left')
    parser.add_argument('--device', choices=['auto', 'cpu', 'cuda'],
                        default='auto',
                        help='auto: the GPUs when torch sees one')
    parser.add_argument('--runs-per-device', type=int,
                        help='runs sharing one GPU (default: chosen from '
                        'its memory and the CPU cores, at most 6)')
    parser.add_argument('--no-amp', dest='amp', action='store_false',
                        default=None,
                        help='fp32 on a GPU (AMP is on by default there, '
                        'never on the CPU)')
    parser.add_argument('--data-path', choices=['tensor', 'pipeline'],
                        help='training batches from in-memory tensors '
                        '(default) or the configs\' mmpretrain pipeline')
    parser.add_argument('--no-channels-last', dest='channels_last',
                        action='store_false',
                        help='keep convolutions in the default memory '
                        'format')
    parser.add_argument('--calibrate', action='store_true',
                        help='on a CPU, time a few training iterations '
                        'first (about half a minute) and scale the cost '
                        'model to this machine\'s speed (the estimates of '
                        '--plan and of the progress line; the shipped '
                        'costs are of another 2-core CPU)')
    parser.add_argument('--plan', action='store_true',
                        help='print the runs and a time estimate for this '
                        'machine, run nothing')
    args = parser.parse_args()
    for name, least in (('workers', 0), ('threads', 1),
                        ('runs_per_device', 1)):
        value = getattr(args, name)
        if value is not None and value < least:
            parser.error(f'--{name.replace("_", "-")} must be >= {least}, '
                         f'got {value}')
    warnings.filterwarnings('ignore')

    from reproduce.runs import run_reproduction
    command = 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
    try:
        run_reproduction(
            args.preset, args.work_dir, args.experiments, args.fitnet,
            args.teacher_ensemble, args.ensemble_student, args.norm_reset,
            command, args.plan, workers=args.workers, threads=args.threads,
            device=args.device, runs_per_device=args.runs_per_device,
            amp=args.amp, data_path=args.data_path,
            channels_last=args.channels_last, recommended=args.recommended,
            calibrate=args.calibrate)
    except KeyboardInterrupt:
        print('\ninterrupted: the finished runs are kept; the same command '
              'runs the others', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
