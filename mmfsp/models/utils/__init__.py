from .conv_bn_rescale import (conv_bn_pairs, conv_weight_norms_of,
                              fresh_init_conv_norms, rescale_conv_bn_norms)

__all__ = [
    'conv_bn_pairs', 'conv_weight_norms_of', 'fresh_init_conv_norms',
    'rescale_conv_bn_norms'
]
