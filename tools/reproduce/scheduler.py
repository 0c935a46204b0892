"""A small DAG executor over spawned worker processes: the one scheduler of
the project's multi-run tools (tools/reproduce.py; tools/fsp_ablation.py and
tools/demo.py can use it the same way, docs/reproduction.md, "Parallel
runs").

A :class:`Task` is a module-level function ``fn(ctx, *args)`` with the keys
of the tasks it needs (``deps``) and an estimate of its seconds (``cost``).
:class:`DagScheduler` runs the tasks in worker processes, one per
:class:`Slot` (a device and a number of torch threads), each task as soon
as its dependencies have finished, the ready task with the longest chain of
work behind it first (critical path first). A task receives a
:class:`TaskContext`: the results of its dependencies (``ctx.inputs``), its
device, and :meth:`TaskContext.report` to publish its iteration, which also
applies the torch threads the scheduler gives it: when fewer tasks run than
there are slots and none is waiting, the idle slots' threads go to the
tasks still running. A failed task is reported and the tasks that depend on
it are skipped; the others go on. Each task's stdout and stderr go to its
own log file; the terminal shows one progress line for the whole plan
(:class:`ProgressLine`): runs done / running / queued, elapsed time and an
estimate of the time left, from :func:`simulate` of the remaining work with
the plan's costs corrected by the runs finished so far.

Workers are started with the ``spawn`` method (a fresh interpreter each,
safe with threads and CUDA) and serve task after task; a worker on a GPU
slot sees only its device (``CUDA_VISIBLE_DEVICES``). ``inline=True`` runs
the tasks one after the other in the calling process (tests, debugging).
Nothing here imports torch before a worker has chosen its device.
"""
import math
import multiprocessing as mp
import os
import pickle
import queue
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, List, Mapping, Optional, Sequence,
                    TextIO, Tuple)

#: seconds between two progress messages of one task
REPORT_INTERVAL_S = 0.5
#: seconds between two simulations of the time left (progress line)
ETA_INTERVAL_S = 5.0


class SchedulerError(RuntimeError):
    """The tasks cannot be scheduled (unknown dependency, cycle, no slot)."""


@dataclass(frozen=True)
class Task:
    """One unit of work.

    Args:
        key (str): unique name.
        fn (Callable): a module-level function (picklable), called as
            ``fn(ctx, *args)`` in a worker; returns a picklable result.
        args (tuple): its arguments after the context. Defaults to ().
        deps (tuple[str]): keys of the tasks whose results it needs.
            Defaults to ().
        cost (float): estimated seconds with one thread, alone on its
            device, for the order (longest chain first) and the time
            estimates. Defaults to 1.
        iterations (int): its length in iterations, for the progress line
            (0: not shown). Defaults to 0.
        log_file (str, optional): where the task's stdout and stderr go.
            Defaults to None (the worker's own).
    """

    key: str
    fn: Callable[..., Any]
    args: tuple = ()
    deps: Tuple[str, ...] = ()
    cost: float = 1.0
    iterations: int = 0
    log_file: Optional[str] = None


@dataclass(frozen=True)
class Slot:
    """Where one worker runs its tasks: ``device`` ('cpu', 'cuda:0', ...)
    and the torch threads of a task when every slot is busy."""

    device: str = 'cpu'
    threads: int = 1


