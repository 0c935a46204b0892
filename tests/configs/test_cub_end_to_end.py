"""The FSP paper's transfer experiment (CUB-200-2011) end to end, on tiny
files, as a user with CUB and mmpretrain's ImageNet ResNet-34 runs it:

1. ``configs/resnet/resnet34_1xb128_cub.py`` fine-tunes the teacher, its
   backbone initialised (``init_cfg``) from a checkpoint in the form of
   mmpretrain's ``resnet34_8xb32_in1k`` (``backbone.`` / ``head.`` keys, a
   1000-class head), read with mmfsp's ``weights_only=True`` loader;
2. ``configs/fsp/fsp-paper_resnet34_resnet20_1xb128_cub.py`` (the paper's
   recipe) and ``configs/fsp/fsp_resnet34_resnet20_1xb128_cub.py`` (mmfsp's
   recommended one) take that teacher (``teacher_ckpt``) and run stage 1
   (four FSP pairs), the switch, stage 2 and the evaluation.

Everything goes through ``tools/train.py``; only ``--cfg-options`` shrink
the shipped configs (data root, image size, batch, iterations, switch)."""
import json
from pathlib import Path
from typing import Dict, Iterator, List

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint

from mmfsp.registry import MODELS
from tests.conftest import FAST_TRAIN_OPTIONS, run_tool

TEACHER_CFG = 'configs/resnet/resnet34_1xb128_cub.py'
FSP_CFGS = {
    'sum': 'configs/fsp/fsp-paper_resnet34_resnet20_1xb128_cub.py',
    'mean': 'configs/fsp/fsp_resnet34_resnet20_1xb128_cub.py',
}
IMAGENET_NAME = 'resnet34_8xb32_in1k_20210831-f257d4e6.pth'
# CUB class ids (1-based, as images.txt and image_class_labels.txt write
# them): the first and the last of the 200 classes and two in between
CLASS_IDS = (1, 2, 117, 200)
# BN batches counted in the ImageNet checkpoint: a marker that the teacher
# started from it and that the FSP teacher is the fine-tuned one
IMAGENET_BATCHES_TRACKED = 12345
SIZE = 32  # the image side the networks see (the configs' 224, shrunk)
TEACHER_ITERS, SWITCH, ITERS = 1, 2, 3
# (m, n) of the four FSP matrices: (input, output) of layer1..layer4
PAIR_SHAPES = [(64, 64), (64, 128), (128, 256), (256, 512)]


def write_tiny_cub(root: Path, train_per_class: int = 3,
                   test_per_class: int = 2, seed: int = 0) -> Path:
    """Write JPEGs in the CUB-200-2011 layout mmpretrain's ``CUB`` reads:
    ``images/<NNN>.<Class_name>/<Class_name>_<n>_<id>.jpg`` and the index
    files ``images.txt`` (id, path under images/), ``image_class_labels.txt``
    (id, class 1..200) and ``train_test_split.txt`` (id, 1 = train, 0 =
    test), ids from 1, plus ``classes.txt`` as the archive has it. Sizes
    vary and one image is grayscale, as in the real set."""
    import cv2
    from mmpretrain.datasets.categories import CUB_CATEGORIES
    rng = np.random.default_rng(seed)
    images, labels, split = [], [], []
    for class_id in CLASS_IDS:
        name = CUB_CATEGORIES[class_id - 1]
        folder = f'{class_id:03d}.{name}'
        (root / 'images' / folder).mkdir(parents=True, exist_ok=True)
        for n in range(train_per_class + test_per_class):
            rel = f'{folder}/{name}_{n:04d}_{class_id}.jpg'
            h, w = int(rng.integers(40, 60)), int(rng.integers(40, 70))
            image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            if class_id == 117 and n == 0:
                image = image[..., 0]  # a grayscale JPEG
            assert cv2.imwrite(str(root / 'images' / rel), image)
            image_id = len(images) + 1
            images.append(f'{image_id} {rel}')
            labels.append(f'{image_id} {class_id}')
            split.append(f'{image_id} {int(n < train_per_class)}')
    for fname, lines in (('images.txt', images),
                         ('image_class_labels.txt', labels),
                         ('train_test_split.txt', split)):
        (root / fname).write_text('\n'.join(lines) + '\n')
    (root / 'classes.txt').write_text(''.join(
        f'{i + 1} {i + 1:03d}.{c}\n' for i, c in enumerate(CUB_CATEGORIES)))
    return root


