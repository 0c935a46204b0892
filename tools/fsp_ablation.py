"""The FSP ablation on Fashion-MNIST: which stage-1 recipe makes an FSP
student better than the same network trained alone (docs/fsp.md).

Every run trains on the first 50,000 training images; the last 10,000
training images are the validation split that recipes are chosen on; the
10,000 test images are reported. Settings (teachers trained here, 1050
iterations, seed 0):

    r26_r8    network minimisation, ResNet-26 -> ResNet-8, 350 + 420 it.
    r26_r26   fast optimisation, ResNet-26 -> ResNet-26, 350 + 350 it.
    r14_r8    a shallower teacher, ResNet-14 -> ResNet-8, 350 + 420 it.

``--scale x3`` triples stage 2 (and the baselines' budgets). Arms: ``paper``
(the paper's recipe), the mmfsp options (``mean``, ``proj``, ``mean_proj``,
``reset``...; see ARMS), ``alone`` (the student alone with the stage-2
budget), ``kd`` (Hinton KD with the stage-2 budget, the shipped KD configs:
tau 3, KD weight 4 -> 1) and ``kd1`` (the same with a constant KD weight
of 1, the configs' "plain KD"). Runs execute in
``--workers`` processes with one thread each (tools/reproduce/scheduler.py:
one progress line, each run's output in ``<work-dir>/<run>/worker.log``); a
finished run (its ``result.json``) is skipped; each result is added to
``--results`` as soon as it finishes.

    python tools/fsp_ablation.py --arms paper mean proj alone kd --seeds 0
    python tools/fsp_ablation.py --plan      # the runs, nothing trained
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# the reproduction's scheduler (tools/reproduce/); on the path already when
# this runs as a script
if osp.join(REPO, 'tools') not in sys.path:
    sys.path.insert(0, osp.join(REPO, 'tools'))
TEACHER_CFG = 'configs/resnet/resnet26_1xb128_fashion-mnist.py'
TEACHER_ITERS = 1050
TRAIN_IMAGES = 50000  # the first 50k; the last 10k are the validation split
MEAN, STD = 72.94, 90.02  # the configs' data_preprocessor

TEACHERS = {'r26': {}, 'r14': {'model.backbone.depth': 14}}
_FSP = 'configs/fsp/fsp-paper_{}_1xb128_fashion-mnist.py'
_KD = 'configs/kd/kd_{}_1xb128_fashion-mnist.py'
SETTINGS = {
    'r26_r8': dict(teacher='r26', stage1=350, stage2=420,
                   fsp=_FSP.format('resnet26_resnet8'),
                   alone='configs/resnet/resnet8_1xb128_fashion-mnist.py',
                   kd=_KD.format('resnet26_resnet8')),
    'r26_r26': dict(teacher='r26', stage1=350, stage2=350,
                    fsp=_FSP.format('resnet26_resnet26'),
                    alone='configs/resnet/resnet26_1xb128_fashion-mnist_1k.py',
                    kd=_KD.format('resnet26_resnet26')),
    'r14_r8': dict(teacher='r14', stage1=350, stage2=420,
                   fsp=_FSP.format('resnet26_resnet8'),
                   alone='configs/resnet/resnet8_1xb128_fashion-mnist.py',
                   kd=_KD.format('resnet26_resnet8')),
}
SCALES = {'x1': 1, 'x3': 3}
# What each FSP arm changes in the shipped FSP config (cfg keys as in
# --cfg-options; 'hooks' are added to custom_hooks).
ARMS: Dict[str, dict] = {
    'paper': {},
    'mean': {'model.distiller.fsp_loss.reduction': 'mean',
             'optim_wrapper.optimizer.lr': 0.1},
    'proj': {'hooks': [dict(type='WeightNormProjectionHook')]},
    'mean_proj': {'model.distiller.fsp_loss.reduction': 'mean',
                  'optim_wrapper.optimizer.lr': 0.1,
                  'hooks': [dict(type='WeightNormProjectionHook')]},
    'reset': {'switch.rescale_weight_norms': True},
}
#: what each Hinton KD baseline changes in the shipped KD config
KD_ARMS: Dict[str, dict] = {
    'kd': {},
    'kd1': {'custom_hooks': [],
            'model.distiller.distill_losses.loss_kd.loss_weight': 1.0},
}
BASELINES = ('alone', ) + tuple(KD_ARMS)
#: the arm chosen on the validation split (docs/fsp.md, "The ablation")
RECOMMENDED = 'mean'


# ----------------------------------------------------------------- plan
def teacher_key(name: str) -> str:
    return f'teacher_{name}'


def run_key(setting: str, scale: str, arm: str, seed: int) -> str:
    return f'{setting}_{scale}_{arm}_seed{seed}'


SMOKE = dict(teacher_iters=12, stage1=6, stage2=6, train_images=256,
             eval_images=200)


def build_plan(settings, scales, arms, seeds, smoke: bool = False
               ) -> List[dict]:
    """Teachers first, then every (setting, scale, arm, seed); each run
    carries its iteration counts and data sizes (``smoke``: tiny ones, for
    the tests)."""
    unknown = [a for a in arms if a not in ARMS and a not in BASELINES]
    if unknown:
        raise SystemExit(f'unknown arms {unknown}; choose from '
                         f'{sorted(ARMS) + list(BASELINES)}')
    plan = []
    for name in dict.fromkeys(SETTINGS[s]['teacher'] for s in settings):
        plan.append(dict(key=teacher_key(name), kind='teacher',
                         teacher=name, seed=0, **_budget(None, 1, smoke)))
    for scale in scales:
        for setting in settings:
            for arm in arms:
                for seed in seeds:
                    plan.append(dict(key=run_key(setting, scale, arm, seed),
                                     kind='student', setting=setting,
                                     scale=scale, arm=arm, seed=seed,
                                     **_budget(setting, SCALES[scale],
                                               smoke)))
    return plan


def _budget(setting: Optional[str], factor: int, smoke: bool) -> dict:
    if smoke:
        out = dict(SMOKE)
        out['stage2'] *= factor
        return out
    out = dict(teacher_iters=TEACHER_ITERS, train_images=TRAIN_IMAGES,
               eval_images=0)
    if setting is not None:
        out.update(stage1=SETTINGS[setting]['stage1'],
                   stage2=SETTINGS[setting]['stage2'] * factor)
    return out


# ------------------------------------------------------------- configs
def _set(cfg, dotted: str, value) -> None:
    cfg.merge_from_dict({dotted: value})


def _common(cfg, run_dir: str, run: dict) -> None:
    cfg.work_dir = run_dir
    cfg.randomness = dict(seed=run['seed'])
    cfg.log_level = 'WARNING'
    # workers of this tool are spawned processes
    cfg.env_cfg.mp_cfg.mp_start_method = 'spawn'
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_dataloader.dataset.indices = run['train_images']
    cfg.train_dataloader.dataset.data_root = osp.join(REPO,
                                                      'data/fashion_mnist')
    # validation and test run in this tool on tensors (below)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    total = cfg.train_cfg.max_iters
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=50,
                                    log_metric_by_epoch=False)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        by_epoch=False, interval=total,
                                        max_keep_ckpts=1)
    cfg.log_processor = dict(by_epoch=False, window_size=50)


def teacher_config(run: dict, run_dir: str):
    from mmengine.config import Config

    from mmfsp.utils.schedule_scaling import scale_schedule
    cfg = Config.fromfile(osp.join(REPO, TEACHER_CFG))
    cfg.merge_from_dict(TEACHERS[run['teacher']])
    scale_schedule(cfg, run['teacher_iters'])
    _common(cfg, run_dir, run)
    return cfg


def student_config(run: dict, run_dir: str, teacher_ckpt: str):
    from mmengine.config import Config

    from mmfsp.utils.schedule_scaling import (scale_schedule,
                                              scale_two_stage_schedule)
    setting = SETTINGS[run['setting']]
    arm = run['arm']
    stage1, stage2 = run['stage1'], run['stage2']
    path = setting['kd' if arm in KD_ARMS else arm] if arm in BASELINES \
        else setting['fsp']
    cfg = Config.fromfile(osp.join(REPO, path))
    teacher_depth = TEACHERS[setting['teacher']].get('model.backbone.depth')
    if arm == 'alone':
        scale_schedule(cfg, stage2)
    elif arm in KD_ARMS:
        scale_schedule(cfg, stage2)
        cfg.model.teacher_ckpt = teacher_ckpt
        if teacher_depth:
            cfg.model.teacher.backbone.depth = teacher_depth
        for key, value in KD_ARMS[arm].items():
            _set(cfg, key, value)
    else:
        scale_two_stage_schedule(cfg, stage1, stage2)
        cfg.model.teacher_ckpt = teacher_ckpt
        if teacher_depth:
            cfg.model.teacher.backbone.depth = teacher_depth
        hooks = list(cfg.custom_hooks)
        switch = next(h for h in hooks
                      if h['type'] == 'DistillStageSwitchHook')
        switch['save_checkpoint'] = False
        for key, value in ARMS[arm].items():
            if key == 'hooks':
                hooks += [dict(h) for h in value]
            elif key.startswith('switch.'):
                switch[key[len('switch.'):]] = value
            else:
                _set(cfg, key, value)
        cfg.custom_hooks = hooks
    _common(cfg, run_dir, run)
    return cfg


# ---------------------------------------------------------- evaluation
_DATA: dict = {}


def _idx(path: str):
    import numpy as np
    with open(path, 'rb') as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big')
             for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def eval_data(split: str, limit: int = 0):
    """``(images, labels)`` tensors of 'val' (training images 50k-60k) or
    'test' (the 10k test images), normalised as the configs do; the first
    ``limit`` of them when ``limit`` > 0."""
    import torch
    if split not in _DATA:
        root = osp.join(REPO, 'data/fashion_mnist')
        prefix = 'train' if split == 'val' else 't10k'
        x = _idx(osp.join(root, f'{prefix}-images-idx3-ubyte'))
        y = _idx(osp.join(root, f'{prefix}-labels-idx1-ubyte'))
        if split == 'val':
            x, y = x[TRAIN_IMAGES:], y[TRAIN_IMAGES:]
        x = (torch.from_numpy(x.copy()).float()[:, None] - MEAN) / STD
        _DATA[split] = (x, torch.from_numpy(y.astype('int64')))
    x, y = _DATA[split]
    return (x[:limit], y[:limit]) if limit else (x, y)


def accuracy(network, split: str, limit: int = 0) -> float:
    """Top-1 accuracy (%) of a classifier on a split, in eval mode."""
    return tensor_accuracy(network, *eval_data(split, limit))


def tensor_accuracy(network, x, y) -> float:
    """Top-1 accuracy (%) of a classifier on images ``x`` with labels
    ``y`` (tensors), in eval mode, 1000 images at a time."""
    import torch
    was_training = network.training
    network.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), 1000):
            logits = network(x[i:i + 1000], mode='tensor')
            correct += int((logits.argmax(1) == y[i:i + 1000]).sum())
    network.train(was_training)
    return 100.0 * correct / len(y)


def _probe_hook(switch: Optional[int], stage2: int, limit: int):
    """A hook measuring the conv norm ratio at the end of stage 1 and the
    accuracy after 10 % and 33 % of stage 2."""
    from mmfsp.engine.hooks.conv_norm_hook import (ConvNormHook,
                                                   student_network)

    class Probe(ConvNormHook):
        priority = 'LOW'  # after a projection step

        def __init__(self) -> None:
            super().__init__(meta_key='ablation_probe')
            start = switch or 0
            self.points = {start + max(1, round(stage2 * f)): tag
                           for f, tag in ((0.1, '10'), (0.33, '33'))}
            self.out: dict = {}

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None) -> None:
            done = runner.iter + 1
            if switch and done == switch:
                ratios = [n / self.initial[k]
                          for k, n in self.current_norms().items()]
                self.out['norm_ratio_median'] = statistics.median(ratios)
                self.out['norm_ratio_max'] = max(ratios)
            if done in self.points:
                tag = self.points[done]
                net = student_network(runner)
                self.out[f'val_acc_{tag}'] = accuracy(net, 'val', limit)
                self.out[f'test_acc_{tag}'] = accuracy(net, 'test', limit)

    return Probe()


# ----------------------------------------------------------------- runs
def _progress_hook(progress, key: str):
    """Publish the run's iteration to ``progress[key]`` (a shared dict
    read by a parent process's display)."""
    from mmengine.hooks import Hook

    class Progress(Hook):
        priority = 'VERY_LOW'

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None) -> None:
            import torch
            progress[key] = runner.iter + 1
            # a core freed by a finished run is given to the runs left
            threads = progress.get('threads', 1)
            if threads != torch.get_num_threads():
                torch.set_num_threads(threads)

    return Progress()


