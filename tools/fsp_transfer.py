"""The FSP paper's third claim, transfer learning, on real data on a CPU:
does FSP from a teacher trained on *another task* help a student, compared
with the same student trained alone and with fine-tuning the teacher's own
weights (docs/reproduction.md, "Transfer (FSP paper's third claim)")?

Fashion-MNIST split into two tasks of five classes:

    teacher task  classes 0-4  T-shirt/top, Trouser, Pullover, Dress, Coat
    student task  classes 5-9  Sandal, Shirt, Sneaker, Bag, Ankle boot

Every run trains on the images of its task among the first 50,000
training images, with a 5-class head (labels renumbered 0-4). The
validation split is the student task's images among training images
50,000-60,000; the test set the student task's images among the 10,000
test images (about 5,000 each). The teacher, a ResNet-14 trained on the
teacher task (1,050 iterations, seed 0), is shared by every run. Settings:

    r14_r8    ResNet-14 teacher -> ResNet-8 student (a smaller network, as
              the paper's ResNet-34 -> ResNet-20), 350 + 420 iterations
    r14_r14   ResNet-14 teacher -> ResNet-14 student (the same network,
              so that fine-tuning the teacher's weights is comparable)

Recipes: ``alone`` (the student alone, the stage-2 budget: 420 iterations),
``paper`` (FSP, the paper's recipe: summed loss, stage-1 lr 0.001),
``mean`` (FSP, mmfsp's recommended recipe: per-entry loss, stage-1 lr 0.1),
``finetune`` (the teacher's weights with a new head, trained on the student
task for the stage-2 budget; r14_r14 only, where the architectures agree).
Each FSP student sees the student task's images in stage 1 (their FSP
matrices, no labels), then its labels in stage 2.

The configs are the shipped Fashion-MNIST ones (``resnet/*fashion-mnist``,
``fsp/fsp-paper_resnet26_resnet8_1xb128_fashion-mnist.py``) with their
schedules scaled keeping their shape; the recipes change what
tools/fsp_ablation.py's arms change. Runs execute in ``--workers`` spawned
processes with one thread each; a run with a ``result.json`` is skipped
(the tool resumes); each finished run's row (setting, recipe, seed,
val_acc, test_acc, ...) is written to ``--results`` at once, atomically.

    python tools/fsp_transfer.py --seeds 0 1 2 --workers 2
    python tools/fsp_transfer.py --plan          # the runs and an estimate
    python tools/fsp_transfer.py --smoke         # tiny runs, the machinery
    python tools/fsp_transfer.py --report docs/results/fsp_transfer.md
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import fsp_ablation as abl  # noqa: E402  (a sibling tool)

REPO = abl.REPO
DATA_ROOT = osp.join(REPO, 'data/fashion_mnist')
TEACHER_CLASSES = (0, 1, 2, 3, 4)
STUDENT_CLASSES = (5, 6, 7, 8, 9)
TRAIN_IMAGES = abl.TRAIN_IMAGES  # the first 50k; 50k-60k: validation
TEACHER_DEPTH = 14
TEACHER_ITERS = 1050
STAGE1, STAGE2 = 350, 420

TEACHER_CFG = abl.TEACHER_CFG  # ResNet-26 Fashion-MNIST, depth set below
ALONE_CFG = 'configs/resnet/resnet8_1xb128_fashion-mnist.py'
FSP_CFG = 'configs/fsp/fsp-paper_resnet26_resnet8_1xb128_fashion-mnist.py'
SETTINGS: Dict[str, dict] = {
    'r14_r8': dict(student_depth=8,
                   arms=('alone', 'paper', abl.RECOMMENDED)),
    'r14_r14': dict(student_depth=14,
                    arms=('alone', 'paper', abl.RECOMMENDED, 'finetune')),
}
#: the paper's FSP recipe and the one tools/fsp_ablation.py recommends
#: (its arms: what each changes in the shipped FSP config)
FSP_RECIPES = ('paper', abl.RECOMMENDED)
RECIPES = ('alone', ) + FSP_RECIPES + ('finetune', )
#: the registered name of this tool's class-subset dataset
DATASET = 'FashionMNISTClassSubset'
SMOKE = dict(teacher_iters=8, stage1=4, stage2=4, train_images=512,
             eval_images=100, batch_size=32)
#: single-thread costs for --plan's estimate, in seconds (process CPU time
#: measured on this project's 2-core Xeon, which approximates an idle
#: core's wall time): a training iteration at batch 128 by depth, what
#: stage 1 adds per iteration (the teacher's forward pass and the FSP
#: matrices), the evaluation of ~10k images, a worker's start
ITER_S = {8: 0.30, 14: 0.45}
STAGE1_EXTRA_S = 0.21
EVAL_S = {8: 11.0, 14: 20.0}
START_S = 10.0


# ----------------------------------------------------------------- plan
def teacher_key(smoke: bool = False) -> str:
    return ('smoke_' if smoke else '') + f'teacher_r{TEACHER_DEPTH}'


def run_key(setting: str, recipe: str, seed: int, smoke: bool = False
            ) -> str:
    return ('smoke_' if smoke else '') + f'{setting}_{recipe}_seed{seed}'


def _budget(smoke: bool) -> dict:
    if smoke:
        return dict(SMOKE)
    return dict(teacher_iters=TEACHER_ITERS, stage1=STAGE1, stage2=STAGE2,
                train_images=TRAIN_IMAGES, eval_images=0, batch_size=128)


def build_plan(settings: Sequence[str], seeds: Sequence[int],
               recipes: Optional[Sequence[str]] = None,
               smoke: bool = False) -> List[dict]:
    """The teacher first, then every (setting, recipe, seed) the setting
    allows (``recipes`` filters them); each run carries its budget."""
    unknown = sorted(set(settings) - set(SETTINGS))
    bad = sorted(set(recipes or ()) - set(RECIPES))
    if unknown or bad:
        raise SystemExit(f'unknown settings {unknown} / recipes {bad}; '
                         f'choose from {sorted(SETTINGS)} / {list(RECIPES)}')
    budget = _budget(smoke)
    plan = [dict(key=teacher_key(smoke), kind='teacher', setting='teacher',
                 recipe='teacher', seed=0, depth=TEACHER_DEPTH, **budget)]
    for setting in settings:
        for recipe in SETTINGS[setting]['arms']:
            if recipes and recipe not in recipes:
                continue
            for seed in seeds:
                depth = TEACHER_DEPTH if recipe == 'finetune' else \
                    SETTINGS[setting]['student_depth']
                plan.append(dict(key=run_key(setting, recipe, seed, smoke),
                                 kind='student', setting=setting,
                                 recipe=recipe, seed=seed, depth=depth,
                                 **budget))
    return plan


def needs_teacher(run: dict) -> bool:
    return run['kind'] == 'student' and run['recipe'] != 'alone'


def estimate_seconds(run: dict) -> float:
    """The single-thread time of a run on an idle core (training,
    evaluation, start-up), from the costs measured above."""
    it = ITER_S[run['depth']]
    fixed = START_S + EVAL_S[run['depth']]
    if run['kind'] == 'teacher':
        return fixed + run['teacher_iters'] * it
    total = fixed + run['stage2'] * it
    if run['recipe'] in FSP_RECIPES:
        total += run['stage1'] * (it + STAGE1_EXTRA_S)
    return total


# -------------------------------------------------------------- dataset
def register_dataset() -> None:
    """Register :data:`DATASET`: mmpretrain's FashionMNIST keeping the
    images of some classes among its first ``first`` images, labels
    renumbered in the order given (idempotent; done in each worker)."""
    import numpy as np
    from mmpretrain.datasets import FashionMNIST

    from mmfsp.registry import DATASETS
    if DATASET in DATASETS.module_dict:
        return

    class FashionMNISTClassSubset(FashionMNIST):
        """Fashion-MNIST restricted to ``subset`` (class indices, labels
        renumbered ``0..len(subset)-1``) among the first ``first`` images
        of the split (all when None)."""

        def __init__(self, *args, subset: Sequence[int],
                     first: Optional[int] = None, **kwargs) -> None:
            self.subset = tuple(int(c) for c in subset)
            self.first = first
            names = FashionMNIST.METAINFO['classes']
            kwargs.setdefault('metainfo',
                              dict(classes=[names[c] for c in self.subset]))
            super().__init__(*args, **kwargs)

        def load_data_list(self) -> List[dict]:
            data = super().load_data_list()
            if self.first is not None:
                data = data[:self.first]
            new = {c: i for i, c in enumerate(self.subset)}
            return [
                dict(info, gt_label=np.array(new[int(info['gt_label'])],
                                             dtype=np.int64))
                for info in data if int(info['gt_label']) in new
            ]

    DATASETS.register_module(name=DATASET, module=FashionMNISTClassSubset)


def _train_dataset(cfg, classes: Tuple[int, ...], first: int) -> None:
    loader = cfg.train_dataloader
    loader.dataset = dict(
        type=DATASET, data_root=DATA_ROOT, split='train', download=False,
        subset=list(classes), first=first,
        pipeline=loader.dataset.pipeline)


# ------------------------------------------------------------- configs
def _classes(cfg, keys: Sequence[str], n: int) -> None:
    for key in keys:
        abl._set(cfg, key, n)
    cfg.data_preprocessor.num_classes = n


def _common(cfg, run: dict, run_dir: str, classes: Tuple[int, ...]) -> None:
    # fsp_ablation's settings: work dir, seed, spawned workers, no
    # validation in the runner (this tool evaluates on tensors), logs
    abl._common(cfg, run_dir, run)
    _train_dataset(cfg, classes, run['train_images'])
    cfg.train_dataloader.batch_size = run['batch_size']


def teacher_config(run: dict, run_dir: str):
    """The shipped Fashion-MNIST teacher config as ResNet-14 on the teacher
    task, its schedule scaled to ``teacher_iters``."""
    from mmengine.config import Config

    from mmfsp.utils.schedule_scaling import scale_schedule
    cfg = Config.fromfile(osp.join(REPO, TEACHER_CFG))
    abl._set(cfg, 'model.backbone.depth', TEACHER_DEPTH)
    _classes(cfg, ['model.head.num_classes'], len(TEACHER_CLASSES))
    scale_schedule(cfg, run['teacher_iters'])
    _common(cfg, run, run_dir, TEACHER_CLASSES)
    return cfg


def student_config(run: dict, run_dir: str, teacher_ckpt: str):
    """The config of one student run (see the module docstring)."""
    from mmengine.config import Config

    from mmfsp.utils.schedule_scaling import (scale_schedule,
                                              scale_two_stage_schedule)
    recipe, n = run['recipe'], len(STUDENT_CLASSES)
    if recipe == 'alone':
        cfg = Config.fromfile(osp.join(REPO, ALONE_CFG))
        abl._set(cfg, 'model.backbone.depth', run['depth'])
        _classes(cfg, ['model.head.num_classes'], n)
        scale_schedule(cfg, run['stage2'])
    elif recipe == 'finetune':
        # the teacher's network and weights, a new (freshly initialised)
        # 5-class head, trained as the student alone is
        cfg = Config.fromfile(osp.join(REPO, TEACHER_CFG))
        abl._set(cfg, 'model.backbone.depth', TEACHER_DEPTH)
        _classes(cfg, ['model.head.num_classes'], n)
        cfg.model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=teacher_ckpt, prefix='backbone.')
        scale_schedule(cfg, run['stage2'])
    else:
        cfg = Config.fromfile(osp.join(REPO, FSP_CFG))
        abl._set(cfg, 'model.architecture.backbone.depth', run['depth'])
        abl._set(cfg, 'model.teacher.backbone.depth', TEACHER_DEPTH)
        _classes(cfg, ['model.architecture.head.num_classes',
                       'model.teacher.head.num_classes'], n)
        cfg.model.teacher_ckpt = teacher_ckpt
        scale_two_stage_schedule(cfg, run['stage1'], run['stage2'])
        if 'stage_iters' in cfg:
            cfg.stage_iters = cfg.schedule_stage_iters = (run['stage1'],
                                                          run['stage2'])
        for key, value in abl.ARMS[recipe].items():
            abl._set(cfg, key, value)
        for hook in cfg.custom_hooks:
            if hook['type'] == 'DistillStageSwitchHook':
                hook['save_checkpoint'] = False
    _common(cfg, run, run_dir, STUDENT_CLASSES)
    return cfg


# ---------------------------------------------------------- evaluation
_EVAL: dict = {}


def eval_data(split: str, classes: Tuple[int, ...], limit: int = 0):
    """``(images, labels)`` of ``classes`` (labels renumbered in their
    order) in 'val' (training images 50k-60k) or 'test' (the 10k test
    images), normalised as the configs do; the first ``limit`` when > 0."""
    import numpy as np
    import torch
    key = (split, classes)
    if key not in _EVAL:
        prefix = 'train' if split == 'val' else 't10k'
        x = abl._idx(osp.join(DATA_ROOT, f'{prefix}-images-idx3-ubyte'))
        y = abl._idx(osp.join(DATA_ROOT, f'{prefix}-labels-idx1-ubyte'))
        if split == 'val':
            x, y = x[TRAIN_IMAGES:], y[TRAIN_IMAGES:]
        keep = np.isin(y, classes)
        new = np.full(10, -1, dtype=np.int64)
        new[list(classes)] = np.arange(len(classes))
        x = (torch.from_numpy(x[keep].copy()).float()[:, None] -
             abl.MEAN) / abl.STD
        _EVAL[key] = (x, torch.from_numpy(new[y[keep]]))
    x, y = _EVAL[key]
    return (x[:limit], y[:limit]) if limit else (x, y)


def accuracy(network, split: str, classes: Tuple[int, ...],
             limit: int = 0) -> float:
    """Top-1 accuracy (%) of a classifier (its 5-class head) on a split of
    ``classes``, in eval mode."""
    return abl.tensor_accuracy(network, *eval_data(split, classes, limit))


# ----------------------------------------------------------------- runs
def teacher_checkpoint(work_dir: str, run: dict) -> str:
    return osp.join(work_dir, teacher_key(run['key'].startswith('smoke_')),
                    f'iter_{run["teacher_iters"]}.pth')


def execute(run: dict, work_dir: str) -> dict:
    """Train and evaluate one run (in a worker process, one thread) and
    write its ``result.json``; returns the result."""
    import torch

    import mmfsp  # noqa: F401
    from mmfsp.engine.hooks import NonFiniteLossError
    from mmfsp.engine.hooks.conv_norm_hook import student_network
    from mmfsp.utils import build_runner
    torch.set_num_threads(1)
    register_dataset()
    run_dir = osp.join(work_dir, run['key'])
    t0 = time.time()
    if run['kind'] == 'teacher':
        cfg, classes = teacher_config(run, run_dir), TEACHER_CLASSES
    else:
        cfg = student_config(run, run_dir, teacher_checkpoint(work_dir, run))
        classes = STUDENT_CLASSES
    runner = build_runner(cfg)
    out = dict(run, iters=int(cfg.train_cfg.max_iters), threads=1,
               classes=list(classes))
    try:
        runner.train()
    except NonFiniteLossError as err:
        # a recipe that diverges is a result: recorded, not retried
        out.update(val_acc=None, test_acc=None, diverged=str(err))
    else:
        net = student_network(runner)
        limit = run['eval_images']
        out.update(val_acc=accuracy(net, 'val', classes, limit),
                   test_acc=accuracy(net, 'test', classes, limit))
    out['seconds'] = round(time.time() - t0, 1)
    from mmfsp.utils import atomic_write
    atomic_write(osp.join(run_dir, 'result.json'),
                 json.dumps(out, indent=1).encode())
    return out


def _as_row(result: dict) -> dict:
    row = {k: v for k, v in result.items() if k not in ('kind', 'key')}
    row['recommended'] = row['recipe'] == abl.RECOMMENDED
    return row


def run_plan(plan: List[dict], work_dir: str, workers: int,
             results_path: str, max_attempts: int = 3,
             worker: Optional[Callable[[dict, str], dict]] = None
             ) -> None:
    """Train the unfinished runs of ``plan`` in ``workers`` processes (a
    run that needs the teacher starts once it is trained); every finished
    run's row goes to ``results_path`` at once. A worker process that dies
    (not an exception of its run) breaks the process pool: the runs it
    took down are queued again in a new pool, up to ``max_attempts``.
    ``worker`` (default :func:`execute`) trains one run."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context
    os.makedirs(work_dir, exist_ok=True)
    os.makedirs(osp.dirname(osp.abspath(results_path)), exist_ok=True)
    todo = []
    for run in plan:
        done = abl._finished(work_dir, run['key'])
        if done is None:
            todo.append(run)
        else:
            abl.record(results_path, _as_row(done))
    print(f'{len(plan) - len(todo)} of {len(plan)} runs finished before; '
          f'{len(todo)} to train with {workers} workers', flush=True)
    teacher_pending = any(r['kind'] == 'teacher' for r in todo)
    attempts: Dict[str, int] = {}
    worker = worker or execute
    t0 = time.time()

    def say(text: str) -> None:
        print(f'[{time.time() - t0:7.0f} s] {text}', flush=True)

    while todo:
        broken = False
        with ProcessPoolExecutor(workers, mp_context=get_context('spawn'),
                                 max_tasks_per_child=1) as pool:
            running = {}

            def submit_ready() -> None:
                # no more than `workers` at a time: a broken pool then
                # takes down only runs that were started
                for run in list(todo):
                    if len(running) >= workers:
                        return
                    if needs_teacher(run) and teacher_pending:
                        continue
                    todo.remove(run)
                    attempts[run['key']] = attempts.get(run['key'], 0) + 1
                    running[pool.submit(worker, run, work_dir)] = run

            submit_ready()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    run = running.pop(future)
                    try:
                        res = future.result()
                    except BrokenProcessPool as err:
                        broken = True
                        if attempts[run['key']] < max_attempts:
                            say(f'{run["key"]}: a worker died ({err}); '
                                f'queued again')
                            todo.append(run)
                            continue
                        say(f'{run["key"]} FAILED: {err}')
                        if run['kind'] == 'teacher':
                            raise
                        continue
                    except Exception as err:  # noqa: BLE001 - others go on
                        say(f'{run["key"]} FAILED: {type(err).__name__}: '
                            f'{err}')
                        if run['kind'] == 'teacher':
                            raise
                        continue
                    if run['kind'] == 'teacher':
                        teacher_pending = False
                    abl.record(results_path, _as_row(res))
                    what = ('diverged' if res.get('diverged') else
                            f'val {res["val_acc"]:.2f} '
                            f'test {res["test_acc"]:.2f}')
                    say(f'{res["key"]}: {what} ({res["seconds"]:.0f} s)')
                if not broken:
                    submit_ready()
        if not broken:
            break


