"""Distillation config errors stop ``tools/train.py`` before the first
iteration (no checkpoint, no log of iteration 1), with a message that says
what to change.

Config-only errors (:func:`mmfsp.utils.config_check.check_config`) stop it
before the Runner is built, so not even the work dir is created: a stage
switch after the end of training, a stage-2 lr schedule that does not
begin at the switch, a logits loss between heads with different numbers of
classes, a teacher-FSP cache with random transforms (and, earlier, a missing
dataset). Errors that need the model stop it while the Runner builds the
model: a teacher checkpoint with another number of classes, an unknown
layer name, paired layers with different channel counts.
"""
from pathlib import Path
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from mmfsp.engine.hooks import DistillStageSwitchHook
from mmfsp.models.algorithms.distill_checkpoint import \
    TeacherClassesMismatchError
from mmfsp.models.distillers.configurable_distiller import DistillShapeError
from mmfsp.models.recorders.base_recorder import UnknownModuleError
from mmfsp.utils.config_check import ConfigError, check_config
from tests.conftest import REPO_ROOT, run_tool
from tests.tools.distill_tiny import (MAX_ITERS, SWITCH, experiment,
                                      restore_determinism, tiny_fashion_mnist,
                                      tiny_teacher, train_teacher,
                                      unformatted_config_text, write_fsp_cfg)

__all__ = ['restore_determinism', 'tiny_fashion_mnist', 'tiny_teacher',
           'unformatted_config_text']
# The Runner built by the model-error tests applies the configs'
# randomness=dict(deterministic=True) to the whole process.
pytestmark = pytest.mark.usefixtures('restore_determinism')
# switch 1000, max_iters 2000
FSP = 'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py'


def _check(path: str, **options) -> None:
    cfg = Config.fromfile(str(REPO_ROOT / path))
    cfg.merge_from_dict(options)
    check_config(cfg)


# ------------------------------------------------------ check_config alone
@pytest.mark.parametrize('path', [
    FSP, 'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_cached.py',
    'configs/fitnet/fitnet_resnet26_resnet8_1xb128_fashion-mnist_3loss.py',
    'configs/kd/kd_resnet26_resnet8_1xb128_fashion-mnist.py',
    'configs/tolerant/tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py'
])
def test_shipped_configs_pass(path):
    _check(path)


def test_switch_at_the_end_is_stage1_alone_and_after_it_an_error():
    _check(FSP, **{'custom_hooks.0.switch_iter': 2000})  # stage 1 alone
    with pytest.raises(ConfigError) as info:
        _check(FSP, **{'custom_hooks.0.switch_iter': 2001})
    message = str(info.value)
    assert 'iteration 2001, after the end of training' in message
    assert 'train_cfg.max_iters=2000' in message
    assert '--cfg-options custom_hooks.0.switch_iter=1000\n' in message
    assert message.endswith('--cfg-options custom_hooks.0.switch_iter=2000')


@pytest.mark.parametrize('options, expected', [
    # The switch moved on the command line, the schedule not: the stage-1
    # scheduler runs across it and the stage-2 one begins late. One error,
    # whose fixes each fix both (tests/utils/test_config_check_fixes.py
    # applies them and follows the lr).
    ({'custom_hooks.0.switch_iter': 500}, [
        'param_scheduler[0] (MultiStepLR, begin=0, end=1000) runs across '
        'the switch', 'begins 500 iterations after it',
        '--cfg-options custom_hooks.0.switch_iter=1000\n',
        '--cfg-options param_scheduler.0.end=500 '
        'param_scheduler.0.milestones=[250,375] param_scheduler.1.begin=500 '
        'param_scheduler.1.milestones=[750,1125]'
    ]),
    ({'custom_hooks.0.switch_iter': 1500}, [
        'param_scheduler[1] (MultiStepLR, begin=1000, end=2000) runs '
        'across the switch', 'custom_hooks.0.switch_iter=1000',
        'param_scheduler.0.end=1500 param_scheduler.0.milestones=[750,1125]'
        ' param_scheduler.1.begin=1500 param_scheduler.1.milestones=[250,375]'
    ]),
    ({'param_scheduler.1.begin': 1200}, [
        'begins 200 iterations after it',
        'param_scheduler.1.begin=1000 param_scheduler.1.end=1800',
        'custom_hooks.0.switch_iter=1200'
    ]),
    ({'param_scheduler.1.begin': 800}, [
        'begin=800, end=2000) runs across',
        'param_scheduler.1.begin=1000 param_scheduler.1.end=2200'
    ]),
])
def test_stage2_schedule_must_begin_at_the_switch(options, expected):
    with pytest.raises(ConfigError) as info:
        _check(FSP, **options)
    message = str(info.value)
    assert 'The config has 1 error(s)' in message
    assert 'stage-1 lr schedule' not in message
    for text in expected:
        assert text in message


