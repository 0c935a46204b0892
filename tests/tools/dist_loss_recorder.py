"""Test helper for tests/tools/test_dist_train.py: a hook that appends every
rank's own training loss to ``<work_dir>/losses_rank<r>.jsonl`` (mmengine's
logger only records rank 0's). Imported through the test config's
``custom_imports``, in the test process and in the torchrun workers."""
import json
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmfsp.registry import HOOKS


@HOOKS.register_module(name='TestLossRecorderHook', force=True)
class LossRecorderHook(Hook):
    priority = 'LOW'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        path = osp.join(runner.work_dir, f'losses_rank{get_rank()}.jsonl')
        with open(path, 'a') as f:
            f.write(json.dumps(dict(iter=runner.iter + 1,
                                    loss=float(outputs['loss']))) + '\n')
