"""The FSP configs: their students and teachers are the plain configs'
models, their teacher checkpoints are what those configs write, and a short
real stage 1 on Fashion-MNIST through tools/train.py lowers the FSP loss;
the student then converts to a plain checkpoint that tools/test.py loads."""
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmfsp.registry import MODELS
from tests.conftest import FAST_TRAIN_OPTIONS, run_tool

REPO = Path(__file__).resolve().parents[2]

# fsp config -> (student's plain config, teacher's plain config)
PAIRS = {
    'fsp-paper_resnet26_resnet26_1xb128_cifar10':
    ('resnet26_1xb128_cifar10_21k', 'resnet26_1xb128_cifar10'),
    'fsp-paper_resnet32x4_resnet32x4_1xb128_cifar100':
    ('resnet32x4_1xb128_cifar100_21k', 'resnet32x4_1xb128_cifar100'),
    'fsp-paper_resnet26_resnet8_1xb128_cifar10':
    ('resnet8_1xb128_cifar10', 'resnet26_1xb128_cifar10'),
    'fsp-paper_resnet32x4_resnet14x4_1xb128_cifar100':
    ('resnet14x4_1xb128_cifar100', 'resnet32x4_1xb128_cifar100'),
    'fsp-paper_resnet34_resnet20_1xb128_cub':
    ('resnet20_1xb128_cub', 'resnet34_1xb128_cub'),
    'fsp-paper_resnet26_resnet26_1xb128_fashion-mnist':
    ('resnet26_1xb128_fashion-mnist_1k', 'resnet26_1xb128_fashion-mnist'),
    'fsp-paper_resnet26_resnet8_1xb128_fashion-mnist':
    ('resnet8_1xb128_fashion-mnist', 'resnet26_1xb128_fashion-mnist'),
}


def _load(path: Path) -> Config:
    return Config.fromfile(str(path))


def _no_init(model: dict) -> dict:
    model = model.to_dict() if hasattr(model, 'to_dict') else dict(model)
    model.get('backbone', {}).pop('init_cfg', None)
    return model


@pytest.mark.parametrize('name', sorted(PAIRS))
def test_fsp_config_matches_the_plain_configs(name):
    cfg = _load(REPO / 'configs' / 'fsp' / f'{name}.py')
    student_cfg = _load(REPO / 'configs' / 'resnet' / f'{PAIRS[name][0]}.py')
    teacher_cfg = _load(REPO / 'configs' / 'resnet' / f'{PAIRS[name][1]}.py')
    assert cfg.model.type == 'SingleTeacherDistill'
    assert _no_init(cfg.model.architecture) == _no_init(student_cfg.model)
    assert _no_init(cfg.model.teacher) == _no_init(teacher_cfg.model)
    assert cfg.model.teacher_ckpt == (
        f'work_dirs/{PAIRS[name][1]}/iter_{teacher_cfg.train_cfg.max_iters}'
        '.pth')
    # Stage 1 = FSP only, stage 2 = CE only, switched by the hook; the
    # stage-2 schedule is the second MultiStepLR, starting at the switch.
    hook, = [h for h in cfg.custom_hooks
             if h.type == 'DistillStageSwitchHook']
    stage1, stage2 = cfg.param_scheduler
    assert stage1.begin == 0 and stage1.end == hook.switch_iter
    assert stage2.begin == hook.switch_iter
    assert stage2.end == cfg.train_cfg.max_iters
    assert cfg.model.stages[0] == dict(student_loss=False,
                                       distill_losses='all')
    assert cfg.model.stages[1] == dict(student_loss=True, distill_losses=[])
    assert cfg.find_unused_parameters is True


@pytest.mark.parametrize('name', [
    'fsp-paper_resnet26_resnet26_1xb128_cifar10',
    'fsp-paper_resnet26_resnet8_1xb128_cifar10',
    'fsp-paper_resnet26_resnet26_1xb128_fashion-mnist',
    'fsp-paper_resnet26_resnet8_1xb128_fashion-mnist'
])
def test_rescaled_configs_only_turn_on_the_norm_reset(name):
    plain = _load(REPO / 'configs' / 'fsp' / f'{name}.py').to_dict()
    rescaled = _load(REPO / 'configs' / 'fsp' /
                     f'{name}_rescaled.py').to_dict()
    hook, = rescaled.pop('custom_hooks')
    assert hook == {**plain.pop('custom_hooks')[0],
                    'rescale_weight_norms': True}
    assert rescaled == plain


