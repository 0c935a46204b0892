"""Ensemble of trained classifiers: the mean of their softmax outputs.

    p_ens(x) = 1/N * sum_{i=1..N} softmax(z_i(x))

with ``z_i`` the logits of member ``i``. Both papers evaluate ensembles this
way: Yim et al., "A Gift from Knowledge Distillation: Fast Optimization,
Network Minimization and Transfer Learning" (CVPR 2017), for teachers and for
FSP students (shuffled-FSP diverse students), and Yang et al., "Knowledge
Distillation in Generations: More Tolerant Teachers Educate Better Students"
(2018), for several generations of one network. Ensembles are evaluated, not
trained: ``mode='loss'`` raises.
"""
import copy
from typing import Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner.checkpoint import CheckpointLoader, load_state_dict
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmfsp.registry import MODELS
from ..algorithms.distill_checkpoint import STUDENT_PREFIX, student_state_dict

#: the parts of a config that a test-only run does not use
TRAIN_AND_VAL_KEYS = ('train_dataloader', 'train_cfg', 'optim_wrapper',
                      'param_scheduler', 'val_dataloader', 'val_cfg',
                      'val_evaluator', 'auto_scale_lr')


def mean_softmax(logits: Sequence[Tensor]) -> Tensor:
    """The average of ``softmax(z_i)`` over the members, shape (B, C)."""
    if not logits:
        raise ValueError('mean_softmax needs at least one member output')
    shapes = {tuple(z.shape) for z in logits}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f'ensemble members must all give logits of one '
                         f'shape (B, C), got {sorted(shapes)}')
    return torch.stack([torch.softmax(z, dim=1) for z in logits]).mean(0)


def load_member_checkpoint(member: nn.Module,
                           filename: str,
                           prefix: Optional[str] = STUDENT_PREFIX) -> None:
    """Load ``filename`` into ``member`` strictly, through mmengine's
    ``CheckpointLoader`` (mmfsp's ``weights_only=True`` loader).

    A checkpoint of a distillation run holds the student under ``prefix``
    (and the teacher elsewhere); when any key starts with ``prefix`` only
    those keys are used, with the prefix stripped. ``module.`` prefixes of
    checkpoints saved from a DDP-wrapped model are stripped too (see
    :func:`~mmfsp.models.algorithms.student_state_dict`).
    """
    checkpoint = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    if not isinstance(checkpoint, dict):
        raise RuntimeError(f'no state dict found in checkpoint {filename}')
    state = student_state_dict(checkpoint, prefix, plain_ok=True)
    try:
        load_state_dict(member, state, strict=True)
    except RuntimeError as err:
        raise RuntimeError(f'checkpoint {filename} does not fit its ensemble '
                           f'member\'s config: {err}') from err


def ensemble_model_cfg(model_cfg: dict,
                       checkpoints: Sequence[str],
                       data_preprocessor: Optional[dict] = None) -> dict:
    """Wrap a config's ``model`` into an :class:`EnsembleClassifier` config of
    one member per checkpoint. The model of a distillation config (one with an
    ``architecture``) contributes its student."""
    model_cfg = copy.deepcopy(dict(model_cfg))
    if data_preprocessor is None:
        data_preprocessor = model_cfg.get('data_preprocessor')
    if 'architecture' in model_cfg:
        model_cfg = copy.deepcopy(dict(model_cfg['architecture']))
        data_preprocessor = model_cfg.get('data_preprocessor',
                                          data_preprocessor)
    cfg = dict(
        type='EnsembleClassifier',
        model=model_cfg,
        checkpoints=list(checkpoints))
    if data_preprocessor is not None:
        # else the Runner adds the config's top-level data_preprocessor
        cfg['data_preprocessor'] = data_preprocessor
    return cfg


