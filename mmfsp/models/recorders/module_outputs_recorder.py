"""Recorder of a module's output (MMRazor's ``ModuleOutputs``).

``dict(type='ModuleOutputs', source='backbone.layer1')`` keeps what
``backbone.layer1`` returns, e.g. the output feature map of a ResNet stage,
or the logits with ``source='head.fc'``.
"""
from typing import Any

from mmfsp.registry import TASK_UTILS
from .base_recorder import BaseRecorder


@TASK_UTILS.register_module()
class ModuleOutputsRecorder(BaseRecorder):
    """Keep the output of module ``source`` on every call."""

    kind = 'output'

    def select(self, inputs: tuple, outputs: Any) -> Any:
        return outputs