def test_paper_schedules():
    cfg = _load(REPO / 'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_cifar10.py')
    s1, s2 = cfg.param_scheduler
    assert cfg.optim_wrapper.optimizer.lr == 0.001
    assert (s1.milestones, s1.end) == ([11000, 16000], 21000)
    assert cfg.custom_hooks[0].stage_lr == 0.1
    assert (s2.milestones, s2.end - s2.begin) == ([11000, 16000], 21000)
    assert cfg.train_cfg.max_iters == 42000
    cfg = _load(REPO / 'configs/fsp/'
                'fsp-paper_resnet32x4_resnet32x4_1xb128_cifar100.py')
    assert cfg.param_scheduler[0].milestones == [16000, 24000]
    assert cfg.custom_hooks[0].switch_iter == 32000
    cfg = _load(REPO / 'configs/fsp/fsp-paper_resnet34_resnet20_1xb128_cub.py')
    assert len(cfg.model.distiller.fsp_pairs) == 4
    assert cfg.optim_wrapper.optimizer.lr == 0.1
    assert cfg.param_scheduler[1].milestones == [10000, 20000]
    assert cfg.param_scheduler[1].end - cfg.param_scheduler[1].begin == 30000
    for name in ('fsp-paper_resnet26_resnet8_1xb128_cifar10',
                 'fsp-paper_resnet32x4_resnet14x4_1xb128_cifar100'):
        s2 = _load(REPO / f'configs/fsp/{name}.py').param_scheduler[1]
        assert s2.end - s2.begin == 64000


def test_stage_only_configs():
    one = _load(REPO / 'configs/fsp/'
                'fsp-paper_resnet26_resnet26_1xb128_cifar10_stage1.py')
    assert one.train_cfg.max_iters == one.custom_hooks[0].switch_iter
    two = _load(REPO / 'configs/fsp/'
                'fsp-paper_resnet26_resnet26_1xb128_cifar10_stage2.py')
    assert two.model.type == 'ImageClassifier'
    assert two.model.init_cfg.prefix == 'architecture.'
    assert two.model.init_cfg.checkpoint == \
        'work_dirs/fsp-paper_resnet26_resnet26_1xb128_cifar10_stage1/iter_21000.pth'


def _scalars(work_dir: Path) -> list:
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    return [json.loads(line) for line in files[-1].read_text().splitlines()]


def test_real_stage1_on_fashion_mnist_lowers_fsp_loss(
        tmp_path, monkeypatch, fashion_mnist_root, capsys):
    cfg = _load(REPO / 'configs/fsp/'
                'fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_stage1.py')
    teacher_cfg = cfg.model.teacher
    teacher_cfg.backbone.depth = 8
    torch.manual_seed(0)
    teacher = MODELS.build(teacher_cfg)
    teacher_ckpt = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, teacher_ckpt)

    work_dir = tmp_path / 'stage1'
    run_tool('train.py', [
        'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_stage1.py',
        '--work-dir',
        work_dir, '--no-validate', '--cfg-options', *FAST_TRAIN_OPTIONS,
        'model.architecture.backbone.depth=8',
        'model.teacher.backbone.depth=8', f'model.teacher_ckpt={teacher_ckpt}',
        # Stage 1 alone: the switch goes with the shortened end
        # (switch_iter > max_iters is refused before training).
        'train_cfg.max_iters=30', 'custom_hooks.0.switch_iter=30',
        'train_cfg.val_interval=1000',
        'default_hooks.checkpoint.interval=30',
        'train_dataloader.batch_size=16',
        'train_dataloader.dataset.indices=512', 'randomness.seed=0'
    ], monkeypatch)
    losses = [s['distill.loss_fsp'] for s in _scalars(work_dir)
              if 'distill.loss_fsp' in s]
    assert len(losses) == 30
    assert all('student.loss' not in s for s in _scalars(work_dir))
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.7 * first, (first, last)

    # The student of the stage-1 checkpoint, as a plain checkpoint, loads in
    # the plain student config: tools/test.py evaluates it.
    student = tmp_path / 'student.pth'
    run_tool('model_converters/convert_distill_ckpt.py',
             [work_dir / 'iter_30.pth', student], monkeypatch)
    state = torch.load(student, weights_only=True)['state_dict']
    plain = MODELS.build(
        dict(
            _load(REPO /
                  'configs/resnet/resnet8_1xb128_fashion-mnist.py').model))
    plain.load_state_dict(state, strict=True)
    capsys.readouterr()
    run_tool('test.py', [
        'configs/resnet/resnet8_1xb128_fashion-mnist.py',
        student, '--work-dir',
        tmp_path / 'test', '--cfg-options', *FAST_TRAIN_OPTIONS,
        'test_dataloader.dataset.indices=100'
    ], monkeypatch)
    assert 'accuracy/top1' in capsys.readouterr().out


