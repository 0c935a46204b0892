"""Speed of FSP stage 1 (with and without the teacher-FSP cache), KD and
generation training relative to plain training, on this machine's CPU or
GPU (AMP on GPU).

    python tools/analysis_tools/benchmark_speed.py \
        [--settings resnet26->resnet26 ...] [--batch-size 128] \
        [--rounds 5] [--iters 5] [--out bench.json]

The time per training iteration of the distillation methods, relative to
plain training of the student, measured in one process on the same batches.

Methods (each a model built from a shipped config, trained through
mmengine's ``model.train_step`` with an ``OptimWrapper``, i.e. the real
training path):

* ``plain``: the student alone, cross-entropy (its ``configs/resnet`` model);
* ``fsp_stage1``: FSP stage 1, teacher forward + student forward/backward +
  FSP matrices and loss (``configs/fsp``);
* ``fsp_stage1_cached``: the same with the teacher's FSP matrices served from
  the per-sample cache (:class:`CachedTeacherFSPDistill`, filled during the
  warm-up pass, so timed iterations never run the teacher);
* ``kd``: cross-entropy + Hinton KD (``configs/kd``);
* ``generation``: a generation student, cross-entropy + KL to a teacher of
  the same architecture (tau 1, lam 0.6), only where teacher and student
  have the same architecture.

Timing: every method first runs one warm-up pass over all batches; then, in
each of ``rounds`` rounds, each method runs ``iters`` iterations in turn
(interleaved, so a slow spell of a shared machine hits all methods), and
the per-iteration time of a method is the median over the rounds. The
teacher's forward pass alone (eval mode, no gradient) is timed the same way:
``1 + t_teacher_forward / t_plain`` is the floor for stage 1 without the
cache (a method that runs the teacher cannot cost less).
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import sys
import tempfile
import time
import warnings
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from mmfsp.registry import MODELS

# tools/ on the path (when run as python tools/analysis_tools/...): the
# generation student's model config comes from tools/generations/
_TOOLS_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _TOOLS_DIR not in sys.path:
    sys.path.insert(0, _TOOLS_DIR)
from generations import distill_model_cfg  # noqa: E402

#: (setting, plain student config, FSP config, KD config, same architecture)
SETTINGS = {
    'resnet26->resnet26':
    ('configs/resnet/resnet26_1xb128_cifar10.py',
     'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_cifar10.py',
     'configs/kd/kd_resnet26_resnet26_1xb128_cifar10.py', True),
    'resnet26->resnet8':
    ('configs/resnet/resnet8_1xb128_cifar10.py',
     'configs/fsp/fsp-paper_resnet26_resnet8_1xb128_cifar10.py',
     'configs/kd/kd_resnet26_resnet8_1xb128_cifar10.py', False),
}


def synthetic_batches(num_batches: int, batch_size: int,
                      shape: Sequence[int], num_classes: int,
                      seed: int = 0) -> List[dict]:
    """CIFAR-shaped uint8 images with labels and dataset indices, as
    mmpretrain's ``PackInputs`` + ``pseudo_collate`` deliver them."""
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for b in range(num_batches):
        images = torch.randint(
            0, 256, (batch_size, *shape), generator=gen, dtype=torch.uint8)
        labels = torch.randint(0, num_classes, (batch_size, ), generator=gen)
        samples = []
        for i in range(batch_size):
            sample = DataSample().set_gt_label(labels[i])
            sample.set_metainfo(dict(sample_idx=b * batch_size + i))
            samples.append(sample)
        batches.append(dict(inputs=list(images), data_samples=samples))
    return batches


def _teacher_checkpoint(teacher_cfg: dict, tmpdir: str) -> str:
    teacher = MODELS.build(copy.deepcopy(teacher_cfg))
    path = f'{tmpdir}/teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, path)
    return path


def build_models(setting: str, tmpdir: str,
                 num_samples: int) -> Dict[str, torch.nn.Module]:
    """The models of one setting, teachers with random weights (the cost
    does not depend on them)."""
    plain_path, fsp_path, kd_path, same_arch = SETTINGS[setting]
    fsp_cfg = Config.fromfile(fsp_path).model
    teacher_ckpt = _teacher_checkpoint(fsp_cfg.teacher, tmpdir)
    cfgs: Dict[str, dict] = {'plain': Config.fromfile(plain_path).model}
    fsp_cfg.teacher_ckpt = teacher_ckpt
    cfgs['fsp_stage1'] = fsp_cfg
    cached = copy.deepcopy(fsp_cfg)
    cached.type = 'CachedTeacherFSPDistill'
    cached.distiller.type = 'FSPDistiller'
    cfgs['fsp_stage1_cached'] = cached
    kd_cfg = Config.fromfile(kd_path).model
    kd_cfg.teacher_ckpt = teacher_ckpt
    cfgs['kd'] = kd_cfg
    if same_arch:
        student = copy.deepcopy(cfgs['plain'])
        student.head.loss = dict(type='CrossEntropyLoss', loss_weight=0.4)
        cfgs['generation'] = distill_model_cfg(
            student, copy.deepcopy(fsp_cfg.teacher), teacher_ckpt, lam=0.6)
    models = {}
    for name, cfg in cfgs.items():
        model = MODELS.build(cfg)
        model.init_weights() if name == 'plain' else None
        if name == 'fsp_stage1_cached':
            model.verify_training_data(
                dict(type='Synthetic', pipeline=[dict(type='PackInputs')]))
            model.teacher_cache.reserve(num_samples)
        models[name] = model
    return models


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _step_fn(model: torch.nn.Module, device: torch.device,
             amp: bool) -> Callable[[dict], None]:
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9,
                                weight_decay=1e-4)
    wrapper = AmpOptimWrapper(optimizer=optimizer) if amp else \
        OptimWrapper(optimizer=optimizer)

    def step(batch: dict) -> None:
        model.train_step(batch, wrapper)

    return step