# --------------------------------------------------------------- report
NETWORK = {8: 'ResNet-8', 14: 'ResNet-14'}


def report(results_path: str, out_md: str) -> str:
    """Write the table of ``results_path`` (mean ± sample std over seeds;
    the difference to the student alone paired by seed) to ``out_md``;
    returns the Markdown."""
    with open(results_path) as f:
        rows = json.load(f)
    teachers = [r for r in rows if r['recipe'] == 'teacher']
    groups: Dict[tuple, List[dict]] = {}
    for row in rows:
        if row['recipe'] != 'teacher':
            groups.setdefault((row['setting'], row['recipe']),
                              []).append(row)
    lines = []
    for t in teachers:
        lines.append(
            f'Teacher: {NETWORK.get(t.get("depth"), "?")} on classes '
            f'{t.get("classes", list(TEACHER_CLASSES))}, '
            f'{t.get("iters")} iterations, seed {t["seed"]}: validation '
            f'{t["val_acc"]:.2f} %, test {t["test_acc"]:.2f} % (on its own '
            f'classes).\n')
    lines += [
        '| setting | recipe | network | n | val acc. | test acc. | '
        'test acc. - alone (same seed) |', '|---|---|---|---|---|---|---|'
    ]
    order = list(SETTINGS)
    for key in sorted(groups, key=lambda k: (
            order.index(k[0]) if k[0] in order else len(order), k[0],
            RECIPES.index(k[1]))):
        setting, recipe = key
        runs = groups[key]
        ok = [r for r in runs if not r.get('diverged')]
        name = f'**{recipe}** (recommended)' if \
            recipe == abl.RECOMMENDED else recipe
        net = NETWORK.get(runs[0].get('depth'), '?')
        if not ok:
            lines.append(f'| {setting} | {name} | {net} | {len(runs)} | '
                         'diverged | | |')
            continue
        alone = {r['seed']: r['test_acc'] for r in groups.get(
            (setting, 'alone'), []) if not r.get('diverged')}
        diffs = [r['test_acc'] - alone[r['seed']] for r in ok
                 if r['seed'] in alone]
        diff = '' if recipe == 'alone' or not diffs else \
            f'{abl._stat(diffs)} (n = {len(diffs)})'
        diverged = len(runs) - len(ok)
        n = f'{len(ok)}' + (f' (+{diverged} diverged)' if diverged else '')
        lines.append(f'| {setting} | {name} | {net} | {n} | '
                     f'{abl._stat([r["val_acc"] for r in ok])} | '
                     f'{abl._stat([r["test_acc"] for r in ok])} | {diff} |')
    text = '\n'.join(lines) + '\n'
    from mmfsp.utils import atomic_write
    atomic_write(out_md, text.encode('utf-8'))
    return text


