"""Helpers of the tools and of the stack fixes (nothing here imports
mmfsp.engine or mmfsp.models)."""
from .atomic_save import atomic_write, install_atomic_saves
from .config_check import ConfigError, check_config
from .config_scope import rescope_config
from .dataset_check import check_dataset_files
from .launch import build_runner, setup_cpu_distributed
from .quiet import hide_known_log_messages, hide_known_warnings
from .safe_checkpoint import (MMENGINE_SAFE_GLOBALS, CheckpointSecurityError,
                              CorruptCheckpointError,
                              install_safe_checkpoint_loaders, safe_load)
from .schedule_scaling import scale_schedule

__all__ = [
    'MMENGINE_SAFE_GLOBALS', 'CheckpointSecurityError', 'ConfigError',
    'CorruptCheckpointError', 'atomic_write', 'build_runner', 'check_config',
    'check_dataset_files', 'hide_known_log_messages', 'hide_known_warnings',
    'install_atomic_saves', 'install_safe_checkpoint_loaders',
    'rescope_config', 'safe_load', 'scale_schedule', 'setup_cpu_distributed'
]
