
from .confidence_penalty_loss import ConfidencePenaltyLoss, softmax_entropy  # noqa: F401,E501
from .head_loss import HeadLoss, cross_entropy_per_sample  # noqa: F401
from .hint_loss import HintLoss, hint_l2  # noqa: F401
from .kd_loss import KDLoss, generation_loss_cfgs, kd_kl_divergence  # noqa: F401,E501
from .tolerant_teacher_loss import (TolerantTeacherLoss,  # noqa: F401
                                    tolerant_teacher_weights,
                                    top_score_difference)
from .fsp_loss import FSPLoss, fsp_loss  # noqa: F401
