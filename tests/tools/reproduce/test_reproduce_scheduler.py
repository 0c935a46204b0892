"""tools/reproduce/scheduler.py: dependency order, critical path first,
thread shares, the simulated estimate, the progress line, and real spawned
workers running fake tasks (tests/tools/reproduce/fake_tasks.py)."""
import io
import json
import os

import pytest

from reproduce.scheduler import (DagScheduler, ProgressLine, SchedulerError,
                                 Slot, Task, TaskContext, _visible_device,
                                 check_tasks, critical_paths,
                                 format_duration, progress_text, simulate,
                                 thread_shares, topological_order)
from tests.tools.reproduce import fake_tasks


def _noop(ctx):  # pragma: no cover - estimate-only tasks
    return None


def test_order_checks_and_critical_paths():
    tasks = [Task('student', _noop, deps=('teacher', ), cost=2),
             Task('teacher', _noop, cost=10),
             Task('alone', _noop, cost=5),
             Task('ensemble', _noop, deps=('student', 'alone'), cost=1)]
    order = topological_order(tasks)
    assert order.index('teacher') < order.index('student') < \
        order.index('ensemble')
    assert order.index('alone') < order.index('ensemble')
    paths = critical_paths(tasks)
    assert paths == dict(teacher=13, student=3, alone=6, ensemble=1)
    with pytest.raises(SchedulerError, match='unknown'):
        check_tasks([Task('a', _noop, deps=('b', ))])
    check_tasks([Task('a', _noop, deps=('b', ))], finished=['b'])
    with pytest.raises(SchedulerError, match='cycle'):
        check_tasks([Task('a', _noop, deps=('b', )),
                     Task('b', _noop, deps=('a', ))])
    with pytest.raises(SchedulerError, match='same key'):
        check_tasks([Task('a', _noop), Task('a', _noop)])


def test_thread_shares_give_idle_slots_to_the_runs_left():
    slots = [Slot('cpu', 1), Slot('cpu', 1)]
    assert thread_shares(['a', 'b'], slots, waiting=False) == dict(a=1, b=1)
    assert thread_shares(['a'], slots, waiting=False) == dict(a=2)
    # a run waiting for a slot keeps the threads where they are
    assert thread_shares(['a'], slots, waiting=True) == dict(a=1)
    three = [Slot('cpu', 1)] * 3
    assert thread_shares(['a', 'b'], three, waiting=False) == dict(a=2, b=1)
    assert thread_shares([], slots, waiting=False) == {}


def test_simulate_schedules_the_critical_path_first():
    tasks = [Task('teacher', _noop, cost=10),
             Task('student', _noop, deps=('teacher', ), cost=10),
             Task('x', _noop, cost=5), Task('y', _noop, cost=5)]
    one = [Slot()]
    assert simulate(tasks, one) == pytest.approx(30)
    two = [Slot(), Slot()]
    # teacher + student on one slot, x then y on the other
    assert simulate(tasks, two) == pytest.approx(20)
    # a lone run gets both threads: 2x faster with a perfect speedup
    lone = [Task('t', _noop, cost=10)]
    assert simulate(lone, two, speedup=lambda n: n) == pytest.approx(5)
    assert simulate(lone, two) == pytest.approx(10)  # no gain by default
    # the rest of a running task
    assert simulate(tasks, two, remaining=dict(teacher=2),
                    running=['teacher']) == pytest.approx(12)
    assert simulate(tasks[2:], two, done=['teacher']) == pytest.approx(5)
    # four runs sharing one device at half speed each
    four = [Task(k, _noop, cost=10) for k in 'abcd']
    shared = [Slot('cuda:0')] * 4
    assert simulate(four, shared,
                    device_share=lambda n: 2 / n) == pytest.approx(20)
    assert simulate([], two) == 0


def test_progress_text_and_line():
    text = progress_text(3, {'teacher': (350, 1050), 'ens': (0, 0)}, 5,
                         754, 3725.4, failed=1)
    assert text == ('[12:34] 3/11 done, 2 running, 5 queued, 1 failed, '
                    '~1:02:05 left | teacher 350/1050, ens')
    assert progress_text(0, {}, 2, 0, None).endswith('~? left')
    assert len(progress_text(0, {f'run{i}': (1, 2) for i in range(50)}, 0,
                             0, 0, width=80)) == 80
    assert format_duration(59.6) == '1:00'
    tty = io.StringIO()
    line = ProgressLine(tty, tty=True)
    line.update('abc')
    line.update('abc')  # unchanged: nothing written
    line.update('x')
    line.log('run done')
    line.update('y')
    line.close()
    assert tty.getvalue() == ('\rabc\rx  \r \rrun done\n\ry\n')
    pipe = io.StringIO()
    line = ProgressLine(pipe, interval=3600, tty=False)
    line.update('first')
    line.update('second')  # within the interval: not written
    line.update('third', force=True)
    line.log('done')
    assert pipe.getvalue() == 'first\nthird\ndone\n'


def _chain(out: str, seconds: float = 0.2):
    """a -> b -> d and c -> d, with e independent."""
    def task(key, deps=(), cost=1.0):
        return Task(key, fake_tasks.work, (out, seconds), deps, cost, 5,
                    os.path.join(out, 'logs', f'{key}.log'))
    return [task('a', cost=3), task('b', ('a', ), 3), task('c'),
            task('d', ('b', 'c')), task('e')]


