"""Real training through tools/train.py and evaluation through tools/test.py,
as a user runs them, on a subset of Fashion-MNIST and on tiny files in the
exact CIFAR-10 layout."""
import json
from pathlib import Path

import pytest
import torch

from tests.conftest import FAST_TRAIN_OPTIONS, run_tool

FASHION_CFG = 'configs/resnet/resnet8_1xb128_fashion-mnist.py'


def _scalars(work_dir: Path) -> list[dict]:
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    return [json.loads(line) for line in files[-1].read_text().splitlines()]


def fashion_options(max_iters: int, ckpt_interval: int) -> list[str]:
    return FAST_TRAIN_OPTIONS + [
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'default_hooks.checkpoint.interval={ckpt_interval}',
        'train_dataloader.batch_size=32',
        'train_dataloader.dataset.indices=512',
        'val_dataloader.dataset.indices=200',
        'test_dataloader.dataset.indices=200',
        'randomness.seed=0',
    ]


def test_train_resume_and_test_on_fashion_mnist(tmp_path, monkeypatch,
                                                fashion_mnist_root, capsys):
    work_dir = tmp_path / 'run'
    run_tool('train.py', [
        FASHION_CFG, '--work-dir', work_dir, '--cfg-options',
        *fashion_options(max_iters=6, ckpt_interval=3)
    ], monkeypatch)
    assert (work_dir / 'iter_6.pth').exists()
    losses = [s['loss'] for s in _scalars(work_dir) if 'loss' in s]
    assert len(losses) == 6 and all(torch.isfinite(torch.tensor(losses)))
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith(
        'iter_6.pth')

    # A run stopped at iteration 3 resumes from its checkpoint (loaded with
    # weights_only=True) and goes on to 6 instead of starting over.
    (work_dir / 'iter_6.pth').unlink()
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_3.pth'))
    run_tool('train.py', [
        FASHION_CFG, '--work-dir', work_dir, '--resume', '--cfg-options',
        *fashion_options(max_iters=6, ckpt_interval=3)
    ], monkeypatch)
    resumed = _scalars(work_dir)
    iters = [s['iter'] for s in resumed if 'loss' in s]
    assert iters == [4, 5, 6]
    assert (work_dir / 'iter_6.pth').exists()

    capsys.readouterr()
    run_tool('test.py', [
        FASHION_CFG, work_dir / 'iter_6.pth', '--work-dir', tmp_path / 'eval',
        '--cfg-options', *FAST_TRAIN_OPTIONS,
        'test_dataloader.dataset.indices=200'
    ], monkeypatch)
    printed = capsys.readouterr().out
    assert "'accuracy/top1'" in printed


def test_train_on_tiny_cifar10_layout(tmp_path, monkeypatch, tiny_cifar10):
    work_dir = tmp_path / 'cifar'
    run_tool('train.py', [
        'configs/resnet/resnet26_1xb128_cifar10.py', '--work-dir', work_dir,
        '--cfg-options', *FAST_TRAIN_OPTIONS,
        'train_dataloader.dataset.type=TinyCIFAR10',
        f'train_dataloader.dataset.data_root={tiny_cifar10}',
        'val_dataloader.dataset.type=TinyCIFAR10',
        f'val_dataloader.dataset.data_root={tiny_cifar10}',
        'train_dataloader.batch_size=16', 'val_dataloader.batch_size=16',
        'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
        'default_hooks.checkpoint.interval=4'
    ], monkeypatch)
    from mmengine.runner.checkpoint import _load_checkpoint
    loaded = _load_checkpoint(str(work_dir / 'iter_4.pth'))
    assert loaded['meta']['iter'] == 4
    assert 'backbone.layer3.3.conv2.weight' in loaded['state_dict']
    scalars = _scalars(work_dir)
    assert any('accuracy/top1' in s for s in scalars)


def test_amp_flag_sets_amp_optim_wrapper(monkeypatch):
    import runpy
    import sys
    monkeypatch.setattr(sys, 'argv', ['train.py', FASHION_CFG, '--amp'])
    ns = runpy.run_path('tools/train.py')
    args = ns['parse_args']()
    from mmengine.config import Config
    cfg = ns['merge_args'](Config.fromfile(FASHION_CFG), args)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.work_dir.endswith('resnet8_1xb128_fashion-mnist')


def _tool_ns(tool: str, monkeypatch, argv: list) -> dict:
    """The functions of ``tools/<tool>`` (not run), ``sys.argv`` set."""
    import runpy
    import sys
    monkeypatch.setattr(sys, 'argv', [tool, *argv])
    return runpy.run_path(f'tools/{tool}')


