
from .nonfinite_loss_hook import NonFiniteLossError, NonFiniteLossHook  # noqa: F401
