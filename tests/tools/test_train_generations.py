"""Training in generations: the per-generation config builder (pure, fast)
and tools/train_generations.py on a small real Fashion-MNIST subset."""
import json
import struct
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmfsp.registry import MODELS
from tests.conftest import FAST_TRAIN_OPTIONS, REPO_ROOT, run_tool


# tools/ is not a package: import tools/generations the way
# tools/train_generations.py does (its folder on sys.path), so that the tool
# run in-process below raises the very GenerationsError imported here.
if str(REPO_ROOT / 'tools') not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / 'tools'))
from generations import (DONE_FILE, GenerationSettings,  # noqa: E402
                         GenerationsError, build_generation_config,
                         build_test_config, summary_markdown, summary_rows)

TOLERANT = REPO_ROOT / 'configs' / 'tolerant'
FASHION_D06 = \
    'configs/tolerant/tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py'


def _cfg(name: str) -> Config:
    return Config.fromfile(str(TOLERANT / name))


def _head_loss(cfg: Config) -> dict:
    model = cfg.model
    return dict((model.get('architecture') or model)['head']['loss'])


# ------------------------------------------------------------ settings
def test_settings_defaults_override_and_label():
    s = GenerationSettings.from_cfg(dict(num_generations=3, eta=0.6, lam=0.6))
    assert (s.k, s.tsd_in, s.reparam, s.teacher_loss) == (5, 'patriarch',
                                                          'none', None)
    assert s.label == 'D(0.6, 0.6)'
    baseline = GenerationSettings.from_cfg(
        dict(num_generations=3), num_generations=7)
    assert baseline.num_generations == 7
    assert baseline.label == 'D(1.0, 0.0)'
    assert GenerationSettings.from_cfg(
        dict(num_generations=1, eta=0.65, lam=1)).label == 'D(0.65, 1.0)'
    assert GenerationSettings.from_cfg(
        dict(num_generations=1, teacher_loss=dict(
            type='LabelSmoothLoss'))).label.endswith('LabelSmoothLoss')
    assert 'num_generations' not in s.identity()


@pytest.mark.parametrize('bad, match', [
    (dict(num_generations=0), 'num_generations'),
    (dict(num_generations=2, eta=1.5), 'eta'),
    (dict(num_generations=2, lam=-0.1), 'lam'),
    (dict(num_generations=2, k=1), 'k'),
    (dict(num_generations=2, tsd_in='every'), 'tsd_in'),
    (dict(num_generations=2, eta=0.6, reparam='log'), 'reparam'),
    (dict(num_generations=2, reparam='unit-ce'), 'reparam'),
    (dict(num_generations=2, eta=0.0, reparam='unit_ce'), 'eta'),
    (dict(num_generations=2, eta=0.6,
          teacher_loss=dict(type='LabelSmoothLoss')), 'eta=1.0'),
    (dict(num_generations=2, tsd='all'), 'unknown keys'),
    (dict(eta=0.6), 'num_generations'),
])
def test_settings_reject_bad_values(bad, match):
    with pytest.raises(ValueError, match=match):
        GenerationSettings.from_cfg(bad)


def test_config_without_generations_is_refused():
    cfg = Config.fromfile(str(REPO_ROOT / 'configs/resnet/'
                              'resnet8_1xb128_fashion-mnist.py'))
    with pytest.raises(ValueError, match='generations = dict'):
        build_generation_config(cfg, 0, '/tmp/w')


# ------------------------------------------------------ config builder
def test_tolerant_patriarch_then_kd_students():
    cfg = _cfg('tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py')
    before = cfg.to_dict()
    gen0 = build_generation_config(cfg, 0, '/runs/x')
    assert gen0.model.type == 'ImageClassifier'
    assert _head_loss(gen0) == dict(
        type='TolerantTeacherLoss', eta=0.6, k=5, reparam='none')
    assert gen0.work_dir == '/runs/x/gen_0'
    assert gen0.randomness.seed == 0

    gen2 = build_generation_config(cfg, 2, '/runs/x', '/runs/x/t.pth')
    model = gen2.model
    assert model.type == 'SingleTeacherDistill'
    assert model.teacher_ckpt == '/runs/x/t.pth'
    assert not model.teacher_trainable and model.teacher_norm_eval
    # tsd_in='patriarch': the student's label term is plain CE, 1 - lam.
    assert _head_loss(gen2) == dict(type='CrossEntropyLoss', loss_weight=0.4)
    # The teacher is the same classifier.
    assert model.teacher.backbone == model.architecture.backbone
    distiller = model.distiller
    assert distiller.distill_losses == dict(
        loss_kd=dict(type='KDLoss', tau=1.0, loss_weight=0.6))
    for side in ('student_recorders', 'teacher_recorders'):
        assert distiller[side]['logits'] == dict(
            type='ModuleOutputs', source='head.fc')
    assert gen2.work_dir == '/runs/x/gen_2'
    assert gen2.randomness.seed == 2
    assert cfg.to_dict() == before, 'the builder must not modify its input'


