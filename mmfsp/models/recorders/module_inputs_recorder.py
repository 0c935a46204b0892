"""Recorder of a module's input (MMRazor's ``ModuleInputs``).

``dict(type='ModuleInputs', source='backbone.layer1')`` keeps what goes into
``backbone.layer1``: for a CIFAR ResNet, the stem output (the first feature of
the FSP paper's first layer pair).

A forward hook sees the positional inputs as a tuple. A module with a single
positional input (every ResNet stage) is recorded as that tensor; with several
inputs the whole tuple is kept and ``data_idx`` picks one.
"""
from typing import Any

from mmfsp.registry import TASK_UTILS
from .base_recorder import BaseRecorder


@TASK_UTILS.register_module()
class ModuleInputsRecorder(BaseRecorder):
    """Keep the positional input(s) of module ``source`` on every call."""

    kind = 'input'

    def select(self, inputs: tuple, outputs: Any) -> Any:
        return inputs[0] if len(inputs) == 1 else inputs