def write_imagenet_resnet34(path: Path) -> Dict[str, torch.Tensor]:
    """Save a checkpoint shaped like mmpretrain's ImageNet ResNet-34
    (``resnet34_8xb32_in1k_20210831-f257d4e6.pth``): ``meta`` and the
    ``state_dict`` of an ``ImageClassifier`` with a ResNet-34 backbone and
    a 1000-class ``LinearClsHead`` (``backbone.conv1.weight``,
    ``backbone.bn1.*``, ``backbone.layer1.0.conv1.weight`` ...,
    ``head.fc.weight`` of shape (1000, 512)), with ``torch.save``; returns
    the state dict."""
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    torch.manual_seed(1)
    model = PRETRAIN_MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=34, num_stages=4,
                      out_indices=(3, ), style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=512)))
    # BN running statistics of a trained network (its features' means and
    # variances), not the fresh (0, 1) with which a frozen teacher's
    # activations (eval mode) grow without bound through 34 layers
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a cumulative average
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model.extract_feat(torch.randn(8, 3, SIZE, SIZE))
    state = model.state_dict()
    for key in state:
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(IMAGENET_BATCHES_TRACKED)
    meta = dict(epoch=100, iter=500400, mmcv_version='1.3.12',
                mmcls_version='0.15.0', time='20210831_000000',
                CLASSES=[f'class_{i}' for i in range(1000)])
    torch.save(dict(meta=meta, state_dict=state), path)
    return state


def _scalars(work_dir: Path) -> List[dict]:
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    return [json.loads(line) for line in files[-1].read_text().splitlines()]


def _log(work_dir: Path) -> str:
    files = sorted(work_dir.glob('*/*.log'))
    assert files, f'no log under {work_dir}'
    return files[-1].read_text()


def shrink_options(data_root: Path) -> List[str]:
    """What shrinks a shipped CUB config: data root, image size, batch,
    one log line per iteration."""
    return FAST_TRAIN_OPTIONS + [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        # RandomResizedCrop(224) -> SIZE; ResizeEdge(256), CenterCrop(224)
        f'train_dataloader.dataset.pipeline.1.scale={SIZE}',
        f'val_dataloader.dataset.pipeline.1.scale={SIZE * 8 // 7}',
        f'val_dataloader.dataset.pipeline.2.crop_size={SIZE}',
        'train_dataloader.batch_size=4', 'val_dataloader.batch_size=8',
        'log_processor.window_size=1', 'randomness.seed=0',
    ]


@pytest.fixture(scope='module')
def cub_root(tmp_path_factory) -> Path:
    return write_tiny_cub(tmp_path_factory.mktemp('data') / 'CUB_200_2011')


@pytest.fixture(scope='module')
def imagenet_ckpt(tmp_path_factory) -> Iterator[tuple]:
    path = tmp_path_factory.mktemp('checkpoints') / IMAGENET_NAME
    yield path, write_imagenet_resnet34(path)


@pytest.fixture(scope='module')
def cub_teacher(tmp_path_factory, cub_root, imagenet_ckpt) -> Path:
    """The teacher config fine-tuning the ImageNet checkpoint on the tiny
    CUB, through tools/train.py; returns its last checkpoint."""
    work_dir = tmp_path_factory.mktemp('work_dirs') / 'resnet34_1xb128_cub'
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_tool('train.py', [
            TEACHER_CFG, '--work-dir', work_dir, '--no-validate',
            '--cfg-options', *shrink_options(cub_root),
            f'model.backbone.init_cfg.checkpoint={imagenet_ckpt[0]}',
            # a step at the schedule's lr 0.1 on 4 noise images moves the
            # weights far from their BN running statistics and the frozen
            # teacher (eval mode) then overflows; in a real fine-tuning the
            # statistics follow the weights
            'optim_wrapper.optimizer.lr=0.001',
            f'train_cfg.max_iters={TEACHER_ITERS}',
            f'default_hooks.checkpoint.interval={TEACHER_ITERS}'
        ], monkeypatch)
    return work_dir / f'iter_{TEACHER_ITERS}.pth'


def test_tiny_files_are_read_as_cub(cub_root):
    """mmpretrain's CUB reads the tiny files: the split flags, the 1-based
    ids and classes, the class folders."""
    from mmpretrain.datasets import CUB
    train = CUB(data_root=str(cub_root), split='train')
    test = CUB(data_root=str(cub_root), split='test')
    assert (len(train), len(test)) == (3 * len(CLASS_IDS), 2 * len(CLASS_IDS))
    assert sorted({train.get_data_info(i)['gt_label']
                   for i in range(len(train))}) == [c - 1 for c in CLASS_IDS]
    assert train.get_data_info(0)['img_path'].endswith(
        '001.Black_footed_Albatross/Black_footed_Albatross_0000_1.jpg')


