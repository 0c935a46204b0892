from .ensemble_classifier import (EnsembleClassifier, ensemble_model_cfg,
                                  load_member_checkpoint, mean_softmax)

__all__ = [
    'EnsembleClassifier', 'ensemble_model_cfg', 'load_member_checkpoint',
    'mean_softmax'
]
