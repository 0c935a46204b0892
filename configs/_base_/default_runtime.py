# mmfsp's runtime: mmpretrain's, with the mmfsp scope and iteration-based
# logging and checkpoints (the papers count iterations, not epochs).
_base_ = ['mmpretrain::_base_/default_runtime.py']

default_scope = 'mmfsp'
custom_imports = dict(imports=['mmfsp'], allow_failed_imports=False)

default_hooks = dict(
    # Validation metrics logged at their iteration, not at epoch 0, so
    # tools/plot_curves.py can draw accuracy against iterations.
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=4000,
        max_keep_ckpts=3,
        save_last=True),
    # Stop at the first NaN/Inf loss, before CheckpointHook can save the
    # spoilt weights (mmfsp.engine.hooks.NonFiniteLossHook). A default hook
    # rather than a custom one: a config that sets its own `custom_hooks`
    # list replaces the inherited one and would silently drop the check.
    # Switch it off with default_hooks=dict(nonfinite_loss=None).
    nonfinite_loss=dict(type='NonFiniteLossHook'),
)
log_processor = dict(by_epoch=False, window_size=100)
