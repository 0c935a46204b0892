"""How far convolution weight norms moved from their initial scale.

A convolution followed by batch normalisation computes the same function for
``w`` and ``c * w`` (c > 0), so its effective learning rate is
``lr / ||w||^2``; FSP stage 1's summed loss (Yim et al., CVPR 2017) can grow
a student's conv norms many-fold, and stage 2 then starts at ``1 / r^2`` of
the nominal learning rate, where

    r_l = ||w_l|| / ||w_l^init||

for conv layer ``l``, ``w^init`` the weights of a fresh initialisation of the
same model (docs/fsp.md, "Weight-norm growth in stage 1"). The norm of n
i.i.d. Gaussian entries has a relative standard deviation of about
1 / sqrt(2n): 6% for the 144 weights of a CIFAR ResNet's stem, under 1% for
its 3x3 convs with 16 or more channels. :func:`conv_norm_ratios` measures
``r_l`` for every conv weight of a checkpoint; tools/reproduce.py reports
them for FSP students at the stage switch and at the end, next to scratch
runs.
"""
import statistics
from typing import Dict, Mapping, Optional

import torch
from mmengine.registry import DefaultScope
from torch import Tensor

from mmfsp.models.algorithms.distill_checkpoint import STUDENT_PREFIX
from mmfsp.models.utils.conv_bn_rescale import init_weights_quietly
from mmfsp.registry import MODELS
from mmfsp.utils.safe_checkpoint import safe_load


def conv_weight_norms(state_dict: Mapping[str, Tensor]) -> Dict[str, float]:
    """``||w||`` of every 4-D (convolution) ``*.weight`` in ``state_dict``,
    keyed by name without the distillation prefix ``architecture.``; the
    teacher's weights (``teacher.*``) of a distillation checkpoint are
    left out."""
    norms = {}
    for name, value in state_dict.items():
        if name.startswith('teacher.') or not name.endswith('.weight') \
                or not isinstance(value, Tensor) or value.dim() != 4:
            continue
        if name.startswith(STUDENT_PREFIX):
            name = name[len(STUDENT_PREFIX):]
        norms[name] = float(value.detach().float().norm())
    return norms


def initial_conv_weight_norms(model_cfg: Mapping,
                              seed: int = 0) -> Dict[str, float]:
    """Conv weight norms of the model of ``model_cfg`` (a plain classifier
    config, e.g. ``cfg.model`` of ``configs/resnet/*.py``) right after
    ``init_weights()``, with torch seeded by ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # nested builds (an mmpretrain classifier with an mmfsp backbone)
        # look in mmfsp, whatever scope the caller has (a Runner sets it)
        with DefaultScope.overwrite_default_scope('mmfsp'):
            model = MODELS.build(dict(model_cfg))
        init_weights_quietly(model)
    return conv_weight_norms(model.state_dict())


def conv_norm_ratios(checkpoint: str,
                     initial: Mapping[str, float]) -> Dict[str, float]:
    """``r_l = ||w_l|| / ||w_l^init||`` for every conv weight of the
    checkpoint file (loaded with mmfsp's safe loader).

    Raises:
        ValueError: the checkpoint's conv layers are not those of
            ``initial`` (another architecture), naming the differences.
    """
    data = safe_load(checkpoint, map_location='cpu')
    state = data.get('state_dict', data)
    norms = conv_weight_norms(state)
    if set(norms) != set(initial):
        missing = sorted(set(initial) - set(norms))[:5]
        extra = sorted(set(norms) - set(initial))[:5]
        raise ValueError(
            f'{checkpoint}: its conv layers differ from the reference model '
            f'(missing e.g. {missing}, unexpected e.g. {extra}); compare a '
            f'checkpoint with the initial norms of its own architecture')
    return {name: norms[name] / initial[name] for name in initial}


def ratio_summary(ratios: Mapping[str, float]) -> Optional[dict]:
    """``median``, ``min``, ``max``, ``n`` and the layer with the largest
    ratio (``max_layer``); None for no layers."""
    if not ratios:
        return None
    values = list(ratios.values())
    return dict(median=statistics.median(values), min=min(values),
                max=max(values), n=len(values),
                max_layer=max(ratios, key=ratios.get))