def test_tsd_in_all_mixes_tsd_into_every_student():
    cfg = _cfg('tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py')
    cfg.generations.tsd_in = 'all'
    cfg.generations.reparam = 'unit_ce'
    gen1 = build_generation_config(cfg, 1, '/w', '/w/gen_0/t.pth')
    assert _head_loss(gen1) == dict(
        type='TolerantTeacherLoss',
        eta=0.6,
        k=5,
        reparam='unit_ce',
        loss_weight=pytest.approx(0.4))


def test_strict_and_baseline_generations():
    strict = _cfg('tolerant-eta10-lam06_resnet8_1xb128_fashion-mnist.py')
    assert _head_loss(build_generation_config(strict, 0, '/w')) == dict(
        type='CrossEntropyLoss', loss_weight=1.0)
    gen1 = build_generation_config(strict, 1, '/w', '/w/t.pth')
    assert _head_loss(gen1) == dict(
        type='CrossEntropyLoss', loss_weight=pytest.approx(0.4))
    with pytest.raises(ValueError, match='teacher_ckpt'):
        build_generation_config(strict, 1, '/w')

    # D(1.0, 0.0): every generation is a plain classifier, no teacher.
    baseline = _cfg('tolerant-eta10-lam00_resnet8_1xb128_fashion-mnist.py')
    gen2 = build_generation_config(baseline, 2, '/w')
    assert gen2.model.type == 'ImageClassifier'
    assert _head_loss(gen2) == dict(type='CrossEntropyLoss', loss_weight=1.0)


@pytest.mark.parametrize('name, loss_type', [
    ('tolerant-labelsmooth-lam06_resnet56_1xb128_cifar100.py',
     'LabelSmoothLoss'),
    ('tolerant-confpenalty-lam06_resnet56_1xb128_cifar100.py',
     'ConfidencePenaltyLoss'),
])
def test_alternative_teacher_losses(name, loss_type):
    cfg = _cfg(name)
    assert _head_loss(build_generation_config(cfg, 0, '/w'))['type'] == \
        loss_type
    assert _head_loss(build_generation_config(cfg, 1, '/w', '/t.pth')) == \
        dict(type='CrossEntropyLoss', loss_weight=pytest.approx(0.4))
    cfg.generations.tsd_in = 'all'
    loss = _head_loss(build_generation_config(cfg, 1, '/w', '/t.pth'))
    assert loss['type'] == loss_type
    assert loss['loss_weight'] == pytest.approx(0.4)


@pytest.mark.parametrize(
    'path', sorted(TOLERANT.glob('*.py')), ids=lambda p: p.name)
def test_every_tolerant_config_builds_its_generations(path):
    cfg = Config.fromfile(str(path))
    s = GenerationSettings.from_cfg(cfg.generations)
    gen1 = build_generation_config(cfg, 1, '/w', '/w/gen_0/g.pth')
    assert (gen1.model.type == 'SingleTeacherDistill') == (s.lam > 0)
    if 'cifar100' in path.name:
        assert s.num_generations == 5
        types = [e['type'] for e in cfg.test_evaluator]
        assert types == ['Accuracy', 'SecondaryClassMetric']
    if 'resnet56' in path.name:
        assert cfg.model.backbone.depth == 56
        assert cfg.train_cfg.max_iters == 64000
    if 'densenet-bc' in path.name:  # Huang et al.: 300 epochs at batch 64
        assert cfg.model.backbone.type == 'DenseNetBC'
        assert cfg.train_dataloader.batch_size == 64
        assert cfg.train_cfg.max_iters == 300 * 50000 // 64
        assert cfg.optim_wrapper.optimizer.nesterov is True
    if 'imagenet' in path.name:
        assert cfg.model.backbone.depth == 18 and s.label == 'D(0.6, 0.6)'


