"""tools/train_generations.py and tools/test_ensemble.py merge
``--cfg-options`` last, as tools/train.py does (and mmpretrain's tools):
they win over every flag and over what the tool sets itself."""
import runpy
import sys

from tests.conftest import REPO_ROOT

FASHION_D06 = \
    'configs/tolerant/tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py'
RESNET8 = 'configs/resnet/resnet8_1xb128_fashion-mnist.py'


def _tool_ns(tool: str, monkeypatch, argv: list) -> dict:
    """The functions of ``tools/<tool>`` (not run), ``sys.argv`` set."""
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, 'argv', [tool, *argv])
    return runpy.run_path(f'tools/{tool}')


def test_train_generations_cfg_options_win(monkeypatch):
    ns = _tool_ns('train_generations.py', monkeypatch, [
        FASHION_D06, '--generations', '2', '--work-dir', 'A',
        '--cfg-options', 'work_dir=B', 'generations.num_generations=3',
        'generations.lam=0.5'
    ])
    args = ns['parse_args']()
    from mmfsp.utils.tool_args import load_config
    cfg = ns['merge_args'](load_config(args, merge_options=False), args)
    assert cfg.work_dir == 'B'
    assert cfg.generations.num_generations == 3 and \
        cfg.generations.lam == 0.5
    # the flags alone
    ns = _tool_ns('train_generations.py', monkeypatch,
                  [FASHION_D06, '--generations', '2', '--work-dir', 'A'])
    args = ns['parse_args']()
    cfg = ns['merge_args'](load_config(args, merge_options=False), args)
    assert cfg.work_dir == 'A' and cfg.generations.num_generations == 2


def test_test_ensemble_cfg_options_win(monkeypatch):
    import mmfsp  # noqa: F401
    ns = _tool_ns('test_ensemble.py', monkeypatch, [
        RESNET8, 'a.pth', 'b.pth', '--work-dir', 'A', '--cfg-options',
        'work_dir=B', 'model.backbone.depth=14',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=True'
    ])
    cfg = ns['ensemble_config'](ns['parse_args']())
    assert cfg.work_dir == 'B'
    # options under model describe the members
    assert cfg.model.type == 'EnsembleClassifier'
    assert cfg.model.model.backbone.depth == 14
    assert cfg.model.checkpoints == ['a.pth', 'b.pth']
    # no workers: none to keep, whoever asked
    assert cfg.test_dataloader.persistent_workers is False
