"""Every shipped config resolves to what it resolved to before the issue-12
redesign (model, schedule, hooks, data: the whole config dict), compared
with sha256 digests recorded at commit ee15da3."""
import hashlib
import json
from pathlib import Path

import pytest
from mmengine.config import Config

import mmfsp  # noqa: F401  (the configs import it)

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
SNAPSHOT = json.loads(
    (Path(__file__).parent / 'config_snapshot.json').read_text())['configs']


def digest(path: Path) -> str:
    cfg = Config.fromfile(str(path)).to_dict()
    canonical = json.loads(json.dumps(cfg, default=repr, sort_keys=True))
    return hashlib.sha256(
        json.dumps(canonical, sort_keys=True).encode()).hexdigest()


@pytest.mark.parametrize('name', sorted(SNAPSHOT))
def test_config_resolves_as_before(name):
    path = CONFIGS / name
    assert path.is_file(), f'{name} was shipped before the redesign'
    assert digest(path) == SNAPSHOT[name], (
        f'{name} no longer resolves to the same config')
