"""What the progress display costs per task: one no-op ``image_mirror`` task, with and without it.

A script that prints measurements, not a test. It builds a one-image OCI layout, mirrors it into a
second layout once, then times ``ansible-playbook`` running the same task again (nothing to copy:
the module resolves the image and finds it present) with ``progress: true`` and ``progress:
false``, alternating, on localhost (``ansible_connection=local``). It prints each run's wall time,
the median of each, and their difference: the fixed cost the background start, the polls and the
final fetch of the result add to every task.

Usage (from the checkout)::

    .venv/bin/python bench/progress_cost.py            # 5 runs of each
    .venv/bin/python bench/progress_cost.py --runs 9
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import conftest  # noqa: E402,F401  pylint: disable=unused-import  # makes this checkout importable as ansible_collections.airgap.mirror
from support import images as I  # noqa: E402
from support.ansible_run import AnsibleRunner  # noqa: E402

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror
      airgap.mirror.image_mirror:
        src: "oci:{{ src }}"
        images: [quay.io/org/app:1]
        dest: "oci:{{ dest }}"
        mirror_map: "{{ map }}"
        progress: {progress}
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="airgap-progress-cost-") as tmp:
        work = Path(tmp)
        layout = I.OCILayout(work / "src")
        I.build_image(layout, "quay.io/org/app:1", layers=[{"a": "1"}])
        runner = AnsibleRunner(work / "runner")
        plays = {}
        for progress in ("true", "false"):
            plays[progress] = work / ("play-%s.yml" % progress)
            plays[progress].write_text(PLAY.replace("{progress}", progress))
        extra = {"src": str(work / "src"), "dest": str(work / "dest"), "map": str(work / "map.yml")}
        first = runner.playbook(plays["false"], extra_vars=extra)
        if first.rc != 0:
            raise SystemExit(first.output)
        times: dict[str, list[float]] = {"true": [], "false": []}
        for n in range(args.runs):
            for progress in ("true", "false") if n % 2 == 0 else ("false", "true"):
                started = time.monotonic()
                res = runner.playbook(plays[progress], extra_vars=extra)
                seconds = time.monotonic() - started
                if res.rc != 0 or res.one("Mirror")["changed"]:
                    raise SystemExit("the no-op run was not a no-op:\n" + res.output)
                times[progress].append(seconds)
                print("run %d  progress=%-5s  %.2f s" % (n + 1, progress, seconds), flush=True)
    on, off = statistics.median(times["true"]), statistics.median(times["false"])
    print("median  progress=true  %.2f s   progress=false  %.2f s   cost of the display  %.2f s"
          % (on, off, on - off))


if __name__ == "__main__":
    main()
