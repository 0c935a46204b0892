"""Where a reproduction runs: the device (:class:`Machine`,
:func:`detect_machine`), how many runs share it (:func:`plan_slots`,
:func:`runs_per_device`), whether runs use AMP (:func:`use_amp`) and what
a training iteration costs there (:class:`CostModel`, for ``--plan`` and
the progress line's estimate).

The CPU costs are measured on this project's 2-core CPU (see
:data:`CPU_COSTS`). **No GPU cost here is measured**: no GPU was available
when this was written, so :data:`GPU_COSTS` and :func:`gpu_device_share`
are assumptions, printed as such by ``--plan``, to be replaced by
measurements (tools/analysis_tools/benchmark_speed.py on the card).
"""
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional

from .scheduler import Slot, default_workers

#: the most runs one GPU is given by default (each is a process with its
#: own CUDA context, a core of the CPU and a share of the card)
MAX_RUNS_PER_DEVICE = 6
#: GPU memory one run is assumed to need: a CUDA context (~0.5 GiB) plus a
#: CIFAR ResNet's weights, activations at batch 128 on 28x28 images and the
#: in-memory Fashion-MNIST (~0.05 GiB), rounded up generously
RUN_MEMORY_GIB = 2.0
#: runs one GPU can overlap before they slow each other down (ASSUMED: the
#: small networks leave the card mostly idle between kernel launches)
GPU_OVERLAP = 4.0


@dataclass(frozen=True)
class Machine:
    """The hardware a reproduction runs on.

    Args:
        kind (str): 'cpu' or 'cuda'.
        name (str): the CPU's or the GPU's name.
        cores (int): CPU cores this process may use.
        gpus (int): visible GPUs (0 for 'cpu'). Defaults to 0.
        gpu_memory_gib (float): memory of one GPU. Defaults to 0.
        bf16 (bool): whether the GPU computes in bfloat16. Defaults to
            False.
    """

    kind: str
    name: str
    cores: int
    gpus: int = 0
    gpu_memory_gib: float = 0.0
    bf16: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ('cpu', 'cuda'):
            raise ValueError(f'device kind must be cpu or cuda, got '
                             f'{self.kind!r}')
        if self.kind == 'cuda' and self.gpus < 1:
            raise ValueError('a cuda machine needs at least one GPU')

    def describe(self) -> str:
        if self.kind == 'cpu':
            return f'CPU {self.name}, {self.cores} cores'
        return (f'{self.gpus} x {self.name} ({self.gpu_memory_gib:.0f} GiB), '
                f'{self.cores} CPU cores')


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``) or the platform's."""
    import platform
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def detect_machine(device: str = 'auto') -> Machine:
    """The machine for ``device`` ('auto': the GPUs if torch sees any,
    else the CPU; 'cpu'; 'cuda')."""
    if device not in ('auto', 'cpu', 'cuda'):
        raise ValueError(f'device must be auto, cpu or cuda, got {device!r}')
    cores = default_workers()
    if device != 'cpu':
        import torch
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            return Machine('cuda', props.name, cores,
                           torch.cuda.device_count(),
                           props.total_memory / 2**30,
                           bool(torch.cuda.is_bf16_supported()))
        if device == 'cuda':
            raise RuntimeError('--device cuda: torch sees no GPU here')
    return Machine('cpu', cpu_name(), cores)


