
from .nonfinite_loss_hook import NonFiniteLossError, NonFiniteLossHook  # noqa: F401
from .loss_weight_schedule_hook import LossWeightScheduleHook, linear_weight  # noqa: F401,E501
from .teacher_fsp_cache_hook import TeacherFSPCacheHook  # noqa: F401,E402
from .distill_stage_switch_hook import DistillStageSwitchHook  # noqa: F401