def test_without_stage_lr_the_schedulers_own_the_lr():
    _check(FSP, **{'custom_hooks.0.stage_lr': None,
                   'param_scheduler.1.begin': 1200})


def test_kd_between_heads_with_different_classes():
    kd = 'configs/kd/kd_resnet26_resnet8_1xb128_fashion-mnist.py'
    with pytest.raises(ConfigError) as info:
        _check(kd, **{'model.teacher.head.num_classes': 100})
    message = str(info.value)
    assert "'loss_kd' (KDLoss)" in message
    assert 'student with 10 classes' in message
    assert 'teacher with 100' in message
    # FSP compares feature maps, not logits: no such constraint.
    _check(FSP, **{'model.teacher.head.num_classes': 100})


def test_switch_after_the_end_of_an_epoch_based_training():
    """The hook checks the Runner's length itself (epoch-based loops have
    no max_iters in the config)."""
    model = SimpleNamespace(set_stage=None, stage=1, free_teacher=None,
                            num_stages=2)
    runner = SimpleNamespace(model=model, iter=0, max_iters=30)
    DistillStageSwitchHook(switch_iter=30).before_train(runner)
    with pytest.raises(ValueError, match='after the end of training'):
        DistillStageSwitchHook(switch_iter=31).before_train(runner)


# ------------------------------------------------ through tools/train.py
def _train(cfg: Path, work_dir: Path, monkeypatch, *options: str) -> None:
    run_tool('train.py', [
        cfg, '--work-dir', work_dir, '--cfg-options', experiment('check'),
        *options
    ], monkeypatch)


def _nothing_trained(work_dir: Path) -> None:
    assert not list(work_dir.rglob('*.pth')), 'a checkpoint was written'
    assert not (work_dir / 'last_checkpoint').exists()
    for log in work_dir.rglob('*.log'):
        assert 'Iter(train)' not in log.read_text()
    for scalars in work_dir.rglob('scalars.json'):
        assert not scalars.read_text().strip()


@pytest.mark.parametrize('name, extra, options, error, expected', [
    ('switch_after_end', '', [f'custom_hooks.0.switch_iter={MAX_ITERS + 1}'],
     ConfigError, ['after the end of training',
                   f'train_cfg.max_iters={MAX_ITERS}']),
    ('stage2_begin', '', [f'param_scheduler.1.begin={SWITCH + 1}'],
     ConfigError, [f'param_scheduler.1.begin={SWITCH}']),
    ('cache_random', "model.update(type='CachedTeacherFSPDistill', "
     "distiller=dict(type='FSPDistiller'))", [], ConfigError,
     ['RandomCrop (train_dataloader.dataset.pipeline[0])', 'RandomFlip']),
    ('missing_data', '', ['train_dataloader.dataset.data_root=/nonexistent'],
     FileNotFoundError, ['/nonexistent/train-images-idx3-ubyte',
                         'make data']),
])
def test_config_errors_stop_before_the_runner(
        tmp_path, monkeypatch, tiny_fashion_mnist, tiny_teacher, name, extra,
        options, error, expected):
    cfg = write_fsp_cfg(tmp_path / f'{name}.py', tiny_fashion_mnist,
                        tiny_teacher, extra=extra)
    work_dir = tmp_path / 'work'
    with pytest.raises(error) as info:
        _train(cfg, work_dir, monkeypatch, *options)
    for text in expected:
        assert text in str(info.value)
    assert not work_dir.exists(), 'the Runner was built'


def test_kd_classes_mismatch_stops_before_the_runner(tmp_path, monkeypatch):
    work_dir = tmp_path / 'work'
    with pytest.raises(ConfigError, match='teacher with 5'):
        _train(REPO_ROOT /
               'configs/kd/kd_resnet26_resnet8_1xb128_fashion-mnist.py',
               work_dir, monkeypatch, 'model.teacher.head.num_classes=5')
    assert not work_dir.exists()


