"""FSPDistiller: shuffled teacher FSP equals the FSP of a really permuted
(equivalent) teacher; teacher data served from outside."""
import copy

import pytest
import torch

from mmfsp.models.connectors import fsp_matrix
from mmfsp.models.distillers import (ConfigurableDistiller, FSPDistiller,
                                     channel_permutation, spec_key)
from mmfsp.registry import MODELS

torch.set_num_threads(1)


def clf(depth=14):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='CifarResNet', depth=depth, in_channels=1),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=10,
            in_channels=64,
            loss=dict(type='CrossEntropyLoss')))


def pairs():
    return [
        dict(
            name=f'layer{k}',
            first=dict(type='ModuleInputs', source=f'backbone.layer{k}'),
            second=dict(type='ModuleOutputs', source=f'backbone.layer{k}'))
        for k in (1, 2, 3)
    ]


def teacher_net(seed=0, depth=14):
    torch.manual_seed(seed)
    net = MODELS.build(clf(depth))
    for m in net.modules():  # non-trivial BN statistics and affine params
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return net.eval()


def _perm_out(conv, perm):
    conv.weight.data = conv.weight.data[perm].clone()
    if conv.bias is not None:
        conv.bias.data = conv.bias.data[perm].clone()


def _perm_in(conv, perm):
    conv.weight.data = conv.weight.data[:, perm].clone()


def _perm_bn(bn, perm):
    for name in ('weight', 'bias', 'running_mean', 'running_var'):
        t = getattr(bn, name)
        t.data = t.data[perm].clone()


def permuted_teacher(net, perms):
    """The equivalent network whose residual stream ``k`` (stage k's
    output; stage 1's also the stem output, tied by the identity shortcuts)
    has its channels permuted by ``perms[k]`` (new channel i = old channel
    perms[k][i]): producers' output channels and consumers' input channels
    permuted, block-internal channels left alone."""
    net = copy.deepcopy(net)
    bb = net.backbone
    _perm_out(bb.conv1, perms[1])
    _perm_bn(bb.norm1, perms[1])
    prev = perms[1]
    for k in (1, 2, 3):
        for block in getattr(bb, f'layer{k}'):
            _perm_in(block.conv1, prev)
            _perm_out(block.conv2, perms[k])
            _perm_bn(block.norm2, perms[k])
            if block.downsample is not None:
                _perm_in(block.downsample[0], prev)
                _perm_out(block.downsample[0], perms[k])
                _perm_bn(block.downsample[1], perms[k])
            prev = perms[k]
    net.head.fc.weight.data = net.head.fc.weight.data[:, perms[3]].clone()
    return net.eval()


def teacher_fsp(distiller, net, x):
    distiller.prepare_from_teacher(net)
    with torch.no_grad():
        with distiller.teacher_recorders:
            net(x, mode='tensor')
        out = [
            distiller.get_data(spec)
            for _, spec in distiller.teacher_specs(['loss_fsp'])
        ]
    distiller.teacher_recorders.reset_data()
    return out


def test_permutations_are_seeded_and_keyed_by_channel_count():
    assert torch.equal(channel_permutation(1, 16), channel_permutation(1, 16))
    assert not torch.equal(channel_permutation(1, 64),
                           channel_permutation(2, 64))
    assert sorted(channel_permutation(3, 32).tolist()) == list(range(32))
    d = FSPDistiller(fsp_pairs=pairs(), shuffle_seed=1)
    assert torch.equal(d.permutation(16), channel_permutation(1, 16))
    with pytest.raises(RuntimeError, match='shuffle_seed'):
        FSPDistiller(fsp_pairs=pairs()).permutation(16)
    with pytest.raises(ValueError, match='not connectors'):
        FSPDistiller(fsp_pairs=pairs(), shuffle_seed=1,
                     shuffle_connectors=('nope', ))


