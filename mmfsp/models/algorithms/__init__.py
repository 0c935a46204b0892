from .distill_checkpoint import (STUDENT_PREFIX, MissingTeacherCheckpointError,
                                 convert_distill_checkpoint,
                                 load_teacher_weights, student_state_dict)
from .single_teacher_distill import SingleTeacherDistill

__all__ = [
    'MissingTeacherCheckpointError', 'STUDENT_PREFIX', 'SingleTeacherDistill',
    'convert_distill_checkpoint', 'load_teacher_weights', 'student_state_dict'
]
from .cached_teacher_fsp_distill import (CachedTeacherFSPDistill,  # noqa: E402,E501
                                         TeacherDataCache, sample_indices)

__all__ += ['CachedTeacherFSPDistill', 'TeacherDataCache', 'sample_indices']
