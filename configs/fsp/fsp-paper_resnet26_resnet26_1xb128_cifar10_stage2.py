# Stage 2 alone: the plain ResNet-26 student config (21k iterations, lr 0.1 ->
# 0.01 at 11k -> 0.001 at 16k) initialised from a stage-1 checkpoint, whose
# student weights sit under the prefix `architecture.`. One student per seed:
#   python tools/train.py \
#     configs/fsp/fsp-paper_resnet26_resnet26_1xb128_cifar10_stage2.py \
#     --cfg-options randomness.seed=1 \
#     model.init_cfg.checkpoint=work_dirs/fsp-paper_resnet26_resnet26_1xb128_cifar10_stage1/iter_21000.pth \
#     --work-dir work_dirs/fsp-paper_resnet26_resnet26_1xb128_cifar10_stage2_seed1
# The result is a plain classifier checkpoint: test it with
# configs/resnet/resnet26_1xb128_cifar10_21k.py.
_base_ = ['../resnet/resnet26_1xb128_cifar10_21k.py']
model = dict(
    init_cfg=dict(
        type='Pretrained',
        checkpoint='work_dirs/fsp-paper_resnet26_resnet26_1xb128_cifar10_stage1/'
        'iter_21000.pth',
        prefix='architecture.'))
# one stage per run: the two-stage `stage_iters` does not apply
stage_iters = None
schedule_stage_iters = None
