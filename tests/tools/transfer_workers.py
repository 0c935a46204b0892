"""Stand-ins for tools/fsp_transfer.py's worker in run_plan tests: spawned
processes import them from here; nothing is trained."""
import json
import os
import os.path as osp


def fake_result(run: dict, work_dir: str) -> dict:
    """Write and return a result as ``execute`` does."""
    out = dict(run, val_acc=50.0, test_acc=40.0, seconds=0.0)
    os.makedirs(osp.join(work_dir, run['key']), exist_ok=True)
    with open(osp.join(work_dir, run['key'], 'result.json'), 'w') as f:
        json.dump(out, f)
    return out


def die_once(run: dict, work_dir: str) -> dict:
    """The worker process dies (as a crash at import would) the first time
    it gets a run; the next attempt succeeds."""
    marker = osp.join(work_dir, f'{run["key"]}.died')
    if not osp.exists(marker):
        open(marker, 'w').close()
        os._exit(3)
    return fake_result(run, work_dir)