def test_imagenet_checkpoint_through_init_cfg_and_teacher_ckpt(
        tmp_path, imagenet_ckpt):
    """A local copy of the ImageNet checkpoint, loaded with mmfsp's
    ``weights_only=True`` loader, (a) initialises the teacher config's
    backbone through its ``init_cfg`` (the 200-class head stays fresh), and
    (b) is accepted as ``teacher_ckpt`` of the FSP config itself once the
    teacher's head has its 1000 classes (FSP uses the backbone only); a
    checkpoint that would run code is refused."""
    from mmfsp.models.algorithms.distill_checkpoint import \
        TeacherClassesMismatchError
    from mmfsp.utils.safe_checkpoint import CheckpointSecurityError
    path, imagenet = imagenet_ckpt
    cfg = Config.fromfile(TEACHER_CFG)
    assert cfg.model.backbone.init_cfg.checkpoint.endswith(IMAGENET_NAME)
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': str(path)})
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = model.state_dict()
    for key, value in imagenet.items():
        if key.startswith('backbone.'):
            torch.testing.assert_close(state[key], value, msg=key)
    assert state['head.fc.weight'].shape == (200, 512)

    fsp = Config.fromfile(FSP_CFGS['sum'])
    fsp.merge_from_dict({'model.teacher_ckpt': str(path),
                         'model.dummy_input_shape': (3, SIZE, SIZE)})
    with pytest.raises(TeacherClassesMismatchError,
                       match='num_classes=1000'):
        MODELS.build(fsp.model)
    fsp.merge_from_dict({'model.teacher.head.num_classes': 1000})
    distill = MODELS.build(fsp.model)
    torch.testing.assert_close(distill.teacher.backbone.conv1.weight,
                               imagenet['backbone.conv1.weight'])

    class Evil:
        def __reduce__(self):
            return (print, ('code ran',))

    evil = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=imagenet, meta=dict(x=Evil())), evil)
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': str(evil)})
    with pytest.raises(CheckpointSecurityError):
        MODELS.build(cfg.model).init_weights()


def test_teacher_fine_tuned_from_imagenet(cub_teacher):
    teacher = _load_checkpoint(str(cub_teacher))['state_dict']
    assert teacher['head.fc.weight'].shape == (200, 512)
    assert int(teacher['backbone.bn1.num_batches_tracked']) == \
        IMAGENET_BATCHES_TRACKED + TEACHER_ITERS


class PairRecorder:
    """Wraps ``FSPLoss.forward`` (the tool runs in this process) to keep,
    per call, the reduction, the matrices' shapes and each pair's term."""

    def __init__(self, monkeypatch) -> None:
        from mmfsp.models.losses import FSPLoss, fsp_loss
        self.calls: List[dict] = []
        original = FSPLoss.forward

        def forward(loss, fsp_S, fsp_T):
            out = original(loss, fsp_S, fsp_T)
            self.calls.append(dict(
                reduction=loss.reduction,
                shapes=[tuple(g.shape[1:]) for g in fsp_T],
                student_shapes=[tuple(g.shape[1:]) for g in fsp_S],
                terms=[float(fsp_loss(s, t, reduction=loss.reduction))
                       for s, t in zip(fsp_S, fsp_T)]))
            return out

        monkeypatch.setattr(FSPLoss, 'forward', forward)


def _run_fsp(config: str, work_dir: Path, cub_root: Path, teacher: Path,
             monkeypatch) -> None:
    run_tool('train.py', [
        config, '--work-dir', work_dir, '--cfg-options',
        *shrink_options(cub_root), f'model.teacher_ckpt={teacher}',
        f'model.dummy_input_shape=(3,{SIZE},{SIZE})',
        f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
        f'default_hooks.checkpoint.interval={ITERS}',
        f'custom_hooks.0.switch_iter={SWITCH}',
        f'param_scheduler.0.end={SWITCH}',
        f'param_scheduler.1.begin={SWITCH}', f'param_scheduler.1.end={ITERS}'
    ], monkeypatch)


