"""Training in generations with a tolerant teacher, the driver of
tools/train_generations.py (Yang, Xie, Qiao, Yuille, "Training Deep Neural
Networks in Generations: A More Tolerant Teacher Educates Better Students",
AAAI 2019). The configs, the work directory and the choices the paper
leaves open are described in docs/generations.md.

Modules: :mod:`.settings` (the ``generations`` dict), :mod:`.configs` (each
generation's training config, the ensemble test config), :mod:`.workdir`
(layout and done markers), :mod:`.summary` (``summary.md`` /
``summary.json``), :mod:`.runner` (runners, distributed plumbing, final
weights) and :mod:`.loop` (:func:`train_generations`).

``tools/`` is not a Python package: tools/train_generations.py puts its own
folder on ``sys.path`` and imports ``generations``; so do the tests.
"""
from .configs import (build_generation_config, build_test_config,
                      classifier_cfg, distill_model_cfg)
from .loop import train_generations
from .runner import export_final_weights
from .settings import GENERATIONS_KEYS, TSD_IN, GenerationSettings
from .summary import (SUMMARY_JSON, SUMMARY_MD, summary_data,
                      summary_markdown, summary_rows, write_summary)
from .workdir import (DONE_FILE, GenerationsError, final_weights_path,
                      finished_generations, generation_dir, read_done)

__all__ = [
    'DONE_FILE', 'GENERATIONS_KEYS', 'SUMMARY_JSON', 'SUMMARY_MD', 'TSD_IN',
    'GenerationSettings', 'GenerationsError', 'build_generation_config',
    'build_test_config', 'classifier_cfg', 'distill_model_cfg',
    'export_final_weights', 'final_weights_path', 'finished_generations',
    'generation_dir', 'read_done', 'summary_data', 'summary_markdown',
    'summary_rows', 'train_generations', 'write_summary'
]
