"""A toy mmengine model, dataset and Runner for the reliability tests.

Checkpoint writing, resuming and hook ordering are mmengine's, whatever the
model; a four-feature linear model trains in milliseconds, so these tests can
run a real Runner (real CheckpointHook, message hub, optimizer state) many
times within the suite's time budget.
"""
import uuid
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset


class ToyDataset(Dataset):
    """64 fixed samples of 4 features, 2 classes."""

    def __init__(self, size: int = 64) -> None:
        gen = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(size, 4, generator=gen)
        self.labels = (self.inputs.sum(1) > 0).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> dict:
        return dict(inputs=self.inputs[idx], labels=self.labels[idx])


class ToyModel(BaseModel):
    """Linear classifier returning two loss terms; from training iteration
    ``nan_from`` (1-based) on, ``loss_cls`` is NaN."""

    def __init__(self, nan_from: Optional[int] = None) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.nan_from = nan_from
        self.train_iters = 0

    def forward(self, inputs, labels, mode: str = 'tensor'):
        logits = self.linear(inputs)
        if mode == 'loss':
            self.train_iters += 1
            loss_cls = F.cross_entropy(logits, labels)
            if self.nan_from is not None and \
                    self.train_iters >= self.nan_from:
                loss_cls = loss_cls * float('nan')
            return dict(
                loss_cls=loss_cls,
                loss_reg=1e-3 * self.linear.weight.pow(2).sum())
        if mode == 'predict':
            return logits.argmax(1)
        return logits


def build_toy_runner(work_dir: Path,
                     max_iters: int = 4,
                     ckpt_interval: int = 2,
                     model: Optional[nn.Module] = None,
                     **kwargs) -> Runner:
    """A Runner on :class:`ToyModel` with the real default hooks
    (CheckpointHook by iterations, writing ``last_checkpoint``) and a unique
    experiment name (mmengine keys its logger and message hub by it).
    ``default_hooks`` in ``kwargs`` are merged into these; other ``kwargs``
    are Runner arguments."""
    cfg = dict(
        model=model if model is not None else ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            batch_size=8,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(
                type='CheckpointHook',
                by_epoch=False,
                interval=ckpt_interval,
                max_keep_ckpts=3)),
        log_processor=dict(by_epoch=False),
        randomness=dict(seed=0),
        default_scope='mmfsp',
        log_level='WARNING',
        experiment_name=f'toy_{uuid.uuid4().hex[:12]}',
    )
    cfg['default_hooks'].update(kwargs.pop('default_hooks', {}))
    cfg.update(kwargs)
    return Runner(**cfg)
