from .configurable_distiller import ConfigurableDistiller, DistillShapeError
from .fsp_pairs import expand_fsp_pairs

__all__ = ['ConfigurableDistiller', 'DistillShapeError', 'expand_fsp_pairs']
from .fsp_distiller import (FSPDistiller, channel_permutation,  # noqa: E402
                            spec_key)

__all__ += ['FSPDistiller', 'channel_permutation', 'spec_key']
