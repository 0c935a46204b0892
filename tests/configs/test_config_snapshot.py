"""Every shipped config resolves to what it resolved to before the issue-12
redesign and the OpenMMLab renaming (model, schedule, hooks, data: the whole
config dict), compared with sha256 digests recorded at commit ee15da3.

The renaming changed, on purpose, only names: the config files
(configs/RENAMED.md), the work dirs (no config sets ``work_dir`` any more:
the tools use ``work_dirs/<config name>``) and so the paths of checkpoints
that configs read from another config's work dir (``teacher_ckpt``,
``load_from``, a stage-1 ``init_cfg`` checkpoint). The test maps exactly
those back, through the table of configs/RENAMED.md, and then requires the
digest of ee15da3: any other change of a resolved config fails it. The
top-level ``stage_iters`` / ``schedule_stage_iters`` (added later, on
purpose: they restate the schedule's stage lengths) are left out."""
import hashlib
import json
import re
from pathlib import Path

import pytest
from mmengine.config import Config

import mmfsp  # noqa: F401  (the configs import it)

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
_SNAPSHOT = json.loads(
    (Path(__file__).parent / 'config_snapshot.json').read_text())
SNAPSHOT = _SNAPSHOT['configs']
WORK_DIR_AT_EE15DA3 = _SNAPSHOT['work_dir_at_ee15da3']
ROW = re.compile(r'^\| `([^`]+\.py)` \| `([^`]+\.py)` \| `work_dirs/([^`]+)` '
                 r'\| `work_dirs/([^`]+)` \|$')


def renamed() -> list:
    """The rows of configs/RENAMED.md: (old config, new config, old work
    dir, new work dir), paths relative to configs/ and work_dirs/."""
    text = (CONFIGS / 'RENAMED.md').read_text(encoding='utf-8')
    return [m.groups() for m in map(ROW.match, text.splitlines()) if m]


OLD_WORK_DIR = {new_wd: old_wd for _, _, old_wd, new_wd in renamed()}


def shipped() -> set:
    return {
        str(p.relative_to(CONFIGS))
        for p in CONFIGS.glob('*/*.py') if p.parent.name != '_base_'
    }


#: Fashion-MNIST generation configs added after the renaming
NEW_FASHION_GENERATIONS = (
    'tolerant/tolerant-eta06-lam06-tsdall_resnet8_1xb128_fashion-mnist.py',
    'tolerant/tolerant-labelsmooth-lam06_resnet8_1xb128_fashion-mnist.py',
    'tolerant/tolerant-confpenalty-lam06_resnet8_1xb128_fashion-mnist.py',
)


def is_new(name: str) -> bool:
    """A config added after the renaming (nothing to compare it with)."""
    return name.startswith('fsp/fsp_') or (
        name.startswith('tolerant/') and '_densenet-bc' in name) or \
        name in NEW_FASHION_GENERATIONS


def without_secondary_metric(name: str, cfg: dict) -> dict:
    """The Fashion-MNIST generation configs test the secondary-class
    metric next to accuracy since issue 14 (on purpose): their evaluators
    as before, accuracy alone."""
    if not (name.startswith('tolerant/') and 'fashion-mnist' in name):
        return cfg
    cfg = dict(cfg)
    for key in ('val_evaluator', 'test_evaluator'):
        types = [e['type'] for e in cfg[key]]
        assert types == ['Accuracy', 'SecondaryClassMetric'], (name, types)
        cfg[key] = cfg[key][0]
    return cfg


def digest(cfg: dict) -> str:
    canonical = json.loads(json.dumps(cfg, default=repr, sort_keys=True))
    return hashlib.sha256(
        json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def as_at_ee15da3(name: str, cfg: dict) -> dict:
    """``cfg`` with the renamed work dirs in its strings mapped back and the
    ``work_dir`` the config set itself at ee15da3 put back."""

    def back(value):
        if isinstance(value, dict):
            return {k: back(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(back(v) for v in value)
        if isinstance(value, str):
            return re.sub(
                r'work_dirs/([^/]+)/', lambda m: 'work_dirs/' + OLD_WORK_DIR.
                get(m.group(1), m.group(1)) + '/', value)
        return value

    assert 'work_dir' not in cfg, (
        f'{name} sets work_dir: the tools name the work dir after the config')
    # added after ee15da3 on purpose: the stage lengths in one edit
    # (mmfsp/utils/stage_iters.py), which restate the schedule's lengths
    cfg = {k: v for k, v in cfg.items()
           if k not in ('stage_iters', 'schedule_stage_iters')}
    cfg = back(without_secondary_metric(name, cfg))
    if name in WORK_DIR_AT_EE15DA3:
        cfg['work_dir'] = WORK_DIR_AT_EE15DA3[name]
    return cfg


def test_renamed_md_covers_every_shipped_config_once():
    rows = renamed()
    # New since the renaming, not renamed: configs/fsp/fsp_*.py (the
    # recommended recipe, 7), the DenseNet-BC generations (8) and three
    # Fashion-MNIST generation configs.
    before = [n for n in shipped() if not is_new(n)]
    assert len(before) == len(shipped()) - 7 - 8 - 3
    assert sorted(new for _, new, _, _ in rows) == sorted(before)
    assert sorted(SNAPSHOT) == sorted(before)
    assert len({old for old, _, _, _ in rows}) == len(rows)
    for old, new, _, new_wd in rows:
        assert new_wd == Path(new).stem, (old, new, new_wd)
        assert not (CONFIGS / old).exists(), f'{old} is still shipped'


@pytest.mark.parametrize('name', sorted(SNAPSHOT))
def test_config_resolves_as_before(name):
    path = CONFIGS / name
    assert path.is_file(), f'{name} was shipped before the renaming'
    cfg = as_at_ee15da3(name, Config.fromfile(str(path)).to_dict())
    assert digest(cfg) == SNAPSHOT[name], (
        f'{name} no longer resolves to the same config')


def test_a_changed_config_fails_the_check():
    """The check is not blind: one changed number changes the digest."""
    name = 'resnet/resnet8_1xb128_fashion-mnist.py'
    cfg = as_at_ee15da3(name, Config.fromfile(str(CONFIGS / name)).to_dict())
    assert digest(cfg) == SNAPSHOT[name]
    cfg['train_cfg']['max_iters'] += 1
    assert digest(cfg) != SNAPSHOT[name]
