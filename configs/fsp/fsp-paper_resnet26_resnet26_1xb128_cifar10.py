# FSP fast optimisation on CIFAR-10 (Yim et al., CVPR 2017; docs/fsp.md): a
# ResNet-26 student learns the FSP matrices of a trained ResNet-26 teacher for
# 21k iterations (stage 1), then trains on the labels for 21k (stage 2), in
# one run:
#   python tools/train.py configs/fsp/fsp-paper_resnet26_resnet26_1xb128_cifar10.py
# The teacher: python tools/train.py configs/resnet/resnet26_1xb128_cifar10.py
# The student alone with the same stage-2 budget:
# configs/resnet/resnet26_1xb128_cifar10_21k.py.
_base_ = [
    '../_base_/distill/fsp_cifar_resnet.py',
    '../_base_/datasets/cifar10_bs128.py',
    '../_base_/schedules/fsp_cifar_sgd_21k_21k.py',
    '../_base_/default_runtime.py',
]
model = dict(teacher_ckpt='work_dirs/resnet26_1xb128_cifar10/iter_64000.pth')
