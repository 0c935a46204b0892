from .superclass_metric import (SecondaryClassMetric,
                                load_cifar100_fine_to_coarse,
                                secondary_class_stats)

__all__ = [
    'SecondaryClassMetric', 'load_cifar100_fine_to_coarse',
    'secondary_class_stats'
]
