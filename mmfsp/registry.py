"""mmfsp's registries: children of mmpretrain's, in the scope ``mmfsp``.

A config with ``default_scope = 'mmfsp'`` can name every mmfsp module and, via
the parent chain, every mmpretrain and mmengine module by ``type=``.
"""
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'BATCH_AUGMENTS', 'TASK_UTILS',
    'METRICS', 'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS'
]


def _child(name: str, locations: list[str]) -> Registry:
    parent = getattr(mmpretrain_registry, name)
    return Registry(
        parent.name, parent=parent, scope='mmfsp', locations=locations)


RUNNERS = _child('RUNNERS', ['mmfsp'])
RUNNER_CONSTRUCTORS = _child('RUNNER_CONSTRUCTORS', ['mmfsp'])
LOOPS = _child('LOOPS', ['mmfsp'])
HOOKS = _child('HOOKS', ['mmfsp'])
LOG_PROCESSORS = _child('LOG_PROCESSORS', ['mmfsp'])
OPTIMIZERS = _child('OPTIMIZERS', ['mmfsp'])
OPTIM_WRAPPERS = _child('OPTIM_WRAPPERS', ['mmfsp'])
OPTIM_WRAPPER_CONSTRUCTORS = _child('OPTIM_WRAPPER_CONSTRUCTORS', ['mmfsp'])
PARAM_SCHEDULERS = _child('PARAM_SCHEDULERS', ['mmfsp'])
DATASETS = _child('DATASETS', ['mmfsp'])
DATA_SAMPLERS = _child('DATA_SAMPLERS', ['mmfsp'])
TRANSFORMS = _child('TRANSFORMS', ['mmfsp'])
MODELS = _child('MODELS', ['mmfsp'])
MODEL_WRAPPERS = _child('MODEL_WRAPPERS', ['mmfsp'])
WEIGHT_INITIALIZERS = _child('WEIGHT_INITIALIZERS', ['mmfsp'])
BATCH_AUGMENTS = _child('BATCH_AUGMENTS', ['mmfsp'])
TASK_UTILS = _child('TASK_UTILS', ['mmfsp'])
METRICS = _child('METRICS', ['mmfsp'])
EVALUATORS = _child('EVALUATORS', ['mmfsp'])
VISUALIZERS = _child('VISUALIZERS', ['mmfsp'])
VISBACKENDS = _child('VISBACKENDS', ['mmfsp'])
