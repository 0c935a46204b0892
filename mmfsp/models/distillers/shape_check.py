"""The distiller's shape check, made once when the model is built.

Every loss compares student data with the teacher data in the same position
(for FSP, the pairs' matrices ``G`` of Yim et al., CVPR 2017, eq. 2), so the
two must have the same shape; a mismatch is a configuration error (paired
layers with different channel counts; docs/fsp.md, "A config for a new
teacher / student pair"). :func:`check_shapes_on` finds it with a forward
pass of zero images before training (``dummy_input_shape`` of
:class:`~mmfsp.models.algorithms.SingleTeacherDistill`); training steps do
not check again.
"""
from typing import Any, Sequence

import torch
from torch import Tensor, nn


class DistillShapeError(ValueError):
    """Student and teacher data paired by a distillation loss do not have
    the same shape (a configuration error)."""


def data_shape(data: Any) -> Any:
    """The shape of a tensor, the shapes of a tuple / list of them, or the
    type name of anything else (for comparisons and messages)."""
    if isinstance(data, Tensor):
        return tuple(data.shape)
    if isinstance(data, (tuple, list)):
        return [data_shape(d) for d in data]
    return type(data).__name__


@torch.no_grad()
def check_shapes_on(distiller: nn.Module, teacher: nn.Module,
                    student: nn.Module, input_shape: Sequence[int]) -> None:
    """Run two zero images of shape ``input_shape`` (C, H, W) through
    ``teacher`` and ``student`` with the recorders of ``distiller`` (a
    :class:`~mmfsp.models.distillers.ConfigurableDistiller`) on, all in eval
    mode (every module's mode restored after), and check every loss's paired
    shapes; raises :class:`DistillShapeError` naming both sides' modules and
    shapes."""
    if not distiller.loss_names:
        return
    nets = (teacher, student, distiller)
    modes = [(m, m.training) for net in nets for m in net.modules()]
    param = next(student.parameters())
    inputs = torch.zeros((2, *input_shape), device=param.device,
                         dtype=param.dtype)
    try:
        for net in nets:
            net.eval()
        with distiller.teacher_recorders:
            teacher(inputs, mode='tensor')
        with distiller.student_recorders:
            student(inputs, mode='tensor')
        distiller.check_shapes()
    finally:
        distiller.teacher_recorders.reset_data()
        distiller.student_recorders.reset_data()
        for module, mode in modes:
            module.training = mode
