"""The stack's known harmless warnings are hidden, and only those
(mmfsp.utils.quiet)."""
import logging
import subprocess
import sys
import uuid
import warnings

import pytest
from mmengine.fileio import FileClient
from mmengine.logging import MMLogger, print_log

from mmfsp.utils.quiet import (KnownLogMessageFilter, hide_known_log_messages,
                               hide_known_warnings)
from tests.conftest import REPO_ROOT

MMCV_LITE = ('Fail to import ``MultiScaleDeformableAttention`` from '
             '``mmcv.ops.multi_scale_deform_attn``, You should install '
             '``mmcv`` rather than ``mmcv-lite`` if you need this module. ')
PKG_RESOURCES = ('pkg_resources is deprecated as an API. See '
                 'https://setuptools.pypa.io/en/latest/pkg_resources.html.')


def test_known_python_warnings_hidden_others_shown():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        hide_known_warnings()
        hide_known_warnings()  # idempotent
        warnings.warn(MMCV_LITE, UserWarning)
        warnings.warn(PKG_RESOURCES, UserWarning)
        warnings.warn(PKG_RESOURCES, DeprecationWarning)
        # the same text in another category, and other warnings: shown
        warnings.warn(MMCV_LITE, RuntimeWarning)
        warnings.warn('Fail to import something else', UserWarning)
        warnings.warn('deprecated: ' + PKG_RESOURCES, UserWarning)
    shown = [(w.category, str(w.message)) for w in caught]
    assert shown == [(RuntimeWarning, MMCV_LITE),
                     (UserWarning, 'Fail to import something else'),
                     (UserWarning, 'deprecated: ' + PKG_RESOURCES)]


def test_known_mmengine_log_warnings_hidden_others_shown(capsys):
    logger = MMLogger.get_instance(f'quiet_{uuid.uuid4().hex[:8]}')
    assert hide_known_log_messages(logger) is logger
    hide_known_log_messages(logger)  # idempotent
    assert sum(isinstance(f, KnownLogMessageFilter)
               for f in logger.filters) == 1
    # mmengine's own calls: FileClient and its HardDiskBackend
    FileClient.infer_client(uri=str(REPO_ROOT))
    print_log('Reach the end of the dataloader, it will be restarted and '
              'continue to iterate.', logger='current',
              level=logging.WARNING)  # as mmengine's loops log it
    print_log('Something else is wrong', logger='current',
              level=logging.WARNING)
    print_log('Reach the end of the dataloader, it will be restarted',
              logger='current', level=logging.INFO)  # not the warning
    out = capsys.readouterr().out
    assert 'FileClient' not in out and 'HardDiskBackend' not in out
    assert out.count('Reach the end of the dataloader') == 1  # the INFO one
    assert 'Something else is wrong' in out


@pytest.mark.usefixtures('fashion_mnist_root')
def test_a_training_run_prints_none_of_them(tmp_path):
    """A real tools/train.py run in a new process (the import-time warnings
    are given once per process), long enough for the dataloader to restart
    (64 images, batch 32, 3 iterations)."""
    options = [
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_dataloader.batch_size=32',
        'train_dataloader.dataset.indices=64',
        'val_dataloader.dataset.indices=32', 'train_cfg.max_iters=3',
        'train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=3',
        'default_hooks.logger.interval=1'
    ]
    result = subprocess.run(
        [sys.executable, 'tools/train.py',
         'configs/resnet/resnet8_1xb128_fashion-mnist.py', '--work-dir',
         str(tmp_path / 'run'), '--cfg-options', *options],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed[-3000:]
    assert (tmp_path / 'run' / 'iter_3.pth').exists()
    for noise in ('MultiScaleDeformableAttention', 'pkg_resources',
                  '"FileClient" will be deprecated', 'HardDiskBackend',
                  'Reach the end of the dataloader'):
        assert noise not in printed, noise
