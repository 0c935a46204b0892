# Compared alternative: the teacher softened by label smoothing (mmpretrain's
# LabelSmoothLoss, epsilon 0.1) instead of TSD; the patriarch is trained with
# it, later generations with 0.4 * CE + 0.6 * KL(p_T || p_S).
_base_ = ['./tolerant-eta10-lam00_resnet56_1xb128_cifar100.py']
generations = dict(
    eta=1.0,
    lam=0.6,
    teacher_loss=dict(
        type='LabelSmoothLoss', label_smooth_val=0.1, loss_weight=1.0))
