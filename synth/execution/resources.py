"""Peak memory of this process, per step: Linux's resident-set high-water mark (``VmHWM``),
which ``/proc/self/clear_refs`` can reset so each step's own peak is measured."""

from __future__ import annotations

import resource
from pathlib import Path


def reset_peak_rss() -> bool:
    """Reset the high-water mark to the current resident set (Linux >= 4.0); whether it worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    """Peak resident set size since the last reset (or process start), MiB.

    Memory held by other processes (Ray workers, the process pools of some libraries) is
    not included.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