def test_shuffled_fsp_equals_fsp_of_a_permuted_equivalent_teacher():
    net = teacher_net()
    x = torch.randn(3, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    shuffled = FSPDistiller(fsp_pairs=pairs(), shuffle_seed=2)
    perms = {k: shuffled.permutation(c)
             for k, c in ((1, 16), (2, 32), (3, 64))}
    twin = permuted_teacher(net, perms)
    with torch.no_grad():
        # An equivalent network: the very same logits.
        torch.testing.assert_close(
            twin(x, mode='tensor'), net(x, mode='tensor'), rtol=1e-5,
            atol=1e-5)
    got = teacher_fsp(shuffled, net, x)
    want = teacher_fsp(FSPDistiller(fsp_pairs=pairs()), twin, x)
    plain = teacher_fsp(FSPDistiller(fsp_pairs=pairs()), net, x)
    assert [tuple(g.shape) for g in got] == [(3, 16, 16), (3, 16, 32),
                                             (3, 32, 64)]
    for g, w, p in zip(got, want, plain):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
        assert not torch.allclose(g, p)  # it did shuffle
    # Pair 1 (stem -> stage 1) uses one permutation on both sides: the
    # identity shortcuts tie the stem output to the stage-1 output.
    torch.testing.assert_close(
        got[0], plain[0][:, perms[1]][:, :, perms[1]], rtol=1e-6, atol=1e-6)


def test_same_recorded_tensor_gets_one_permutation_in_chained_pairs():
    net = teacher_net(depth=8)
    x = torch.randn(2, 1, 16, 16)
    d = FSPDistiller(fsp_pairs=pairs(), shuffle_seed=5)
    d.prepare_from_teacher(net)
    with torch.no_grad(), d.teacher_recorders:
        net(x, mode='tensor')
    rec = d.teacher_recorders
    out1 = rec.get_recorder('fsp_layer1_second').get_record_data()
    in2 = rec.get_recorder('fsp_layer2_first').get_record_data()
    assert out1 is in2  # output of stage 1 is the input of stage 2
    g1, g2, _ = [
        d.get_data(spec) for _, spec in d.teacher_specs(['loss_fsp'])
    ]
    p16 = d.permutation(16)
    f1 = rec.get_recorder('fsp_layer1_first').get_record_data()
    f2 = rec.get_recorder('fsp_layer2_second').get_record_data()
    p32 = d.permutation(32)
    torch.testing.assert_close(g1, fsp_matrix(f1[:, p16], out1[:, p16]))
    torch.testing.assert_close(g2, fsp_matrix(in2[:, p16], f2[:, p32]))


def test_only_teacher_fsp_is_shuffled_and_seed_none_is_plain():
    net, student = teacher_net(depth=8), teacher_net(seed=1, depth=8)
    fc = dict(fc=dict(type='ModuleOutputs', source='head.fc'))
    kd = dict(
        distill_losses=dict(loss_kd=dict(type='KDLoss', tau=3)),
        student_recorders=fc,
        teacher_recorders=fc,
        loss_forward_mappings=dict(
            loss_kd=dict(
                preds_S=dict(from_student=True, recorder='fc'),
                preds_T=dict(from_student=False, recorder='fc'))))
    x = torch.randn(2, 1, 16, 16)
    losses = {}
    for name, d in (('plain', ConfigurableDistiller(fsp_pairs=pairs(), **kd)),
                    ('none', FSPDistiller(fsp_pairs=pairs(), **kd)),
                    ('shuffled', FSPDistiller(fsp_pairs=pairs(),
                                              shuffle_seed=1, **kd))):
        d.prepare_from_teacher(net)
        d.prepare_from_student(student)
        with torch.no_grad():
            with d.teacher_recorders:
                net(x, mode='tensor')
            with d.student_recorders:
                student(x, mode='tensor')
            losses[name] = d.compute_distill_losses()
    assert losses['plain'] == losses['none']
    assert losses['shuffled']['loss_kd'] == losses['plain']['loss_kd']
    assert losses['shuffled']['loss_fsp'] != losses['plain']['loss_fsp']


def test_given_teacher_values_replace_the_recorders():
    d = FSPDistiller(fsp_pairs=pairs())
    specs = d.teacher_specs()
    assert len(specs) == 3 and all(not s['from_student'] for _, s in specs)
    assert specs[0][0] == spec_key(specs[0][1])
    values = {key: torch.full((2, 1, 1), float(i))
              for i, (key, _) in enumerate(specs)}
    assert d.get_data(specs[2][1], values) is values[specs[2][0]]
    with pytest.raises(RuntimeError, match='Nothing was recorded'):
        d.get_data(specs[0][1])  # no values given: the recorders again
