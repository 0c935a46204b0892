from .distill_stage_switch_hook import DistillStageSwitchHook
from .loss_weight_schedule_hook import LossWeightScheduleHook, linear_weight
from .nonfinite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .preemption_hook import (REQUEUE_EXIT_CODE, PreemptionHook,
                              TrainingPreempted)
from .progress_bar_hook import ProgressBarHook
from .teacher_fsp_cache_hook import TeacherFSPCacheHook
from .weight_norm_monitor_hook import WeightNormMonitorHook
from .weight_norm_projection_hook import WeightNormProjectionHook

__all__ = [
    'DistillStageSwitchHook', 'LossWeightScheduleHook', 'NonFiniteLossError',
    'NonFiniteLossHook', 'PreemptionHook', 'ProgressBarHook',
    'REQUEUE_EXIT_CODE', 'TeacherFSPCacheHook', 'TrainingPreempted',
    'WeightNormMonitorHook', 'WeightNormProjectionHook', 'linear_weight'
]
