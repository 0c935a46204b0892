from .base_recorder import BaseRecorder, UnknownModuleError, find_module
from .module_inputs_recorder import ModuleInputsRecorder
from .module_outputs_recorder import ModuleOutputsRecorder
from .recorder_manager import RecorderManager, build_recorder

__all__ = [
    'BaseRecorder', 'ModuleInputsRecorder', 'ModuleOutputsRecorder',
    'RecorderManager', 'UnknownModuleError', 'build_recorder', 'find_module'
]
