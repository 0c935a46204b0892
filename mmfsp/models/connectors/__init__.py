from .fsp_connector import FSPConnector, fsp_matrix

__all__ = ['FSPConnector', 'fsp_matrix']
from .conv_regressor_connector import ConvRegressorConnector  # noqa: E402

__all__ += ['ConvRegressorConnector']
