"""How close generation 0 of a generations setting is to its plateau at a
given scale, judged on a validation split (training images 50,000-59,999,
held out), not on the test set: the setting's generation 0 trained for
``--iters`` and for twice as many iterations on the first
``--train-images`` training images, both evaluated on the validation
images (docs/generations.md, "Converging generations: what it takes").
The reproduction's runner does the work (one process, one run after the
other; ``--threads`` torch threads).

    python tools/reproduce/plateau_probe.py --train-images 2000 \
        --iters 1000 [--setting 'D(1.0, 0.0)'] [--seed 0] \
        [--batch-size 32] [--schedule cosine] [--width 0.5] \
        [--work-dir work_dirs/plateau_probe/2000_1000] [--threads 1]

Prints and returns both accuracies and the gain from twice the iterations
(the reproduction's plateau check asks for less than half a point).
"""
import argparse
import os.path as osp
import sys
import warnings
from dataclasses import replace
from typing import Callable, Optional, Sequence

if __name__ == '__main__':
    # run as a script: tools/ on the path in place of this folder
    sys.path[0] = osp.dirname(osp.dirname(osp.abspath(__file__)))

from reproduce.presets import (ACC_KEY, ALL_GENERATION_SETTINGS,  # noqa
                               GENERATION_SCHEDULES, GENERATION_TAGS,
                               PRESETS)


def plateau_probe(train_images: int, iters: int,
                  setting: str = 'D(1.0, 0.0)', seed: int = 0,
                  work_dir: Optional[str] = None, threads: int = 1,
                  log: Callable[[str], None] = print,
                  base: str = 'generations', batch_size: int = 128,
                  schedule: str = 'step', width: float = 1.0) -> dict:
    """Validation accuracy of ``setting``'s generation 0 at ``iters`` and
    ``2 * iters`` iterations (``base``: the preset whose other settings
    are kept, but for the scale: ``train_images``, ``iters``,
    ``batch_size``, and ``schedule`` and ``width`` as a preset's
    ``generation_schedule`` and ``generation_width``)."""
    from reproduce.devices import detect_machine, plan_slots
    from reproduce.plan import PLATEAU
    from reproduce.runs import Reproduction
    name = (f'plateau_{GENERATION_TAGS[setting]}_{train_images}_{iters}'
            f'_b{batch_size}_{schedule}' + ('' if width == 1 else
                                            f'_w{width:g}'))
    preset = replace(
        PRESETS[base], name=name, train_images=train_images,
        generation_iters=iters, num_generations=1, batch_size=batch_size,
        generation_schedule=schedule, generation_width=width,
        seeds_generations=1, generation_settings=(setting, ),
        transfer_probe=False, plateau_seeds=0, evaluate_on='validation',
        experiments=('d', ))
    work_dir = work_dir or osp.join('work_dirs', 'plateau_probe', name)
    machine = detect_machine('cpu')
    repro = Reproduction(preset, work_dir, ('d', ), log=log,
                         machine=machine,
                         slots=plan_slots(machine, 1, threads),
                         inline=True)
    # generation 0 (the training seed asked for) and the same twice as long
    short = replace(repro.plan[0], seed=seed,
                    key=repro.plan[0].key.replace('_seed0', f'_seed{seed}'))
    long = replace(short, key=f'{short.key}_2x', stage2=2 * iters,
                   settings=(PLATEAU, ))
    repro.plan = [short, long]
    repro.execute()
    accs = [float(repro.results[s.key]['metrics'][ACC_KEY])
            for s in (short, long)]
    out = dict(setting=setting, train_images=train_images, iters=iters,
               batch_size=batch_size, schedule=schedule, width=width,
               seed=seed,
               val_acc=accs[0], val_acc_2x=accs[1], gain=accs[1] - accs[0])
    log(f'{setting}, generation 0, first {train_images} training images, '
        f'batch {batch_size}, {schedule} schedule, width x{width:g}: '
        f'validation {accs[0]:.2f} % at {iters} iterations, '
        f'{accs[1]:.2f} % at {2 * iters} ({out["gain"]:+.2f})')
    return out


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--train-images', type=int, required=True)
    parser.add_argument('--iters', type=int, required=True)
    parser.add_argument('--setting', default='D(1.0, 0.0)',
                        choices=ALL_GENERATION_SETTINGS)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--schedule', default='step',
                        choices=GENERATION_SCHEDULES,
                        help='learning-rate schedule of each generation')
    parser.add_argument('--width', type=float, default=1.0,
                        help='width multiplier of the ResNet-8 (0.5: 8/16/32 '
                        'channels)')
    parser.add_argument('--work-dir')
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    warnings.filterwarnings('ignore')
    return plateau_probe(args.train_images, args.iters, args.setting,
                         args.seed, args.work_dir, args.threads,
                         batch_size=args.batch_size, schedule=args.schedule,
                         width=args.width)


if __name__ == '__main__':
    main()