def runs_per_device(machine: Machine,
                    run_memory_gib: float = RUN_MEMORY_GIB,
                    limit: int = MAX_RUNS_PER_DEVICE) -> int:
    """How many runs share one GPU: at most ``limit``, as many as the GPU's
    memory holds (90 %, ``run_memory_gib`` each) and at most the CPU cores
    per GPU (each run is a process that needs a core to feed its GPU).
    1 on a CPU machine (a slot is a core there)."""
    if machine.kind == 'cpu':
        return 1
    by_memory = int(0.9 * machine.gpu_memory_gib // run_memory_gib)
    by_cores = machine.cores // machine.gpus
    return max(1, min(limit, by_memory, by_cores))


def plan_slots(machine: Machine, workers: Optional[int] = None,
               threads: Optional[int] = None,
               per_device: Optional[int] = None) -> List[Slot]:
    """The worker slots of a reproduction.

    On a CPU: ``workers`` slots (default: one per core) on 'cpu' with
    ``threads`` torch threads each (default: the cores divided among the
    workers, at least 1: one thread per worker with the default). On GPUs:
    ``per_device`` runs on each GPU (default :func:`runs_per_device`), or
    ``workers`` in all spread over the GPUs, with the CPU cores shared
    among them.
    """
    if workers is not None and workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    if machine.kind == 'cpu':
        n = workers or machine.cores
        t = threads or max(1, machine.cores // n)
        return [Slot('cpu', t) for _ in range(n)]
    per = per_device or runs_per_device(machine)
    n = workers or per * machine.gpus
    t = threads or max(1, machine.cores // n)
    return [Slot(f'cuda:{i % machine.gpus}', t) for i in range(n)]


def use_amp(machine_kind: str, requested: Optional[bool] = None) -> bool:
    """AMP on a GPU unless ``requested`` is False; never on a CPU (the
    request is refused there)."""
    if machine_kind == 'cpu':
        if requested:
            raise ValueError('AMP is for GPUs; this reproduction runs on '
                             'the CPU (bfloat16 autocast on a CPU is slower '
                             'for these networks)')
        return False
    return requested is not False


# ------------------------------------------------------------- costs
def cpu_thread_speedup(threads: int) -> float:
    """Speed of one run with ``threads`` torch threads relative to one
    thread on this project's CPU: 1.6x for two (measured, see
    :data:`CPU_COSTS`), extrapolated as ``threads ** 0.68``."""
    return max(1, threads) ** 0.68


def gpu_device_share(runs: int) -> float:
    """Speed of each of ``runs`` runs on one GPU relative to one alone:
    1 up to :data:`GPU_OVERLAP` runs, then ``GPU_OVERLAP / runs``
    (ASSUMED, not measured)."""
    return min(1.0, GPU_OVERLAP / max(1, runs))


@dataclass(frozen=True)
class CostModel:
    """Seconds of the parts of a run on one slot, per architecture.

    Args:
        name (str): what they were measured (or assumed) on.
        measured (bool): False for assumed numbers (``--plan`` says so).
        train_iter_s (dict): a training iteration at batch 128.
        forward_iter_s (dict): a teacher's forward pass at batch 128.
        eval_image_s (dict): testing one image.
        runner_start_s (float): building a training runner.
        test_runner_start_s (float): building a test-only runner.
        pipeline_iter_s (float): what the configs' per-image data pipeline
            adds to a training iteration (``--data-path pipeline``).
        speedup (Callable): a run's speed with n threads relative to one.
        device_share (Callable): the speed of each of n runs sharing a
            device.
    """

    name: str
    measured: bool
    train_iter_s: Dict[str, float]
    forward_iter_s: Dict[str, float]
    eval_image_s: Dict[str, float]
    runner_start_s: float
    test_runner_start_s: float
    pipeline_iter_s: float
    speedup: Callable[[int], float] = field(default=cpu_thread_speedup)
    device_share: Callable[[int], float] = field(
        default=lambda runs: 1.0)


#: One torch thread of this project's 2-core CPU when it is otherwise idle,
#: with channels_last and the in-memory data path: the two-thread costs
#: measured at a quiet moment for the one-process runner (``train_step`` at
#: batch 128: ResNet-26 0.38 s, ResNet-8 0.16 s with data loading; teacher
#: forward 0.09 / 0.035 s; evaluation 1.15 / 0.35 ms per image; ~5 s to
#: build a runner) times 1.6 (one thread instead of two, measured), the
#: training and forward costs then times what tools/reproduce/speed_probe.py
#: measured for channels_last + in-memory data against the configs' path at
#: one thread (ResNet-26 0.76-0.78, ResNet-8 0.60-0.62, FSP stage 1
#: 0.67; medians of interleaved rounds with other jobs on the cores;
#: docs/reproduction.md, "Speed"). The configs' per-image data pipeline
#: adds 0.02-0.05 s per iteration (measured there too).
CPU_COSTS = CostModel(
    name='this project\'s 2-core CPU, one thread per run',
    measured=True,
    train_iter_s={'resnet26': 0.46, 'resnet8': 0.16},
    forward_iter_s={'resnet26': 0.11, 'resnet8': 0.042},
    eval_image_s={'resnet26': 0.0018, 'resnet8': 0.00056},
    runner_start_s=5.0,
    test_runner_start_s=2.0,
    pipeline_iter_s=0.03)

#: ASSUMED costs of one run on an H100-class GPU with AMP and the data on
#: the GPU (not measured: no GPU was available). Small CIFAR ResNets at
#: batch 128 on 28x28 images are bound by kernel launches, a few hundred
#: per iteration.
GPU_COSTS = CostModel(
    name='an H100-class GPU (ASSUMED costs, not measured)',
    measured=False,
    train_iter_s={'resnet26': 0.012, 'resnet8': 0.005},
    forward_iter_s={'resnet26': 0.003, 'resnet8': 0.0012},
    eval_image_s={'resnet26': 0.00002, 'resnet8': 0.00001},
    runner_start_s=15.0,
    test_runner_start_s=8.0,
    pipeline_iter_s=0.02,
    speedup=lambda threads: 1.0,
    device_share=gpu_device_share)


def cost_model(machine: Machine) -> CostModel:
    """The costs for ``machine``'s kind."""
    return CPU_COSTS if machine.kind == 'cpu' else GPU_COSTS


def scaled_costs(costs: CostModel, factor: float, why: str) -> CostModel:
    """``costs`` with every time multiplied by ``factor`` (a machine that
    many times slower; ``why`` says how it was measured)."""
    if not factor > 0:
        raise ValueError(f'a cost factor must be positive, got {factor}')
    return replace(
        costs, name=f'{costs.name} x {factor:.2f} ({why})',
        train_iter_s={k: v * factor for k, v in costs.train_iter_s.items()},
        forward_iter_s={k: v * factor
                        for k, v in costs.forward_iter_s.items()},
        eval_image_s={k: v * factor for k, v in costs.eval_image_s.items()},
        runner_start_s=costs.runner_start_s * factor,
        test_runner_start_s=costs.test_runner_start_s * factor,
        pipeline_iter_s=costs.pipeline_iter_s * factor)

