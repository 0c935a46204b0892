"""Forward-hook recorders and the recorder manager."""
import pytest
import torch
from torch import nn

from mmfsp.models.recorders import (ModuleInputsRecorder,
                                    ModuleOutputsRecorder, RecorderManager,
                                    UnknownModuleError, build_recorder)


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential()
        self.backbone.add_module('layer1', nn.Conv2d(1, 2, 1))
        self.backbone.add_module('layer2', nn.Conv2d(2, 3, 1))
        self.head = nn.Sequential()
        self.head.add_module('fc', nn.Linear(3, 4))

    def forward(self, x):
        x = self.backbone(x)
        return self.head(x.mean(dim=(2, 3)))


def test_inputs_and_outputs_are_recorded():
    net = Net()
    manager = RecorderManager(
        dict(
            stem=dict(type='ModuleInputs', source='backbone.layer1'),
            l1=dict(type='ModuleOutputs', source='backbone.layer1'),
            l2_in=dict(type='ModuleInputsRecorder', source='backbone.layer2'),
            fc=dict(type='ModuleOutputs', source='head.fc')))
    manager.initialize(net)
    x = torch.randn(2, 1, 4, 4)
    with manager:
        logits = net(x)
    stem = manager.get_recorder('stem').get_record_data()
    l1 = manager.get_recorder('l1').get_record_data()
    assert stem is x
    assert l1 is manager.get_recorder('l2_in').get_record_data()
    torch.testing.assert_close(l1, net.backbone.layer1(x))
    assert manager.get_recorder('fc').get_record_data() is logits


def test_recording_only_inside_the_context_and_reset_on_entry():
    net = Net()
    rec = ModuleOutputsRecorder('backbone.layer2')
    manager = RecorderManager(dict(out=rec))
    manager.initialize(net)
    net(torch.randn(1, 1, 2, 2))
    assert rec.data_buffer == []
    with manager:
        net(torch.randn(1, 1, 2, 2))
        net(torch.randn(1, 1, 2, 2))
    assert len(rec.data_buffer) == 2
    assert rec.get_record_data(1) is rec.data_buffer[1]
    with pytest.raises(IndexError, match='called 2 time'):
        rec.get_record_data(2)
    with manager:
        pass
    with pytest.raises(RuntimeError, match='not called'):
        rec.get_record_data()
    manager.remove_hooks()
    with manager:
        net(torch.randn(1, 1, 2, 2))
    assert rec.data_buffer == []


def test_tuple_inputs_and_data_idx():

    class Two(nn.Module):

        def forward(self, a, b):
            return a + b, a - b

    class Outer(nn.Module):

        def __init__(self):
            super().__init__()
            self.two = Two()

        def forward(self, a, b):
            return self.two(a, b)

    model = Outer()
    rin = ModuleInputsRecorder('two')
    rout = ModuleOutputsRecorder('two')
    for rec in (rin, rout):
        rec.prepare_from_model(model)
        rec.recording = True
    a, b = torch.ones(1), torch.zeros(1)
    model(a, b)
    assert rin.get_record_data(data_idx=1) is b
    torch.testing.assert_close(rout.get_record_data(data_idx=1), a - b)
    single = ModuleOutputsRecorder('x')
    single.data_buffer.append(torch.ones(1))
    with pytest.raises(TypeError, match='not a sequence'):
        single.get_record_data(data_idx=0)


def test_unknown_module_lists_candidates():
    net = Net()
    with pytest.raises(UnknownModuleError) as err:
        build_recorder(dict(type='ModuleOutputs',
                            source='backbone.layer_1')).prepare_from_model(net)
    msg = str(err.value)
    assert "'backbone.layer_1'" in msg
    assert 'backbone.layer1' in msg  # close match
    assert 'Top-level modules: backbone, head' in msg
    with pytest.raises(UnknownModuleError, match='Top-level'):
        ModuleInputsRecorder('neck').prepare_from_model(net)
    with pytest.raises(ValueError):
        ModuleInputsRecorder('')
