from .fsp_connector import FSPConnector, fsp_matrix

__all__ = ['FSPConnector', 'fsp_matrix']
