"""The local engine: shards run in this process, one after another.

The numerics that use it already spread one shard's work over the free cores
(:mod:`synth.neighbors.search` runs query chunks on threads), so running shards side by
side here would only oversubscribe the machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from synth.execution.engine import Engine, Shard, ShardTiming
from synth.execution.progress import track

R = TypeVar("R")


class LocalEngine(Engine):
    """Runs every shard in this process (no Ray needed)."""

    name = "local"

    def map(
        self,
        fn: Callable[..., R],
        shards: Sequence[Shard],
        *,
        shared: Mapping[str, Any] | None = None,
        label: str = "work",
    ) -> list[R]:
        shared = dict(shared or {})
        tracker = track(label, sum(s.rows for s in shards), len(shards))
        out = []
        try:
            for s in shards:
                started = time.perf_counter()
                out.append(fn(shared, *s.args))
                self.timings.append(ShardTiming(label, s.rows, time.perf_counter() - started, s.work))
                tracker.advance(s.rows)
        finally:
            tracker.close()
        return out
