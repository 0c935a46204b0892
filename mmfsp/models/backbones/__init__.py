from .cifar_resnet import CifarResNet, cifar_resnet_blocks
from .staged_resnet import StagedResNet

__all__ = ['CifarResNet', 'StagedResNet', 'cifar_resnet_blocks']