# ----------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--settings', nargs='+', choices=sorted(SETTINGS),
                        default=sorted(SETTINGS))
    parser.add_argument('--recipes', nargs='+', choices=RECIPES,
                        help='only these recipes (default: every recipe a '
                        'setting allows)')
    parser.add_argument('--seeds', nargs='+', type=int,
                        help='training seeds of the students (default: 0 1 '
                        '2; with --smoke: 0)')
    parser.add_argument('--workers', type=int,
                        default=max(1, os.cpu_count() or 1))
    parser.add_argument('--work-dir', default='work_dirs/fsp_transfer')
    parser.add_argument('--results', default=None,
                        help='the results JSON (default: '
                        'docs/results/fsp_transfer.json; with --smoke '
                        'WORK_DIR/smoke_results.json)')
    parser.add_argument('--plan', action='store_true',
                        help='print the runs and an estimate, train nothing')
    parser.add_argument('--smoke', action='store_true',
                        help='tiny runs (a few iterations, separate keys '
                        'and results) to check the tool end to end')
    parser.add_argument('--report', metavar='OUT_MD',
                        help='write the table of --results to OUT_MD; '
                        'train nothing')
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = [0] if args.smoke else [0, 1, 2]
    if args.results is None:
        args.results = osp.join(args.work_dir, 'smoke_results.json') \
            if args.smoke else 'docs/results/fsp_transfer.json'
    if args.workers < 1:
        parser.error('--workers must be at least 1')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.report:
        print(report(args.results, args.report))
        return 0
    plan = build_plan(args.settings, args.seeds, args.recipes, args.smoke)
    if args.plan:
        todo = []
        for run in plan:
            done = abl._finished(args.work_dir, run['key']) is not None
            if not done:
                todo.append(run)
            print(f'{"done" if done else "todo"}  {run["key"]:<28} '
                  f'~{estimate_seconds(run) / 60:5.1f} min')
        core = sum(estimate_seconds(r) for r in todo)
        print(f'{len(todo)} runs to train: ~{core / 60:.0f} core-minutes, '
              f'~{core / 60 / args.workers:.0f} min with {args.workers} '
              f'workers on idle cores (the teacher first; more with other '
              f'jobs on the machine)')
        return 0
    run_plan(plan, args.work_dir, args.workers, args.results)
    return 0


if __name__ == '__main__':
    sys.exit(main())