def execute(run: dict, work_dir: str, progress=None) -> dict:
    """Train one run (in a worker process) and return its result.
    ``run['teacher_ckpt']``, when given, is the teacher's checkpoint;
    ``progress`` a shared dict that gets the run's iteration."""
    import torch

    import mmfsp  # noqa: F401
    from mmfsp.engine.hooks import NonFiniteLossError
    from mmfsp.engine.hooks.conv_norm_hook import student_network
    from mmfsp.utils import build_runner
    torch.set_num_threads(1)
    run_dir = osp.join(work_dir, run['key'])
    t0 = time.time()
    limit = run['eval_images']
    if run['kind'] == 'teacher':
        cfg = teacher_config(run, run_dir)
        probe = None
    else:
        setting = SETTINGS[run['setting']]
        teacher = run.get('teacher_ckpt') or osp.join(
            work_dir, teacher_key(setting['teacher']),
            f'iter_{run["teacher_iters"]}.pth')
        cfg = student_config(run, run_dir, teacher)
        two_stage = run['arm'] not in BASELINES
        probe = None if run.get('quick') else _probe_hook(
            run['stage1'] if two_stage else None, run['stage2'], limit)
    runner = build_runner(cfg)
    if run.get('fast'):
        # the reproduction's faster CPU path (tools/reproduce/fastdata.py):
        # the training images in memory, crops and flips per batch, and
        # channels_last convolutions; same distribution of batches, not the
        # same random stream, so not used by the ablation's own runs
        from reproduce.fastdata import (attach_train_loader,
                                        tensor_train_loader)
        attach_train_loader(runner, tensor_train_loader(cfg))
        runner.model.to(memory_format=torch.channels_last)
    if probe is not None:
        runner.register_hook(probe)
    if progress is not None:
        runner.register_hook(_progress_hook(progress, run['key']))
    out = dict(run)
    try:
        runner.train()
    except NonFiniteLossError as err:
        # a recipe that diverges is a result: recorded, not retried
        out.update(val_acc=None, test_acc=None, diverged=str(err),
                   iters=int(cfg.train_cfg.max_iters),
                   seconds=round(time.time() - t0, 1), threads=1)
        out.update(probe.out if probe is not None else {})
        with open(osp.join(run_dir, 'result.json'), 'w') as f:
            json.dump(out, f, indent=1)
        return out
    net = student_network(runner)
    out.update(val_acc=None if run.get('quick') else accuracy(
        net, 'val', limit),
               test_acc=accuracy(net, 'test', limit),
               iters=int(cfg.train_cfg.max_iters),
               seconds=round(time.time() - t0, 1), threads=1)
    if probe is not None:
        out.update(probe.out)
    with open(osp.join(run_dir, 'result.json'), 'w') as f:
        json.dump(out, f, indent=1)
    return out


