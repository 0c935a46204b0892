"""Transfer feature extraction: how well the pooled features of trained
classifiers (generations, ensembles of them) serve another task, the second
check of Yang et al., "Knowledge Distillation in Generations: More Tolerant
Teachers Educate Better Students" (AAAI 2019; docs/generations.md,
"Transfer probe").

    python tools/analysis_tools/transfer_probe.py \
        --model CONFIG CKPT [--model CONFIG CKPT ...] \
        [--ensemble 0-2 [0,2 ...]] [--target digits | --target CFG.py] \
        [--random-init] [--out probe.json] [--device cpu]

Every model is frozen (eval mode, no gradient); its neck output (the
globally pooled feature that feeds the linear head; a backbone without a
neck is average-pooled) is extracted on the target's train and test splits,
through the model's own data preprocessor (the normalisation it was trained
with). A multinomial logistic regression is trained on the train split's
features and its top-1 accuracy on the test split is reported, for each
model, and for each ensemble with its members' features concatenated and
averaged (averaging needs members of one feature size).

The linear classifier is the standard linear-probe protocol (Kornblith et
al., "Do Better ImageNet Models Transfer Better?", CVPR 2019): features
standardised with the train split's mean and standard deviation,
full-batch L-BFGS on the cross-entropy plus ``l2 / 2 * ||W||^2``, ``l2``
picked on a fixed 20% of the train split from a small grid and the model
refit on the whole train split. It is deterministic (zero initialisation,
no sampling; the last digits of float sums can differ with the number of
threads) and runs in seconds on cached features, where mmpretrain's
linear-probe benchmarks train a ``LinearClsHead`` on a frozen backbone with
SGD for many epochs; mmpretrain's pieces used here are
``ImageClassifier.extract_feat`` and ``Accuracy.calculate``.

Targets:

* ``digits`` (default, runs offline on a CPU): scikit-learn's bundled 8x8
  handwritten digits (1,797 images, 10 classes), upsampled bilinearly to
  28x28 single-channel images with Fashion-MNIST's value range (0-255),
  so that a Fashion-MNIST model's preprocessor normalises them as it does
  its own data; a fixed split of 1,000 training and 797 test images.
* any config file with mmpretrain ``train_dataloader`` and
  ``test_dataloader`` (no augmentation), e.g.
  ``configs/_base_/datasets/cifar10_probe.py`` for CIFAR-100 models.

Output: a Markdown table on stdout and, with ``--out``, a JSON file.
"""
import argparse
import copy
import json
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import (Any, Dict, Iterable, List, Optional, Sequence, Tuple,
                    Union)

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.evaluation import Accuracy
from mmpretrain.structures import DataSample
from torch import Tensor, nn

Batch = Dict[str, Any]

#: digits target: images kept for the test split / the split's seed
DIGITS_TRAIN_SIZE = 1000
DIGITS_SEED = 0
DIGITS_SIZE = 28
#: probe defaults: the L2 grid, the validation share of the train split
L2_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
VAL_FRACTION = 0.2
MAX_ITER = 100


@dataclass
class ProbeTarget:
    """A probe's data: train and test batches as an mmpretrain dataloader
    delivers them (``inputs`` and ``data_samples`` with ``gt_label``)."""
    name: str
    train: Iterable[Batch]
    test: Iterable[Batch]
    num_classes: int
    info: Dict[str, Any] = field(default_factory=dict)


