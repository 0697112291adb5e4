"""The pieces one benchmark run shares: the test bed, the runner, the verifier and the results,
and how a workload's images are named on each side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import workloads as W
from link import LinkProfile
from results import Results
from runners import Runner
from testbed import Testbed
from verify import Expected, Verifier


@dataclass
class Bench:
    bed: Testbed
    runner: Runner
    verify: Verifier
    results: Results

    @property
    def profile(self) -> LinkProfile:
        return self.bed.profile

    def refs(self, wl: W.Workload) -> list[str]:
        """Source references as users give them: by digest for the release, by tag otherwise."""
        host = self.bed.src.host
        if wl.by_digest:
            return ["%s/%s@%s" % (host, item.repo, item.digest) for item in wl.images]
        return ["%s/%s:%s" % (host, item.repo, item.tag) for item in wl.images]

    @staticmethod
    def dest_tag(wl: W.Workload, item: W.BenchImage) -> str:
        """The tag both tools write in a registry destination (the module's deterministic tag)."""
        return ("mirror-sha256-" + item.digest.split(":", 1)[1]) if wl.by_digest else item.tag

    def expected_in_registry(self, wl: W.Workload) -> Expected:
        return [(item.repo, self.dest_tag(wl, item), item.digest, item.image) for item in wl.images]

    def module_args(self, wl: W.Workload, dest: str, **extra: Any) -> dict[str, Any]:
        args: dict[str, Any] = {"images": self.refs(wl), "dest": dest, "insecure_registries": [self.bed.src.host, dest]}
        args.update(extra)
        return args
