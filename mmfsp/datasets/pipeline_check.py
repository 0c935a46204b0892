"""Is a training data path deterministic? (needed by the teacher-FSP cache)

A cache of the teacher's outputs per training sample is only correct when a
sample is the same image every time it is read: no random transform in the
dataset's pipeline and no random batch augmentation in the data
preprocessor. :func:`random_transforms` finds the random ones in a pipeline
(built transforms or config dicts); :func:`check_deterministic_training`
raises :class:`NondeterministicPipelineError` naming them.

A transform counts as random when

* its class / type name contains ``Random`` or starts with ``Rand``
  (``RandomCrop``, ``RandomResizedCrop``, ``RandomFlip``, ``RandomErasing``,
  ``RandAugment``, ``torchvision/RandomRotation``, ...);
* it is one of :data:`RANDOM_TRANSFORMS` (``AutoAugment``, ``ColorJitter``,
  ``Lighting``, ``GaussianBlur``, ``Cutout``, ``Albumentations``, ...);
* it has a probability ``prob`` strictly between 0 and 1, or a
  ``random_negative_prob`` / ``magnitude_std`` above 0 (mmpretrain's
  ``BaseAugTransform`` family: ``Shear``, ``Rotate``, ``Solarize``, ...);
* a transform it wraps (``transforms`` / ``pipelines`` of ``Compose``,
  ``KeyMapper``, ``MultiView``, ``ApplyToList``, ...; ``t`` of a torchvision
  wrapper) is random.
"""
from numbers import Number
from typing import Any, List, Optional, Tuple

#: Random transforms whose names do not say so.
RANDOM_TRANSFORMS = frozenset({
    'AutoAugment', 'ColorJitter', 'Lighting', 'GaussianBlur', 'Cutout',
    'Albumentations', 'Albu', 'Mixup', 'CutMix', 'ResizeMix',
    'SimMIMMaskGenerator', 'BEiTMaskGenerator', 'TrivialAugmentWide',
    'AugMix', 'ElasticTransform', 'RandomBatchAugment'
})

_WRAPPED = ('transforms', 'pipelines', 't')


class NondeterministicPipelineError(ValueError):
    """A data path that must be deterministic has random parts."""


def _type_name(transform: Any) -> str:
    if isinstance(transform, dict):
        name = transform.get('type', '')
        name = name if isinstance(name, str) else getattr(
            name, '__name__', str(name))
    else:
        name = type(transform).__name__
    # 'torchvision/RandomCrop', 'mmpretrain.RandomCrop'
    return name.replace('.', '/').split('/')[-1]


def _get(transform: Any, key: str) -> Any:
    if isinstance(transform, dict):
        return transform.get(key)
    return getattr(transform, key, None)


def _is_random_itself(transform: Any) -> bool:
    name = _type_name(transform)
    if 'Random' in name or name.startswith('Rand') or \
            name in RANDOM_TRANSFORMS:
        return True
    prob = _get(transform, 'prob')
    if isinstance(prob, Number) and not isinstance(prob, bool) and \
            0 < prob < 1:
        return True
    for key in ('random_negative_prob', 'magnitude_std'):
        value = _get(transform, key)
        if isinstance(value, str) or (isinstance(value, Number)
                                      and value > 0):
            return True
    return False


def _children(transform: Any) -> List[Any]:
    out = []
    for key in _WRAPPED:
        inner = _get(transform, key)
        if inner is None or isinstance(inner, (str, bytes)):
            continue
        if isinstance(inner, (list, tuple)):
            out.extend(inner)
        elif hasattr(inner, 'transforms') or isinstance(inner, dict) or \
                callable(inner):
            out.append(inner)
    return out


