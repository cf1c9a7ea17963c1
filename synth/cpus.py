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

    The idle share of all CPUs over ``sample_seconds`` (``/proc/stat``, while the calling
    thread sleeps, so this process's own work is not counted if it calls this between
    tasks), times the online CPUs, rounded so that a CPU three-quarters idle counts as
    free. It sees other work the moment it starts, unlike the load average, which lags a
    minute behind. Off Linux it falls back to the usable cores less the 1-minute load
    average beyond this process's own one runnable thread.
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
    """Idle CPUs (0..online CPUs) over ``seconds``, from the aggregate line of /proc/stat."""
    first = _cpu_times()
    if first is None:
        return None
    time.sleep(seconds)
    second = _cpu_times()
    if second is None:
        return None
    total = sum(second[0]) - sum(first[0])
    if total <= 0:
        return None
    # fields: user nice system idle iowait irq softirq steal ...; idle + iowait is free time
    idle = (second[0][3] + second[0][4]) - (first[0][3] + first[0][4])
    return second[1] * idle / total


def _cpu_times() -> tuple[list[int], int] | None:
    """(aggregate jiffies per state, number of online CPUs), or None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    agg = [int(v) for v in lines[0].split()[1:]] if lines and lines[0].startswith("cpu ") else None
    if agg is None or len(agg) < 5:
        return None
    online = sum(1 for line in lines if line.startswith("cpu") and not line.startswith("cpu "))
    return agg, max(1, online)


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