def _finished(work_dir: str, key: str) -> Optional[dict]:
    path = osp.join(work_dir, key, 'result.json')
    if osp.isfile(path):
        with open(path) as f:
            return json.load(f)
    return None


def record(results_path: str, row: dict) -> None:
    """Add (or replace) a student's row in the results JSON list."""
    import fcntl
    with open(results_path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _record_locked(results_path, row)


def _record_locked(results_path: str, row: dict) -> None:
    from mmfsp.utils import atomic_write
    rows = []
    if osp.isfile(results_path):
        with open(results_path) as f:
            rows = json.load(f)
    row = {k: v for k, v in row.items() if k not in ('kind', 'key')}
    ident = ('setting', 'scale', 'recipe', 'seed')
    rows = [r for r in rows
            if tuple(r.get(k) for k in ident) !=
            tuple(row.get(k) for k in ident)]
    rows.append(row)
    rows.sort(key=lambda r: tuple(str(r.get(k)) for k in ident))
    atomic_write(results_path, json.dumps(rows, indent=1).encode())


def _as_row(result: dict) -> dict:
    row = dict(result)
    row['recipe'] = row.pop('arm')
    row.setdefault('recommended', False)
    return row


def run_iterations(run: dict) -> int:
    """The iterations a run trains."""
    if run['kind'] == 'teacher':
        return run['teacher_iters']
    if run['arm'] in BASELINES:
        return run['stage2']
    return run['stage1'] + run['stage2']


def run_task(ctx, run: dict, work_dir: str) -> dict:
    """One run as a task of tools/reproduce/scheduler.py: ``ctx`` takes
    the place of the progress dict (it publishes the iteration and gives
    the run the threads of idle workers)."""
    return execute(run, work_dir, progress=ctx)


def plan_tasks(plan: List[dict], work_dir: str) -> list:
    """The scheduler's tasks of ``plan``: a student waits for its teacher;
    costs in iterations (the longest chains go first)."""
    from reproduce.scheduler import Task
    return [Task(r['key'], run_task, (r, work_dir),
                 () if r['kind'] == 'teacher' else
                 (teacher_key(SETTINGS[r['setting']]['teacher']), ),
                 float(run_iterations(r)), run_iterations(r),
                 osp.join(work_dir, r['key'], 'worker.log')) for r in plan]


def _done_line(res: dict) -> str:
    if res.get('diverged'):
        return 'diverged'
    val = '' if res.get('val_acc') is None else f'val {res["val_acc"]:.2f} '
    return f'{val}test {res["test_acc"]:.2f}'


def run_plan(plan: List[dict], work_dir: str, workers: int,
             results_path: str) -> None:
    """Train the unfinished runs of ``plan`` in ``workers`` processes of
    one thread (tools/reproduce/scheduler.py); a student starts as soon as
    its teacher has finished; each student's row goes to
    ``results_path`` as soon as it is finished."""
    from reproduce.scheduler import DagScheduler, Slot
    os.makedirs(work_dir, exist_ok=True)
    finished = {}
    for r in plan:
        done = _finished(work_dir, r['key'])
        if done is not None:
            finished[r['key']] = done
            if r['kind'] == 'student':
                record(results_path, _as_row(done))
    print(f'{len(finished)} of {len(plan)} runs finished before; '
          f'{len(plan) - len(finished)} to train with {workers} workers',
          flush=True)

    def on_result(key: str, res: dict, seconds: float) -> str:
        if res['kind'] == 'student':
            record(results_path, _as_row(res))
        return f'{key}: {_done_line(res)} ({seconds:.0f} s)'

    outcome = DagScheduler([Slot('cpu', 1)] * workers).run(
        plan_tasks(plan, work_dir), finished, on_result)
    if outcome.failed:
        raise SystemExit(f'failed: {sorted(outcome.failed)} (logs: '
                         f'{work_dir}/<run>/worker.log); not run: '
                         f'{sorted(outcome.skipped)}')


def _stat(values: List[float]) -> str:
    if not values:
        return ''
    mean = statistics.mean(values)
    if len(values) == 1:
        return f'{mean:.2f}'
    return f'{mean:.2f} ± {statistics.stdev(values):.2f}'


def report(results_path: str, out_md: str) -> str:
    """Mark the recommended recipe's rows in ``results_path`` and write the
    table (mean ± sample std over seeds, n) of every setting, scale and
    recipe to ``out_md``; returns the Markdown."""
    with open(results_path) as f:
        rows = json.load(f)
    for row in rows:
        row['recommended'] = row['recipe'] == RECOMMENDED
    from mmfsp.utils import atomic_write
    atomic_write(results_path, json.dumps(rows, indent=1).encode())
    order = list(ARMS) + list(BASELINES)
    groups: Dict[tuple, List[dict]] = {}
    for row in rows:
        groups.setdefault((row['setting'], row['scale'], row['recipe']),
                          []).append(row)
    lines = [
        '| setting | recipe | n | val acc. | test acc. | test acc. after '
        '10 % / 33 % of stage 2 | conv norm ratio at the switch (median / '
        'max) |', '|---|---|---|---|---|---|---|'
    ]
    for key in sorted(groups, key=lambda k: (k[0], k[1],
                                             order.index(k[2]))):
        setting, scale, recipe = key
        runs = groups[key]
        ok = [r for r in runs if not r.get('diverged')]
        name = f'**{recipe}** (recommended)' if recipe == RECOMMENDED \
            else recipe
        if not ok:
            lines.append(f'| {setting} {scale} | {name} | {len(runs)} | '
                         f'diverged (NaN loss in stage 1) | | | |')
            continue
        early = ''
        if 'test_acc_10' in ok[0]:
            early = (f'{_stat([r["test_acc_10"] for r in ok])} / '
                     f'{_stat([r["test_acc_33"] for r in ok])}')
        norms = ''
        if ok[0].get('norm_ratio_median') is not None:
            norms = (f'{_stat([r["norm_ratio_median"] for r in ok])} / '
                     f'{_stat([r["norm_ratio_max"] for r in ok])}')
        diverged = len(runs) - len(ok)
        n = f'{len(ok)}' + (f' (+{diverged} diverged)' if diverged else '')
        lines.append(
            f'| {setting} {scale} | {name} | {n} | '
            f'{_stat([r["val_acc"] for r in ok])} | '
            f'{_stat([r["test_acc"] for r in ok])} | {early} | {norms} |')
    text = '\n'.join(lines) + '\n'
    with open(out_md, 'w', encoding='utf-8') as f:
        f.write(text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--settings', nargs='+', choices=sorted(SETTINGS),
                        default=sorted(SETTINGS))
    parser.add_argument('--scales', nargs='+', choices=sorted(SCALES),
                        default=['x1'])
    parser.add_argument('--arms', nargs='+',
                        default=['paper', 'alone', 'kd'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0])
    parser.add_argument('--workers', type=int,
                        default=max(1, os.cpu_count() or 1))
    parser.add_argument('--work-dir', default='work_dirs/fsp_ablation')
    parser.add_argument('--results',
                        default='docs/results/fsp_ablation.json')
    parser.add_argument('--plan', action='store_true',
                        help='print the runs, train nothing')
    parser.add_argument('--smoke', action='store_true',
                        help='tiny runs (a few iterations) to check the '
                        'tool end to end')
    parser.add_argument('--report', metavar='OUT_MD',
                        help='write the table of --results (mean ± std '
                        'over seeds) to OUT_MD and mark the recommended '
                        'rows; train nothing')
    args = parser.parse_args()
    if args.report:
        print(report(args.results, args.report))
        return 0
    plan = build_plan(args.settings, args.scales, args.arms, args.seeds,
                      args.smoke)
    if args.plan:
        for run in plan:
            state = 'done' if _finished(args.work_dir, run['key']) else 'todo'
            print(f'{state}  {run["key"]}')
        return 0
    run_plan(plan, args.work_dir, args.workers, args.results)
    return 0


if __name__ == '__main__':
    sys.exit(main())
