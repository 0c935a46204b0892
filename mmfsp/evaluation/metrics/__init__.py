from .superclass_metric import (FASHION_MNIST_SUPERCLASSES,
                                SecondaryClassMetric,
                                fashion_mnist_fine_to_coarse,
                                load_cifar100_fine_to_coarse,
                                secondary_class_stats)

__all__ = [
    'FASHION_MNIST_SUPERCLASSES', 'SecondaryClassMetric',
    'fashion_mnist_fine_to_coarse', 'load_cifar100_fine_to_coarse',
    'secondary_class_stats'
]