PAIR_LAYER1_WITH_TEACHER_LAYER2 = """
model.update(distiller=dict(fsp_pairs=[dict(
    name='layer1',
    first=dict(type='ModuleInputs', source='backbone.layer1'),
    second=dict(type='ModuleOutputs', source='backbone.layer1'),
    teacher_second=dict(type='ModuleOutputs', source='backbone.layer2'))]))
"""


@pytest.mark.usefixtures('unformatted_config_text')
@pytest.mark.parametrize('name, extra, options, error, expected', [
    ('unknown_layer', '', ['model.distiller.fsp_pairs.0.first.source='
                           'backbone.layr1'], UnknownModuleError,
     ["no submodule named 'backbone.layr1'", 'Closest names: '
      'backbone.layer1']),
    ('channels', PAIR_LAYER1_WITH_TEACHER_LAYER2, [], DistillShapeError,
     ['output of backbone.layer2', 'same channel counts']),
])
def test_model_errors_stop_before_the_first_iteration(
        tmp_path, monkeypatch, tiny_fashion_mnist, tiny_teacher, name, extra,
        options, error, expected):
    cfg = write_fsp_cfg(tmp_path / f'{name}.py', tiny_fashion_mnist,
                        tiny_teacher, extra=extra)
    work_dir = tmp_path / 'work'
    with pytest.raises(error) as info:
        _train(cfg, work_dir, monkeypatch, *options)
    for text in expected:
        assert text in str(info.value)
    _nothing_trained(work_dir)


@pytest.mark.usefixtures('unformatted_config_text')
def test_teacher_checkpoint_with_other_classes(tmp_path, monkeypatch,
                                               tiny_fashion_mnist):
    teacher = train_teacher(tiny_fashion_mnist, tmp_path / 'teacher5.pth',
                            num_classes=5, steps=1)
    cfg = write_fsp_cfg(tmp_path / 'cfg.py', tiny_fashion_mnist, teacher)
    work_dir = tmp_path / 'work'
    with pytest.raises(TeacherClassesMismatchError) as info:
        _train(cfg, work_dir, monkeypatch)
    message = str(info.value)
    assert f'Teacher checkpoint {str(teacher)!r} is a 5-class model' in \
        message
    assert 'teacher config has 10 classes' in message
    assert 'model.teacher.head.num_classes=5' in message
    _nothing_trained(work_dir)


# ---------------------------------------------- tools/train.py --check
def test_check_flag_exits_0_for_a_good_config(
        tmp_path, monkeypatch, capsys, tiny_fashion_mnist, tiny_teacher):
    cfg = write_fsp_cfg(tmp_path / 'good.py', tiny_fashion_mnist,
                        tiny_teacher)
    work_dir = tmp_path / 'work'
    run_tool('train.py', [cfg, '--work-dir', work_dir, '--check'],
             monkeypatch)
    assert f'{cfg}: no error found' in capsys.readouterr().out
    assert not work_dir.exists(), 'the Runner was built'


@pytest.mark.parametrize('options, expected', [
    # found in the config
    ([f'custom_hooks.0.switch_iter={MAX_ITERS + 1}'],
     ['ConfigError: The config has 1 error(s)', 'after the end of training']),
    # the switch moved alone (the schedule switches at SWITCH = 4)
    (['custom_hooks.0.switch_iter=6'],
     ['ConfigError: The config has 1 error(s)', 'runs across the switch',
      '--cfg-options custom_hooks.0.switch_iter=4\n',
      '--cfg-options param_scheduler.0.end=6']),

    (['train_dataloader.dataset.data_root=/nonexistent'],
     ['FileNotFoundError', '/nonexistent/train-images-idx3-ubyte']),
    # found by building the model
    (['model.distiller.fsp_pairs.0.first.source=backbone.layr1'],
     ['UnknownModuleError: ', "no submodule named 'backbone.layr1'"]),
])
def test_check_flag_exits_nonzero_with_what_to_change(
        tmp_path, monkeypatch, tiny_fashion_mnist, tiny_teacher, options,
        expected):
    cfg = write_fsp_cfg(tmp_path / 'bad.py', tiny_fashion_mnist,
                        tiny_teacher)
    work_dir = tmp_path / 'work'
    with pytest.raises(SystemExit) as info:
        run_tool('train.py', [cfg, '--work-dir', work_dir, '--check',
                              '--cfg-options', *options], monkeypatch)
    message = info.value.code
    assert isinstance(message, str) and message.startswith(f'{cfg}: ')
    for text in expected:
        assert text in message
    assert not work_dir.exists(), 'the Runner was built'


