from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from .cifar_resnet import (CifarResNet, cifar_resnet_blocks,
                           cifar_resnet_stem_channels)
from .densenet_bc import DenseNetBC, densenet_bc_layers
from .staged_resnet import StagedResNet

# A converted student is a plain mmpretrain ImageClassifier with one of these
# backbones; mmpretrain's own APIs (mmpretrain.apis.get_model, the
# inferencers, mmpretrain's tools/test.py) build models in the mmpretrain
# scope, which cannot see the mmfsp child scope. So the backbones are also
# registered there (under the same names; mmpretrain has none of them).
for _backbone in (CifarResNet, DenseNetBC, StagedResNet):
    if MMPRETRAIN_MODELS.get(_backbone.__name__) is None:
        MMPRETRAIN_MODELS.register_module(module=_backbone)

__all__ = [
    'CifarResNet', 'DenseNetBC', 'StagedResNet', 'cifar_resnet_blocks',
    'cifar_resnet_stem_channels',
    'densenet_bc_layers'
]
