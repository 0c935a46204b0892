"""Stage lengths of a two-stage (distillation) config in one edit.

A two-stage config states its stage lengths twice: in the schedule itself
(``param_scheduler``, the ``DistillStageSwitchHook``'s ``switch_iter``,
``train_cfg.max_iters``) and in two top-level keys that mmfsp's schedule
bases set::

    stage_iters = (1000, 1000)           # edit this to change the stages
    schedule_stage_iters = (1000, 1000)  # what the schedule is written for

:func:`apply_stage_iters` (called by mmfsp's tools before anything is
built) compares the three and decides unambiguously which one the user
edited:

- ``stage_iters`` alone changed: the schedule, still written for
  ``schedule_stage_iters``, is rescaled to ``stage_iters`` with
  :func:`~mmfsp.utils.schedule_scaling.scale_two_stage_schedule` (each
  stage's milestones, ``begin``/``end``, the switch, stage-dependent hooks
  and intervals by its own factor);
- the schedule rewritten by hand (the usual mmengine way) and
  ``stage_iters`` left alone: the schedule is used as written and both keys
  are set to its lengths;
- both changed consistently: nothing to do;
- both changed inconsistently: :class:`StageItersError`, naming the three
  and the two fixes.

So a child config or ``--cfg-options stage_iters="(500,420)"`` changes the
stage lengths in one edit, and a schedule written by hand is never
silently rescaled. See docs/fsp.md.
"""
from typing import Optional, Tuple

from .schedule_scaling import scale_two_stage_schedule, stage_lengths

STAGE_ITERS = 'stage_iters'
WRITTEN_FOR = 'schedule_stage_iters'


class StageItersError(ValueError):
    """``stage_iters`` and the schedule disagree and neither is the one the
    schedule was written for."""


def _pair(cfg, key: str) -> Tuple[int, int]:
    value = cfg[key]
    if not (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                    for v in value)):
        raise StageItersError(
            f'{key} must be two positive iteration counts, (stage 1, stage '
            f'2), e.g. --cfg-options {key}="(350,420)"; got {value!r}')
    return int(value[0]), int(value[1])


def apply_stage_iters(cfg) -> Optional[str]:
    """Make ``cfg``'s schedule and ``stage_iters`` agree (in place).

    Args:
        cfg (Config): a config; one without ``stage_iters`` (or with
            ``stage_iters = None``: a one-stage run) is left alone.

    Returns:
        str, optional: what was done, for the log; None when nothing was
        to do.

    Raises:
        StageItersError: the three lengths disagree in a way no single edit
            explains, or a key is not two positive integers.
    """
    if cfg.get(STAGE_ITERS) is None:
        return None
    want = _pair(cfg, STAGE_ITERS)
    try:
        schedule = stage_lengths(cfg)
    except ValueError as error:
        # not two stages inside the run (stage 1 alone: switch_iter =
        # max_iters, or a switch after the end, which the config checks
        # report with their fixes): nothing to rescale unless asked to
        if cfg.get(WRITTEN_FOR) is None or want == _pair(cfg, WRITTEN_FOR):
            return None
        raise StageItersError(
            f'stage_iters={want} asks for two stages, but the schedule has '
            f'no stage 2 to rescale ({error}). Set the stage lengths on a '
            f'two-stage config.') from error
    written = _pair(cfg, WRITTEN_FOR) if WRITTEN_FOR in cfg else schedule
    if want == schedule:
        cfg[WRITTEN_FOR] = want
        return None
    if schedule == written:
        scale_two_stage_schedule(cfg, *want)
        cfg[WRITTEN_FOR] = want
        return (f'stage_iters={want}: the schedule written for {written} '
                f'(param_scheduler, switch_iter, max_iters) rescaled to '
                f'{want[0]} + {want[1]} iterations.')
    if want == written:
        cfg[STAGE_ITERS] = cfg[WRITTEN_FOR] = schedule
        return None
    raise StageItersError(
        f'The stage lengths disagree: stage_iters={want}, the schedule '
        f'(switch_iter and train_cfg.max_iters) gives {schedule}, and '
        f'{WRITTEN_FOR}={written} says what the schedule was written for. '
        f'Change the lengths with stage_iters alone (leave param_scheduler, '
        f'switch_iter and max_iters as the base writes them), or write the '
        f'schedule by hand and set stage_iters={schedule} and '
        f'{WRITTEN_FOR}={schedule} with it.')
