from .configurable_distiller import ConfigurableDistiller
from .fsp_distiller import FSPDistiller, channel_permutation
from .fsp_pairs import expand_fsp_pairs
from .shape_check import DistillShapeError, check_shapes_on
from .specs import logits_class_errors, spec_key

__all__ = [
    'ConfigurableDistiller', 'DistillShapeError', 'FSPDistiller',
    'channel_permutation', 'check_shapes_on', 'expand_fsp_pairs',
    'logits_class_errors', 'spec_key'
]
