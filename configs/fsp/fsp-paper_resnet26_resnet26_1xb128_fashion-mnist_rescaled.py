# FSP fast optimisation on Fashion-MNIST
# (fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py) with an mmfsp option the
# paper does not have: at the switch, every student backbone conv that feeds a
# batch norm is rescaled to the weight norm of a fresh initialisation (BN
# running statistics with it), which keeps the student's function but undoes
# stage 1's norm growth, so stage 2 learns at the speed of a fresh network
# (effective lr = lr / ||w||^2).
# Experimental: in the Fashion-MNIST reproduction (README, Results) it helped
# ResNet-8 students but a ResNet-26 student collapsed in stage 2 (10 %, a
# constant prediction). See docs/fsp.md, "Weight-norm growth in stage 1".
_base_ = ['./fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py']
custom_hooks = [
    dict(
        type='DistillStageSwitchHook',
        switch_iter=1000,
        stage_lr=0.1,
        rescale_weight_norms=True)
]
