"""A generations run's work directory: its layout, the done markers of
finished generations and their checks (docs/generations.md, "One
command")::

    gen_0/ ...                 # mmengine run: logs, iter_*.pth, ...
    gen_0/generation_0.pth     # final weights, plain classifier state dict
    gen_0/generation_done.json # written atomically when gen 0 is finished
    gen_1/ensemble_test/       # test run of the ensemble of generations 0..1
    summary.md, summary.json
"""
import json
import os
import os.path as osp
import re
from typing import List, Optional

from .settings import GenerationSettings, plain

DONE_FILE = 'generation_done.json'


class GenerationsError(RuntimeError):
    """A generations run cannot go on as asked (stale or inconsistent work
    directory, missing final checkpoint)."""


def generation_dir(work_dir: str, generation: int) -> str:
    """``work_dir/gen_<generation>``."""
    return osp.join(work_dir, f'gen_{generation}')


def final_weights_path(work_dir: str, generation: int) -> str:
    """Where generation ``generation``'s final weights (a plain classifier
    checkpoint) are written."""
    return osp.join(
        generation_dir(work_dir, generation), f'generation_{generation}.pth')


def read_done(work_dir: str, generation: int) -> Optional[dict]:
    """The record of a finished generation, or None."""
    path = osp.join(generation_dir(work_dir, generation), DONE_FILE)
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def finished_generations(work_dir: str) -> List[int]:
    """The generations of ``work_dir`` marked finished."""
    if not osp.isdir(work_dir):
        return []
    found = []
    for name in os.listdir(work_dir):
        match = re.fullmatch(r'gen_(\d+)', name)
        if match and osp.isfile(osp.join(work_dir, name, DONE_FILE)):
            found.append(int(match.group(1)))
    return sorted(found)


def check_finished(work_dir: str, done: List[int], resume: bool) -> None:
    """Refuse a work dir that holds finished generations without
    ``resume``, or finished generations after a gap."""
    if done and not resume:
        raise GenerationsError(
            f'{work_dir} already holds finished generations {done}: pass '
            f'--resume to continue that run (finished generations are '
            f'skipped), or choose another --work-dir')
    if done != list(range(len(done))):
        raise GenerationsError(
            f'{work_dir} has finished generations {done} but not all of '
            f'those before them, whose training would change their teachers; '
            f'delete the gen_*/{DONE_FILE} of the later ones to retrain them')


def check_record(record: dict, settings: GenerationSettings, work_dir: str,
                 generation: int) -> None:
    """A finished generation must have been trained with the same settings
    (all but ``num_generations``) and still have its final weights."""
    if record.get('settings') != plain(settings.identity()):
        raise GenerationsError(
            f'generation {generation} in {work_dir} was trained with '
            f'generations settings {record.get("settings")}, but the config '
            f'now has {settings.identity()}; use another --work-dir (only '
            f'num_generations may change when resuming)')
    weights = osp.join(work_dir, record['checkpoint'])
    if not osp.isfile(weights):
        raise GenerationsError(
            f'generation {generation} is marked finished but its weights '
            f'{weights} are missing; delete '
            f'{osp.join(generation_dir(work_dir, generation), DONE_FILE)} '
            f'to train it again')
