"""Hide the OpenMMLab stack's known, harmless warnings, and only those.

Every run of the tools printed warnings that ask nothing of an mmfsp user:

* mmcv-lite's ``Fail to import MultiScaleDeformableAttention`` (mmfsp
  installs mmcv-lite on purpose: it uses no compiled mmcv op);
* setuptools' ``pkg_resources is deprecated as an API`` (mmengine 0.10
  resolves ``mmpretrain::`` base configs with ``pkg_resources``);
* mmengine's own ``"FileClient" will be deprecated``, ``"HardDiskBackend" is
  the alias of "LocalBackend"`` (its CheckpointHook and LoggerHook use them)
  and ``Reach the end of the dataloader`` (an iteration-based loop restarts
  a finite sampler; mmfsp keeps mmengine's default sampler so that the data
  order of a run does not change), which also break a progress bar's line.

:func:`hide_known_warnings` adds one ``warnings`` filter per Python warning
(message and category); :func:`hide_known_log_messages` adds a
``logging.Filter`` for the three mmengine messages to one logger (the
tools' :func:`~mmfsp.utils.build_runner` applies it to the Runner's
logger). Every other warning is shown as before. This module imports only
the standard library.
"""
import logging
import re
import warnings
from typing import Tuple, Type

#: ``(category, start of the message)`` of the hidden Python warnings.
KNOWN_WARNINGS: Tuple[Tuple[Type[Warning], str], ...] = (
    (UserWarning, 'Fail to import ``MultiScaleDeformableAttention``'),
    # setuptools 80.9-81 (UserWarning); older ones (DeprecationWarning)
    # are hidden by Python's default filters outside __main__
    (UserWarning, 'pkg_resources is deprecated as an API'),
    (DeprecationWarning, 'pkg_resources is deprecated as an API'),
    # mmpretrain's MNIST / FashionMNIST read the files into read-only arrays
    # (nothing writes to them)
    (UserWarning, 'The given NumPy array is not writable'),
)

#: Start of the hidden mmengine log messages (level WARNING).
KNOWN_LOG_MESSAGES: Tuple[str, ...] = (
    '"FileClient" will be deprecated in future.',
    '"HardDiskBackend" is the alias of "LocalBackend"',
    'Reach the end of the dataloader, it will be restarted',
)


def hide_known_warnings() -> None:
    """Ignore the Python warnings of :data:`KNOWN_WARNINGS` (matched by
    category and the start of the message). Idempotent; call it before
    torch / mmengine / mmpretrain are imported."""
    for category, message in KNOWN_WARNINGS:
        warnings.filterwarnings(
            'ignore', message=re.escape(message), category=category)


class KnownLogMessageFilter(logging.Filter):
    """Drop WARNING records whose message starts with one of
    :data:`KNOWN_LOG_MESSAGES`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING
                    and isinstance(record.msg, str)
                    and record.msg.startswith(KNOWN_LOG_MESSAGES))


def hide_known_log_messages(logger: logging.Logger) -> logging.Logger:
    """Add a :class:`KnownLogMessageFilter` to ``logger`` (an mmengine
    ``MMLogger``: mmengine logs these messages to the current one) unless
    it has one. Returns ``logger``."""
    if not any(isinstance(f, KnownLogMessageFilter) for f in logger.filters):
        logger.addFilter(KnownLogMessageFilter())
    return logger
