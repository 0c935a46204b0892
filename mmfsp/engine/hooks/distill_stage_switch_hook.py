"""Switch a staged distillation run to its next stage at a fixed iteration.

Algorithm 1 of Yim et al., "A Gift from Knowledge Distillation" (CVPR 2017)
in one run: stage 1 (FSP loss only) for ``switch_iter`` iterations, then
stage 2 (cross-entropy only). At the start of iteration ``switch_iter`` the
hook

1. saves the stage-1 model as ``stage1_iter_<switch_iter>.pth`` in the work
   dir (weights only; several stage-2 students can start from it, see
   docs/fsp.md), unless ``save_checkpoint=False``;
2. frees the teacher when no later stage uses it (the module is deleted,
   its hooks removed, its parameters removed from the optimizer,
   ``torch.cuda.empty_cache()``);
3. sets the model's stage (:meth:`SingleTeacherDistill.set_stage`);
4. resets the optimizer state (fresh momentum), as a new training would,
   and drops the stage-1 loss entries from the logged history;
5. with ``rescale_weight_norms=True`` (an mmfsp option, off by default;
   the paper does not do it) divides every student backbone conv that feeds
   a batch norm (and that BN's running statistics) so that its weight norm
   is that of a fresh initialisation: the function is unchanged, but stage
   2 starts at the effective learning rate ``lr / ||w||^2`` of a fresh
   network instead of one slowed by stage 1's norm growth
   (:mod:`mmfsp.models.utils.conv_bn_rescale`);
6. starts the stage-2 learning rate: every parameter group's lr becomes
   ``stage_lr`` times the group's own multiplier (``initial_lr`` / the
   optimizer's base lr). The stage-2 decay is an ordinary param scheduler
   whose ``begin`` is ``switch_iter``, e.g.
   ``dict(type='MultiStepLR', by_epoch=False, begin=21000, end=42000,
   milestones=[11000, 16000])`` (milestones count from ``begin``).

Resuming: checkpoints carry ``meta['distill_stage']``. Loading a checkpoint
saved after the switch puts the model in that stage *before* the weights and
the optimizer are restored (the teacher is freed, so the state dicts match);
a run resumed before the switch switches when it reaches ``switch_iter``.
``switch_iter >= max_iters`` runs stage 1 alone.
"""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmfsp.registry import HOOKS

META_KEY = 'distill_stage'


def _optimizers(runner) -> list:
    wrapper = getattr(runner, 'optim_wrapper', None)
    if wrapper is None or isinstance(wrapper, dict):
        return []
    wrappers = list(wrapper.values()) if hasattr(wrapper, 'values') else [
        wrapper
    ]
    return [w.optimizer for w in wrappers if hasattr(w, 'optimizer')]


