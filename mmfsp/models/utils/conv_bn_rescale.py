"""Function-preserving rescaling of convolutions that feed batch norms.

A convolution whose only consumer is a batch norm computes, through the BN,
the same function for ``(w, b)`` and ``(w / c, b / c)`` (in eval mode too
once the BN's running mean and variance are divided by ``c`` and ``c^2``),
up to BN's ``eps``. ``DistillStageSwitchHook(rescale_weight_norms=True)``
uses it to reset the student's conv norms at the stage switch (an mmfsp
option, not in Yim et al., CVPR 2017): docs/fsp.md, "Weight-norm growth in
stage 1". Pairs are found by tracing the module with ``torch.fx``.
"""
import copy
from typing import Dict, List, Optional, Tuple

import torch
from torch import fx, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd


def conv_bn_pairs(module: nn.Module) -> List[Tuple[str, str]]:
    """``(conv name, bn name)`` of every convolution of ``module`` whose
    output feeds only a batch norm, in graph order; names relative to
    ``module``.

    Raises:
        TypeError: ``module`` cannot be traced by ``torch.fx`` (data-
            dependent control flow), with the tracer's message.
    """
    try:
        graph = fx.symbolic_trace(module).graph
    except Exception as err:  # noqa: BLE001 - re-raised with advice
        raise TypeError(
            f'cannot find conv -> batch-norm pairs in '
            f'{type(module).__name__}: torch.fx cannot trace it '
            f'({type(err).__name__}: {err}). Turn rescale_weight_norms off '
            f'for this model.') from err
    named = dict(module.named_modules())
    pairs = []
    for node in graph.nodes:
        if node.op != 'call_module' or \
                not isinstance(named.get(node.target), _ConvNd):
            continue
        users = list(node.users)
        if len(users) == 1 and users[0].op == 'call_module' and \
                isinstance(named.get(users[0].target), _BatchNorm):
            pairs.append((node.target, users[0].target))
    return pairs


def conv_weight_norms_of(module: nn.Module,
                         convs: List[str]) -> Dict[str, float]:
    """``||w||`` of the named convolutions of ``module``."""
    named = dict(module.named_modules())
    return {name: float(named[name].weight.detach().double().norm())
            for name in convs}


def init_weights_quietly(module: nn.Module) -> None:
    """``module.init_weights()`` again (mmengine initialises a module only
    once) without logging every parameter's initialisation."""
    from mmengine.logging import MMLogger
    for sub in module.modules():
        if hasattr(sub, '_is_init'):
            sub._is_init = False
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')
    try:
        module.init_weights()
    finally:
        logger.setLevel(level)


def fresh_init_conv_norms(module: nn.Module,
                          convs: List[str]) -> Dict[str, float]:
    """Norms of the named convolutions right after ``init_weights()`` of a
    copy of ``module`` (or ``reset_parameters()`` of each conv when it has
    no ``init_weights``); the caller's random state is left untouched.

    Raises:
        ValueError: initialising the copy left a named conv as it was (its
            ``init_cfg`` does not cover it), naming it.
    """
    clone = copy.deepcopy(module)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if hasattr(clone, 'init_weights'):
            init_weights_quietly(clone)
        else:
            named = dict(clone.named_modules())
            for name in convs:
                named[name].reset_parameters()
    before, after = dict(module.named_modules()), dict(clone.named_modules())
    kept = [name for name in convs
            if torch.equal(before[name].weight, after[name].weight)]
    if kept:
        raise ValueError(
            f'init_weights() of {type(module).__name__} did not '
            f're-initialise {kept[:5]}: no initial norms to rescale them '
            f'to. Give the model an init_cfg that covers its convolutions '
            f"(e.g. dict(type='Kaiming', layer='Conv2d')).")
    return conv_weight_norms_of(clone, convs)


@torch.no_grad()
def rescale_conv_bn_norms(module: nn.Module,
                          targets: Dict[str, float]) -> Dict[str, float]:
    """Set the weight norm of every conv of :func:`conv_bn_pairs` that has a
    target to that target, preserving the function (module docstring).
    Returns each rescaled conv's factor ``c = ||w|| / t`` (its norm before
    divided by after).

    Raises:
        ValueError: a target names a conv that does not feed only a batch
            norm (rescaling it would change the function), listing the
            convs that do.
    """
    pairs = dict(conv_bn_pairs(module))
    unknown = sorted(set(targets) - set(pairs))
    if unknown:
        raise ValueError(
            f'cannot rescale {unknown}: not convolutions whose output feeds '
            f'only a batch norm. Those that do: {sorted(pairs)}')
    named = dict(module.named_modules())
    factors = {}
    for conv_name, target in targets.items():
        c = rescale_pair(named[conv_name], named[pairs[conv_name]], target)
        if c is not None:
            factors[conv_name] = c
    return factors


@torch.no_grad()
def rescale_pair(conv: nn.Module, bn: nn.Module,
                 target: float) -> Optional[float]:
    """Set ``||conv.weight||`` to ``target`` keeping the function of
    ``conv -> bn`` (module docstring); returns the factor ``c = ||w|| /
    target``, or None when the norm or the target is 0."""
    norm = float(conv.weight.double().norm())
    if norm == 0 or target <= 0:
        return None
    c = norm / target
    conv.weight.div_(c)
    if conv.bias is not None:
        conv.bias.div_(c)
    if bn.running_mean is not None:
        bn.running_mean.div_(c)
        bn.running_var.div_(c * c)
    return c
