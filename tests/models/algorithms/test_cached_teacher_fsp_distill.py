"""CachedTeacherFSPDistill: the same stage-1 losses as the uncached model,
the teacher run once per sample, and no cache for a random data path."""
import copy

import pytest
import torch
from mmpretrain.structures import DataSample

from mmfsp.datasets import NondeterministicPipelineError
from mmfsp.models.algorithms import (CachedTeacherFSPDistill,
                                     TeacherDataCache, sample_indices)
from mmfsp.registry import MODELS
from tests.conftest import _register_tiny_cifar, write_tiny_cifar10

torch.set_num_threads(1)

STAGES = [
    dict(student_loss=False, distill_losses='all'),
    dict(student_loss=True, distill_losses=[]),
]


def clf(in_channels=1):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='CifarResNet', depth=8, in_channels=in_channels),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=10,
            in_channels=64,
            loss=dict(type='CrossEntropyLoss')))


def pairs():
    return [
        dict(
            name=f'layer{k}',
            first=dict(type='ModuleInputs', source=f'backbone.layer{k}'),
            second=dict(type='ModuleOutputs', source=f'backbone.layer{k}'))
        for k in (1, 2, 3)
    ]


def write_teacher(path, in_channels=1):
    torch.manual_seed(0)
    teacher = MODELS.build(clf(in_channels))
    for m in teacher.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2)
    torch.save({'state_dict': teacher.state_dict()}, path)
    return str(path)


def model_cfg(teacher_ckpt, cached=True, in_channels=1, mean=0., std=1.,
              **kwargs):
    cfg = dict(
        type='CachedTeacherFSPDistill' if cached else 'SingleTeacherDistill',
        architecture=clf(in_channels),
        teacher=clf(in_channels),
        teacher_ckpt=teacher_ckpt,
        distiller=dict(type='FSPDistiller', fsp_pairs=pairs()),
        stages=STAGES,
        data_preprocessor=dict(num_classes=10, mean=[mean] * in_channels,
                               std=[std] * in_channels))
    cfg.update(kwargs)
    return cfg


@pytest.fixture()
def teacher_ckpt(tmp_path):
    return write_teacher(tmp_path / 'teacher.pth')


class TensorSet:
    """16 fixed 1x16x16 images; its 'pipeline' is deterministic."""
    pipeline = []

    def __init__(self):
        g = torch.Generator().manual_seed(3)
        self.x = torch.randn(16, 1, 16, 16, generator=g)

    def __len__(self):
        return 16

    def batch(self, idx):
        return self.x[idx], [
            DataSample(metainfo=dict(sample_idx=int(i))).set_gt_label(
                int(i) % 10) for i in idx
        ]


def count_calls(module):
    calls = []
    module.register_forward_hook(lambda *a: calls.append(1))
    return calls


def test_cached_stage1_gives_the_losses_of_the_uncached_one(teacher_ckpt):
    data = TensorSet()
    plain = MODELS.build(model_cfg(teacher_ckpt, cached=False))
    cached = MODELS.build(model_cfg(teacher_ckpt))
    cached.architecture.load_state_dict(plain.architecture.state_dict())
    cached.verify_training_data(data)
    assert cached.teacher_cache.capacity == 16
    calls = {'plain': count_calls(plain.teacher),
             'cached': count_calls(cached.teacher)}
    optims = {
        name: torch.optim.SGD(m.architecture.parameters(), lr=0.05,
                              momentum=0.9)
        for name, m in (('plain', plain), ('cached', cached))
    }
    g = torch.Generator().manual_seed(0)
    for epoch in range(2):  # epoch 2 reads every sample from the cache
        order = torch.randperm(16, generator=g)
        for b in range(2):
            x, samples = data.batch(order[8 * b:8 * (b + 1)])
            losses = {}
            for name, model in (('plain', plain), ('cached', cached)):
                model.train()
                out = model(x, copy.deepcopy(samples), mode='loss')
                assert list(out) == ['distill.loss_fsp']
                optims[name].zero_grad()
                out['distill.loss_fsp'].backward()
                optims[name].step()
                losses[name] = out['distill.loss_fsp'].detach()
            torch.testing.assert_close(losses['cached'], losses['plain'],
                                       rtol=1e-5, atol=1e-6)
        assert len(cached.teacher_cache) == 16
    assert len(calls['plain']) == 4 and len(calls['cached']) == 2
    for p_c, p_p in zip(cached.architecture.parameters(),
                        plain.architecture.parameters()):
        torch.testing.assert_close(p_c, p_p, rtol=1e-4, atol=1e-5)
    # 16*16 + 16*32 + 32*64 float32 per sample.
    assert cached.teacher_cache.bytes_per_sample == 2816 * 4


def test_shuffled_fsp_is_cached_shuffled(teacher_ckpt):
    data = TensorSet()
    distiller = dict(type='FSPDistiller', fsp_pairs=pairs(), shuffle_seed=2)
    plain = MODELS.build(model_cfg(teacher_ckpt, cached=False,
                                   distiller=distiller))
    cached = MODELS.build(model_cfg(teacher_ckpt, distiller=distiller))
    cached.architecture.load_state_dict(plain.architecture.state_dict())
    cached.verify_training_data(data)
    x, samples = data.batch(torch.arange(4))
    for _ in range(2):  # fill, then read
        torch.testing.assert_close(
            cached(x, copy.deepcopy(samples), mode='loss'),
            plain(x, copy.deepcopy(samples), mode='loss'))