def build_frozen_model(config: Union[str, Config],
                       checkpoint: Optional[str],
                       device: str = 'cpu',
                       seed: int = 0) -> nn.Module:
    """The classifier of ``config`` (the student of a distillation config)
    with the weights of ``checkpoint``, in eval mode without gradients.

    The model gets the config's ``data_preprocessor`` when its own ``model``
    has none, as mmengine's Runner does. Without a checkpoint the model
    keeps its initial weights (``init_weights()`` under ``seed``): the
    random-feature baseline of a probe.
    """
    import mmfsp  # noqa: F401  (registers mmfsp's modules)
    from mmfsp.models.classifiers import load_member_checkpoint
    from mmfsp.registry import MODELS

    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mmfsp'))
    model_cfg = copy.deepcopy(cfg.model)
    if 'architecture' in model_cfg:
        model_cfg = model_cfg.architecture
    if model_cfg.get('data_preprocessor') is None and \
            cfg.get('data_preprocessor') is not None:
        model_cfg.data_preprocessor = copy.deepcopy(cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    if not hasattr(model, 'extract_feat'):
        raise TypeError(f'{type(model).__name__} has no extract_feat: the '
                        f'probe needs an mmpretrain ImageClassifier')
    if checkpoint is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model.init_weights()
    else:
        load_member_checkpoint(model, checkpoint)
    model.to(device).eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def _pooled(feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
    """The last output of ``extract_feat``, as (B, D): feature maps
    (a backbone without a neck) are averaged over their positions."""
    if isinstance(feats, (tuple, list)):
        feats = feats[-1]
    if feats.dim() > 2:
        feats = feats.flatten(2).mean(dim=2)
    return feats


@torch.no_grad()
def extract_features(model: nn.Module,
                     batches: Iterable[Batch]) -> Tuple[Tensor, Tensor]:
    """The pooled features (N, D) and labels (N,) of ``batches``.

    Each batch goes through the model's data preprocessor (eval mode) and
    ``extract_feat(stage='neck')``; features come back as float32 on the
    CPU.
    """
    was_training = model.training
    model.eval()
    feats, labels = [], []
    try:
        for data in batches:
            data = model.data_preprocessor(data, False)
            out = _pooled(model.extract_feat(data['inputs'], stage='neck'))
            feats.append(out.float().cpu())
            labels.append(
                torch.cat([
                    s.gt_label.reshape(-1) for s in data['data_samples']
                ]).cpu())
    finally:
        model.train(was_training)
    if not feats:
        raise ValueError('no batches to extract features from')
    return torch.cat(feats), torch.cat(labels).long()


def _standardise(train_x: Tensor,
                 *others: Tensor) -> Tuple[Tensor, ...]:
    mean = train_x.mean(dim=0)
    std = train_x.std(dim=0, unbiased=False).clamp_min(1e-6)
    return tuple((x - mean) / std for x in (train_x, ) + others)


def _fit(x: Tensor, y: Tensor, num_classes: int, l2: float,
         max_iter: int) -> nn.Linear:
    """Multinomial logistic regression, full-batch L-BFGS, zero start."""
    fc = nn.Linear(x.shape[1], num_classes).to(x.dtype)
    nn.init.zeros_(fc.weight)
    nn.init.zeros_(fc.bias)
    optimizer = torch.optim.LBFGS(
        fc.parameters(),
        lr=1.0,
        max_iter=max_iter,
        history_size=20,
        tolerance_grad=1e-6,
        tolerance_change=1e-9,
        line_search_fn='strong_wolfe')

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(fc(x), y) + \
            0.5 * l2 * fc.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return fc


def _top1(fc: nn.Linear, x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        scores = fc(x)
    return float(Accuracy.calculate(scores, y, topk=(1, ))[0][0])


def linear_probe(train_x: Tensor,
                 train_y: Tensor,
                 test_x: Tensor,
                 test_y: Tensor,
                 num_classes: Optional[int] = None,
                 l2: Union[float, Sequence[float]] = L2_GRID,
                 val_fraction: float = VAL_FRACTION,
                 max_iter: int = MAX_ITER,
                 seed: int = 0) -> Dict[str, float]:
    """Train a linear classifier on ``train_x`` and test it on ``test_x``.

    Args:
        train_x, test_x: features (N, D).
        train_y, test_y: class indices (N,).
        num_classes: classes of the classifier. Defaults to the largest
            label + 1.
        l2: weight of ``1/2 * ||W||^2``, or a grid to choose it from on a
            held-out part of the train split. Defaults to
            :data:`L2_GRID`.
        val_fraction: the held-out share of the train split when ``l2`` is
            a grid. Defaults to 0.2.
        max_iter: L-BFGS iterations. Defaults to 100.
        seed: seed of the train / validation split. Defaults to 0.

    Returns:
        ``top1`` (test accuracy, %), ``train_top1`` (%), ``l2`` (the weight
        used) and ``val_top1`` (accuracy of that weight on the held-out
        part, %; absent for a single weight).
    """
    if train_x.dim() != 2 or test_x.dim() != 2 or \
            train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f'features must be (N, D) with one D, got '
                         f'{tuple(train_x.shape)} and {tuple(test_x.shape)}')
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError('features and labels differ in length')
    if num_classes is None:
        num_classes = int(max(train_y.max(), test_y.max())) + 1
    grid = [float(l2)] if isinstance(l2, (int, float)) else \
        [float(v) for v in l2]
    if not grid or min(grid) < 0:
        raise ValueError(f'l2 must be >= 0 (or a grid of such), got {l2}')
    result: Dict[str, float] = {}
    if len(grid) > 1:
        if not 0 < val_fraction < 1:
            raise ValueError(
                f'val_fraction must lie in (0, 1), got {val_fraction}')
        order = torch.randperm(
            len(train_x), generator=torch.Generator().manual_seed(seed))
        num_val = max(1, int(round(val_fraction * len(train_x))))
        val, fit = order[:num_val], order[num_val:]
        fit_x, val_x = _standardise(train_x[fit], train_x[val])
        scores = [
            _top1(
                _fit(fit_x, train_y[fit], num_classes, v, max_iter), val_x,
                train_y[val]) for v in grid
        ]
        best = max(range(len(grid)), key=lambda i: (scores[i], grid[i]))
        result['val_top1'] = scores[best]
        chosen = grid[best]
    else:
        chosen = grid[0]
    std_train, std_test = _standardise(train_x, test_x)
    fc = _fit(std_train, train_y, num_classes, chosen, max_iter)
    result.update(
        top1=_top1(fc, std_test, test_y),
        train_top1=_top1(fc, std_train, train_y),
        l2=chosen)
    return result


def ensemble_features(features: Sequence[Tensor], mode: str) -> Tensor:
    """The features of an ensemble: its members' features concatenated
    (``'concat'``) or averaged (``'mean'``, members of one size)."""
    if not features:
        raise ValueError('an ensemble needs at least one member')
    if mode == 'concat':
        return torch.cat(list(features), dim=1)
    if mode == 'mean':
        sizes = sorted({f.shape[1] for f in features})
        if len(sizes) != 1:
            raise ValueError(f'averaging needs members of one feature size, '
                             f'got {sizes}')
        return torch.stack(list(features)).mean(dim=0)
    raise ValueError(f"mode must be 'concat' or 'mean', got {mode!r}")


def _digit_batches(images: Tensor, labels: Tensor,
                   batch_size: int) -> List[Batch]:
    return [
        dict(
            inputs=images[i:i + batch_size],
            data_samples=[
                DataSample().set_gt_label(int(y))
                for y in labels[i:i + batch_size]
            ]) for i in range(0, len(images), batch_size)
    ]


def digits_target(batch_size: int = 500) -> ProbeTarget:
    """scikit-learn's 8x8 digits as 28x28 single-channel images in
    Fashion-MNIST's value range, split 1,000 / 797 with a fixed seed."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError(
            'the digits target needs scikit-learn (its 8x8 digits ship with '
            'it): pip install scikit-learn (it is in requirements-tests.txt)'
        ) from err
    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=torch.float32)[:, None]
    # 0..16 ink levels -> 0..255 grey levels, then 28x28 as Fashion-MNIST
    images = nn.functional.interpolate(
        images * (255.0 / 16.0),
        size=(DIGITS_SIZE, DIGITS_SIZE),
        mode='bilinear',
        align_corners=False).clamp(0, 255)
    labels = torch.as_tensor(digits.target, dtype=torch.long)
    order = torch.randperm(
        len(images), generator=torch.Generator().manual_seed(DIGITS_SEED))
    train, test = order[:DIGITS_TRAIN_SIZE], order[DIGITS_TRAIN_SIZE:]
    return ProbeTarget(
        name='digits',
        train=_digit_batches(images[train], labels[train], batch_size),
        test=_digit_batches(images[test], labels[test], batch_size),
        num_classes=10,
        info=dict(
            source='sklearn.datasets.load_digits',
            image_size=DIGITS_SIZE,
            train_size=len(train),
            test_size=len(test),
            split_seed=DIGITS_SEED))


def config_target(config: Union[str, Config]) -> ProbeTarget:
    """The ``train_dataloader`` and ``test_dataloader`` of a dataset config
    (mmpretrain's dataset classes and layouts); keep both free of random
    augmentation and unshuffled."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    missing = [
        k for k in ('train_dataloader', 'test_dataloader')
        if not isinstance(cfg.get(k), dict)
    ]
    if missing:
        raise ValueError(f'a probe target config needs {missing} (the train '
                         f'and test splits of the target dataset)')
    import mmfsp  # noqa: F401  (mmfsp's registries and stack fixes)
    from mmfsp.utils import check_dataset_files
    init_default_scope(cfg.get('default_scope', 'mmfsp'))
    # a missing dataset: say where its files go (no download attempt)
    check_dataset_files(cfg, ('train_dataloader', 'test_dataloader'))
    loaders = {}
    for key in ('train_dataloader', 'test_dataloader'):
        loader = copy.deepcopy(cfg[key])
        if loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False
        loaders[key] = Runner.build_dataloader(loader)
    dataset = loaders['train_dataloader'].dataset
    classes = getattr(dataset, 'CLASSES', None) or \
        dataset.metainfo.get('classes')
    if not classes:
        raise ValueError('the target dataset names no classes')
    name = (cfg.filename or 'config') if isinstance(config, Config) \
        else config
    return ProbeTarget(
        name=osp.splitext(osp.basename(str(name)))[0],
        train=loaders['train_dataloader'],
        test=loaders['test_dataloader'],
        num_classes=len(classes),
        info=dict(
            config=str(name),
            train_size=len(dataset),
            test_size=len(loaders['test_dataloader'].dataset)))


def parse_ensemble(spec: str, num_models: int) -> List[int]:
    """``'0-2'`` -> [0, 1, 2]; ``'0,2'`` -> [0, 2]; indices of --model."""
    members: List[int] = []
    for part in spec.split(','):
        match = re.fullmatch(r'\s*(\d+)\s*(?:-\s*(\d+)\s*)?', part)
        if not match:
            raise ValueError(f'ensemble {spec!r}: use indices of --model '
                             f'like 0-2 or 0,2')
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        members += list(range(first, last + 1))
    if len(set(members)) != len(members) or len(members) < 2 or \
            max(members) >= num_models:
        raise ValueError(f'ensemble {spec!r} must name two or more distinct '
                         f'models among 0..{num_models - 1}')
    return members


def transfer_probe(models: Sequence[Tuple[str, nn.Module]],
                   target: ProbeTarget,
                   ensembles: Optional[Sequence[Sequence[int]]] = None,
                   **probe_kwargs) -> Dict[str, Any]:
    """Extract every model's features on ``target`` once, probe each model
    and each ensemble (concatenated and averaged features).

    Args:
        models: (name, frozen classifier) pairs.
        target: the probe data (:func:`digits_target`,
            :func:`config_target`).
        ensembles: lists of indices into ``models``. Defaults to one
            ensemble of all models when there are two or more.
        **probe_kwargs: passed to :func:`linear_probe`.

    Returns:
        ``target`` (its name and sizes), ``models`` (name, feature size) and
        ``rows``: one per model and per ensemble and mode, with ``name``,
        ``kind`` ('model', 'concat' or 'mean'), ``members``,
        ``feature_dim`` and :func:`linear_probe`'s results (a mean row
        whose members differ in feature size has ``skipped`` instead).
    """
    if not models:
        raise ValueError('transfer_probe needs at least one model')
    if ensembles is None:
        ensembles = [list(range(len(models)))] if len(models) > 1 else []
    train, test = [], []
    for name, model in models:
        try:
            train.append(extract_features(model, target.train))
            test.append(extract_features(model, target.test))
        except RuntimeError as err:
            raise RuntimeError(f'model {name} cannot run on target '
                               f'{target.name}: {err}') from err
    train_y, test_y = train[0][1], test[0][1]
    for (name, _), (_, ty), (_, sy) in zip(models, train, test):
        if not (torch.equal(ty, train_y) and torch.equal(sy, test_y)):
            raise RuntimeError(f'model {name} saw the target in another '
                               f'order: shuffle the target loaders off')
    probe_kwargs.setdefault('num_classes', target.num_classes)

    def probe(x_train: Tensor, x_test: Tensor) -> Dict[str, float]:
        return linear_probe(x_train, train_y, x_test, test_y,
                            **probe_kwargs)

    rows = []
    for i, (name, _) in enumerate(models):
        rows.append(
            dict(
                name=name,
                kind='model',
                members=[i],
                feature_dim=int(train[i][0].shape[1]),
                **probe(train[i][0], test[i][0])))
    for members in ensembles:
        label = 'ensemble ' + ','.join(models[i][0] for i in members)
        for mode in ('concat', 'mean'):
            row = dict(name=f'{label} ({mode})', kind=mode,
                       members=list(members))
            try:
                x_train = ensemble_features([train[i][0] for i in members],
                                            mode)
            except ValueError as err:
                rows.append(dict(row, skipped=str(err)))
                continue
            x_test = ensemble_features([test[i][0] for i in members], mode)
            rows.append(
                dict(
                    row,
                    feature_dim=int(x_train.shape[1]),
                    **probe(x_train, x_test)))
    return dict(
        target=dict(
            name=target.name, num_classes=target.num_classes,
            **target.info),
        models=[
            dict(name=name, feature_dim=int(train[i][0].shape[1]))
            for i, (name, _) in enumerate(models)
        ],
        rows=rows)


def format_table(result: Dict[str, Any]) -> str:
    """The rows of :func:`transfer_probe` as a Markdown table."""
    target = result['target']
    lines = [
        f'Transfer probe on {target["name"]} ({target["num_classes"]} '
        f'classes): linear classifier on frozen pooled features', '',
        '| model | features | probe top-1 (%) | train top-1 (%) | l2 |',
        '|---|---|---|---|---|'
    ]
    for row in result['rows']:
        if 'skipped' in row:
            lines.append(f'| {row["name"]} | | skipped: {row["skipped"]} '
                         f'| | |')
            continue
        lines.append(f'| {row["name"]} | {row["feature_dim"]} | '
                     f'{row["top1"]:.2f} | {row["train_top1"]:.2f} | '
                     f'{row["l2"]:g} |')
    return '\n'.join(lines) + '\n'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Linear probe of frozen classifiers\' pooled features '
        'on a target dataset (transfer feature extraction)')
    parser.add_argument(
        '--model',
        nargs=2,
        action='append',
        required=True,
        metavar=('CONFIG', 'CHECKPOINT'),
        help='a model: its config (a distillation config gives its student) '
        'and checkpoint; repeat for several models')
    parser.add_argument(
        '--name',
        action='append',
        help='names of the models, in --model order (default: the '
        'checkpoint file names)')
    parser.add_argument(
        '--ensemble',
        action='append',
        help='an ensemble of models by index, e.g. 0-2 or 0,2; repeat for '
        'several (default: all models, when there are two or more)')
    parser.add_argument(
        '--random-init',
        action='store_true',
        help='add a row for the first model\'s architecture with random '
        'initial weights (seed 0): what the probe gets without training')
    parser.add_argument(
        '--target',
        default='digits',
        help="'digits' (scikit-learn's 8x8 digits at 28x28, for "
        'Fashion-MNIST models) or a config with train_dataloader and '
        'test_dataloader')
    parser.add_argument(
        '--l2',
        type=float,
        nargs='+',
        default=list(L2_GRID),
        help='L2 weight, or a grid chosen on 20%% of the train split')
    parser.add_argument('--max-iter', type=int, default=MAX_ITER)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args(argv)
    if args.name is not None and len(args.name) != len(args.model):
        parser.error(f'{len(args.name)} --name for {len(args.model)} '
                     f'--model')
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    names = args.name or [
        osp.splitext(osp.basename(ckpt))[0] for _, ckpt in args.model
    ]
    if len(set(names)) != len(names):
        raise ValueError(f'model names must differ, got {names}: use --name')
    if args.random_init and 'random-init' in names:
        raise ValueError("'random-init' names the --random-init row")
    if args.ensemble:
        ensembles = [parse_ensemble(s, len(names)) for s in args.ensemble]
    else:  # the checkpoints, not the random-init baseline
        ensembles = [list(range(len(names)))] if len(names) > 1 else []
    target = digits_target() if args.target == 'digits' else \
        config_target(args.target)
    models = [(name, build_frozen_model(cfg, ckpt, args.device))
              for name, (cfg, ckpt) in zip(names, args.model)]
    if args.random_init:
        models.append(('random-init',
                       build_frozen_model(args.model[0][0], None,
                                          args.device)))
    result = transfer_probe(
        models,
        target,
        ensembles,
        l2=args.l2[0] if len(args.l2) == 1 else args.l2,
        max_iter=args.max_iter)
    result['checkpoints'] = [
        dict(name=name, config=cfg, checkpoint=ckpt)
        for name, (cfg, ckpt) in zip(names, args.model)
    ]
    print(format_table(result), end='')
    if args.out:
        from mmfsp.utils import atomic_write
        atomic_write(args.out,
                     (json.dumps(result, indent=1) + '\n').encode('utf-8'))
    return result


if __name__ == '__main__':
    main()
