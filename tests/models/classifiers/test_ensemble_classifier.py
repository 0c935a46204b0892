import pickle

import pytest
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

from mmfsp.models.classifiers import (EnsembleClassifier, ensemble_model_cfg,
                                      ensemble_test_config, mean_softmax)
from mmfsp.registry import DATASETS, MODELS

from tests.conftest import run_tool

TINY = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarResNet', depth=8, in_channels=1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss')))


def make_member(seed: int, cfg: dict = TINY) -> torch.nn.Module:
    torch.manual_seed(seed)
    member = MODELS.build(cfg)
    member.init_weights()
    torch.nn.init.normal_(member.head.fc.weight, std=1.0)
    return member.eval()


def save(member: torch.nn.Module, path, prefix: str = '', extra=None) -> str:
    state = {prefix + k: v for k, v in member.state_dict().items()}
    state.update(extra or {})
    torch.save({'state_dict': state, 'meta': {}}, path)
    return str(path)


def test_mean_softmax_is_hand_average(tmp_path):
    members = [make_member(seed) for seed in range(3)]
    teacher = make_member(7)
    ckpts = [
        save(members[0], tmp_path / 'plain.pth'),
        save(members[1], tmp_path / 'ddp.pth', prefix='module.'),
        # a distillation checkpoint: student under architecture., teacher too
        save(members[2], tmp_path / 'distill.pth', prefix='architecture.',
             extra={f'teacher.{k}': v
                    for k, v in teacher.state_dict().items()}),
    ]
    ensemble = MODELS.build(
        dict(type='EnsembleClassifier', model=TINY, checkpoints=ckpts))
    ensemble.init_weights()  # must not overwrite the loaded members
    ensemble.train()
    assert not any(m.training for m in ensemble.members)
    inputs = torch.randn(4, 1, 12, 12)
    with torch.no_grad():
        expected = sum(torch.softmax(m(inputs, mode='tensor'), 1)
                       for m in members) / 3
        scores = ensemble(inputs, mode='tensor')
        samples = ensemble(inputs, [DataSample() for _ in range(4)],
                           mode='predict')
    torch.testing.assert_close(scores, expected)
    torch.testing.assert_close(
        torch.stack([s.pred_score for s in samples]), expected)
    assert [s.pred_label.item() for s in samples] == \
        expected.argmax(1).tolist()


def test_mean_softmax_function():
    a, b = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    p = torch.sigmoid(torch.tensor(2.0)).item()
    torch.testing.assert_close(mean_softmax([a, b]),
                               torch.tensor([[(0.5 + 1 - p) / 2,
                                              (0.5 + p) / 2]]))
    with pytest.raises(ValueError, match='one shape'):
        mean_softmax([a, torch.zeros(1, 3)])


def test_errors(tmp_path):
    ckpt = save(make_member(0), tmp_path / 'm.pth')
    ensemble = EnsembleClassifier(model=TINY, checkpoints=[ckpt])
    with pytest.raises(RuntimeError, match='for evaluation'):
        ensemble(torch.zeros(1, 1, 8, 8), [DataSample()], mode='loss')
    with pytest.raises(ValueError, match='2 member configs but 1'):
        EnsembleClassifier(model=[TINY, TINY], checkpoints=[ckpt])
    with pytest.raises(ValueError, match='one or more checkpoints'):
        EnsembleClassifier(model=TINY, checkpoints=ckpt)
    wide = dict(TINY, backbone=dict(TINY['backbone'], widen_factor=2),
                head=dict(TINY['head'], in_channels=128))
    with pytest.raises(RuntimeError, match='m.pth does not fit'):
        EnsembleClassifier(model=wide, checkpoints=[ckpt])
    a = dict(TINY, data_preprocessor=dict(mean=[1.0], std=[2.0]))
    with pytest.raises(ValueError, match='different data_preprocessor'):
        EnsembleClassifier(model=[a, TINY], checkpoints=[ckpt, ckpt])


def test_ensemble_model_cfg_takes_student_of_distillation_config():
    distill = dict(type='SingleTeacherDistill', architecture=TINY,
                   teacher=TINY, data_preprocessor=dict(mean=[0.], std=[1.]))
    cfg = ensemble_model_cfg(distill, ['a.pth', 'b.pth'])
    assert cfg['model'] == TINY
    assert cfg['data_preprocessor'] == dict(mean=[0.], std=[1.])
    assert 'data_preprocessor' not in ensemble_model_cfg(TINY, ['a.pth'])


def test_ensemble_test_config_keeps_only_the_test_parts(repo_root):
    cfg = Config.fromfile(
        str(repo_root /
            'configs/kd/kd_resnet26_resnet8_1xb128_fashion-mnist.py'))
    before = cfg.to_dict()
    tcfg = ensemble_test_config(cfg, ['a.pth', 'b.pth'], '/w/ens')
    assert cfg.to_dict() == before, 'the builder must not modify its input'
    assert tcfg.model.type == 'EnsembleClassifier'
    assert tcfg.model.model == cfg.model.architecture
    assert tcfg.model.checkpoints == ['a.pth', 'b.pth']
    assert tcfg.model.data_preprocessor == cfg.model.get(
        'data_preprocessor', cfg.data_preprocessor)
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler', 'val_dataloader', 'val_evaluator'):
        assert tcfg[key] is None, key
    assert tcfg.test_dataloader == cfg.test_dataloader
    assert tcfg.test_evaluator == cfg.test_evaluator
    assert (tcfg.work_dir, tcfg.load_from, tcfg.resume) == ('/w/ens', None,
                                                            False)


def test_tool_end_to_end_on_fashion_mnist(tmp_path, monkeypatch,
                                          fashion_mnist_root, repo_root):
    config = repo_root / 'configs/resnet/resnet8_1xb128_fashion-mnist.py'
    cfg = Config.fromfile(str(config))
    members = [make_member(seed, cfg.model.to_dict()) for seed in (1, 2)]
    ckpts = [save(m, tmp_path / f'm{i}.pth') for i, m in enumerate(members)]
    out = tmp_path / 'preds.pkl'
    run_tool('test_ensemble.py', [
        str(config), *ckpts, '--work-dir', tmp_path / 'work', '--out', out,
        '--cfg-options', 'test_dataloader.dataset.indices=64',
        'test_dataloader.batch_size=32', 'test_dataloader.num_workers=0'
    ], monkeypatch)
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 64

    # the same 64 images, pre-processed and averaged by hand
    dataset = DATASETS.build(
        dict(cfg.test_dataloader.dataset, indices=64))
    preprocessor = MODELS.build(
        dict(cfg.data_preprocessor, type='ClsDataPreprocessor'))
    batch = preprocessor(
        dict(inputs=[dataset[i]['inputs'] for i in range(64)],
             data_samples=[dataset[i]['data_samples'] for i in range(64)]))
    with torch.no_grad():
        expected = mean_softmax(
            [m(batch['inputs'], mode='tensor') for m in members])
    torch.testing.assert_close(
        torch.stack([p['pred_score'] for p in preds]), expected)
    labels = torch.cat([p['gt_label'] for p in preds])
    accuracy = (expected.argmax(1) == labels).float().mean().item() * 100
    log = (tmp_path / 'work').rglob('*.log')
    text = ''.join(p.read_text() for p in log)
    assert f'accuracy/top1: {accuracy:.4f}' in text
