"""The run-once store of a reproduction (docs/reproduction.md, "Resuming").

Each run has its own folder ``<work_dir>/runs/<key>`` with ``spec.json``
(what it trains: config, iterations, seed, teacher, data settings) written
when it starts and ``result.json`` written atomically when it is finished
and tested. A run with a ``result.json`` is skipped; an unfinished one
resumes from its last checkpoint (a generations run skips its finished
generations); a folder whose ``spec.json`` disagrees with the run now asked
for is refused (choose another work dir). The test predictions of a run are
kept as ``predictions.npz`` for the diversity measures.
"""
import json
import os
import os.path as osp
import pickle
from typing import Callable, List, Optional, Tuple

import numpy as np

from mmfsp.utils import atomic_write

RESULT_FILE = 'result.json'
IDENTITY_FILE = 'spec.json'
PREDICTIONS_FILE = 'predictions.npz'


class ReproductionError(RuntimeError):
    """The work dir holds a run that disagrees with the one asked for."""


def write_json(path: str, data) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write(path, (json.dumps(data, indent=2) + '\n').encode('utf-8'))


def read_json(path: str):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def run_dir(work_dir: str, key: str) -> str:
    """The folder of run ``key``."""
    return osp.join(work_dir, 'runs', key)


def check_run_dir(run_dir: str, identity: dict) -> bool:
    """Whether ``run_dir`` has the ``spec.json`` of the run ``identity``
    (False: none yet); a ``spec.json`` of another run is refused
    (:class:`ReproductionError`)."""
    path = osp.join(run_dir, IDENTITY_FILE)
    if not osp.isfile(path):
        return False
    found = read_json(path)
    if found != identity:
        changed = sorted(k for k in set(found) | set(identity)
                         if found.get(k) != identity.get(k))
        raise ReproductionError(
            f'{run_dir} holds a run with other settings ({changed}: '
            f'{[found.get(k) for k in changed]} there, '
            f'{[identity.get(k) for k in changed]} now); use another '
            f'--work-dir, or delete that folder to run it again')
    return True


def claim_run_dir(run_dir: str, identity: dict) -> None:
    """Make ``run_dir`` the home of the run ``identity``: write its
    ``spec.json``, or check that the one there agrees."""
    if check_run_dir(run_dir, identity):
        return
    os.makedirs(run_dir, exist_ok=True)
    write_json(osp.join(run_dir, IDENTITY_FILE), identity)


def finished_result(run_dir: str, identity: dict) -> Optional[dict]:
    """The ``result.json`` of a finished run of ``identity`` in
    ``run_dir``, or None when it has not finished. A result of another
    run is refused (:class:`ReproductionError`)."""
    path = osp.join(run_dir, RESULT_FILE)
    if not osp.isfile(path):
        return None
    result = read_json(path)
    if result.get('spec') != identity:
        raise ReproductionError(
            f'{path} is the result of another run; use another --work-dir, '
            f'or delete {run_dir} to run it again')
    return result


def run_once(run_dir: str, identity: dict, work: Callable[[], dict]) -> dict:
    """``work()``'s result for the run ``identity``, computed once: a
    finished run's ``result.json`` is returned without calling ``work``;
    otherwise ``work()`` runs and its dict (plus ``spec``) is written
    atomically as ``result.json``."""
    done = finished_result(run_dir, identity)
    if done is not None:
        done['skipped'] = True
        return done
    claim_run_dir(run_dir, identity)
    result = dict(work())
    result['spec'] = identity
    write_json(osp.join(run_dir, RESULT_FILE), result)
    result['skipped'] = False
    return result


def checkpoints(run_dir: str) -> List[str]:
    """The ``iter_*.pth`` files of ``run_dir`` (none for a new run)."""
    if not osp.isdir(run_dir):
        return []
    return sorted(f for f in os.listdir(run_dir)
                  if f.startswith('iter_') and f.endswith('.pth'))


def save_predictions(run_dir: str) -> str:
    """Turn the test run's ``predictions.pkl`` (mmengine ``DumpResults``)
    into ``predictions.npz`` (``scores`` (N, C) softmax, ``labels``,
    ``sample_idx``, rows sorted by ``sample_idx``); returns its path."""
    pkl = osp.join(run_dir, 'predictions.pkl')
    with open(pkl, 'rb') as f:
        samples = pickle.load(f)  # written just now by this process
    idx = np.array([int(s['sample_idx']) for s in samples])
    order = np.argsort(idx)
    scores = np.stack([np.asarray(samples[i]['pred_score'], np.float32)
                       for i in order])
    labels = np.array([int(np.asarray(samples[i]['gt_label']).reshape(-1)[0])
                       for i in order])
    out = osp.join(run_dir, PREDICTIONS_FILE)
    tmp = out + '.tmp.npz'
    np.savez(tmp, scores=scores, labels=labels, sample_idx=idx[order])
    os.replace(tmp, out)
    os.remove(pkl)
    return out


def load_predictions(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """``(scores, labels)`` of a ``predictions.npz``."""
    with np.load(path) as data:
        return data['scores'], data['labels']
