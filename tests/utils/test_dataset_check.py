"""A missing dataset is reported before anything is built, with where to
put it, and mmpretrain's CIFAR classes never start a download for it."""
from pathlib import Path

import pytest
from mmengine.config import Config

from mmfsp.utils import check_dataset_files
from tests.conftest import FAST_TRAIN_OPTIONS, run_tool

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'


def _cfg(name: str, data_root: Path) -> Config:
    cfg = Config.fromfile(str(CONFIGS / 'resnet' / f'{name}.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = str(data_root)
    return cfg


@pytest.fixture()
def no_download(monkeypatch):
    """Fail the test if mmpretrain tries to download anything."""
    import mmpretrain.datasets.cifar as cifar
    import mmpretrain.datasets.mnist as mnist

    def refuse(*args, **kwargs):
        raise AssertionError(f'mmpretrain tried to download: {args}')

    monkeypatch.setattr(cifar, 'download_and_extract_archive', refuse)
    monkeypatch.setattr(mnist, 'download_and_extract_archive', refuse)


@pytest.mark.parametrize('config, expected', [
    ('resnet8_1xb128_fashion-mnist',
     ['make data', 'tools/prepare_fashion_mnist.py', 'train-images-idx3-ubyte',
      'download=True']),
    ('resnet8_1xb128_cifar10',
     ['cifar-10-batches-py', 'data_batch_1', 'cifar-10-python.tar.gz']),
    ('resnet32x4_1xb128_cifar100',
     ['cifar-100-python', 'cifar-100-python.tar.gz']),
    ('resnet34_1xb128_cub',
     ['images.txt', 'train_test_split.txt', 'CUB_200_2011.tgz']),
])
def test_missing_dataset_says_where_to_put_it(tmp_path, config, expected):
    root = tmp_path / 'nowhere'
    with pytest.raises(FileNotFoundError) as info:
        check_dataset_files(_cfg(config, root))
    message = str(info.value)
    for text in expected + [str(root), 'train_dataloader.dataset',
                            'val_dataloader.dataset']:
        assert text in message, (text, message)
    assert message.count('To fix it') == 1  # one line for the shared root


def test_present_datasets_pass(tiny_cifar10, fashion_mnist_root):
    cfg = _cfg('resnet8_1xb128_cifar10', tiny_cifar10)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.type = 'TinyCIFAR10'  # a subclass: same layout
    check_dataset_files(cfg)
    check_dataset_files(
        _cfg('resnet8_1xb128_fashion-mnist', fashion_mnist_root))


def test_skips_download_remote_and_unused_loaders(tmp_path):
    cfg = _cfg('resnet8_1xb128_cifar10', tmp_path / 'nowhere')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.download = True
    check_dataset_files(cfg)  # the user asked mmpretrain to download it
    cfg = _cfg('resnet8_1xb128_cifar10', 's3://bucket/cifar10')
    check_dataset_files(cfg)
    cfg = _cfg('resnet8_1xb128_cifar10', tmp_path / 'nowhere')
    cfg.val_dataloader = None
    with pytest.raises(FileNotFoundError, match='train_dataloader') as info:
        check_dataset_files(cfg, ('train_dataloader', 'val_dataloader'))
    assert 'val_dataloader' not in str(info.value)


def test_dataset_wrappers_are_looked_into(tmp_path):
    cfg = _cfg('resnet8_1xb128_cifar10', tmp_path / 'nowhere')
    cfg.train_dataloader.dataset = dict(
        type='RepeatDataset', times=2, dataset=cfg.train_dataloader.dataset)
    with pytest.raises(FileNotFoundError,
                       match=r'train_dataloader\.dataset\.dataset '):
        check_dataset_files(cfg, ('train_dataloader', ))


def test_tools_check_before_building(tmp_path, monkeypatch, no_download):
    root = tmp_path / 'cifar10'
    with pytest.raises(FileNotFoundError, match='cifar-10-batches-py'):
        run_tool('train.py', [
            'configs/resnet/resnet8_1xb128_cifar10.py', '--work-dir',
            tmp_path / 'work', '--cfg-options', *FAST_TRAIN_OPTIONS,
            f'train_dataloader.dataset.data_root={root}',
            f'val_dataloader.dataset.data_root={root}'
        ], monkeypatch)
    assert not (tmp_path / 'work').exists()  # nothing was built
    with pytest.raises(FileNotFoundError, match='make data'):
        run_tool('test.py', [
            'configs/resnet/resnet8_1xb128_fashion-mnist.py',
            tmp_path / 'x.pth',
            '--work-dir', tmp_path / 'work', '--cfg-options',
            f'test_dataloader.dataset.data_root={tmp_path / "fm"}'
        ], monkeypatch)
