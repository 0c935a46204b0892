"""Speed of FSP stage 1 (with and without the teacher-FSP cache), KD and
generation training relative to plain training, on this machine's CPU or
GPU (AMP on GPU). See mmfsp/analysis/speed_benchmark.py for the method.

    python tools/benchmark_speed.py [--settings resnet26->resnet26 ...] \
        [--batch-size 128] [--rounds 5] [--iters 5] [--out bench.json]
"""
import argparse
import json
import sys
import warnings


def main() -> int:
    from mmfsp.analysis.speed_benchmark import SETTINGS
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--settings', nargs='+', default=list(SETTINGS),
                        choices=list(SETTINGS))
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--num-batches', type=int, default=4)
    parser.add_argument('--device', default=None, help='cpu or cuda')
    parser.add_argument('--no-amp', action='store_true',
                        help='on GPU, time in float32 instead of AMP')
    parser.add_argument('--out', help='also write the results as JSON')
    args = parser.parse_args()
    warnings.filterwarnings('ignore')
    from mmengine.registry import init_default_scope

    import mmfsp  # noqa: F401
    from mmfsp.analysis.speed_benchmark import (benchmark_setting,
                                                hardware_description,
                                                results_markdown)
    init_default_scope('mmfsp')
    amp = False if args.no_amp else None
    results = [
        benchmark_setting(s, args.batch_size, args.rounds, args.iters,
                          args.num_batches, args.device, amp)
        for s in args.settings
    ]
    hardware = hardware_description(args.device)
    print(results_markdown(results, hardware))
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(dict(hardware=hardware, results=results), f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
