from .training_logs import load_scalars, metric_curve

__all__ = ['load_scalars', 'metric_curve']