def test_generation_student_builds_and_computes_kd(tmp_path):
    """The built generation-1 model loads its teacher and logs both loss
    terms (a real forward pass through SingleTeacherDistill)."""
    cfg = _cfg('tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py')
    teacher = MODELS.build(cfg.model)
    ckpt = tmp_path / 'g0.pth'
    torch.save({'state_dict': teacher.state_dict()}, ckpt)
    gen1 = build_generation_config(cfg, 1, str(tmp_path), str(ckpt))
    gen1.model.data_preprocessor = dict(cfg.data_preprocessor)
    model = MODELS.build(gen1.model)
    for key, value in teacher.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[key], value), key
    from mmpretrain.structures import DataSample
    samples = [DataSample().set_gt_label(i % 10) for i in range(4)]
    data = model.data_preprocessor(
        dict(
            inputs=[torch.randint(0, 255, (1, 28, 28), dtype=torch.uint8)
                    for _ in range(4)],
            data_samples=samples), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'student.loss', 'distill.loss_kd'}
    assert all(torch.isfinite(v) for v in losses.values())


def test_test_config_is_an_ensemble_without_training_parts():
    cfg = _cfg('tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py')
    tcfg = build_test_config(cfg, ['a.pth', 'b.pth'], '/w/eval')
    assert tcfg.model.type == 'EnsembleClassifier'
    assert tcfg.model.checkpoints == ['a.pth', 'b.pth']
    assert tcfg.model.data_preprocessor['mean'] == [72.94]
    assert tcfg.train_dataloader is None and tcfg.optim_wrapper is None
    assert tcfg.test_dataloader is not None and tcfg.work_dir == '/w/eval'


def test_summary_rows_and_markdown():
    s = GenerationSettings.from_cfg(dict(num_generations=2, eta=0.6, lam=0.6))
    records = [
        dict(generation=0, metrics={'accuracy/top1': 70.0,
                                    'secondary/top4_same_superclass': 0.25},
             ensemble_metrics={'accuracy/top1': 70.0,
                               'secondary/top4_same_superclass': 0.25}),
        dict(generation=1, metrics={'accuracy/top1': 72.5,
                                    'secondary/top4_same_superclass': 0.3},
             ensemble_metrics={'accuracy/top1': 74.25,
                               'secondary/top4_same_superclass': 0.31}),
    ]
    rows = summary_rows(records)
    assert [r['model'] for r in rows] == [
        'generation 0', 'generation 1', 'ensemble 0-1'
    ]
    assert rows[2]['members'] == [0, 1]
    text = summary_markdown('run', s, rows)
    assert 'D(0.6, 0.6)' in text
    assert '| model | accuracy/top1 | secondary/top4_same_superclass |' in text
    assert '| ensemble 0-1 | 74.25 | 0.3100 |' in text


# ------------------------------------------------- real training (tool)
def _write_idx(src: Path, dst: Path, count: int) -> None:
    """The first ``count`` entries of an idx (SN3) file."""
    data = src.read_bytes()
    dims = data[3]
    shape = struct.unpack('>' + 'I' * dims, data[4:4 + 4 * dims])
    header = data[:4] + struct.pack('>' + 'I' * dims, count, *shape[1:])
    item = 1
    for size in shape[1:]:
        item *= size
    body = data[4 + 4 * dims:4 + 4 * dims + count * item]
    dst.write_bytes(header + body)


@pytest.fixture(scope='module')
def small_fashion_mnist(tmp_path_factory, fashion_mnist_root) -> Path:
    """The first 256 training and 50 test images of the real Fashion-MNIST
    in its file layout (loads in milliseconds, unlike the 70k images)."""
    root = tmp_path_factory.mktemp('fashion_mnist')
    for prefix, count in (('train', 256), ('t10k', 50)):
        for kind in ('images-idx3', 'labels-idx1'):
            name = f'{prefix}-{kind}-ubyte'
            _write_idx(fashion_mnist_root / name, root / name, count)
    return root


def _options(data_root: Path) -> list:
    return FAST_TRAIN_OPTIONS + [
        'train_cfg.max_iters=3', 'train_cfg.val_interval=3',
        'default_hooks.checkpoint.interval=2',
        'train_dataloader.batch_size=16', 'val_dataloader.batch_size=50',
        'test_dataloader.batch_size=50',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}', 'randomness.seed=0'
    ]


def _scalars(run_dir: Path) -> list:
    files = sorted(run_dir.glob('2*/vis_data/scalars.json'))
    assert files, f'no scalars.json under {run_dir}'
    return [json.loads(line) for line in files[-1].read_text().splitlines()]


def _state(path: Path) -> dict:
    from mmengine.runner.checkpoint import _load_checkpoint
    return _load_checkpoint(str(path), map_location='cpu')['state_dict']


