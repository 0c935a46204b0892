# Stage 2 alone on Fashion-MNIST: the plain ResNet-26 student (1k iterations)
# initialised from the student of a stage-1 checkpoint. One student per seed:
#   python tools/train.py \
#     configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_stage2.py \
#     --cfg-options randomness.seed=1 \
#     model.init_cfg.checkpoint=work_dirs/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_stage1/iter_1000.pth \
#     --work-dir work_dirs/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_stage2_seed1
# Test the result with configs/resnet/resnet26_1xb128_fashion-mnist_1k.py.
_base_ = ['../resnet/resnet26_1xb128_fashion-mnist_1k.py']
model = dict(
    init_cfg=dict(
        type='Pretrained',
        checkpoint='work_dirs/'
        'fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_stage1/iter_1000.pth',
        prefix='architecture.'))
# one stage per run: the two-stage `stage_iters` does not apply
stage_iters = None
schedule_stage_iters = None
