"""Task functions for the scheduler tests: module-level (a spawned worker
imports them by name), no training. Each records what it saw in a JSON
file of its own under ``out_dir``."""
import json
import os
import os.path as osp
import sys
import time


def _record(out_dir: str, key: str, **data) -> None:
    with open(osp.join(out_dir, f'{key}.json'), 'w') as f:
        json.dump(data, f)


def work(ctx, out_dir: str, seconds: float = 0.2) -> dict:
    """Sleep ``seconds`` reporting 5 iterations; print a line (to the
    task's log); return what it received."""
    start = time.time()
    print(f'hello from {ctx.key}')
    sys.stdout.flush()
    for i in range(5):
        time.sleep(seconds / 5)
        ctx.report(i + 1)
    end = time.time()
    _record(out_dir, ctx.key, start=start, end=end, pid=os.getpid(),
            inputs=sorted(ctx.inputs), device=ctx.device)
    return dict(key=ctx.key, pid=os.getpid(),
                total=1 + sum(r['total'] for r in ctx.inputs.values()))


def fail(ctx, out_dir: str) -> dict:
    raise ValueError(f'{ctx.key} fails on purpose')


def die(ctx, out_dir: str) -> dict:
    """The worker process dies without a word (as when killed)."""
    sys.stdout.flush()
    os._exit(3)


def wait_for_threads(ctx, out_dir: str, wanted: int,
                     timeout: float = 60.0) -> dict:
    """Report until the scheduler gives this task ``wanted`` threads."""
    import torch
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        ctx.report(len(seen), force=True)
        seen.append(torch.get_num_threads())
        if seen[-1] == wanted:
            break
        time.sleep(0.1)
    _record(out_dir, ctx.key, threads=sorted(set(seen)))
    return dict(key=ctx.key, total=1, threads=sorted(set(seen)))