class TaskContext:
    """What a task gets besides its arguments.

    Attributes:
        key (str): the task's key.
        inputs (dict): the results of its dependencies, by key.
        device (str): the device its worker uses ('cpu' or 'cuda'; a GPU
            worker sees only its own device).
    """

    def __init__(self, key: str, inputs: Mapping[str, Any], device: str,
                 send: Optional[Callable[[int], None]] = None,
                 allowance: Optional[Callable[[], int]] = None) -> None:
        self.key = key
        self.inputs = dict(inputs)
        self.device = device
        self._send = send
        self._allowance = allowance
        self._last_sent = 0.0
        self._threads = 0

    @property
    def threads(self) -> int:
        """The torch threads the scheduler gives this task now."""
        return self._allowance() if self._allowance is not None else 1

    def apply_threads(self) -> int:
        """Set torch's threads to :attr:`threads` if they changed (before
        torch is imported: the environment it reads them from); returns
        them."""
        threads = self.threads
        if threads != self._threads:
            torch = sys.modules.get('torch')
            if torch is None:
                os.environ['OMP_NUM_THREADS'] = str(threads)
                os.environ['MKL_NUM_THREADS'] = str(threads)
            else:
                torch.set_num_threads(threads)
                self._threads = threads
        return threads

    def report(self, iteration: int, force: bool = False) -> None:
        """Publish the task's iteration (at most every
        :data:`REPORT_INTERVAL_S` seconds unless ``force``) and apply the
        threads it is given now."""
        self.apply_threads()
        now = time.monotonic()
        if self._send is not None and (force or now - self._last_sent >=
                                       REPORT_INTERVAL_S):
            self._last_sent = now
            self._send(int(iteration))

    # The progress-dict protocol of tools/fsp_ablation.py's ``execute``
    # (``progress[key] = iteration``; ``progress.get('threads', 1)``), so
    # that its runs take a context in place of a Manager dict.
    def __setitem__(self, key: str, iteration: int) -> None:
        self.report(iteration)

    def get(self, name: str, default: Any = None) -> Any:
        return self.threads if name == 'threads' else default


@dataclass
class Outcome:
    """What :meth:`DagScheduler.run` did: ``results`` of the finished tasks
    (those given as finished included), ``failed`` (key -> error text),
    ``skipped`` (keys not run because a dependency failed) and ``seconds``
    (key -> wall seconds of the tasks run now)."""

    results: Dict[str, Any] = field(default_factory=dict)
    failed: Dict[str, str] = field(default_factory=dict)
    skipped: List[str] = field(default_factory=list)
    seconds: Dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


# ---------------------------------------------------------------- order
def check_tasks(tasks: Sequence[Task],
                finished: Sequence[str] = ()) -> None:
    """Raise :class:`SchedulerError` for duplicate keys, dependencies that
    are neither tasks nor ``finished``, and cycles."""
    keys = [t.key for t in tasks]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise SchedulerError(f'tasks with the same key: {dup}')
    known = set(keys) | set(finished)
    for task in tasks:
        missing = [d for d in task.deps if d not in known]
        if missing:
            raise SchedulerError(f'{task.key} depends on unknown {missing}')
    topological_order(tasks)


