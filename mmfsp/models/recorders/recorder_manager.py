"""A named set of recorders on one model, switched on as a context manager.

``RecorderManager(dict(stem=dict(type='ModuleInputs',
source='backbone.layer1'), layer1=dict(type='ModuleOutputs',
source='backbone.layer1')))`` builds the
recorders (``type`` may omit the ``Recorder`` suffix, as in MMRazor);
``initialize(model)`` hooks them; ``with manager: model(x)`` empties the
buffers, records during the forward pass and stops recording on exit.
"""
from typing import Dict, Iterator, Optional

from torch import nn

from mmfsp.registry import TASK_UTILS
from .base_recorder import BaseRecorder


def build_recorder(cfg) -> BaseRecorder:
    """Build a recorder from ``dict(type=..., source=...)``; ``type`` may be
    ``'ModuleOutputs'`` or ``'ModuleOutputsRecorder'``."""
    if isinstance(cfg, BaseRecorder):
        return cfg
    cfg = dict(cfg)
    rtype = cfg.get('type')
    if isinstance(rtype, str) and not rtype.endswith('Recorder'):
        cfg['type'] = rtype + 'Recorder'
    return TASK_UTILS.build(cfg)


class RecorderManager:
    """Named recorders of one model.

    Args:
        recorders (dict, optional): name -> recorder config.
    """

    def __init__(self, recorders: Optional[dict] = None) -> None:
        self.recorders: Dict[str, BaseRecorder] = {
            name: build_recorder(cfg)
            for name, cfg in (recorders or {}).items()
        }

    def initialize(self, model: nn.Module) -> None:
        """Hook every recorder on ``model`` (unknown module names raise
        :class:`~mmfsp.models.recorders.base_recorder.UnknownModuleError`)."""
        for recorder in self.recorders.values():
            recorder.prepare_from_model(model)

    def remove_hooks(self) -> None:
        for recorder in self.recorders.values():
            recorder.remove_hook()
            recorder.reset_data()

    def get_recorder(self, name: str) -> BaseRecorder:
        if name not in self.recorders:
            raise KeyError(f'no recorder named {name!r}; recorders: '
                           f'{sorted(self.recorders)}')
        return self.recorders[name]

    def reset_data(self) -> None:
        for recorder in self.recorders.values():
            recorder.reset_data()

    def __enter__(self) -> 'RecorderManager':
        for recorder in self.recorders.values():
            recorder.reset_data()
            recorder.recording = True
        return self

    def __exit__(self, *exc) -> None:
        for recorder in self.recorders.values():
            recorder.recording = False

    def __len__(self) -> int:
        return len(self.recorders)

    def __iter__(self) -> Iterator[str]:
        return iter(self.recorders)

    def __repr__(self) -> str:
        return f'RecorderManager({self.recorders!r})'
