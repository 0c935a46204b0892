from .conv_bn_rescale import (conv_bn_pairs, fresh_init_conv_norms,
                              rescale_conv_bn_norms)

__all__ = ['conv_bn_pairs', 'fresh_init_conv_norms', 'rescale_conv_bn_norms']