def random_transforms(pipeline: Any, where: str = 'pipeline') -> List[str]:
    """Descriptions (``'RandomCrop (pipeline[0])'``) of the random
    transforms in ``pipeline``: a list of transforms or configs, or a
    ``Compose``."""
    if pipeline is None:
        return []
    if not isinstance(pipeline, (list, tuple)):
        pipeline = list(getattr(pipeline, 'transforms', [pipeline]))
    found = []
    for i, transform in enumerate(pipeline):
        here = f'{where}[{i}]'
        if _is_random_itself(transform):
            found.append(f'{_type_name(transform)} ({here})')
        for j, child in enumerate(_children(transform)):
            found.extend(
                random_transforms([child], f'{here}.{_type_name(child)}'
                                  f'#{j}'))
    return found


def _dataset_and_pipeline(dataset: Any, where: str):
    """Unwrap dataset wrappers (built or configs) down to the dataset with
    the pipeline: ``(dataset, pipeline or None, its place)``."""
    for _ in range(16):
        if _get(dataset, 'pipeline') is not None:
            return dataset, _get(dataset, 'pipeline'), where
        if _get(dataset, 'datasets') is not None:
            raise NondeterministicPipelineError(
                f'{where} is a {_type_name(dataset)} of several datasets: '
                f'their sample_idx values collide, so a per-sample cache '
                f'cannot key on them')
        if _get(dataset, 'dataset') is None:
            return dataset, None, where
        dataset, where = _get(dataset, 'dataset'), f'{where}.dataset'
    return dataset, None, where


def batch_augments(data_preprocessor: Any) -> List[str]:
    """Names of the batch augmentations of a data preprocessor (module or
    config dict)."""
    if data_preprocessor is None:
        return []
    augments = _get(data_preprocessor, 'batch_augments')
    if not augments:
        return []
    inner = _get(augments, 'augments')
    if inner is None:
        return [_type_name(augments)]
    inner = inner if isinstance(inner, (list, tuple)) else [inner]
    return [_type_name(a) for a in inner]


def check_deterministic_training(dataset: Any,
                                 data_preprocessor: Any = None,
                                 purpose: str = 'this',
                                 where: str = 'train_dataloader.dataset'
                                 ) -> Tuple[Any, Any]:
    """Raise :class:`NondeterministicPipelineError` unless ``dataset`` (a
    built dataset or its config) reads every sample the same way each time
    and ``data_preprocessor`` has no batch augmentation.

    Args:
        dataset: the training dataset (wrappers such as ``RepeatDataset``
            are unwrapped) or its config dict.
        data_preprocessor: the model's data preprocessor (module or config).
        purpose: what needs determinism, for the message.
        where: the dataset's place in the config, for the message.

    Returns:
        tuple: the unwrapped dataset that owns the pipeline (whose indices
        are the samples' ``sample_idx``) and its pipeline (None if none).
    """
    dataset, pipeline, where = _dataset_and_pipeline(dataset, where)
    problems = random_transforms(pipeline, f'{where}.pipeline')
    augments = batch_augments(data_preprocessor)
    if augments:
        problems.append(
            f'batch augment(s) {", ".join(augments)} '
            f'(model.data_preprocessor.batch_augments)')
    if problems:
        raise NondeterministicPipelineError(
            f'{purpose} needs a deterministic training data path (each '
            f'sample read the same way every time), but it has random '
            f'transform(s): {"; ".join(problems)}. Remove them from the '
            f'training pipeline (e.g. train_pipeline=[dict(type='
            f'\'PackInputs\')], the paper\'s no-augmentation setting) or do '
            f'without the cache.')
    if pipeline is None and not isinstance(dataset, dict) and \
            not hasattr(dataset, 'pipeline'):
        raise NondeterministicPipelineError(
            f'{purpose} needs a deterministic training data path, but '
            f'{where} ({type(dataset).__name__}) has no `pipeline` to '
            f'check; use an mmengine / mmpretrain dataset with a pipeline')
    return dataset, pipeline


def describe_pipeline(pipeline: Optional[Any]) -> str:
    """``'LoadImageFromFile -> PackInputs'`` for messages and logs."""
    if pipeline is None:
        return '(none)'
    if not isinstance(pipeline, (list, tuple)):
        pipeline = list(getattr(pipeline, 'transforms', [pipeline]))
    return ' -> '.join(_type_name(t) for t in pipeline) or '(empty)'