def test_two_generations_summary_and_resume(tmp_path, monkeypatch, capsys,
                                            small_fashion_mnist):
    work = tmp_path / 'gens'
    args = [
        FASHION_D06, '--generations', '2', '--work-dir', work,
        '--cfg-options', *_options(small_fashion_mnist)
    ]
    run_tool('train_generations.py', args, monkeypatch)
    gen0, gen1 = work / 'gen_0', work / 'gen_1'

    # Generation 1's frozen teacher holds generation 0's final weights.
    final0 = _state(gen0 / 'generation_0.pth')
    assert final0.keys() == _state(gen0 / 'iter_3.pth').keys()
    distill1 = _state(gen1 / 'iter_3.pth')
    for key, value in final0.items():
        assert torch.equal(distill1[f'teacher.{key}'], value), key
        assert torch.equal(_state(gen0 / 'iter_3.pth')[key], value)
    # ... and the student's weights are its own (exported without prefix).
    final1 = _state(gen1 / 'generation_1.pth')
    assert final1.keys() == final0.keys()
    assert torch.equal(final1['head.fc.weight'],
                       distill1['architecture.head.fc.weight'])
    logged = [s for s in _scalars(gen1) if 'loss' in s]
    assert [s['iter'] for s in logged] == [1, 2, 3]
    assert all('distill.loss_kd' in s and 'student.loss' in s
               for s in logged)
    assert not any('distill.loss_kd' in s for s in _scalars(gen0))

    summary = json.loads((work / 'summary.json').read_text())
    assert [r['model'] for r in summary['rows']] == [
        'generation 0', 'generation 1', 'ensemble 0-1'
    ]
    assert all('accuracy/top1' in r['metrics'] for r in summary['rows'])
    assert summary['setting'] == 'D(0.6, 0.6)'
    assert [g['kind'] for g in summary['generations']] == [
        'plain', 'distilled'
    ]
    assert summary['generations'][1]['teacher'] == 'gen_0/generation_0.pth'
    table = (work / 'summary.md').read_text()
    assert '| ensemble 0-1 |' in table and '| generation 1 |' in table
    assert '| ensemble 0-1 |' in capsys.readouterr().out

    # Stop generation 1 after iteration 2 (of 3): it resumes from there, while
    # the finished generation 0 is not trained again.
    (gen1 / DONE_FILE).unlink()
    (gen1 / 'generation_1.pth').unlink()
    (gen1 / 'iter_3.pth').unlink()
    (gen1 / 'last_checkpoint').write_text(str(gen1 / 'iter_2.pth'))
    gen0_runs = sorted(gen0.glob('2*'))
    gen0_mtime = (gen0 / 'generation_0.pth').stat().st_mtime_ns
    run_tool('train_generations.py', [*args, '--resume'], monkeypatch)
    out = capsys.readouterr().out
    assert 'generation 0: finished, skipped' in out
    assert sorted(gen0.glob('2*')) == gen0_runs
    assert (gen0 / 'generation_0.pth').stat().st_mtime_ns == gen0_mtime
    resumed = [s['iter'] for s in _scalars(gen1) if 'loss' in s]
    assert resumed == [3]
    assert (gen1 / DONE_FILE).exists() and (gen1 / 'generation_1.pth').exists()
    for key, value in final0.items():
        assert torch.equal(_state(gen1 / 'iter_3.pth')[f'teacher.{key}'],
                           value)

    # Without --resume, a work dir with finished generations is refused.
    with pytest.raises(GenerationsError, match='--resume'):
        run_tool('train_generations.py', args, monkeypatch)


def test_resume_says_when_there_is_nothing_to_resume(tmp_path, monkeypatch):
    """--resume on an empty work dir says so loudly; --auto-resume (a job
    requeued with the same command) starts quietly. Training is stubbed."""
    import generations.loop as loop
    seen = []

    def fake_train_one(cfg, settings, root, generation, records, launcher,
                       resume, say, force_resume=False):
        seen.append(resume)
        return dict(generation=generation, metrics={}, ensemble_metrics={})

    monkeypatch.setattr(loop, '_train_one', fake_train_one)
    cfg = _cfg('tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py')
    for resume, loud in ((True, True), ('auto', False), (False, False)):
        lines = []
        loop.train_generations(cfg, work_dir=str(tmp_path / f'w{resume}'),
                               num_generations=1, resume=resume,
                               log=lines.append)
        assert any('holds no run' in line for line in lines) == loud
    assert seen == [True, 'auto', False]
