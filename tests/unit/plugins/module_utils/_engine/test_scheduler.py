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