def topological_order(tasks: Sequence[Task]) -> List[str]:
    """The keys with every task after the tasks it depends on (stable:
    plan order among independent tasks); dependencies outside ``tasks``
    count as done."""
    by_key = {t.key: t for t in tasks}
    state: Dict[str, int] = {}
    order: List[str] = []

    def visit(key: str, path: Tuple[str, ...]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            raise SchedulerError(
                f'dependency cycle: {" -> ".join(path + (key, ))}')
        state[key] = 1
        for dep in by_key[key].deps:
            if dep in by_key:
                visit(dep, path + (key, ))
        state[key] = 2
        order.append(key)

    for task in tasks:
        visit(task.key, ())
    return order


def critical_paths(tasks: Sequence[Task],
                   cost: Optional[Mapping[str, float]] = None
                   ) -> Dict[str, float]:
    """Per task, its cost plus the longest chain of costs of the tasks
    that (transitively) wait for it: the ready task with the largest one
    goes first."""
    cost = cost or {t.key: t.cost for t in tasks}
    children: Dict[str, List[str]] = {t.key: [] for t in tasks}
    for task in tasks:
        for dep in task.deps:
            if dep in children:
                children[dep].append(task.key)
    out: Dict[str, float] = {}
    for key in reversed(topological_order(tasks)):
        out[key] = cost[key] + max((out[c] for c in children[key]),
                                   default=0.0)
    return out


def thread_shares(running: Sequence[str], slots: Sequence[Slot],
                  waiting: bool) -> Dict[str, int]:
    """The torch threads of each running task (``running``, most urgent
    first): its slot's threads while tasks wait for a slot; otherwise the
    threads of all slots shared among the running tasks (the first ones get
    the remainder)."""
    if not running:
        return {}
    base = max(1, min(s.threads for s in slots))
    if waiting or len(running) >= len(slots):
        return {key: base for key in running}
    budget = sum(s.threads for s in slots)
    share, extra = divmod(budget, len(running))
    return {key: max(1, share + (1 if i < extra else 0))
            for i, key in enumerate(running)}


# ------------------------------------------------------------ estimates
def simulate(tasks: Sequence[Task], slots: Sequence[Slot],
             speedup: Callable[[int], float] = lambda threads: 1.0,
             remaining: Optional[Mapping[str, float]] = None,
             running: Sequence[str] = (),
             done: Sequence[str] = (),
             device_share: Callable[[int], float] = lambda runs: 1.0
             ) -> float:
    """Seconds until ``tasks`` have all finished when
    :class:`DagScheduler` runs them on ``slots``.

    Args:
        tasks (Sequence[Task]): the tasks not finished yet.
        slots (Sequence[Slot]): the workers.
        speedup (Callable[[int], float]): a task's speed with ``n`` threads
            relative to one thread (its ``cost``). Defaults to no gain.
        remaining (Mapping[str, float], optional): one-thread seconds left
            of a task (running ones), instead of its cost.
        running (Sequence[str]): tasks started already (they keep a slot).
        done (Sequence[str]): finished tasks (dependencies met).
        device_share (Callable[[int], float]): the speed of each of ``n``
            tasks sharing one device relative to one alone (1 for CPU cores,
            each slot its own). Defaults to no slowdown.

    Returns:
        float: the simulated makespan in seconds.
    """
    if not tasks:
        return 0.0
    if not slots:
        raise SchedulerError('no slots to run the tasks on')
    left = {t.key: float(t.cost) for t in tasks}
    left.update({k: float(v) for k, v in (remaining or {}).items()
                 if k in left})
    priority = critical_paths(tasks, left)
    deps = {t.key: [d for d in t.deps if d in left] for t in tasks}
    finished = set(done)
    order = {t.key: i for i, t in enumerate(tasks)}
    active: Dict[str, int] = {}  # key -> slot index
    for key in running:
        if key in left:
            active[key] = len(active) % len(slots)
    now = 0.0
    while left:
        ready = sorted((k for k in left if k not in active and all(
            d in finished for d in deps[k])), key=lambda k: (-priority[k],
                                                             order[k]))
        free = [i for i in range(len(slots)) if i not in active.values()]
        while ready and free:
            active[ready.pop(0)] = free.pop(0)
        if not active:
            raise SchedulerError('tasks wait for tasks that never run')
        urgent = sorted(active, key=lambda k: (-priority[k], order[k]))
        threads = thread_shares(urgent, slots, waiting=bool(ready))
        per_device: Dict[str, int] = {}
        for slot_index in active.values():
            dev = slots[slot_index].device
            per_device[dev] = per_device.get(dev, 0) + 1
        rate = {
            k: speedup(threads[k]) * device_share(per_device[slots[i].device])
            for k, i in active.items()
        }
        step = min(left[k] / rate[k] for k in active)
        now += step
        for key in list(active):
            left[key] -= step * rate[key]
            if left[key] <= 1e-9:
                del left[key], active[key]
                finished.add(key)
    return now


# ------------------------------------------------------------- display
def format_duration(seconds: Optional[float]) -> str:
    """``'1:02:03'``, ``'2:03'`` or ``'?'``."""
    if seconds is None or not math.isfinite(seconds):
        return '?'
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f'{hours}:{minutes:02d}:{secs:02d}' if hours else \
        f'{minutes}:{secs:02d}'


def progress_text(done: int, running: Mapping[str, Tuple[int, int]],
                  queued: int, elapsed: float, left: Optional[float],
                  failed: int = 0, width: int = 160) -> str:
    """The progress line: counts, elapsed and estimated remaining time,
    then the running tasks with their iteration (``running``: key ->
    ``(iteration, iterations)``)."""
    total = done + len(running) + queued + failed
    text = (f'[{format_duration(elapsed)}] {done}/{total} done, '
            f'{len(running)} running, {queued} queued')
    if failed:
        text += f', {failed} failed'
    text += f', ~{format_duration(left)} left'
    parts = []
    for key, (it, iters) in running.items():
        parts.append(f'{key} {it}/{iters}' if iters else key)
    if parts:
        text += ' | ' + ', '.join(parts)
    if len(text) > width:
        text = text[:width - 3] + '...'
    return text


def _terminal() -> TextIO:
    """This process's stdout as it is now, kept when a task run in this
    process sends file descriptor 1 to its log (``inline``)."""
    try:
        return os.fdopen(os.dup(sys.stdout.fileno()), 'w', buffering=1)
    except (AttributeError, OSError, ValueError):  # no file descriptor
        return sys.stdout


class ProgressLine:
    """One progress line that updates in place on a terminal (``\\r``);
    on a file or pipe, a full line every ``interval`` seconds. Lines
    printed with :meth:`log` go above it.

    Args:
        stream (TextIO, optional): Defaults to ``sys.stdout``.
        interval (float): seconds between two lines when ``stream`` is not
            a terminal. Defaults to 60.
        tty (bool, optional): overrides ``stream.isatty()``.
    """

    def __init__(self, stream: Optional[TextIO] = None,
                 interval: float = 60.0, tty: Optional[bool] = None) -> None:
        self.stream = stream or _terminal()
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval
        self._shown = ''
        self._last = -math.inf

    def update(self, text: str, force: bool = False) -> None:
        if self.tty:
            if text != self._shown:
                pad = max(0, len(self._shown) - len(text))
                self.stream.write('\r' + text + ' ' * pad)
                self.stream.flush()
                self._shown = text
            return
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self.stream.write(text + '\n')
            self.stream.flush()
            self._last = now

    def log(self, text: str) -> None:
        if self.tty and self._shown:
            self.stream.write('\r' + ' ' * len(self._shown) + '\r')
            self._shown = ''
        self.stream.write(text + '\n')
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._shown:
            self.stream.write('\n')
            self.stream.flush()
            self._shown = ''


# -------------------------------------------------------------- workers
def _visible_device(device: str) -> Optional[str]:
    """The ``CUDA_VISIBLE_DEVICES`` value of a worker on ``device``."""
    if not device.startswith('cuda'):
        return None
    index = int(device.split(':')[1]) if ':' in device else 0
    visible = os.environ.get('CUDA_VISIBLE_DEVICES')
    if visible:
        ids = [v.strip() for v in visible.split(',') if v.strip()]
        return ids[index]
    return str(index)


class _Redirect:
    """Send this process's stdout and stderr (file descriptors 1 and 2,
    so C-level output too) to a file; undo on exit."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self.saved: List[int] = []

    def __enter__(self) -> '_Redirect':
        if self.path is None:
            return self
        os.makedirs(os.path.dirname(os.path.abspath(self.path)),
                    exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                     0o644)
        self.saved = [os.dup(1), os.dup(2)]
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        return self

    def __exit__(self, *exc) -> None:
        if not self.saved:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        for fd in self.saved:
            os.close(fd)
        self.saved = []


def _call(task_fn: Callable, args: tuple, ctx: TaskContext,
          log_file: Optional[str]) -> Tuple[bool, Any]:
    """Run one task: ``(True, result)`` or ``(False, traceback text)``."""
    with _Redirect(log_file):
        try:
            ctx.apply_threads()
            result = task_fn(ctx, *args)
            pickle.dumps(result)  # a result the parent cannot read fails
            return True, result
        except (Exception, SystemExit):  # noqa: B902 - reported, not raised
            text = traceback.format_exc()
            sys.stderr.write(text)
            return False, text


def _worker_main(index: int, slot: Slot, tasks: 'mp.Queue',
                 events: 'mp.Queue', allowance, parent: int) -> None:
    """A worker process: take tasks from ``tasks`` until None (or until
    its parent ``parent`` is gone), put ``('progress' | 'done' | 'failed',
    index, key, payload)`` on ``events``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    visible = _visible_device(slot.device)
    if visible is not None:
        os.environ['CUDA_VISIBLE_DEVICES'] = visible
    device = 'cuda' if visible is not None else 'cpu'
    while True:
        try:
            message = tasks.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return  # the scheduler died: do not linger
            continue
        if message is None:
            return
        key, fn, args, inputs, log_file = message

        def send(iteration: int, key: str = key) -> None:
            events.put(('progress', index, key, iteration))

        ctx = TaskContext(key, inputs, device, send,
                          lambda: int(allowance.value))
        ok, payload = _call(fn, args, ctx, log_file)
        events.put(('done' if ok else 'failed', index, key, payload))


@dataclass
class _Worker:
    process: Any
    tasks: Any
    allowance: Any
    key: Optional[str] = None


# ------------------------------------------------------------ scheduler
class DagScheduler:
    """Run :class:`Task` s in worker processes, respecting dependencies.

    Args:
        slots (Sequence[Slot]): one worker per slot.
        line (ProgressLine, optional): the progress display. Defaults to a
            :class:`ProgressLine` on stdout.
        speedup (Callable[[int], float]): a task's speed with ``n`` threads
            relative to one thread, for the estimates. Defaults to
            ``n ** 0.68`` (1.6x for two threads, measured on this project's
            CPU).
        device_share (Callable[[int], float]): the speed of each of ``n``
            tasks sharing a device, for the estimates. Defaults to 1.
        inline (bool): run the tasks one by one in this process instead.
            Defaults to False.
        poll (float): seconds between two looks at the workers. Defaults
            to 0.5.
    """

    def __init__(self, slots: Sequence[Slot],
                 line: Optional[ProgressLine] = None,
                 speedup: Callable[[int], float] = lambda n: n ** 0.68,
                 device_share: Callable[[int], float] = lambda n: 1.0,
                 inline: bool = False, poll: float = 0.5) -> None:
        if not slots:
            raise SchedulerError('the scheduler needs at least one slot')
        self.slots = list(slots)
        self.line = line or ProgressLine()
        self.speedup = speedup
        self.device_share = device_share
        self.inline = inline
        self.poll = poll

    def estimate(self, tasks: Sequence[Task]) -> float:
        """Simulated seconds to run ``tasks`` from scratch."""
        return simulate(tasks, self.slots, self.speedup,
                        device_share=self.device_share)

    def run(self, tasks: Sequence[Task],
            finished: Optional[Mapping[str, Any]] = None,
            on_result: Optional[Callable[[str, Any, float],
                                         Optional[str]]] = None
            ) -> Outcome:
        """Run ``tasks``; ``finished`` holds the results of tasks done
        before (dependencies met, not run again). ``on_result(key, result,
        seconds)`` is called here as each task finishes; the text it returns
        is printed above the progress line."""
        finished = dict(finished or {})
        todo = [t for t in tasks if t.key not in finished]
        check_tasks(todo, list(finished))
        run = _Run(self, todo, finished, on_result)
        try:
            if self.inline:
                run.inline()
            else:
                run.parallel()
        finally:
            self.line.close()
        return run.outcome


class _Run:
    """The state of one :meth:`DagScheduler.run`."""

    def __init__(self, scheduler: DagScheduler, tasks: Sequence[Task],
                 finished: Dict[str, Any], on_result) -> None:
        self.s = scheduler
        self.tasks = {t.key: t for t in tasks}
        self.order = {t.key: i for i, t in enumerate(tasks)}
        self.priority = critical_paths(tasks)
        self.outcome = Outcome(results=dict(finished))
        self.on_result = on_result
        self.pending = set(self.tasks)  # not started
        self.running: Dict[str, float] = {}  # key -> start time
        self.progress: Dict[str, int] = {}
        self.shares: Dict[str, int] = {}  # key -> torch threads now
        self.start = time.monotonic()
        self.ratios: List[Tuple[float, float]] = []  # (estimated, measured)
        # (when computed, when all will be done, tasks finished then)
        self._eta: Tuple[float, Optional[float], int] = (-math.inf, None,
                                                         -1)

    # -------------------------------------------------------- bookkeeping
    def ready(self) -> List[str]:
        done = self.outcome.results
        keys = [k for k in self.pending
                if all(d in done for d in self.tasks[k].deps)]
        return sorted(keys, key=lambda k: (-self.priority[k], self.order[k]))

    def blocked(self) -> List[str]:
        """Pending tasks that can never run (a dependency failed)."""
        bad = set(self.outcome.failed) | set(self.outcome.skipped)
        changed = True
        out: List[str] = []
        while changed:
            changed = False
            for key in list(self.pending):
                if any(d in bad for d in self.tasks[key].deps):
                    self.pending.discard(key)
                    bad.add(key)
                    out.append(key)
                    changed = True
        return out

    def finish(self, key: str, ok: bool, payload: Any) -> None:
        started = self.running.pop(key, time.monotonic())
        seconds = time.monotonic() - started
        self.progress.pop(key, None)
        task = self.tasks[key]
        if ok:
            self.outcome.results[key] = payload
            self.outcome.seconds[key] = seconds
            self.ratios.append((task.cost, seconds))
            text = None
            if self.on_result is not None:
                text = self.on_result(key, payload, seconds)
            self.s.line.log(text or f'{key}: done in '
                            f'{format_duration(seconds)}')
        else:
            last = str(payload).strip().splitlines()[-1:] or ['']
            self.outcome.failed[key] = str(payload)
            where = f' (log: {task.log_file})' if task.log_file else ''
            self.s.line.log(f'{key}: FAILED after '
                            f'{format_duration(seconds)}: {last[0]}{where}')
        for skipped in self.blocked():
            self.outcome.skipped.append(skipped)
            self.s.line.log(f'{skipped}: skipped, a run it needs failed')

    def calibration(self) -> float:
        """Measured / estimated seconds of the tasks finished now (1 before
        any), within [0.2, 5]."""
        if not self.ratios:
            return 1.0
        est = sum(r[0] for r in self.ratios)
        got = sum(r[1] for r in self.ratios)
        return min(5.0, max(0.2, got / est)) if est > 0 else 1.0

    def time_left(self) -> Optional[float]:
        factor = self.calibration()
        now = time.monotonic()
        left_tasks = [self.tasks[k] for k in self.tasks
                      if k in self.pending or k in self.running]
        scaled = [Task(t.key, t.fn, (), t.deps, t.cost * factor)
                  for t in left_tasks]
        remaining = {}
        for key, started in self.running.items():
            task = self.tasks[key]
            est = task.cost * factor
            it = self.progress.get(key, 0)
            frac = min(1.0, it / task.iterations) if task.iterations else 0
            if frac >= 0.05:  # from the speed measured so far
                remaining[key] = (now - started) * (1 - frac) / frac * \
                    self.s.speedup(self.shares.get(key, 1))
            else:
                remaining[key] = max(0.05 * est, est - (now - started))
        try:
            return simulate(scaled, self.s.slots, self.s.speedup, remaining,
                            list(self.running), list(self.outcome.results),
                            self.s.device_share)
        except SchedulerError:
            return None

    def show(self, force: bool = False) -> None:
        now = time.monotonic()
        done = len([k for k in self.outcome.results if k in self.tasks])
        finished = done + len(self.outcome.failed)
        # the estimate is a simulation of the rest: at most every few
        # seconds, and whenever a task has finished
        if force or finished != self._eta[2] or \
                now - self._eta[0] >= ETA_INTERVAL_S:
            left = self.time_left()
            self._eta = (now, None if left is None else now + left,
                         finished)
        left = None if self._eta[1] is None else self._eta[1] - now
        running = {k: (self.progress.get(k, 0), self.tasks[k].iterations)
                   for k in sorted(self.running, key=self.order.get)}
        text = progress_text(done, running, len(self.pending),
                             now - self.start, left,
                             len(self.outcome.failed) +
                             len(self.outcome.skipped))
        self.s.line.update(text, force)

    # ------------------------------------------------------------ inline
    def inline(self) -> None:
        device = self.s.slots[0].device
        torch = sys.modules.get('torch')
        base = torch.get_num_threads() if torch is not None else None
        for key in self.ready_all():
            task = self.tasks[key]
            if key not in self.pending:
                continue  # skipped
            self.pending.discard(key)
            self.running[key] = time.monotonic()
            self.show(force=True)

            def send(iteration: int, key: str = key) -> None:
                self.progress[key] = iteration
                self.show()

            inputs = {d: self.outcome.results[d] for d in task.deps}
            ctx = TaskContext(key, inputs, device, send,
                              lambda: self.s.slots[0].threads)
            try:
                ok, payload = _call(task.fn, task.args, ctx, task.log_file)
            finally:
                if base is not None:
                    torch.set_num_threads(base)
            self.finish(key, ok, payload)

    def ready_all(self) -> List[str]:
        """All tasks in an order that respects dependencies (critical
        path first among those ready)."""
        order: List[str] = []
        done = set(self.outcome.results)
        left = set(self.tasks)
        while left:
            ready = [k for k in left
                     if all(d in done or d not in self.tasks
                            for d in self.tasks[k].deps)]
            ready.sort(key=lambda k: (-self.priority[k], self.order[k]))
            key = ready[0]
            order.append(key)
            left.discard(key)
            done.add(key)
        return order

    # ---------------------------------------------------------- parallel
    def parallel(self) -> None:
        ctx = mp.get_context('spawn')
        events = ctx.Queue()
        workers: List[Optional[_Worker]] = [None] * len(self.s.slots)

        def start(i: int) -> _Worker:
            slot = self.s.slots[i]
            tasks_q = ctx.Queue()
            allowance = ctx.RawValue('i', slot.threads)
            # not a daemon: a task may start processes of its own (data
            # loader workers); stop() ends the workers in every case
            proc = ctx.Process(target=_worker_main,
                               args=(i, slot, tasks_q, events, allowance,
                                     os.getpid()),
                               name=f'scheduler-worker-{i}')
            proc.start()
            return _Worker(proc, tasks_q, allowance)

        try:
            while self.pending or self.running:
                self.assign(workers, start)
                self.share_threads(workers)
                self.show()
                try:
                    event = events.get(timeout=self.s.poll)
                except queue.Empty:
                    event = None
                if event is not None:
                    self.handle(event, workers)
                self.check_workers(workers, events)
            self.show(force=True)
        finally:
            self.stop(workers)

    def handle(self, event: tuple, workers: List[Optional[_Worker]]) -> None:
        kind, index, key, payload = event
        if key not in self.running:
            return  # a task already given up (its worker died)
        if kind == 'progress':
            self.progress[key] = payload
            return
        worker = workers[index]
        if worker is not None and worker.key == key:
            worker.key = None
        self.finish(key, kind == 'done', payload)

    def assign(self, workers: List[Optional[_Worker]], start) -> None:
        for key in self.ready():
            free = [i for i, w in enumerate(workers)
                    if w is None or w.key is None]
            if not free:
                return
            i = free[0]
            if workers[i] is None:
                workers[i] = start(i)
            worker = workers[i]
            task = self.tasks[key]
            inputs = {d: self.outcome.results[d] for d in task.deps}
            self.pending.discard(key)
            self.running[key] = time.monotonic()
            worker.key = key
            worker.tasks.put((key, task.fn, task.args, inputs,
                              task.log_file))

    def share_threads(self, workers: List[Optional[_Worker]]) -> None:
        busy = {w.key: w for w in workers if w is not None and w.key}
        urgent = sorted(busy, key=lambda k: (-self.priority[k],
                                             self.order[k]))
        self.shares = thread_shares(urgent, self.s.slots,
                                    waiting=bool(self.ready()))
        for key, threads in self.shares.items():
            busy[key].allowance.value = threads

    def check_workers(self, workers: List[Optional[_Worker]],
                      events) -> None:
        """A worker that died (killed, out of memory, crashed in C) fails
        its task, unless the task's result came before it died; its slot
        gets a new worker for the next task."""
        for i, worker in enumerate(workers):
            if worker is None or worker.process.is_alive():
                continue
            while True:  # what it sent before it died
                try:
                    self.handle(events.get(timeout=0.05), workers)
                except queue.Empty:
                    break
            code = worker.process.exitcode
            workers[i] = None
            if worker.key is not None and worker.key in self.running:
                self.finish(worker.key, False,
                            f'the worker process exited with code {code}')

    def stop(self, workers: List[Optional[_Worker]]) -> None:
        """Ask idle workers to exit, end busy ones (an interrupt)."""
        for worker in workers:
            if worker is None:
                continue
            if worker.key is None and worker.process.is_alive():
                worker.tasks.put(None)
            else:
                worker.process.terminate()
        deadline = time.monotonic() + 10
        for worker in workers:
            if worker is None:
                continue
            worker.process.join(max(0.1, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1)


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)