def test_cfg_options_win_over_every_other_flag(monkeypatch):
    """As in mmpretrain's tools: --cfg-options is merged last."""
    from mmengine.config import Config
    ns = _tool_ns('train.py', monkeypatch, [
        FASHION_CFG, '--work-dir', 'A', '--amp', '--resume', 'x.pth',
        '--no-persistent-workers', '--cfg-options', 'work_dir=B',
        'optim_wrapper.type=OptimWrapper', 'load_from=y.pth',
        'train_dataloader.persistent_workers=True',
        'train_dataloader.num_workers=2', 'launcher=slurm'
    ])
    cfg = ns['merge_args'](Config.fromfile(FASHION_CFG), ns['parse_args']())
    assert cfg.work_dir == 'B'
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert cfg.resume is True and cfg.load_from == 'y.pth'
    assert cfg.train_dataloader.persistent_workers is True
    assert cfg.launcher == 'slurm'
    # A dataloader without workers cannot keep them, whoever set it.
    ns = _tool_ns('train.py', monkeypatch, [
        FASHION_CFG, '--cfg-options', 'train_dataloader.num_workers=0'])
    cfg = ns['merge_args'](Config.fromfile(FASHION_CFG), ns['parse_args']())
    assert cfg.train_dataloader.persistent_workers is False

    ns = _tool_ns('test.py', monkeypatch, [
        FASHION_CFG, 'ckpt.pth', '--work-dir', 'A', '--out', 'p.pkl',
        '--cfg-options', 'work_dir=B', 'test_evaluator.topk=[1,5]'
    ])
    cfg = ns['merge_args'](Config.fromfile(FASHION_CFG), ns['parse_args']())
    assert cfg.work_dir == 'B' and cfg.load_from == 'ckpt.pth'
    assert cfg.test_evaluator[0]['topk'] == [1, 5]
    assert cfg.test_evaluator[1] == dict(
        type='DumpResults', out_file_path='p.pkl')


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_help_imports_no_framework(tool, repo_root):
    """--help (and argument errors) answer before torch, mmengine,
    mmpretrain or mmfsp is imported."""
    import subprocess
    import sys
    code = (
        'import runpy, sys\n'
        f'sys.argv = ["{tool}", "--help"]\n'
        'try:\n'
        f'    runpy.run_path("tools/{tool}", run_name="__main__")\n'
        'except SystemExit:\n'
        '    pass\n'
        'heavy = sorted(m for m in sys.modules if m.split(".")[0] in '
        '("torch", "mmengine", "mmpretrain", "mmcv", "mmfsp"))\n'
        'print("IMPORTED", heavy)\n')
    result = subprocess.run([sys.executable, '-c', code], cwd=repo_root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'usage:' in result.stdout and '--cfg-options' in result.stdout
    assert 'IMPORTED []' in result.stdout


def test_cfg_options_must_be_pairs(monkeypatch, capsys):
    ns = _tool_ns('train.py', monkeypatch,
                  [FASHION_CFG, '--cfg-options', 'work_dir'])
    with pytest.raises(SystemExit) as info:
        ns['parse_args']()
    assert info.value.code == 2
    assert 'KEY=VALUE' in capsys.readouterr().err


def test_shipped_teacher_checkpoint_loads_safely_and_is_trained(
        fashion_mnist_root):
    """checkpoints/resnet26_fashion_mnist_1050it.pth (the demo's teacher)
    loads with weights_only=True into its config and classifies."""
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    from mmfsp.registry import MODELS
    from tests.conftest import REPO_ROOT
    ckpt = REPO_ROOT / 'checkpoints/resnet26_fashion_mnist_1050it.pth'
    raw = torch.load(ckpt, weights_only=True)
    assert set(raw) == {'meta', 'state_dict'}  # no optimizer, no history
    cfg = Config.fromfile(
        str(REPO_ROOT / 'configs/resnet/resnet26_1xb128_fashion-mnist.py'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, str(ckpt), strict=True)
    model.eval()
    images = fashion_mnist_root / 't10k-images-idx3-ubyte'
    labels = fashion_mnist_root / 't10k-labels-idx1-ubyte'
    x = torch.frombuffer(bytearray(images.read_bytes()[16:]),
                         dtype=torch.uint8)[:500 * 784].float()
    y = torch.frombuffer(bytearray(labels.read_bytes()[8:]),
                         dtype=torch.uint8)[:500].long()
    x = (x.view(500, 1, 28, 28) - 72.94) / 90.02
    with torch.no_grad():
        acc = (model(x, mode='tensor').argmax(1) == y).float().mean()
    assert acc > 0.85, acc


def test_resume_with_missing_checkpoint_is_refused(tmp_path, monkeypatch):
    missing = tmp_path / 'nope' / 'iter_5.pth'
    with pytest.raises(SystemExit, match='no such checkpoint'):
        run_tool('train.py', [FASHION_CFG, '--work-dir', tmp_path / 'run',
                              '--resume', missing, '--cfg-options',
                              *fashion_options(max_iters=2, ckpt_interval=2)],
                 monkeypatch)
    assert not (tmp_path / 'run').exists()  # refused before anything


def test_resume_with_empty_work_dir_says_so(tmp_path, monkeypatch, capsys,
                                            fashion_mnist_root):
    work_dir = tmp_path / 'empty'
    run_tool('train.py', [FASHION_CFG, '--work-dir', work_dir, '--resume',
                          '--no-validate', '--cfg-options',
                          *fashion_options(max_iters=1, ckpt_interval=1)],
             monkeypatch)
    err = capsys.readouterr().err
    assert 'has no checkpoint' in err and 'from scratch' in err