def _teacher_forward_fn(model: torch.nn.Module,
                        amp: bool) -> Callable[[dict], None]:
    teacher = model.teacher

    def forward(batch: dict) -> None:
        data = model.data_preprocessor(batch, True)
        with torch.no_grad(), torch.autocast(
                data['inputs'].device.type, enabled=amp):
            teacher(data['inputs'], mode='tensor')

    return forward


def benchmark_setting(setting: str, batch_size: int = 128, rounds: int = 5,
                      iters: int = 5, num_batches: int = 4,
                      device: Optional[str] = None, amp: Optional[bool] = None,
                      log: Callable[[str], None] = print) -> dict:
    """Time every method of ``setting``; returns per-iteration seconds and
    ratios to ``plain``."""
    device = torch.device(device or ('cuda' if torch.cuda.is_available()
                                     else 'cpu'))
    amp = (device.type == 'cuda') if amp is None else amp
    batches = synthetic_batches(num_batches, batch_size, (3, 32, 32), 10)
    with tempfile.TemporaryDirectory() as tmpdir:
        models = build_models(setting, tmpdir, num_batches * batch_size)
    fns = {name: _step_fn(m, device, amp) for name, m in models.items()}
    fns['teacher_forward'] = _teacher_forward_fn(models['fsp_stage1'], amp)
    log(f'{setting}: warm-up ({num_batches} batches per method)')
    for fn in fns.values():
        for batch in batches:
            fn(batch)
    _sync(device)
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for r in range(rounds):
        for name, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            for i in range(iters):
                fn(batches[i % num_batches])
            _sync(device)
            times[name].append((time.perf_counter() - start) / iters)
        log(f'{setting}: round {r + 1}/{rounds} done')
    sec = {name: statistics.median(v) for name, v in times.items()}
    plain = sec['plain']
    ratios = {name: s / plain for name, s in sec.items()}
    floor = 1 + sec['teacher_forward'] / plain
    return dict(
        setting=setting,
        seconds_per_iter=sec,
        ratio_to_plain=ratios,
        stage1_floor=floor,
        stage1_over_floor=ratios['fsp_stage1'] / floor,
        device=str(device),
        amp=amp,
        batch_size=batch_size,
        rounds=rounds,
        iters_per_round=iters)


def hardware_description(device: Optional[str] = None) -> str:
    """The GPU's name, or the CPU's, its cores and torch threads, with the
    torch version."""
    dev = torch.device(device or ('cuda' if torch.cuda.is_available()
                                  else 'cpu'))
    if dev.type == 'cuda':
        return (f'{torch.cuda.get_device_name(dev)}, torch '
                f'{torch.__version__}')
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            names = [line.split(':', 1)[1].strip() for line in f
                     if line.startswith('model name')]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (f'CPU {cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} '
            f'torch threads, torch {torch.__version__}')


def results_markdown(results: Sequence[dict], hardware: str) -> str:
    """The table of ``results`` (one :func:`benchmark_setting` each)."""
    methods = ['plain', 'fsp_stage1', 'fsp_stage1_cached', 'kd',
               'generation']
    lines = [
        f'Hardware: {hardware}. Batch {results[0]["batch_size"]}, '
        f'median of {results[0]["rounds"]} interleaved rounds of '
        f'{results[0]["iters_per_round"]} iterations'
        f'{", AMP" if results[0]["amp"] else ""}.', '',
        '| setting | ' + ' | '.join(methods) +
        ' | stage-1 floor | stage 1 / floor |',
        '|---' * (len(methods) + 3) + '|'
    ]
    for res in results:
        cells = []
        for m in methods:
            if m in res['ratio_to_plain']:
                cells.append(f'{res["ratio_to_plain"][m]:.2f}x '
                             f'({res["seconds_per_iter"][m] * 1000:.0f} ms)')
            else:
                cells.append('n/a')
        lines.append(f'| {res["setting"]} | ' + ' | '.join(cells) +
                     f' | {res["stage1_floor"]:.2f}x | '
                     f'{res["stage1_over_floor"]:.2f} |')
    return '\n'.join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
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
