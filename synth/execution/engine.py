"""The engine contract: map a function over shards of work, with large inputs shared once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class Shard:
    """One independent piece of work: ``args`` for the shard function, and how many rows
    (queries, resamples, ...) it covers, for the progress bar's rows/s."""

    args: tuple[Any, ...]
    rows: int = 1
    work: dict[str, Any] = field(default_factory=dict)  # what a cost model needs (e.g. reference rows)


@dataclass
class ShardTiming:
    """How long one shard took where it ran (seconds inside the worker, transfers excluded),
    and, for shards run in another process, that worker's peak memory during the shard (MiB)."""

    label: str
    rows: int
    seconds: float
    work: dict[str, Any] = field(default_factory=dict)
    worker_peak_rss_mib: float | None = None


class Engine(ABC):
    """Runs ``fn(shared, *shard.args)`` for every shard and returns the results in shard order.

    ``shared`` is a mapping of large read-only inputs (arrays, tables) that every shard
    needs: an engine sends it to its workers once per :meth:`map`, never once per shard.
    ``fn`` must be a module-level function (it may be pickled to another process) whose
    result depends only on its arguments, so where a shard runs cannot change the result.
    """

    name: str = "engine"
    # Every shard's timing, in completion order (benchmarks fit their scaling models to these).
    timings: list[ShardTiming]

    def __init__(self) -> None:
        self.timings = []

    @property
    def distributed(self) -> bool:
        """Whether shards leave this process (then callers cut work into many shards)."""
        return False

    @property
    def workers(self) -> int:
        """How many shards can run at the same time."""
        return 1

    @abstractmethod
    def map(
        self,
        fn: Callable[..., R],
        shards: Sequence[Shard],
        *,
        shared: Mapping[str, Any] | None = None,
        label: str = "work",
    ) -> list[R]:
        """``[fn(shared, *s.args) for s in shards]``, run where the engine runs work."""

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the engine."""
        return {"engine": self.name, "workers": self.workers}

    def close(self) -> None:
        """Release what the engine holds (a cluster connection it opened)."""