def _options(max_iters, switch, extra=()):
    return [
        *FAST_TRAIN_OPTIONS, 'model.architecture.backbone.depth=8',
        'model.teacher.backbone.depth=8', f'train_cfg.max_iters={max_iters}',
        f'param_scheduler.0.end={switch}', f'param_scheduler.1.begin={switch}',
        f'param_scheduler.1.end={max(max_iters, switch + 1)}',
        'param_scheduler.0.milestones=[1000]',
        'param_scheduler.1.milestones=[1000]',
        f'custom_hooks.0.switch_iter={switch}',
        f'default_hooks.checkpoint.interval={switch}',
        'train_dataloader.batch_size=16',
        'train_dataloader.dataset.indices=512', *extra
    ]


@pytest.mark.slow
def test_whole_algorithm_on_fashion_mnist(tmp_path, monkeypatch,
                                         fashion_mnist_root, capsys):
    """Teacher training, both stages in one run, resume after the switch,
    stage-2 students from the stage-1 checkpoint, conversion and test."""
    teacher_dir = tmp_path / 'teacher'
    run_tool('train.py', [
        'configs/resnet/resnet8_1xb128_fashion-mnist.py',
        '--work-dir', teacher_dir,
        '--no-validate', '--cfg-options', *FAST_TRAIN_OPTIONS,
        'train_cfg.max_iters=40', 'train_dataloader.batch_size=32',
        'train_dataloader.dataset.indices=1280', 'randomness.seed=0'
    ], monkeypatch)
    teacher_ckpt = teacher_dir / 'iter_40.pth'

    run_dir = tmp_path / 'fsp'
    args = ['configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py',
            '--work-dir', run_dir, '--no-validate', '--cfg-options']
    extra = [f'model.teacher_ckpt={teacher_ckpt}', 'randomness.seed=0']
    run_tool('train.py', args + _options(40, 20, extra), monkeypatch)
    rows = [s for s in _scalars(run_dir) if 'loss' in s]
    assert [('distill.loss_fsp' in r, 'student.loss' in r)
            for r in rows] == [(True, False)] * 20 + [(False, True)] * 20
    assert rows[20]['lr'] == pytest.approx(0.1)
    assert (run_dir / 'stage1_iter_20.pth').exists()

    # Resume after the switch: remove the last checkpoint, go on from 20.
    (run_dir / 'iter_40.pth').unlink()
    (run_dir / 'last_checkpoint').write_text(str(run_dir / 'iter_20.pth'))
    run_tool('train.py', args[:-1] + ['--resume', '--cfg-options'] +
             _options(40, 20, extra), monkeypatch)
    assert (run_dir / 'iter_40.pth').exists()
    resumed = [s for s in _scalars(run_dir) if 'loss' in s]
    assert [s['iter'] for s in resumed] == list(range(21, 41))
    assert all('student.loss' in s and 'distill.loss_fsp' not in s
               for s in resumed)
    assert resumed[0]['lr'] == pytest.approx(0.1)

    # Two stage-2 students from the stage-1 checkpoint, different seeds.
    students = []
    for seed in (1, 2):
        work = tmp_path / f'stage2_seed{seed}'
        run_tool('train.py', [
            'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_stage2.py',
            '--work-dir',
            work, '--no-validate', '--cfg-options', *FAST_TRAIN_OPTIONS,
            'model.backbone.depth=8', 'train_cfg.max_iters=10',
            'default_hooks.checkpoint.interval=10',
            'train_dataloader.batch_size=16',
            'train_dataloader.dataset.indices=512',
            f'model.init_cfg.checkpoint={run_dir / "stage1_iter_20.pth"}',
            f'randomness.seed={seed}'
        ], monkeypatch)
        students.append(
            torch.load(work / 'iter_10.pth', weights_only=False)['state_dict'])
    assert not torch.equal(students[0]['head.fc.weight'],
                           students[1]['head.fc.weight'])

    student = tmp_path / 'student.pth'
    run_tool('model_converters/convert_distill_ckpt.py',
             [run_dir / 'iter_40.pth', student],
             monkeypatch)
    capsys.readouterr()
    run_tool('test.py', [
        'configs/resnet/resnet8_1xb128_fashion-mnist.py',
        student, '--work-dir',
        tmp_path / 'test', '--cfg-options', *FAST_TRAIN_OPTIONS,
        'test_dataloader.dataset.indices=200'
    ], monkeypatch)
    assert 'accuracy/top1' in capsys.readouterr().out
