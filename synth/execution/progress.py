"""Progress over shards: how many of a step's rows are done, and at how many rows per second.

The shared numerics report to the active sink (:func:`track`); the CLI installs a live bar
(:func:`use_progress`), a library caller gets nothing unless it installs a sink. Reports
come from worker threads too, so a sink must be thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Tracker(Protocol):
    """One step's progress: ``advance(rows)`` as shards finish, ``close()`` at the end."""

    def advance(self, rows: int) -> None: ...

    def close(self) -> None: ...


class Sink(Protocol):
    """Makes a :class:`Tracker` for a step of ``total`` rows cut into ``shards`` shards."""

    def __call__(self, label: str, total: int, shards: int) -> Tracker: ...


class _Quiet:
    def advance(self, rows: int) -> None:
        pass

    def close(self) -> None:
        pass


QUIET: Tracker = _Quiet()
_SINK: ContextVar[Sink | None] = ContextVar("synth_progress", default=None)


def track(label: str, total: int, shards: int) -> Tracker:
    """A tracker of the active sink for a step of ``total`` rows in ``shards`` shards (a no-op without one)."""
    sink = _SINK.get()
    return QUIET if sink is None else sink(label, total, shards)


@contextmanager
def use_progress(sink: Sink | None) -> Iterator[None]:
    """Report the shared numerics' progress to ``sink`` inside the ``with`` block."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


class LineTracker:
    """Plain progress lines (for logs and pipes): at most one every ``every`` seconds, and the last.

    Each line: ``label: done/total rows (shards) rows/s``.
    """

    def __init__(self, write: Callable[[str], None], label: str, total: int, shards: int, every: float = 5.0):
        self._write, self._label, self._total, self._shards, self._every = write, label, total, shards, every
        self._done, self._shards_done = 0, 0
        self._start = self._last = time.perf_counter()
        self._lock = threading.Lock()

    def _line(self) -> str:
        secs = max(time.perf_counter() - self._start, 1e-9)
        return (f"{self._label}: {self._done}/{self._total} rows, {self._shards_done}/{self._shards} shards, "
                f"{self._done / secs:,.0f} rows/s")

    def _due(self, now: float) -> bool:
        """Whether to write a line now (not the last one: close() writes that)."""
        return now - self._last >= self._every and self._done < self._total

    def advance(self, rows: int) -> None:
        with self._lock:
            self._done += rows
            self._shards_done += 1
            now = time.perf_counter()
            if self._due(now):
                self._last = now
                self._write(self._line())

    def close(self) -> None:
        with self._lock:
            if time.perf_counter() - self._start >= self._every:  # short steps stay silent
                self._write(self._line())


class BarTracker(LineTracker):
    """A live text bar (for a terminal status line): ``label ━━━━╸──── 3/8 shards, rows, rows/s``,
    redrawn at most every ``every`` seconds through ``update``; ``restore`` is shown on close."""

    def __init__(self, update: Callable[[str], None], label: str, total: int, shards: int, restore: str = "",
                 every: float = 0.2, width: int = 24):
        super().__init__(update, label, total, shards, every)
        self._restore, self._width = restore, width
        self._last = 0.0

    def _line(self) -> str:
        secs = max(time.perf_counter() - self._start, 1e-9)
        filled = round(self._width * self._done / max(self._total, 1))
        bar = "━" * filled + "─" * (self._width - filled)
        return (f"{self._label} {bar} {self._shards_done}/{self._shards} shards, "
                f"{self._done:,}/{self._total:,} rows, {self._done / secs:,.0f} rows/s")

    def _due(self, now: float) -> bool:
        return now - self._last >= self._every

    def close(self) -> None:
        if self._restore:
            self._write(self._restore)