def _records(out):
    recs = {}
    for name in os.listdir(out):
        if name.endswith('.json'):
            with open(os.path.join(out, name)) as f:
                recs[name[:-5]] = json.load(f)
    return recs


def test_spawned_workers_respect_dependencies_and_resume(tmp_path):
    out = str(tmp_path)
    stream = io.StringIO()
    scheduler = DagScheduler([Slot(), Slot()], ProgressLine(stream,
                                                           tty=False),
                             poll=0.1)
    seen = []
    outcome = scheduler.run(
        _chain(out), on_result=lambda k, r, s: seen.append(k) or f'{k} ok')
    assert outcome.ok and sorted(outcome.results) == list('abcde')
    recs = _records(out)
    # each task started after the tasks it needs ended, and got their
    # results
    for key, deps in dict(b='a', d='bc').items():
        for dep in deps:
            assert recs[key]['start'] >= recs[dep]['end']
        assert recs[key]['inputs'] == sorted(deps)
    assert outcome.results['d']['total'] == 4  # d + b + a + c
    # two worker processes, neither of them this one
    pids = {r['pid'] for r in recs.values()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert all(r['device'] == 'cpu' for r in recs.values())
    # the per-task logs, and one line per finished task in the display
    with open(os.path.join(out, 'logs', 'c.log')) as f:
        assert 'hello from c' in f.read()
    text = stream.getvalue()
    assert sorted(seen) == list('abcde')
    assert all(f'{k} ok' in text for k in 'abcde')
    assert '5/5 done, 0 running, 0 queued' in text

    # finished tasks are not run again; their results feed the others
    for name in os.listdir(out):
        if name.endswith('.json'):
            os.remove(os.path.join(out, name))
    finished = {k: outcome.results[k] for k in 'abc'}
    again = scheduler.run(_chain(out), finished=finished)
    assert sorted(_records(out)) == ['d', 'e']
    assert again.results['d']['total'] == 4
    assert set(again.seconds) == {'d', 'e'}


def test_failures_skip_dependents_and_a_dead_worker_is_replaced(tmp_path):
    out = str(tmp_path)
    tasks = [
        Task('bad', fake_tasks.fail, (out, ), cost=5,
             log_file=os.path.join(out, 'bad.log')),
        Task('after_bad', fake_tasks.work, (out, ), ('bad', )),
        Task('dies', fake_tasks.die, (out, ), cost=4),
        Task('after_dies', fake_tasks.work, (out, ), ('dies', )),
        Task('fine', fake_tasks.work, (out, )),
        Task('fine2', fake_tasks.work, (out, ), cost=0.5),
    ]
    stream = io.StringIO()
    outcome = DagScheduler([Slot(), Slot()],
                           ProgressLine(stream, tty=False),
                           poll=0.1).run(tasks)
    assert not outcome.ok
    assert sorted(outcome.results) == ['fine', 'fine2']
    assert 'ValueError: bad fails on purpose' in outcome.failed['bad']
    assert 'exited with code 3' in outcome.failed['dies']
    assert sorted(outcome.skipped) == ['after_bad', 'after_dies']
    with open(os.path.join(out, 'bad.log')) as f:
        assert 'fails on purpose' in f.read()
    assert 'bad: FAILED' in stream.getvalue()
    assert 'after_dies: skipped' in stream.getvalue()


def test_a_lone_run_gets_the_idle_slots_threads(tmp_path):
    out = str(tmp_path)
    tasks = [Task('long', fake_tasks.wait_for_threads, (out, 2), cost=10),
             Task('short', fake_tasks.work, (out, 0.5), cost=1)]
    outcome = DagScheduler([Slot('cpu', 1), Slot('cpu', 1)],
                           ProgressLine(io.StringIO(), tty=False),
                           poll=0.1).run(tasks)
    assert outcome.ok
    # one thread while the short run ran beside it, then both
    assert outcome.results['long']['threads'][-1] == 2


def test_inline_runs_in_this_process_in_dependency_order(tmp_path):
    out = str(tmp_path)
    outcome = DagScheduler([Slot()], ProgressLine(io.StringIO(), tty=False),
                           inline=True).run(_chain(out, 0.0))
    recs = _records(out)
    assert {r['pid'] for r in recs.values()} == {os.getpid()}
    assert recs['b']['start'] >= recs['a']['end']
    assert recs['d']['start'] >= max(recs['b']['end'], recs['c']['end'])
    assert outcome.results['d']['total'] == 4
    with pytest.raises(SchedulerError):
        DagScheduler([])


def test_gpu_workers_see_their_own_device(monkeypatch):
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)
    assert _visible_device('cpu') is None
    assert _visible_device('cuda:1') == '1'
    assert _visible_device('cuda') == '0'
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '4,6')
    assert _visible_device('cuda:1') == '6'


def test_context_speaks_the_ablation_progress_protocol():
    sent = []
    ctx = TaskContext('k', {'t': 1}, 'cpu', sent.append, lambda: 3)
    ctx['k'] = 7  # tools/fsp_ablation.py: progress[key] = iteration
    assert sent == [7]
    assert ctx.get('threads', 1) == 3 and ctx.get('other', 'x') == 'x'
    ctx.report(8)  # within REPORT_INTERVAL_S of the last: not sent
    ctx.report(9, force=True)
    assert sent == [7, 9] and ctx.inputs == {'t': 1}
