"""Reading a py-spy raw profile of the module process (``--profile``)."""

from __future__ import annotations

import re
from pathlib import Path

ENGINE_FILES = ("copy.py", "registry.py", "layout.py", "store.py", "plan.py", "mirror.py", "manifest.py", "auth.py",
                "image_mirror.py")


def summarize_profile(path: Path, top: int = 12) -> list[str]:
    """Top leaf (self) frames, engine functions (inclusive) and the share spent importing/compiling
    (module start) of a py-spy raw profile (frames are ``function (file:line)``, files by basename)."""
    leaf: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = imports = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _sep, count = line.rpartition(" ")
        try:
            n = int(count)
        except ValueError:
            continue
        total += n
        frames = stack.split(";")
        leaf[frames[-1]] = leaf.get(frames[-1], 0) + n
        if any("importlib._bootstrap" in f or "zipimport" in f for f in frames):
            imports += n
        seen = set()
        for frame in frames:
            match = re.match(r"(.*) \((.*?):\d+\)$", frame)
            if match and match.group(2) in ENGINE_FILES:
                key = "%s (%s)" % (match.group(1), match.group(2))
                if key not in seen:
                    seen.add(key)
                    inclusive[key] = inclusive.get(key, 0) + n
    if not total:
        return ["(empty profile)"]
    out = ["%d samples; importing/compiling at module start: %.1f%%" % (total, 100.0 * imports / total)]
    out += ["%5.1f%%  %s" % (100.0 * n / total, f) for f, n in sorted(leaf.items(), key=lambda kv: -kv[1])[:top]]
    out.append("-- engine functions, inclusive:")
    out += ["%5.1f%%  %s" % (100.0 * n / total, f)
            for f, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]]
    return out
