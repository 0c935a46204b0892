"""The ``generations`` dict of a config, checked (Yang et al., AAAI 2019;
docs/generations.md, "D(eta, lam) and the configs")."""
import copy
from dataclasses import asdict, dataclass
from typing import Any, Optional

from mmfsp.models.losses import tolerant_teacher_weights

TSD_IN = ('patriarch', 'all')
GENERATIONS_KEYS = ('num_generations', 'eta', 'lam', 'k', 'tsd_in', 'reparam',
                    'teacher_loss', 'logits_layer')

_CONFIG_SHAPE = (
    "generations = dict(num_generations=5, eta=0.6, lam=0.6, k=5, "
    "tsd_in='patriarch', reparam='none', teacher_loss=None, "
    "logits_layer='head.fc')")


def plain(value: Any) -> Any:
    """ConfigDicts and tuples as plain dicts and lists (JSON-friendly)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _number(value: float) -> str:
    """``1 -> '1.0'``, ``0.6 -> '0.6'``, ``0.65 -> '0.65'`` (the paper's
    D(1.0, 0.0) style)."""
    value = float(value)
    return f'{value:.1f}' if round(value, 1) == value else f'{value:g}'


@dataclass(frozen=True)
class GenerationSettings:
    """The ``generations`` dict of a config, checked.

    The teacher loss (label term) is ``eta * CE + (1 - eta) * TSD``; every
    generation ``g >= 1`` learns from generation ``g - 1`` with
    ``(1 - lam) * <label term> + lam * KL(p_T || p_S)``.

    Args:
        num_generations (int): generations ``0..N-1``.
        eta (float): label weight of the teacher loss. Defaults to 1.0.
        lam (float): weight of ``KL(p_T || p_S)`` in generations >= 1.
            Defaults to 0.0.
        k (int): TSD's K. Defaults to 5.
        tsd_in (str): 'patriarch' (only generation 0 is trained with the
            teacher loss) or 'all'. Defaults to 'patriarch'.
        reparam (str): u(eta), 'none' or 'unit_ce'. Defaults to 'none'.
        teacher_loss (dict, optional): an alternative teacher loss (label
            smoothing, ``ConfidencePenaltyLoss``; ``eta`` must be 1).
            Defaults to None.
        logits_layer (str): the module whose output is the logits.
            Defaults to 'head.fc'.

    Example:
        >>> generations = dict(num_generations=5, eta=0.6, lam=0.6)
        >>> GenerationSettings.from_cfg(generations).label
        'D(0.6, 0.6)'
    """

    num_generations: int
    eta: float = 1.0
    lam: float = 0.0
    k: int = 5
    tsd_in: str = 'patriarch'
    reparam: str = 'none'
    teacher_loss: Optional[dict] = None
    logits_layer: str = 'head.fc'

    def __post_init__(self) -> None:
        if not isinstance(self.num_generations, int) or \
                isinstance(self.num_generations, bool) or \
                self.num_generations < 1:
            raise ValueError(f'generations.num_generations must be an int >= '
                             f'1, got {self.num_generations!r}')
        for name in ('eta', 'lam'):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(
                    f'generations.{name} must lie in [0, 1], got {value!r}')
        if not isinstance(self.k, int) or self.k < 2:
            raise ValueError(f'generations.k must be an int >= 2, got '
                             f'{self.k!r}')
        if self.tsd_in not in TSD_IN:
            raise ValueError(f'generations.tsd_in must be one of {TSD_IN}, '
                             f'got {self.tsd_in!r}')
        tolerant_teacher_weights(self.eta, self.reparam)  # checks reparam
        if self.teacher_loss is not None:
            if not isinstance(self.teacher_loss, dict) or \
                    'type' not in self.teacher_loss:
                raise ValueError(
                    f'generations.teacher_loss must be a loss config with a '
                    f'type, got {self.teacher_loss!r}')
            if self.eta != 1:
                raise ValueError(
                    f'generations.teacher_loss replaces the tolerant '
                    f'teacher loss; set eta=1.0 with it (got eta={self.eta})')
        if not isinstance(self.logits_layer, str) or not self.logits_layer:
            raise ValueError(f'generations.logits_layer must name a module, '
                             f'got {self.logits_layer!r}')

    @classmethod
    def from_cfg(cls,
                 generations: Optional[dict],
                 num_generations: Optional[int] = None
                 ) -> 'GenerationSettings':
        """Settings from a config's ``generations`` dict;
        ``num_generations`` (the command line's ``--generations``) overrides
        the config's."""
        if not isinstance(generations, dict):
            raise ValueError(f'the config has no generations dict; add e.g. '
                             f'{_CONFIG_SHAPE}')
        values = {k: copy.deepcopy(v) for k, v in dict(generations).items()}
        unknown = sorted(set(values) - set(GENERATIONS_KEYS))
        if unknown:
            raise ValueError(f'generations has unknown keys {unknown}; '
                             f'allowed: {list(GENERATIONS_KEYS)}')
        if num_generations is not None:
            values['num_generations'] = num_generations
        if 'num_generations' not in values:
            raise ValueError(
                'generations.num_generations is not set (nor --generations)')
        if isinstance(values.get('teacher_loss'), dict):
            values['teacher_loss'] = plain(values['teacher_loss'])
        return cls(**values)

    @property
    def label(self) -> str:
        """The paper's name of the setting, e.g. ``'D(0.6, 0.6)'``; an
        alternative teacher loss is named after its type."""
        text = f'D({_number(self.eta)}, {_number(self.lam)})'
        if self.teacher_loss is not None:
            text += f' with teacher loss {self.teacher_loss["type"]}'
        return text

    def identity(self) -> dict:
        """What a generation's training depends on (everything but
        ``num_generations``): a resumed run must agree on it."""
        out = asdict(self)
        out.pop('num_generations')
        return out

    def applies_teacher_loss(self, generation: int) -> bool:
        """Whether generation ``generation``'s label term is the teacher
        loss (TSD or its alternative) rather than plain cross-entropy."""
        return generation == 0 or self.tsd_in == 'all'

    def teacher_loss_cfg(self, base_loss: dict) -> dict:
        """The teacher loss: the alternative, the tolerant loss for
        ``eta < 1``, or ``base_loss`` (the config's head loss)."""
        if self.teacher_loss is not None:
            return copy.deepcopy(self.teacher_loss)
        if self.eta < 1:
            return dict(
                type='TolerantTeacherLoss',
                eta=float(self.eta),
                k=self.k,
                reparam=self.reparam)
        return copy.deepcopy(base_loss)

    def is_distilled(self, generation: int) -> bool:
        """Whether generation ``generation`` learns from a teacher."""
        return generation > 0 and self.lam > 0

    def head_loss(self, generation: int, base_loss: dict) -> dict:
        """The head loss of generation ``generation``'s classifier: the
        label term, scaled by ``1 - lam`` when the generation is
        distilled."""
        loss = self.teacher_loss_cfg(base_loss) if \
            self.applies_teacher_loss(generation) else copy.deepcopy(base_loss)
        if self.is_distilled(generation):
            loss['loss_weight'] = float(loss.get('loss_weight', 1.0)) * (
                1.0 - float(self.lam))
        return loss
