"""How many CPUs this process can use now, and parallel work that does not oversubscribe them.

On a machine shared with other processes, native thread pools sized to the core count
oversubscribe it: OpenMP and BLAS workers spin at every barrier while the cores are held
by someone else, and a gradient-boosting fit that takes 1 s alone takes 100 s. Two rules
keep synth fast there:

1. size thread pools to the CPUs actually free (:func:`free_cpus`: the cores this process
   may run on, less what other processes use now), and
2. prefer independent single-threaded tasks run side by side (:func:`map_single_threaded`)
   over one multi-threaded task: independent tasks have no barrier to wait at, so a
   descheduled worker delays only itself.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")
R = TypeVar("R")

SAMPLE_SECONDS = 0.1  # how long free_cpus watches /proc/stat


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def free_cpus(sample_seconds: float = SAMPLE_SECONDS) -> int:
    """CPUs this process can use now without taking them from other processes, in [1, usable cores].

    The idle time of the CPUs this process may run on (its affinity mask) over
    ``sample_seconds``, from ``/proc/stat`` while the calling thread sleeps (so this
    process's own work is not counted when it calls this between tasks), in CPUs, rounded
    so that a CPU three-quarters idle counts as free. It sees other work the moment it
    starts, unlike the load average, which lags a minute behind. Off Linux it falls back to
    the usable cores less the 1-minute load average beyond this process's own one thread.
    """
    cores = usable_cores()
    idle = _idle_cpus(sample_seconds)
    if idle is not None:
        return max(1, min(cores, math.floor(idle + 0.25)))
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores
    return max(1, min(cores, math.floor(cores - max(0.0, load - 1.0) + 0.25)))


def _idle_cpus(seconds: float) -> float | None:
    """Idle CPUs among those this process may use, over ``seconds`` (per-CPU lines of /proc/stat)."""
    try:
        mine = os.sched_getaffinity(0)
    except AttributeError:
        return None
    first = _cpu_times(mine)
    if first is None:
        return None
    time.sleep(seconds)
    second = _cpu_times(mine)
    if second is None:
        return None
    idle = 0.0
    for cpu, (busy_1, idle_1) in first.items():
        busy_2, idle_2 = second.get(cpu, (busy_1, idle_1))
        total = (busy_2 - busy_1) + (idle_2 - idle_1)
        # a CPU that ticked no time in the window (tickless and idle) counts as free
        idle += 1.0 if total <= 0 else (idle_2 - idle_1) / total
    return idle


def _cpu_times(cpus: set[int]) -> dict[int, tuple[int, int]] | None:
    """CPU number -> (busy jiffies, idle jiffies) for ``cpus``; None off Linux.

    Fields: user nice system idle iowait irq softirq steal ...; idle and iowait are free time.
    """
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    out = {}
    for line in lines:
        name, _, rest = line.partition(" ")
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            fields = [int(v) for v in rest.split()]
            if len(fields) >= 5:
                idle = fields[3] + fields[4]
                out[int(name[3:])] = (sum(fields[:8]) - idle, idle)
    return out or None


def map_single_threaded(fn: Callable[[T], R], items: Iterable[T], n_jobs: int) -> list[R]:
    """``[fn(x) for x in items]`` on up to ``n_jobs`` threads, each task with single-threaded
    native code (OpenMP and BLAS limited to one thread); results in the order of ``items``.

    ``fn`` must release the GIL for its heavy work (scikit-learn's tree fits and
    predictions do) and must not depend on which thread runs it (seed it). The first
    exception is raised.
    """
    todo = list(items)

    def one(x: T) -> R:
        # OpenMP thread counts are per calling thread: limit this worker's own.
        with threadpool_limits(limits=1, user_api="openmp"):
            return fn(x)

    # BLAS pools are process-wide: set once here, not from the workers.
    with threadpool_limits(limits=1, user_api="blas"):
        if n_jobs <= 1 or len(todo) <= 1:
            return [one(x) for x in todo]
        with ThreadPoolExecutor(max_workers=min(n_jobs, len(todo))) as pool:
            return list(pool.map(one, todo))
