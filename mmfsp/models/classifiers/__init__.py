from .ensemble_classifier import (EnsembleClassifier, ensemble_model_cfg,
                                  ensemble_test_config,
                                  load_member_checkpoint, mean_softmax)

__all__ = [
    'EnsembleClassifier', 'ensemble_model_cfg', 'ensemble_test_config',
    'load_member_checkpoint', 'mean_softmax'
]
