from .distill_checkpoint import (MissingTeacherCheckpointError,
                                 convert_distill_checkpoint,
                                 load_teacher_weights, student_state_dict)
from .single_teacher_distill import SingleTeacherDistill

__all__ = [
    'MissingTeacherCheckpointError', 'SingleTeacherDistill',
    'convert_distill_checkpoint', 'load_teacher_weights', 'student_state_dict'
]
