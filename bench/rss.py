"""Peak memory of the running process, for the benchmarks' child processes (no heavy imports
here: a child's figure should be its own work's)."""

from __future__ import annotations

import resource
from pathlib import Path


def max_rss_mib() -> float:
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: a child started
    by fork and exec reports its parent's peak in ru_maxrss when that was higher."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
