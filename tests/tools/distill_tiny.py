"""Helpers of the distillation reliability tests (resume, distributed,
config checks): a tiny copy of Fashion-MNIST, a briefly trained ResNet-8
teacher checkpoint, a small FSP config written next to them, and the logged
losses of a work dir.

Everything is small on purpose: 256 training images read from a 256-image
copy of the idx files (mmpretrain parses the whole file before taking
``indices``; the 60k-image file costs seconds per run), ResNet-8 teacher and
student, batch 16, 8 iterations (stage switch at 4).
"""
import json
import struct
from pathlib import Path
from typing import Dict, Optional, Sequence

import pytest
import torch

from tests.conftest import REPO_ROOT

FSP_CFG = REPO_ROOT / \
    'configs/fsp/fsp-paper_resnet26_resnet8_1xb128_fashion-mnist.py'
TEACHER_CFG = REPO_ROOT / 'configs/resnet/resnet8_1xb128_fashion-mnist.py'
SWITCH, MAX_ITERS, CKPT_INTERVAL = 4, 8, 2


def write_idx_head(src: Path, dst: Path, count: int) -> None:
    """The first ``count`` entries of an idx (SN3) file."""
    data = src.read_bytes()
    dims = data[3]
    shape = struct.unpack('>' + 'I' * dims, data[4:4 + 4 * dims])
    header = data[:4] + struct.pack('>' + 'I' * dims, count, *shape[1:])
    item = 1
    for size in shape[1:]:
        item *= size
    dst.write_bytes(header + data[4 + 4 * dims:4 + 4 * dims + count * item])


def small_fashion_mnist(src: Path, dst: Path, train: int = 256,
                        test: int = 64) -> Path:
    """The first ``train`` / ``test`` images of Fashion-MNIST in its file
    layout, under ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    for prefix, count in (('train', train), ('t10k', test)):
        for kind in ('images-idx3', 'labels-idx1'):
            name = f'{prefix}-{kind}-ubyte'
            write_idx_head(src / name, dst / name, count)
    return dst


def train_teacher(data_root: Path, path: Path, num_classes: int = 10,
                  steps: int = 3) -> Path:
    """A ResNet-8 classifier (the Fashion-MNIST config's model) trained for
    ``steps`` SGD steps on the first images, saved as a plain
    ``{'state_dict': ...}`` checkpoint; ``num_classes`` other than 10 makes
    a teacher that does not fit the 10-class configs."""
    from mmengine.config import Config
    from mmpretrain.datasets import FashionMNIST
    from mmpretrain.structures import DataSample

    from mmfsp.registry import MODELS
    cfg = Config.fromfile(str(TEACHER_CFG))
    cfg.model.head.num_classes = num_classes
    cfg.model.data_preprocessor = dict(cfg.data_preprocessor,
                                       num_classes=num_classes)
    rng = torch.get_rng_state()
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    data = FashionMNIST(data_root=str(data_root), split='train',
                        indices=64, pipeline=[dict(type='PackInputs')])
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    for step in range(steps):
        items = [data[i] for i in range(16 * step, 16 * step + 16)]
        for item in items:
            label = int(item['data_samples'].gt_label) % num_classes
            item['data_samples'] = DataSample().set_gt_label(label)
        batch = model.data_preprocessor(
            dict(inputs=[i['inputs'] for i in items],
                 data_samples=[i['data_samples'] for i in items]), True)
        loss = model(**batch, mode='loss')['loss']
        optim.zero_grad()
        loss.backward()
        optim.step()
    torch.set_rng_state(rng)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def write_fsp_cfg(path: Path, data_root: Path, teacher: Path,
                  extra: str = '', hooks: Sequence[str] = (),
                  imports: Sequence[str] = (), switch: int = SWITCH,
                  max_iters: int = MAX_ITERS, batch_size: int = 16,
                  augment: bool = True,
                  student_norm: Optional[dict] = None) -> Path:
    """A config inheriting
    ``configs/fsp/fsp-paper_resnet26_resnet8_1xb128_fashion-mnist.py`` with a
    ResNet-8 teacher (``teacher``), the tiny dataset (256 training images),
    stage 1 for ``switch`` iterations then stage 2 until ``max_iters`` (lr
    0.001 -> 1e-4 after 2; 0.1 -> 0.01 after 2 more), checkpoints every 2
    iterations (all kept), ``randomness=dict(seed=0, deterministic=True)``.

    ``augment=False`` trains on the test pipeline (no random crop / flip);
    ``student_norm`` replaces the student's BN (e.g. GroupNorm);
    ``hooks``: config text of custom hooks after the switch hook;
    ``imports``: modules added to ``custom_imports``; ``extra``: config
    lines appended."""
    imports = ['mmfsp', *imports]
    hook_text = ''.join(f'    {h},\n' for h in hooks)
    student = '' if student_norm is None else \
        f'architecture=dict(backbone=dict(norm_cfg={student_norm!r})),'
    pipeline = '' if augment else "pipeline=[dict(type='PackInputs')],"
    path.write_text(f"""
_base_ = [{str(FSP_CFG)!r}]
custom_imports = dict(imports={imports!r}, allow_failed_imports=False)
model = dict(
    {student}
    teacher=dict(backbone=dict(depth=8)), teacher_ckpt={str(teacher)!r})
train_dataloader = dict(
    batch_size={batch_size}, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={str(data_root)!r}, indices=256, {pipeline}))
