# The transfer-probe target for CIFAR-100 models (Yang et al.'s transfer
# feature extraction; tools/analysis_tools/transfer_probe.py): CIFAR-10 in
# mmpretrain's layout (data/cifar10/cifar-10-batches-py), 10 classes none of
# which is a CIFAR-100 class. Features are extracted from both splits as
# they are (no augmentation, no shuffling), 500 images at a time; the
# images are normalised by each model's own data preprocessor (the one it
# was trained with), not by this file's.
#   python tools/analysis_tools/transfer_probe.py \
#     --model CONFIG work_dirs/<run>/gen_0/generation_0.pth \
#     --model CONFIG work_dirs/<run>/gen_1/generation_1.pth \
#     --target configs/_base_/datasets/cifar10_probe.py --device cuda
_base_ = ['./cifar10_bs128.py']
train_dataloader = dict(
    batch_size=500,
    dataset=dict(pipeline=[dict(type='PackInputs')]),
    sampler=dict(shuffle=False))
test_dataloader = dict(batch_size=500)