def ensemble_test_config(cfg: Config,
                         checkpoints: Sequence[str],
                         work_dir: Optional[str] = None) -> Config:
    """The test-only config of the mean-softmax ensemble of ``checkpoints``,
    one member of ``cfg.model`` (its student, for a distillation config)
    each; ``cfg`` is not modified.

    The test dataloader and evaluator are kept as they are; the training
    and validation parts (:data:`TRAIN_AND_VAL_KEYS`) are dropped, and
    ``load_from`` / ``resume`` are switched off (the members load their own
    checkpoints).

    Args:
        cfg (Config): a classifier or distillation config.
        checkpoints (Sequence[str]): one checkpoint per member.
        work_dir (str, optional): the test run's work dir. Defaults to
            ``cfg``'s.

    Example:
        >>> cfg = Config.fromfile(
        ...     'configs/resnet/resnet8_1xb128_fashion-mnist.py')
        >>> test_cfg = ensemble_test_config(cfg, ['a.pth', 'b.pth'])
        >>> test_cfg.model.type
        'EnsembleClassifier'
    """
    out = copy.deepcopy(cfg)
    out.model = ensemble_model_cfg(
        cfg.model, list(checkpoints),
        cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor'))
    for key in TRAIN_AND_VAL_KEYS:
        out[key] = None
    if work_dir is not None:
        out.work_dir = work_dir
    out.load_from = None
    out.resume = False
    return out


@MODELS.register_module()
class EnsembleClassifier(BaseModel):
    """Mean-softmax ensemble of N classifiers loaded from checkpoints.

    Predictions carry ``pred_score`` (the averaged probabilities) and
    ``pred_label`` (its argmax), so mmpretrain's ``Accuracy`` and mmfsp's
    ``SecondaryClassMetric`` evaluate it like any classifier. The inputs are
    pre-processed once, by the ensemble's ``data_preprocessor`` (the members'
    own pre-processors are not used, so the members must share one).

    Args:
        model: one member config used for every checkpoint, or a list of N
            member configs (mmpretrain classifiers; ``mode='tensor'`` must
            return logits).
        checkpoints: N checkpoint paths or URLs, one per member.
        checkpoint_prefix: key prefix of the student in distillation
            checkpoints (see :func:`load_member_checkpoint`); None to load
            keys as they are. Defaults to 'architecture.'.
        data_preprocessor: the pre-processor config; defaults to the members'
            one (they must agree), of type ``ClsDataPreprocessor``.
        init_cfg: unused (the members' weights come from the checkpoints).
    """

    def __init__(self,
                 model: Union[dict, Sequence[dict]],
                 checkpoints: Sequence[str],
                 checkpoint_prefix: Optional[str] = STUDENT_PREFIX,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if isinstance(checkpoints, str) or not checkpoints:
            raise ValueError('EnsembleClassifier needs a list of one or more '
                             f'checkpoints, got {checkpoints!r}')
        cfgs = [model] * len(checkpoints) if isinstance(model, dict) else \
            list(model)
        if len(cfgs) != len(checkpoints):
            raise ValueError(f'EnsembleClassifier got {len(cfgs)} member '
                             f'configs but {len(checkpoints)} checkpoints')
        if data_preprocessor is None:
            found = [c.get('data_preprocessor') for c in cfgs]
            if any(f != found[0] for f in found):
                raise ValueError(
                    'ensemble members have different data_preprocessor '
                    'configs; pass one data_preprocessor for the ensemble')
            data_preprocessor = found[0]
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
        super().__init__(
            data_preprocessor=MODELS.build(data_preprocessor),
            init_cfg=init_cfg)
        self.members = nn.ModuleList(
            MODELS.build(copy.deepcopy(cfg)) for cfg in cfgs)
        self.checkpoints = list(checkpoints)
        for member, filename in zip(self.members, self.checkpoints):
            load_member_checkpoint(member, filename, checkpoint_prefix)
        self.members.eval()

    def init_weights(self) -> None:
        """Nothing to initialise: the members were loaded from their
        checkpoints, which a re-initialisation would overwrite."""

    def train(self, mode: bool = True) -> 'EnsembleClassifier':
        """Members stay in eval mode (batch-norm statistics are fixed)."""
        super().train(mode)
        self.members.eval()
        return self

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[list[DataSample]] = None,
                mode: str = 'tensor'):
        """``mode='tensor'``: the mean probabilities (B, C); 'predict':
        data samples with ``pred_score`` and ``pred_label``; 'loss' raises."""
        if mode == 'loss':
            raise RuntimeError(
                'EnsembleClassifier is for evaluation (tools/test.py, '
                'tools/test_ensemble.py); it has no training loss. Train the '
                'members separately and ensemble their checkpoints.')
        if mode not in ('tensor', 'predict'):
            raise RuntimeError(f'Invalid mode "{mode}".')
        logits = [member(inputs, mode='tensor') for member in self.members]
        if not all(isinstance(z, Tensor) for z in logits):
            raise TypeError('ensemble members must return logits in '
                            "mode='tensor' (classifiers with a head)")
        scores = mean_softmax(logits)
        if mode == 'tensor':
            return scores
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.size(0))]
        labels = scores.argmax(dim=1, keepdim=True)
        for sample, score, label in zip(data_samples, scores, labels):
            sample.set_pred_score(score).set_pred_label(label)
        return data_samples