val_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={str(data_root)!r}))
test_dataloader = val_dataloader
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end={switch},
         milestones=[2], gamma=0.1),
    dict(type='MultiStepLR', by_epoch=False, begin={switch},
         end={max(max_iters, switch + 1)}, milestones=[2], gamma=0.1),
]
custom_hooks = [
    dict(type='DistillStageSwitchHook', switch_iter={switch}, stage_lr=0.1),
{hook_text}]
train_cfg = dict(max_iters={max_iters}, val_interval={max_iters})
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval={CKPT_INTERVAL}, max_keep_ckpts=-1))
randomness = dict(seed=0, deterministic=True)
log_level = 'WARNING'
{extra}
""")
    return path


def logged_losses(work_dir: Path,
                  keys: Sequence[str] = ('loss', )) -> Dict[int, dict]:
    """{iteration: {key: value}} over every run logged in ``work_dir`` (a
    resumed run's own log holds its iterations only)."""
    out: Dict[int, dict] = {}
    for scalars in sorted(work_dir.glob('2*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            entry = json.loads(line)
            if 'loss' in entry:
                out[entry['iter']] = {k: entry.get(k) for k in keys}
    return out


def load_ckpt(path: Path) -> dict:
    from mmengine.runner.checkpoint import _load_checkpoint
    return _load_checkpoint(str(path), map_location='cpu', logger='silent')


def differing_tensors(a: dict, b: dict, prefix: str = '') -> list:
    """Keys under which the (nested) dicts / lists of tensors ``a`` and
    ``b`` differ bitwise (or in structure)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) \
            and a.shape == b.shape and a.dtype == b.dtype and \
            torch.equal(a, b)
        return [] if same else [prefix or '<root>']
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f'{prefix}: keys {sorted(set(a) ^ set(b), key=str)}']
        return [d for k in a for d in differing_tensors(
            a[k], b[k], f'{prefix}.{k}' if prefix else str(k))]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f'{prefix}: lengths {len(a)} != {len(b)}']
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in differing_tensors(x, y, f'{prefix}[{i}]')]
    return [] if a == b else [f'{prefix}: {a!r} != {b!r}']


@pytest.fixture()
def restore_determinism():
    """``randomness.deterministic=True`` switches torch to deterministic
    algorithms for the whole process; put the flags back afterwards."""
    flags = (torch.are_deterministic_algorithms_enabled(),
             torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(flags[0])
    torch.backends.cudnn.deterministic = flags[1]
    torch.backends.cudnn.benchmark = flags[2]


@pytest.fixture()
def unformatted_config_text(monkeypatch):
    """Skip yapf's formatting of the config text that mmengine writes into
    the work dir and into every checkpoint's ``meta['cfg']`` (about 1 s per
    checkpoint on this machine, half of these tests' time otherwise): the
    text stays the same valid Python, only unformatted. Nothing the tests
    compare depends on it."""
    import mmengine.config.config as config_module
    monkeypatch.setattr(config_module, 'FormatCode',
                        lambda text, **kwargs: (text, False))


@pytest.fixture(scope='session')
def tiny_fashion_mnist(tmp_path_factory, fashion_mnist_root) -> Path:
    return small_fashion_mnist(fashion_mnist_root,
                               tmp_path_factory.mktemp('fmnist_tiny'))


@pytest.fixture(scope='session')
def tiny_teacher(tmp_path_factory, tiny_fashion_mnist) -> Path:
    return train_teacher(tiny_fashion_mnist,
                         tmp_path_factory.mktemp('teacher') / 'teacher.pth')


def experiment(name: str) -> str:
    """A unique experiment name (mmengine keys its message hub, logger and
    visualizer by it, and these runs share a process)."""
    import uuid
    return f'experiment_name={name}_{uuid.uuid4().hex[:8]}'
