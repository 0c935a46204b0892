
from .pipeline_check import (NondeterministicPipelineError,  # noqa: F401
                             check_deterministic_training,
                             random_transforms)
