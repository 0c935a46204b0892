"""Forward-hook recorders: keep what a named submodule sees or produces.

A recorder hooks one module of a model, found by its dotted name in
``model.named_modules()`` (e.g. ``'backbone.layer1'`` or ``'head.fc'``), so no
backbone has to be modified to expose its features (MMRazor's design). While
recording is switched on, every call of the module appends one entry to
:attr:`BaseRecorder.data_buffer`; :meth:`BaseRecorder.get_record_data` returns
entry ``record_idx`` (a module called twice in one forward pass has two).
"""
import difflib
from abc import ABCMeta, abstractmethod
from typing import Any, List, Optional

from torch import nn


class UnknownModuleError(ValueError):
    """A recorder names a module that the model does not have."""


def find_module(model: nn.Module, source: str) -> nn.Module:
    """Return ``model``'s submodule called ``source``.

    Raises:
        UnknownModuleError: the name is unknown. The message lists the closest
            module names (difflib) and the model's top-level children, so a
            typo like ``'backbone.layer_1'`` is easy to fix.
    """
    modules = dict(model.named_modules())
    if source in modules and source != '':
        return modules[source]
    names = [name for name in modules if name]
    close = difflib.get_close_matches(source, names, n=5, cutoff=0.5)
    top = [name for name, _ in model.named_children()]
    # Children of the deepest existing parent of ``source`` are the most
    # useful hint after a typo in the last component.
    parent = source.rsplit('.', 1)[0] if '.' in source else ''
    siblings = [
        f'{parent}.{name}' for name, _ in modules[parent].named_children()
    ] if parent in modules and parent else []
    lines = [f'{type(model).__name__} has no submodule named {source!r}.']
    if close:
        lines.append(f'Closest names: {", ".join(close)}.')
    if siblings:
        lines.append(f'Children of {parent!r}: {", ".join(siblings)}.')
    lines.append(f'Top-level modules: {", ".join(top) or "(none)"}.')
    lines.append('Names are those of model.named_modules(), e.g. '
                 "'backbone.layer1' or 'head.fc'.")
    raise UnknownModuleError(' '.join(lines))


class BaseRecorder(metaclass=ABCMeta):
    """Record one module's data through a forward hook.

    Args:
        source (str): dotted name of the module in the hooked model.
    """

    #: Short name of what is recorded, used in messages ('input'/'output').
    kind: str = 'data'

    def __init__(self, source: str) -> None:
        if not isinstance(source, str) or not source:
            raise ValueError(f'recorder source must be a module name, got '
                             f'{source!r}')
        self.source = source
        self.recording = False
        self.data_buffer: List[Any] = []
        self._handle = None

    def prepare_from_model(self, model: nn.Module) -> None:
        """Register the forward hook on ``model``'s module ``source``
        (removing a previous hook of this recorder first)."""
        module = find_module(model, self.source)
        self.remove_hook()
        self._handle = module.register_forward_hook(self._forward_hook)

    def remove_hook(self) -> None:
        """Detach from the model (e.g. when the teacher is freed)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    @property
    def is_prepared(self) -> bool:
        return self._handle is not None

    def _forward_hook(self, module: nn.Module, inputs: tuple,
                      outputs: Any) -> None:
        if self.recording:
            self.data_buffer.append(self.select(inputs, outputs))

    @abstractmethod
    def select(self, inputs: tuple, outputs: Any) -> Any:
        """What to keep of one call: the inputs or the outputs."""

    def reset_data(self) -> None:
        self.data_buffer = []

    def get_record_data(self,
                        record_idx: int = 0,
                        data_idx: Optional[int] = None) -> Any:
        """Entry ``record_idx`` of the buffer, or its element ``data_idx``
        when the module takes or returns a tuple."""
        if not self.data_buffer:
            raise RuntimeError(
                f'Nothing was recorded for module {self.source!r} '
                f'({self.kind}): it was not called during the forward pass '
                f'(or recording was off).')
        if record_idx >= len(self.data_buffer):
            raise IndexError(
                f'module {self.source!r} was called '
                f'{len(self.data_buffer)} time(s); record_idx={record_idx} '
                f'does not exist')
        data = self.data_buffer[record_idx]
        if data_idx is None:
            return data
        if not isinstance(data, (tuple, list)):
            raise TypeError(f'{self.kind} of {self.source!r} is not a '
                            f'sequence, so data_idx={data_idx} is invalid')
        return data[data_idx]

    def __repr__(self) -> str:
        return f'{type(self).__name__}(source={self.source!r})'