def _check_stage1(work_dir: Path, recorder: PairRecorder,
                  reduction: str) -> List[dict]:
    """Stage 1 logged the FSP loss alone, the sum of the four pairs'
    terms, at CUB's stage-1 lr; returns the stage-1 log entries."""
    train = [s for s in _scalars(work_dir) if 'lr' in s]
    stage1 = [s for s in train if s['iter'] <= SWITCH]
    assert [s['iter'] for s in stage1] == list(range(1, SWITCH + 1))
    assert len(recorder.calls) == SWITCH
    for call, logged in zip(recorder.calls, stage1):
        assert call['reduction'] == reduction
        assert call['shapes'] == call['student_shapes'] == PAIR_SHAPES
        assert all(term > 0 for term in call['terms'])
        assert 'student.loss' not in logged
        assert logged['distill.loss_fsp'] == pytest.approx(
            sum(call['terms']), rel=1e-4)
        assert logged['lr'] == pytest.approx(0.1)
    # the switch: the stage-1 weights saved, with the fine-tuned teacher
    assert f'Distillation stage 1 -> 2 at iteration {SWITCH}' in _log(
        work_dir)
    return stage1


def _check_teacher_in_stage1_checkpoint(work_dir: Path,
                                        teacher: Path) -> None:
    saved = _load_checkpoint(
        str(work_dir / f'stage1_iter_{SWITCH}.pth'))['state_dict']
    fine_tuned = _load_checkpoint(str(teacher))['state_dict']
    for key in ('backbone.conv1.weight', 'backbone.layer4.1.bn2.running_var',
                'backbone.bn1.num_batches_tracked'):
        torch.testing.assert_close(saved[f'teacher.{key}'], fine_tuned[key])


def test_recommended_recipe_stage1_switch_stage2_and_evaluation(
        tmp_path, cub_root, cub_teacher, monkeypatch):
    config = FSP_CFGS['mean']
    work_dir = tmp_path / Path(config).stem
    recorder = PairRecorder(monkeypatch)
    _run_fsp(config, work_dir, cub_root, cub_teacher, monkeypatch)

    _check_stage1(work_dir, recorder, 'mean')
    _check_teacher_in_stage1_checkpoint(work_dir, cub_teacher)
    # stage 2: cross-entropy from the stage-2 lr, no FSP loss, no teacher
    stage2 = [s for s in _scalars(work_dir)
              if 'lr' in s and s['iter'] > SWITCH]
    assert [s['iter'] for s in stage2] == list(range(SWITCH + 1, ITERS + 1))
    assert all('distill.loss_fsp' not in s and s['student.loss'] > 0
               for s in stage2)
    assert stage2[0]['lr'] == pytest.approx(0.1)
    assert len(recorder.calls) == SWITCH
    final = _load_checkpoint(str(work_dir / f'iter_{ITERS}.pth'))
    assert final['meta']['distill_stage'] == 2
    assert not any(k.startswith('teacher.') for k in final['state_dict'])
    # the evaluation: the student's top-1 on the test split
    metrics = [s for s in _scalars(work_dir) if 'accuracy/top1' in s]
    assert len(metrics) == 1 and metrics[0]['step'] == ITERS
    assert 0 <= metrics[0]['accuracy/top1'] <= 100


def test_paper_recipe_diverges_and_is_stopped(tmp_path, cub_root,
                                              cub_teacher, monkeypatch):
    """The paper's CUB recipe as shipped: the summed FSP loss (eq. 2) at
    stage-1 lr 0.1. The ImageNet ResNet's matrices have up to 256 x 512
    entries, the summed loss starts near 1e7, and one step at lr 0.1 on its
    gradients (the BN scales and shifts are not scale-invariant) blows the
    student up: the loss grows by more than 1e6x in one iteration and stage
    2 ends in NaN, stopped by NonFiniteLossHook before any checkpoint of
    it. (configs/fsp/README.md; the recommended recipe is stable.)"""
    from mmfsp.engine.hooks import NonFiniteLossError
    config = FSP_CFGS['sum']
    work_dir = tmp_path / Path(config).stem
    recorder = PairRecorder(monkeypatch)
    with pytest.raises(NonFiniteLossError) as err:
        _run_fsp(config, work_dir, cub_root, cub_teacher, monkeypatch)
    first, second = [s['distill.loss_fsp']
                     for s in _check_stage1(work_dir, recorder, 'sum')]
    assert first > 1e5 and second > 1e6 * first
    _check_teacher_in_stage1_checkpoint(work_dir, cub_teacher)
    assert err.value.iteration == SWITCH + 1
    assert 'student.loss' in err.value.losses
    assert not (work_dir / f'iter_{ITERS}.pth').exists()