def test_check_flag_refuses_a_weight_schedule_longer_than_the_run(
        tmp_path, monkeypatch, tiny_fashion_mnist, tiny_teacher):
    cfg = write_fsp_cfg(
        tmp_path / 'weight.py', tiny_fashion_mnist, tiny_teacher, hooks=[
            "dict(type='LossWeightScheduleHook', module='architecture.head."
            "loss_module', start_value=1.0, end_value=0.5, end=100)"
        ])
    work_dir = tmp_path / 'work'
    with pytest.raises(SystemExit) as info:
        run_tool('train.py', [cfg, '--work-dir', work_dir, '--check'],
                 monkeypatch)
    message = info.value.code
    assert ('custom_hooks[1] (LossWeightScheduleHook) schedules the weight '
            'of architecture.head.loss_module over iterations [0, 100), '
            f'but training ends at {MAX_ITERS}') in message
    assert f'--cfg-options custom_hooks.1.end={MAX_ITERS}\n' in message
    assert message.endswith('--cfg-options train_cfg.max_iters=100')
    assert not work_dir.exists(), 'the Runner was built'
    # the printed fix, applied: accepted
    run_tool('train.py', [cfg, '--work-dir', work_dir, '--check',
                          '--cfg-options', f'custom_hooks.1.end={MAX_ITERS}'],
             monkeypatch)


def test_each_class_checks_its_own_part():
    """The rules live with the classes that own them; check_config asks the
    classes the config names (looked up in the registries, or by the given
    lookup)."""
    from mmfsp.models.algorithms import SingleTeacherDistill
    cfg = Config.fromfile(str(REPO_ROOT / FSP))
    cfg.merge_from_dict({'custom_hooks.0.switch_iter': 2001})
    errors = DistillStageSwitchHook.check_config(cfg, 'custom_hooks.0')
    assert len(errors) == 1 and \
        '--cfg-options custom_hooks.0.switch_iter=2000' in errors[0]
    assert SingleTeacherDistill.check_config(cfg, 'model') == []
    cfg.model.stages = [dict(student_loss=False, distill_losses=[])]
    assert SingleTeacherDistill.check_config(cfg, 'model') == [
        'model.stages: stage 1 computes no loss at all']
    # A lookup that knows no class finds nothing to check.
    check_config(cfg, lookup=lambda registry, type_: None)
    with pytest.raises(ConfigError, match='2 error'):
        check_config(cfg)


def test_check_flag_applies_stage_iters_in_one_edit(
        tmp_path, monkeypatch, capsys, tiny_fashion_mnist, tiny_teacher):
    """``stage_iters`` alone changes the stage lengths: the schedule is
    rescaled before the checks, which then accept it; an inconsistent edit
    is refused with the fix."""
    cfg = write_fsp_cfg(tmp_path / 'stages.py', tiny_fashion_mnist,
                        tiny_teacher)
    with open(cfg, 'a') as f:
        f.write(f'stage_iters = ({SWITCH}, {MAX_ITERS - SWITCH})\n'
                f'schedule_stage_iters = ({SWITCH}, {MAX_ITERS - SWITCH})\n')
    work_dir = tmp_path / 'work'
    run_tool('train.py', [cfg, '--work-dir', work_dir, '--check',
                          '--cfg-options', 'stage_iters=(6,5)'], monkeypatch)
    out = capsys.readouterr().out
    assert 'rescaled to 6 + 5 iterations' in out
    assert f'{cfg}: no error found' in out
    with pytest.raises(SystemExit) as info:
        run_tool('train.py', [
            cfg, '--work-dir', work_dir, '--check', '--cfg-options',
            'stage_iters=(6,5)', 'custom_hooks.0.switch_iter=3'
        ], monkeypatch)
    assert 'The stage lengths disagree' in info.value.code
    assert not work_dir.exists(), 'the Runner was built'
