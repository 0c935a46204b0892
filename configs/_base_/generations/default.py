# Training in generations (Yang et al., AAAI 2019; docs/generations.md), read
# by tools/train_generations.py (tools/generations/). The paper's setting
# D(eta, lam): eta = label weight of the teacher loss eta*CE + (1-eta)*TSD,
# lam = weight of KL(p_T || p_S) in the student loss
# (1-lam)*<label term> + lam*KL. These defaults are D(1.0, 0.0): plain
# training in every generation.
generations = dict(
    num_generations=5,  # generation 0 (the patriarch) .. 4
    eta=1.0,
    lam=0.0,
    k=5,  # TSD's K: top-1 minus the mean of the next K-1 softmax scores
    # Where the teacher loss (TSD or an alternative) applies: 'patriarch'
    # (generation 0 only; later generations use plain CE as label term) or
    # 'all' (every generation, each being the next one's teacher).
    tsd_in='patriarch',
    # u(eta), the paper's unknown reparameterisation: 'none' = weights eta
    # and 1-eta as written; 'unit_ce' = divided by eta (1, (1-eta)/eta).
    reparam='none',
    # teacher_loss: an alternative teacher loss replacing TSD (eta must stay
    # 1.0), e.g. teacher_loss=dict(type='LabelSmoothLoss',
    # label_smooth_val=0.1); not set here (None), since mmengine cannot merge
    # a child's dict into a base's None.
    # The module whose output are the logits KD compares (LinearClsHead.fc).
    logits_layer='head.fc')
