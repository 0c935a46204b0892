from .configurable_distiller import ConfigurableDistiller, DistillShapeError
from .fsp_pairs import expand_fsp_pairs

__all__ = ['ConfigurableDistiller', 'DistillShapeError', 'expand_fsp_pairs']
