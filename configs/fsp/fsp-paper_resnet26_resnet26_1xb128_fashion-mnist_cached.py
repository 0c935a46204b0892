# fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py with the teacher's FSP
# matrices cached per training image in stage 1 (CachedTeacherFSPDistill; 11
# KiB per image, 644 MiB for the 60k, float32 on the CPU). A cache needs a
# deterministic training pipeline, so this run trains without augmentation in
# both stages (the Fashion-MNIST base crops and flips at random;
# TeacherFSPCacheHook refuses that with an error naming RandomCrop and
# RandomFlip).
#   python tools/train.py \
#     configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_cached.py
_base_ = ['./fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py']
model = dict(
    type='CachedTeacherFSPDistill',
    distiller=dict(type='FSPDistiller'),
    cache_stages=(1, ))
train_dataloader = dict(dataset=dict(pipeline=[dict(type='PackInputs')]))
custom_hooks = [
    dict(type='DistillStageSwitchHook', switch_iter=1000, stage_lr=0.1),
    dict(type='TeacherFSPCacheHook'),
]