@HOOKS.register_module()
class DistillStageSwitchHook(Hook):
    """Move a :class:`SingleTeacherDistill` model to stage ``stage`` at
    iteration ``switch_iter`` (see the module docstring).

    Args:
        switch_iter (int): the first iteration of the new stage.
        stage (int): the stage switched to. Defaults to 2.
        stage_lr (float, optional): learning rate the new stage starts with
            (before multipliers). None keeps the scheduled lr.
        reset_optimizer (bool): clear the optimizer state (momentum).
            Defaults to True.
        free_teacher (bool): free the teacher when no later stage uses it.
            Defaults to True.
        save_checkpoint (bool): save the model as
            ``stage<k>_iter_<switch_iter>.pth`` before switching. Defaults to
            True.
        rescale_weight_norms (bool): rescale the student's backbone conv
            weights to the norms of a fresh initialisation, preserving its
            function (module docstring, step 5). Defaults to False.
    """

    # Before RuntimeInfoHook, so that the switch iteration logs its new lr.
    priority = 'HIGHEST'

    def __init__(self,
                 switch_iter: int,
                 stage: int = 2,
                 stage_lr: Optional[float] = None,
                 reset_optimizer: bool = True,
                 free_teacher: bool = True,
                 save_checkpoint: bool = True,
                 rescale_weight_norms: bool = False) -> None:
        if not isinstance(switch_iter, int) or switch_iter < 0:
            raise ValueError(f'switch_iter must be an int >= 0, got '
                             f'{switch_iter!r}')
        if stage_lr is not None and stage_lr <= 0:
            raise ValueError(f'stage_lr must be > 0, got {stage_lr}')
        self.switch_iter = switch_iter
        self.stage = stage
        self.stage_lr = stage_lr
        self.reset_optimizer = reset_optimizer
        self.free_teacher = free_teacher
        self.save_checkpoint = save_checkpoint
        self.rescale_weight_norms = rescale_weight_norms

    @staticmethod
    def _model(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        for attr in ('set_stage', 'stage', 'free_teacher'):
            if not hasattr(model, attr):
                raise TypeError(
                    f'DistillStageSwitchHook needs a staged distillation '
                    f'model (SingleTeacherDistill), got '
                    f'{type(model).__name__}')
        return model

    # ----------------------------------------------------------- switch
    def _apply_stage(self, runner) -> None:
        """Structural part: teacher freed, stage set (also on resume)."""
        model = self._model(runner)
        model.set_stage(self.stage)
        later_need_teacher = any(
            model.stage_uses_teacher(s)
            for s in range(self.stage, model.num_stages + 1))
        if self.free_teacher and not later_need_teacher and \
                model.teacher is not None:
            freed = {id(p) for p in model.free_teacher()}
            for optimizer in _optimizers(runner):
                for group in optimizer.param_groups:
                    group['params'] = [
                        p for p in group['params'] if id(p) not in freed
                    ]
                for key in [k for k in optimizer.state if id(k) in freed]:
                    del optimizer.state[key]

    def _switch(self, runner) -> None:
        model = self._model(runner)
        old = model.stage
        if self.save_checkpoint and runner.train_loop is not None:
            runner.save_checkpoint(
                runner.work_dir,
                f'stage{old}_iter_{self.switch_iter}.pth',
                save_optimizer=False,
                save_param_scheduler=False,
                meta=dict(iter=runner.iter, epoch=runner.epoch),
                by_epoch=False)
        self._apply_stage(runner)
        rescaled = self._rescale_student(model) \
            if self.rescale_weight_norms else ''
        lrs = []
        for optimizer in _optimizers(runner):
            if self.reset_optimizer:
                optimizer.state.clear()
            if self.stage_lr is not None:
                base = optimizer.defaults['lr']
                for group in optimizer.param_groups:
                    mult = group.get('initial_lr', base) / base if base else 1
                    group['lr'] = self.stage_lr * mult
            lrs.append(sorted({g['lr'] for g in optimizer.param_groups}))
        # Stage-1 loss entries would otherwise linger in the logs (the log
        # processor averages every scalar it has seen over its window).
        hub = runner.message_hub
        for key in [k for k in hub.log_scalars
                    if k == 'train/loss' or k.startswith('train/distill.')]:
            hub.log_scalars.pop(key)
            # MessageHub keeps a resumability flag per key; a flag without
            # its scalar makes every later checkpoint warn.
            getattr(hub, '_resumed_keys', {}).pop(key, None)
        runner.logger.info(
            f'Distillation stage {old} -> {self.stage} at iteration '
            f'{runner.iter}: teacher '
            f'{"freed" if model.teacher is None else "kept"}, optimizer state '
            f'{"reset" if self.reset_optimizer else "kept"}, lr {lrs}'
            f'{rescaled}')

    @staticmethod
    def _rescale_student(model) -> str:
        """Step 5 of the module docstring; returns a log fragment."""
        from mmfsp.models.utils import (conv_bn_pairs, fresh_init_conv_norms,
                                        rescale_conv_bn_norms)
        student = model.architecture
        convs = [conv for conv, _ in conv_bn_pairs(student.backbone)]
        # the whole student: its init_cfg may live on the classifier
        initial = fresh_init_conv_norms(student,
                                        [f'backbone.{c}' for c in convs])
        factors = sorted(rescale_conv_bn_norms(
            student.backbone,
            {c: initial[f'backbone.{c}'] for c in convs}).values())
        if not factors:
            return ', no conv -> BN weights to rescale'
        return (f', {len(factors)} student conv weights rescaled to their '
                f'initial norms (norm / initial: median '
                f'{factors[len(factors) // 2]:.2f}, max {factors[-1]:.2f})')

    # ------------------------------------------------------------ hooks
    def before_train(self, runner) -> None:
        model = self._model(runner)
        if self.stage > model.num_stages:
            raise ValueError(f'DistillStageSwitchHook switches to stage '
                             f'{self.stage} but model.stages has only '
                             f'{model.num_stages}')
        # Also an epoch-based loop's (tools/train.py checks iteration-based
        # configs before building anything: mmfsp.utils.config_check).
        max_iters = getattr(runner, 'max_iters', None)
        if isinstance(max_iters, int) and self.switch_iter > max_iters:
            raise ValueError(
                f'DistillStageSwitchHook switches to stage {self.stage} at '
                f'iteration {self.switch_iter}, after the end of training '
                f'({max_iters} iterations): stage {self.stage} would never '
                f'run. Train longer or lower switch_iter (switch_iter == '
                f'{max_iters} trains stage 1 alone).')
        if runner.iter > self.switch_iter and model.stage < self.stage:
            raise RuntimeError(
                f'Resumed at iteration {runner.iter}, after the stage switch '
                f'at {self.switch_iter}, but the model is in stage '
                f'{model.stage}: the checkpoint has no '
                f"meta['{META_KEY}'] (was it saved without this hook?). "
                f'Resume from a checkpoint of this run, or set '
                f'model.stage={self.stage}.')
        if runner.iter < self.switch_iter and model.stage >= self.stage:
            runner.logger.warning(
                f'The model is already in stage {model.stage} at iteration '
                f'{runner.iter}, before the switch at {self.switch_iter} '
                f'(loaded from a stage-{model.stage} checkpoint?): the hook '
                f'will not switch again.')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if runner.iter == self.switch_iter and \
                self._model(runner).stage < self.stage:
            self._switch(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[META_KEY] = self._model(
            runner).stage

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('meta', {}).get(META_KEY)
        if saved is not None and saved >= self.stage and \
                self._model(runner).stage < self.stage:
            self._apply_stage(runner)
            runner.logger.info(
                f'Checkpoint is from distillation stage {saved}: model set '
                f'to stage {self.stage} before loading it')
