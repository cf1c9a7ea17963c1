"""Make anonymeter's singling-out and linkability evaluations repeat exactly for a seed.

Two draws inside anonymeter (1.x) do not follow the evaluator's seed, so the same data
and seed gave different singling-out and linkability details from one process to the next:

1. Singling out lists values in polars' hash order, which is randomised per process:
   the univariate attack takes each column's rare values from
   ``polars.DataFrame.group_by(col)``, and the random-guess baseline draws query values
   from ``polars.Series.unique()``; the seeded draws then pick from differently ordered
   lists and make different queries.
2. ``LinkabilityEvaluator`` draws its random-guess baseline links with
   ``np.random.default_rng()``, unseeded.

:func:`anonymeter_deterministic` patches these for the duration of one evaluation,
without forking anonymeter: ``DataFrame.group_by`` and ``Series.unique`` default to the
order of first appearance (``maintain_order=True``, polars' own option), and the
linkability module's ``np.random.default_rng`` called without a seed returns generators
seeded from the given seed, one child seed per call. The patches are undone on exit
(also on an error) and are process-wide while active, so the evaluations they wrap must
not run concurrently with other polars callers in other threads (the audit runner runs
audits one at a time).
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
        originals = {cls: getattr(cls, name) for cls, name in _ORDERED}
        original_np = linkability_evaluator.np
        for cls, name in _ORDERED:
            setattr(cls, name, functools.partialmethod(_in_order, originals[cls]))
        linkability_evaluator.np = _SeededNumpy(seed)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            for cls, name in _ORDERED:
                setattr(cls, name, originals[cls])
            linkability_evaluator.np = original_np  # type: ignore[attr-defined]


_ORDERED = ((pl.DataFrame, "group_by"), (pl.Series, "unique"))  # polars methods whose order is hash order


def _in_order(self: Any, original: Any, *args: Any, maintain_order: bool = True, **kwargs: Any) -> Any:
    return original(self, *args, maintain_order=maintain_order, **kwargs)
