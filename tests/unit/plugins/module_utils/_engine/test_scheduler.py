import threading
import time

from ansible_collections.airgap.mirror.plugins.module_utils._engine.scheduler import Scheduler, Task
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import OCIError
from ansible_collections.airgap.mirror.plugins.module_utils._engine.registry import Deadline


def test_dependencies_run_first_and_concurrency_is_bounded():
    order, running, peak = [], [0], [0]
    lock = threading.Lock()

    def work(name):
        def fn():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.01)
            with lock:
                running[0] -= 1
                order.append(name)
        return fn

    blobs = [Task("b%d" % i, work("b%d" % i)) for i in range(10)]
    child = Task("child", work("child"), deps=blobs[:5])
    index = Task("index", work("index"), deps=[child] + blobs[5:])
    Scheduler(3).run(blobs + [child, index])
    assert peak[0] <= 3
    assert order.index("child") > max(order.index("b%d" % i) for i in range(5))
    assert order[-1] == "index"


def test_failure_cascades_only_to_dependents():
    def boom():
        raise OCIError("blob sha256:bad does not match its digest")

    ran = []
    bad = Task("bad", boom)
    good = Task("good", lambda: ran.append("good"))
    m1 = Task("m1", lambda: ran.append("m1"), deps=[bad, good])
    m2 = Task("m2", lambda: ran.append("m2"), deps=[good])
    Scheduler(2).run([bad, good, m1, m2])
    assert sorted(ran) == ["good", "m2"]
    assert m1.error is bad.error and "does not match" in str(m1.error)


def test_bugs_and_deadline_are_reported_not_raised():
    bug = Task("bug", lambda: 1 / 0)
    Scheduler(1).run([bug])
    assert "internal error" in str(bug.error) and "ZeroDivisionError" in str(bug.error)
    late = Task("late", lambda: None)
    deadline = Deadline(0.001)
    time.sleep(0.01)
    Scheduler(1, deadline=deadline).run([late])
    assert "deadline" in str(late.error)


def test_each_task_runs_exactly_once_when_dependencies_finish_during_submission():
    """A dependency finishing while the scheduler is still submitting the initially ready tasks
    used to get its dependent submitted twice: the run then ended before every task had run (an
    image reported copied whose tag was never pushed)."""
    runs = {}
    lock = threading.Lock()

    def count(name):
        def fn():
            with lock:
                runs[name] = runs.get(name, 0) + 1
        return fn

    for _attempt in range(5):
        runs.clear()
        firsts = [Task("a%d" % i, count("a%d" % i)) for i in range(300)]
        seconds = [Task("d%d" % i, count("d%d" % i), deps=[firsts[i]]) for i in range(300)]
        tops = [Task("t%d" % i, count("t%d" % i), deps=[seconds[i]]) for i in range(300)]
        tasks = []
        for i in range(300):  # each dependent right after its dependency, as Copier.build lists them
            tasks += [firsts[i], seconds[i], tops[i]]
        Scheduler(8).run(tasks)
        assert all(t.ended is not None for t in tasks), [t.name for t in tasks if t.ended is None][:5]
        assert runs == {t.name: 1 for t in tasks}


def _tracker():
    """(work factory, peaks): each task counts itself running, under its kind, while it sleeps."""
    lock = threading.Lock()
    running = {"heavy": 0, "all": 0}
    peaks = {"heavy": 0, "all": 0}

    def work(heavy, seconds=0.02):
        def fn():
            with lock:
                running["all"] += 1
                running["heavy"] += heavy
                peaks["all"] = max(peaks["all"], running["all"])
                peaks["heavy"] = max(peaks["heavy"], running["heavy"])
            time.sleep(seconds)
            with lock:
                running["all"] -= 1
                running["heavy"] -= heavy
        return fn
    return work, peaks


def test_heavy_tasks_are_bounded_while_light_ones_fill_the_workers():
    work, peaks = _tracker()
    heavy = [Task("h%d" % i, work(True), heavy=True) for i in range(12)]
    light = [Task("l%d" % i, work(False)) for i in range(24)]
    Scheduler(8, heavy_limit=2).run(heavy + light)
    assert all(t.ended is not None and t.error is None for t in heavy + light)
    assert peaks["heavy"] == 2  # never more, and the limit is used
    assert peaks["all"] == 8  # the light tasks ran beside the two heavy ones, on every worker


def test_a_waiting_heavy_task_does_not_hold_a_worker():
    """Heavy tasks beyond the limit wait in the scheduler's queue: the light tasks listed after
    them start at once instead of queuing behind them."""
    work, _peaks = _tracker()
    heavy = [Task("h%d" % i, work(True, 0.3), heavy=True) for i in range(6)]
    light = [Task("l%d" % i, work(False, 0.0)) for i in range(4)]
    Scheduler(4, heavy_limit=1).run(heavy + light)
    first_heavy_end = min(t.ended for t in heavy)
    assert all(t.ended < first_heavy_end for t in light)
    starts = sorted(t.started for t in heavy)
    assert all(later - earlier >= 0.29 for earlier, later in zip(starts, starts[1:]))  # one at a time


def test_heavy_dependencies_released_by_failure_and_deadline():
    def boom():
        raise OCIError("source gone")

    bad = [Task("bad%d" % i, boom, heavy=True) for i in range(3)]
    after = [Task("after%d" % i, lambda: None, deps=[bad[i]], heavy=True) for i in range(3)]
    fine = [Task("fine%d" % i, lambda: None, heavy=True) for i in range(3)]
    Scheduler(3, heavy_limit=1).run(bad + after + fine)
    assert all(t.error is not None for t in bad + after)
    assert all(t.error is None and t.ended is not None for t in fine)  # failed heavy tasks gave their slot back


def test_the_heavy_limit_is_at_most_the_workers():
    assert Scheduler(4, heavy_limit=10).heavy_limit == 4
    assert Scheduler(4, heavy_limit=0).heavy_limit == 1
    assert Scheduler(4).heavy_limit == 4
