"""Where a reproduction training iteration spends its time on this
machine, before and after the reproduction's speed-ups (docs/reproduction.md,
"Speed"): in one process, on one thread by default, the configs' data path
(mmpretrain dataset, per-image transforms, ``pseudo_collate``) against the
in-memory batches of :mod:`.fastdata`, and the default memory format
against channels_last, in interleaved rounds (a busy machine slows all
variants alike; compare the ratios, not the absolute times).

    python tools/reproduce/speed_probe.py [--archs resnet8 resnet26 fsp_r26_r8]
        [--iters 10] [--rounds 5] [--threads 1] [--out probe.json]

Variants per architecture (the ResNet-8 and ResNet-26 Fashion-MNIST
configs at batch 128, and FSP stage 1 of ResNet-26 -> ResNet-8 with the
shipped teacher checkpoint): ``before`` = pipeline data + default format (the
one-process runner's path), ``channels_last`` = pipeline data +
channels_last, ``tensor_data`` = in-memory data + default format,
``after`` = in-memory data + channels_last (the reproduction's default).
Each iteration is the batch's loading plus ``model.train_step``; ``data``
is the loading alone.
"""
import argparse
import copy
import json
import os.path as osp
import statistics
import sys
import tempfile
import time
import warnings
from typing import Callable, Dict, List, Sequence

if __name__ == '__main__':
    # run as a script: tools/ on the path in place of this folder (whose
    # markdown.py would hide the markdown package)
    sys.path[0] = osp.dirname(osp.dirname(osp.abspath(__file__)))

CONFIGS = {'resnet8': 'configs/resnet/resnet8_1xb128_fashion-mnist.py',
           'resnet26': 'configs/resnet/resnet26_1xb128_fashion-mnist.py',
           'fsp_r26_r8': 'configs/fsp/'
           'fsp-paper_resnet26_resnet8_1xb128_fashion-mnist.py'}
#: the teacher of the FSP probe (its stage 1: teacher forward, student
#: forward and backward, FSP matrices)
TEACHER = 'checkpoints/resnet26_fashion_mnist_1050it.pth'
VARIANTS = ('before', 'channels_last', 'tensor_data', 'after')


def _loaders(cfg, runner):
    """The configs' train dataloader (as the one-process runner built it:
    ``DefaultSampler``) and the in-memory one."""
    from reproduce.fastdata import tensor_train_loader
    old = copy.deepcopy(cfg.train_dataloader)
    old['sampler'] = dict(type='DefaultSampler', shuffle=True)
    pipeline = runner.build_dataloader(old, seed=0)
    return pipeline, tensor_train_loader(cfg)


def _endless(loader):
    while True:
        yield from loader


def probe(arch: str, iters: int, rounds: int,
          variants: Sequence[str] = VARIANTS) -> Dict[str, dict]:
    """Median seconds per iteration (and of its data loading) of each
    of ``variants`` of ``arch`` (relative to ``before`` when it is one of
    them)."""
    import torch
    from mmengine.optim import build_optim_wrapper

    from mmfsp.utils import build_runner
    from reproduce.configs import train_config
    from reproduce.plan import RunSpec
    from reproduce.presets import PRESETS
    from reproduce.presets import REPO_ROOT
    if arch.startswith('fsp'):
        spec = RunSpec('probe', 'probe', 'train', CONFIGS[arch], 'resnet8',
                       0, stage1=500, stage2=500, teacher='teacher',
                       teacher_arch='resnet26')
    else:
        spec = RunSpec('probe', 'probe', 'train', CONFIGS[arch], arch, 0,
                       stage2=1000)
    cfg = train_config(spec, PRESETS['full'], tempfile.mkdtemp(),
                       osp.join(REPO_ROOT, TEACHER))
    runner = build_runner(cfg)
    pipeline, tensor = _loaders(cfg, runner)
    data = {'pipeline': _endless(pipeline), 'tensor': iter(tensor)}
    setups = {}
    for name in variants:
        model = copy.deepcopy(runner.model)
        if name in ('channels_last', 'after'):
            model = model.to(memory_format=torch.channels_last)
        wrapper = build_optim_wrapper(model,
                                      copy.deepcopy(cfg.optim_wrapper))
        source = 'tensor' if name in ('tensor_data', 'after') else \
            'pipeline'
        setups[name] = (model, wrapper, source)

    def one_round(name: str) -> List[float]:
        model, wrapper, source = setups[name]
        it_times, data_times = [], []
        for _ in range(iters):
            t0 = time.perf_counter()
            batch = next(data[source])
            t1 = time.perf_counter()
            model.train_step(batch, wrapper)
            t2 = time.perf_counter()
            it_times.append(t2 - t0)
            data_times.append(t1 - t0)
        return [statistics.fmean(it_times), statistics.fmean(data_times)]

    for name in variants:  # warm-up
        one_round(name)
    times: Dict[str, List[List[float]]] = {n: [] for n in variants}
    for _ in range(rounds):
        for name in variants:
            times[name].append(one_round(name))
    out = {}
    for name in variants:
        out[name] = dict(
            iteration_s=statistics.median(t[0] for t in times[name]),
            fastest_s=min(t[0] for t in times[name]),
            data_s=statistics.median(t[1] for t in times[name]))
    if 'before' not in variants:
        return out
    for name in variants:
        for key in ('iteration_s', 'fastest_s'):
            out[name][key.replace('_s', '_vs_before')] = \
                out[name][key] / out['before'][key]
    return out


def cpu_calibration(iters: int = 4, rounds: int = 3) -> float:
    """How many times slower than :data:`.devices.CPU_COSTS` this CPU
    trains: the median time of a ResNet-8 training iteration on the
    reproduction's path (in-memory data, channels_last) at one thread,
    over its cost there (what ``tools/reproduce.py --plan --calibrate``
    scales every cost by; about half a minute)."""
    import torch

    from reproduce.devices import CPU_COSTS
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        measured = probe('resnet8', iters, rounds, ('after', ))
    finally:
        torch.set_num_threads(threads)
    return measured['after']['iteration_s'] / CPU_COSTS.train_iter_s[
        'resnet8']


def markdown(results: Dict[str, Dict[str, dict]], note: str) -> str:
    """One row per architecture and variant."""
    lines = [note, '',
             '| network | variant | s / iteration (median) | of which data '
             '| vs before | fastest round | vs before |',
             '|---|---|---|---|---|---|---|']
    for arch, variants in results.items():
        for name, r in variants.items():
            lines.append(
                f'| {arch} | {name} | {r["iteration_s"]:.3f} | '
                f'{r["data_s"]:.3f} | {r["iteration_vs_before"]:.2f} | '
                f'{r["fastest_s"]:.3f} | {r["fastest_vs_before"]:.2f} |')
    return '\n'.join(lines)


def main(argv=None, log: Callable[[str], None] = print) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--archs', nargs='+', choices=sorted(CONFIGS),
                        default=['resnet8', 'resnet26'])
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', help='also write the results as JSON')
    args = parser.parse_args(argv)
    warnings.filterwarnings('ignore')
    import torch

    import mmfsp  # noqa: F401
    torch.set_num_threads(args.threads)
    results = {arch: probe(arch, args.iters, args.rounds)
               for arch in args.archs}
    from reproduce.devices import cpu_name
    note = (f'CPU {cpu_name()}, {args.threads} torch thread(s), batch 128, '
            f'{args.rounds} interleaved rounds of {args.iters} iterations '
            f'(median and fastest round), torch {torch.__version__}.')
    log(markdown(results, note))
    data = dict(note=note, results=results)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(data, f, indent=2)
    return data


if __name__ == '__main__':
    main()
