from .safe_checkpoint import (MMENGINE_SAFE_GLOBALS, CheckpointSecurityError,
                              CorruptCheckpointError,
                              install_safe_checkpoint_loaders, safe_load)

__all__ = [
    'MMENGINE_SAFE_GLOBALS', 'CheckpointSecurityError',
    'CorruptCheckpointError', 'install_safe_checkpoint_loaders', 'safe_load'
]
from .launch import build_runner, setup_cpu_distributed  # noqa: E402

__all__ += ['build_runner', 'setup_cpu_distributed']
from .config_scope import rescope_config  # noqa: E402

__all__ += ['rescope_config']
from .atomic_save import atomic_write, install_atomic_saves  # noqa: E402

__all__ += ['atomic_write', 'install_atomic_saves']
from .dataset_check import check_dataset_files  # noqa: E402

__all__ += ['check_dataset_files']
