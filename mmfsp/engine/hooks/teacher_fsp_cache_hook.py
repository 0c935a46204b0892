"""Allow the teacher-FSP cache only for a deterministic training data path
(Yim et al., CVPR 2017, section 4.1; docs/baselines.md, "Teacher-FSP
cache").
"""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmfsp.registry import HOOKS


@HOOKS.register_module()
class TeacherFSPCacheHook(Hook):
    """Have the model check the training data path and switch its
    teacher-FSP cache on, at the start of training.

    A :class:`~mmfsp.models.algorithms.CachedTeacherFSPDistill` model
    reuses the teacher's FSP matrices of a training sample, which is only
    correct when the sample is the same image every time it is read. The
    hook only triggers the model's check (its ``verify_training_data``) of
    the training dataset's pipeline and the model's data preprocessor; a
    random transform (RandomCrop, RandomFlip, AutoAugment, ... or a batch
    augment such as Mixup) stops the run with
    :class:`~mmfsp.datasets.NondeterministicPipelineError` naming it. Without
    this hook the model refuses to cache. No arguments.

    Example:
        >>> custom_hooks = [dict(type='TeacherFSPCacheHook')]
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not hasattr(model, 'verify_training_data'):
            raise TypeError(
                f'TeacherFSPCacheHook needs a CachedTeacherFSPDistill model, '
                f'got {type(model).__name__}')
        model.verify_training_data(runner.train_dataloader.dataset,
                                   model.data_preprocessor)
