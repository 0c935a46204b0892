"""TeacherFSPCacheHook: checks the training data path at train start and
switches the model's cache on (end to end with a Runner in
tests/models/algorithms/test_cached_teacher_fsp_distill.py)."""
from types import SimpleNamespace

import pytest
from mmengine.logging import MMLogger
from torch import nn

from mmfsp.datasets import NondeterministicPipelineError
from mmfsp.engine.hooks import TeacherFSPCacheHook


class FakeCachedModel(nn.Module):
    cache_stages = (1, )
    cache_verified = None
    data_preprocessor = None

    def verify_training_data(self, dataset, data_preprocessor):
        from mmfsp.datasets import check_deterministic_training
        check_deterministic_training(dataset, data_preprocessor)
        self.cache_verified = 'checked'


def fake_runner(model, pipeline):
    return SimpleNamespace(
        model=model,
        train_dataloader=SimpleNamespace(
            dataset=dict(type='FashionMNIST', pipeline=pipeline)),
        logger=MMLogger.get_current_instance())


def test_verifies_then_enables_and_refuses_random_data():
    model = FakeCachedModel()
    TeacherFSPCacheHook().before_train(
        fake_runner(model, [dict(type='PackInputs')]))
    assert model.cache_verified == 'checked'
    with pytest.raises(NondeterministicPipelineError, match='RandomFlip'):
        TeacherFSPCacheHook().before_train(fake_runner(
            FakeCachedModel(), [dict(type='RandomFlip', prob=0.5)]))


def test_needs_a_cached_model():
    with pytest.raises(TypeError, match='CachedTeacherFSPDistill'):
        TeacherFSPCacheHook().before_train(fake_runner(nn.Linear(1, 1), []))