def test_cache_is_dropped_with_the_teacher_and_stage2_is_plain(teacher_ckpt):
    data = TensorSet()
    model = MODELS.build(model_cfg(teacher_ckpt))
    model.verify_training_data(data)
    model(*data.batch(torch.arange(4)), mode='loss')
    assert len(model.teacher_cache) == 4
    model.set_stage(2)
    model.free_teacher()
    assert len(model.teacher_cache) == 0
    x, samples = data.batch(torch.arange(4))
    assert list(model(x, samples, mode='loss')) == ['student.loss']


def test_refusals_before_any_caching(teacher_ckpt):
    data = TensorSet()
    model = MODELS.build(model_cfg(teacher_ckpt))
    with pytest.raises(RuntimeError, match='TeacherFSPCacheHook'):
        model(*data.batch(torch.arange(2)), mode='loss')
    random_set = dict(type='FashionMNIST', pipeline=[
        dict(type='RandomCrop', crop_size=28, padding=4),
        dict(type='PackInputs')])
    with pytest.raises(NondeterministicPipelineError, match='RandomCrop'):
        model.verify_training_data(random_set)
    assert model.cache_verified is None
    with pytest.raises(TypeError, match='FSPDistiller'):
        MODELS.build(model_cfg(teacher_ckpt, distiller=dict(
            type='ConfigurableDistiller', fsp_pairs=pairs())))
    with pytest.raises(ValueError, match='frozen teacher'):
        MODELS.build(model_cfg(teacher_ckpt, teacher_trainable=True))
    with pytest.raises(ValueError, match='cache_stages'):
        MODELS.build(model_cfg(teacher_ckpt, cache_stages=(3, )))
    with pytest.raises(RuntimeError, match='sample_idx'):
        sample_indices([DataSample()])


def test_cache_store_grows_and_checks_shapes():
    cache = TeacherDataCache()
    cache.put(torch.tensor([3, 1]), {'a': torch.ones(2, 2, 2)})
    assert cache.capacity == 4 and len(cache) == 2
    assert cache.has_all(torch.tensor([1, 3]))
    assert not cache.has_all(torch.tensor([0, 1]))
    assert not cache.has_all(torch.tensor([9]))
    cache.put(torch.tensor([7]), {'a': torch.zeros(1, 2, 2)})
    assert cache.capacity == 8
    torch.testing.assert_close(
        cache.get(torch.tensor([3, 7]), torch.device('cpu'))['a'],
        torch.stack([torch.ones(2, 2), torch.zeros(2, 2)]))
    with pytest.raises(ValueError, match='per-sample constant'):
        cache.put(torch.tensor([0]), {'a': torch.ones(1, 3, 3)})
    with pytest.raises(TypeError, match='batch first'):
        cache.put(torch.tensor([0, 1]), {'a': torch.ones(3, 2, 2)})


def _runner(tmp_path, data_root, teacher_ckpt, pipeline, cached, name):
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    class LossLog(Hook):
        losses = []

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            self.losses.append(float(outputs['distill.loss_fsp'].detach()))

    log = LossLog()
    log.losses = []
    hooks = [log]
    if cached:
        hooks.append(dict(type='TeacherFSPCacheHook'))
    runner = Runner(
        model=model_cfg(teacher_ckpt, cached=cached, in_channels=3,
                        mean=125., std=63.),
        work_dir=str(tmp_path / name),
        train_dataloader=dict(
            batch_size=10, num_workers=0,
            dataset=dict(type='TinyCIFAR10', data_root=str(data_root),
                         split='train', pipeline=pipeline,
                         serialize_data=False),
            # Endless shuffled passes (iterations 3-4 are the second epoch)
            # without the dataloader restart's 2 s pause.
            sampler=dict(type='InfiniteSampler', shuffle=True)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.001,
                                          momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=4),
        default_hooks=dict(checkpoint=None, logger=dict(
            type='LoggerHook', interval=1)),
        custom_hooks=hooks,
        randomness=dict(seed=0),
        default_scope='mmfsp',
        log_level='WARNING',
        experiment_name=f'cache_{name}_{id(log)}')
    return runner, log


def test_runner_hook_refuses_random_pipeline_and_caches_a_fixed_one(
        tmp_path):
    _register_tiny_cifar()
    tiny_cifar10 = write_tiny_cifar10(tmp_path / 'cifar10', per_batch=4)
    teacher = write_teacher(tmp_path / 't.pth', in_channels=3)
    random_pipeline = [dict(type='RandomCrop', crop_size=32, padding=4),
                       dict(type='RandomFlip', prob=0.5,
                            direction='horizontal'),
                       dict(type='PackInputs')]
    runner, log = _runner(tmp_path, tiny_cifar10, teacher, random_pipeline,
                          True, 'random')
    with pytest.raises(NondeterministicPipelineError,
                       match=r'RandomCrop \(train_dataloader.dataset.'
                       r'pipeline\[0\]\); RandomFlip'):
        runner.train()
    assert log.losses == []  # refused at train start

    fixed = [dict(type='PackInputs')]
    plain_runner, plain_log = _runner(tmp_path, tiny_cifar10, teacher,
                                      fixed, False, 'plain')
    plain_runner.train()
    runner, log = _runner(tmp_path, tiny_cifar10, teacher, fixed, True,
                          'cached')
    runner.train()
    model = runner.model
    assert isinstance(model, CachedTeacherFSPDistill)
    assert len(model.teacher_cache) == 20  # two epochs of 20 images
    assert model.cache_verified == 'PackInputs'
    assert len(log.losses) == 4 and all(v == v for v in log.losses)
    torch.testing.assert_close(torch.tensor(log.losses),
                               torch.tensor(plain_log.losses), rtol=1e-5,
                               atol=1e-6)
