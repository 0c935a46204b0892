"""tools/reproduce/devices.py: the slots of a CPU and of GPU machines
(several runs per GPU as a scheduling decision), AMP only on GPUs, the
cost models."""
import pytest

from reproduce.devices import (CPU_COSTS, GPU_COSTS, MAX_RUNS_PER_DEVICE,
                               Machine, cost_model, cpu_thread_speedup,
                               detect_machine, gpu_device_share, plan_slots,
                               runs_per_device, use_amp)
from reproduce.scheduler import Slot


def test_cpu_slots_one_thread_per_core():
    cpu = Machine('cpu', 'test', 2)
    assert plan_slots(cpu) == [Slot('cpu', 1), Slot('cpu', 1)]
    assert plan_slots(cpu, workers=1) == [Slot('cpu', 2)]
    assert plan_slots(cpu, workers=4) == [Slot('cpu', 1)] * 4
    assert plan_slots(cpu, workers=1, threads=1) == [Slot('cpu', 1)]
    assert runs_per_device(cpu) == 1
    with pytest.raises(ValueError, match='workers'):
        plan_slots(cpu, workers=-1)
    here = detect_machine('cpu')
    assert here.kind == 'cpu' and here.cores >= 1 and here.gpus == 0
    assert here.describe().startswith('CPU ')
    assert cost_model(here) is CPU_COSTS and CPU_COSTS.measured


def test_several_runs_per_gpu():
    h100 = Machine('cuda', 'NVIDIA H100', 16, 1, 79.6, True)
    assert runs_per_device(h100) == MAX_RUNS_PER_DEVICE
    slots = plan_slots(h100)
    assert [s.device for s in slots] == ['cuda:0'] * MAX_RUNS_PER_DEVICE
    assert {s.threads for s in slots} == {16 // MAX_RUNS_PER_DEVICE}
    # limited by the memory of a small card, by the cores per GPU
    assert runs_per_device(Machine('cuda', 'small', 16, 1, 8.0)) == 3
    assert runs_per_device(Machine('cuda', 'x', 4, 2, 80.0)) == 2
    assert runs_per_device(Machine('cuda', 'x', 1, 1, 80.0)) == 1
    two = Machine('cuda', 'x', 16, 2, 40.0)
    slots = plan_slots(two, per_device=3)
    assert [s.device for s in slots] == ['cuda:0', 'cuda:1'] * 3
    assert plan_slots(two, workers=2) == [Slot('cuda:0', 8),
                                          Slot('cuda:1', 8)]
    assert cost_model(two) is GPU_COSTS and not GPU_COSTS.measured
    with pytest.raises(ValueError, match='GPU'):
        Machine('cuda', 'none', 4, 0)
    with pytest.raises(ValueError, match='kind'):
        Machine('tpu', 'x', 4)


def test_amp_only_on_gpus_and_speed_models():
    assert use_amp('cpu') is False
    assert use_amp('cpu', False) is False
    with pytest.raises(ValueError, match='GPUs'):
        use_amp('cpu', True)
    assert use_amp('cuda') is True and use_amp('cuda', True) is True
    assert use_amp('cuda', False) is False
    assert cpu_thread_speedup(1) == 1
    assert cpu_thread_speedup(2) == pytest.approx(1.6, abs=0.01)
    assert gpu_device_share(1) == gpu_device_share(4) == 1
    assert gpu_device_share(8) == 0.5
    with pytest.raises(ValueError, match='device'):
        detect_machine('tpu')


def test_scaled_costs_scale_every_estimate():
    """--calibrate: a machine measured twice as slow doubles every run's
    estimate and the plan's simulated wall time (threads and slots
    unchanged)."""
    from reproduce.devices import scaled_costs
    from reproduce.plan import build_plan, estimate_seconds, schedule_seconds
    from reproduce.presets import PRESETS
    preset = PRESETS['small']
    plan = build_plan(preset)
    slow = scaled_costs(CPU_COSTS, 2.0, 'test')
    assert slow.measured and 'x 2.00 (test)' in slow.name
    for spec in plan[:5]:
        assert estimate_seconds(spec, preset, plan, slow) == pytest.approx(
            2 * estimate_seconds(spec, preset, plan))
    slots = [Slot(), Slot()]
    assert schedule_seconds(plan, preset, slots, slow) == pytest.approx(
        2 * schedule_seconds(plan, preset, slots))
    with pytest.raises(ValueError, match='positive'):
        scaled_costs(CPU_COSTS, 0.0, 'test')


def test_plan_calibrated_on_this_cpu(monkeypatch):
    """--plan --calibrate times ResNet-8 iterations here and scales the
    estimate by their cost over the model's."""
    import reproduce.speed_probe as speed_probe
    from reproduce.runs import run_reproduction
    calls = []

    def fake_probe(arch, iters, rounds, variants):
        calls.append((arch, tuple(variants)))
        return {'after': dict(iteration_s=3 * CPU_COSTS.train_iter_s[arch])}
    monkeypatch.setattr(speed_probe, 'probe', fake_probe)
    plain = run_reproduction('small', plan_only=True, device='cpu',
                             workers=2, log=lambda _: None)
    lines = []
    slow = run_reproduction('small', plan_only=True, device='cpu',
                            workers=2, calibrate=True, log=lines.append)
    assert calls == [('resnet8', ('after', ))]
    assert slow['estimate_seconds'] == pytest.approx(
        3 * plain['estimate_seconds'])
    assert '3.00 x the cost model' in lines[0]
    assert 'calibrated on this machine now' in lines[-1]


def test_cpu_calibration_times_this_machine(fashion_mnist_root):
    """The real probe: a positive factor from one timed round."""
    import math

    from reproduce.speed_probe import cpu_calibration
    factor = cpu_calibration(iters=1, rounds=1)
    assert math.isfinite(factor) and factor > 0
