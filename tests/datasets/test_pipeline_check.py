"""random_transforms / check_deterministic_training: find what makes a
training data path random, in configs and in built pipelines."""
import pytest
from mmengine.dataset import ConcatDataset, Compose, RepeatDataset

from mmfsp.datasets import (NondeterministicPipelineError,
                            check_deterministic_training, random_transforms)
from mmfsp.registry import MODELS, TRANSFORMS

RANDOM = [
    dict(type='RandomCrop', crop_size=28, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='torchvision/RandomRotation', degrees=10),
    dict(type='AutoAugment', policies='imagenet'),
    dict(type='ColorJitter', brightness=0.4),
    dict(type='Solarize', thr=128, prob=0.5),
    dict(type='Rotate', angle=10., prob=1.0, random_negative_prob=0.5),
]
# A dataset object that never reads files.
LAZY = dict(type='mmpretrain.FashionMNIST', data_root='unused',
            download=False, lazy_init=True)
DETERMINISTIC = [
    dict(type='ResizeEdge', scale=32),
    dict(type='CenterCrop', crop_size=28),
    dict(type='Solarize', thr=128, prob=1.0),  # always applied, fixed
    dict(type='PackInputs'),
]


@pytest.mark.parametrize('cfg', RANDOM, ids=lambda c: c['type'])
def test_random_transforms_are_found_in_configs_and_built(cfg):
    name = cfg['type'].split('/')[-1]
    assert random_transforms([cfg]) == [f'{name} (pipeline[0])']
    if cfg['type'] != 'AutoAugment':  # builds its sub-policies: see below
        built = TRANSFORMS.build(dict(cfg))
        assert name in random_transforms(Compose([built]))[0]


def test_deterministic_transforms_pass():
    assert random_transforms(DETERMINISTIC) == []
    assert random_transforms(Compose([dict(c) for c in DETERMINISTIC])) == []
    check_deterministic_training(dict(type='FashionMNIST',
                                      pipeline=DETERMINISTIC))


def test_wrapped_random_transforms_are_found():
    cfg = [dict(type='KeyMapper', mapping=dict(img='gt'), transforms=[
        dict(type='RandomFlip', prob=0.5)]), dict(type='PackInputs')]
    found = random_transforms(cfg)
    assert len(found) == 1 and found[0].startswith('RandomFlip (pipeline[0]')
    built = Compose([dict(c) for c in cfg])
    assert 'RandomFlip' in random_transforms(built)[0]


def test_error_names_each_random_transform_and_batch_augments():
    dataset = RepeatDataset(
        dict(LAZY, pipeline=[RANDOM[0], RANDOM[1], dict(type='PackInputs')]),
        times=2, lazy_init=True)
    preproc = MODELS.build(dict(
        type='ClsDataPreprocessor', num_classes=10, batch_augments=dict(
            augments=[dict(type='Mixup', alpha=0.2)])))
    with pytest.raises(NondeterministicPipelineError) as err:
        check_deterministic_training(dataset, preproc, purpose='The cache')
    msg = str(err.value)
    assert 'The cache needs a deterministic' in msg
    assert 'RandomCrop (train_dataloader.dataset.dataset.pipeline[0])' in msg
    assert 'RandomFlip' in msg and 'batch augment(s) Mixup' in msg


def test_concatenated_datasets_are_refused():
    ds = ConcatDataset([dict(LAZY), dict(LAZY)], lazy_init=True)
    with pytest.raises(NondeterministicPipelineError, match='collide'):
        check_deterministic_training(ds)
