"""Make anonymeter's singling-out and linkability evaluations repeat exactly for a seed.

Two draws inside anonymeter (1.x) do not follow the evaluator's seed, so the same data
and seed gave different singling-out and linkability details from one process to the next:

1. ``univariate_singling_out_queries`` lists each column's rare values through
   ``polars.DataFrame.group_by(col)``, whose group order is hash-randomised per
   process; the seeded shuffle then starts from a different list and keeps different
   queries.
2. ``LinkabilityEvaluator`` draws its random-guess baseline links with
   ``np.random.default_rng()``, unseeded.

:func:`anonymeter_deterministic` patches both for the duration of one evaluation, without
forking anonymeter: ``group_by`` keeps the order of first appearance
(``maintain_order=True``, polars' own option), and the linkability module's
``np.random.default_rng`` called without a seed returns generators seeded from the
given seed, one child seed per call. The patches touch only those two lookups, are undone
on exit (also on an error), and are process-wide while active, so the evaluations they
wrap must not run concurrently with other polars ``group_by`` callers in other threads
(the audit runner runs audits one at a time).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np
import polars as pl
from anonymeter.evaluators import linkability_evaluator

_LOCK = threading.Lock()  # one patched evaluation at a time


class _SeededNumpy(ModuleType):
    """numpy as the linkability module sees it: ``random.default_rng()`` is seeded."""

    def __init__(self, seed: int) -> None:
        super().__init__("numpy")
        self._random = _SeededRandom(seed)

    def __getattr__(self, name: str) -> Any:
        if name == "random":
            return self._random
        return getattr(np, name)


class _SeededRandom(ModuleType):
    def __init__(self, seed: int) -> None:
        super().__init__("numpy.random")
        self._seed, self._calls = seed, 0

    def default_rng(self, seed: Any = None) -> np.random.Generator:
        if seed is not None:
            return np.random.default_rng(seed)
        self._calls += 1  # each unseeded call gets its own stream, the same in every run
        return np.random.default_rng([self._seed, self._calls])

    def __getattr__(self, name: str) -> Any:
        return getattr(np.random, name)


@contextmanager
def anonymeter_deterministic(seed: int) -> Iterator[None]:
    """Within the block, anonymeter's singling-out queries and linkability baseline follow ``seed``."""
    with _LOCK:
        original_group_by = pl.DataFrame.group_by
        original_np = linkability_evaluator.np
        pl.DataFrame.group_by = functools.partialmethod(_ordered_group_by, original_group_by)  # type: ignore[method-assign]
        linkability_evaluator.np = _SeededNumpy(seed)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            pl.DataFrame.group_by = original_group_by  # type: ignore[method-assign]
            linkability_evaluator.np = original_np  # type: ignore[attr-defined]


def _ordered_group_by(self: pl.DataFrame, original: Any, *by: Any, maintain_order: bool = True, **named: Any) -> Any:
    return original(self, *by, maintain_order=maintain_order, **named)
