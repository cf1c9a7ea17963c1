"""The engine the shared numerics use now: set for the length of a run by :func:`use_engine`.

A context variable rather than a parameter threaded through every audit: the audits call
the shared numerics (:func:`synth.neighbors.search.nearest`, bootstrap intervals) from
many places, and which machine runs a shard changes no result, only where it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from synth.execution.engine import Engine
from synth.execution.local import LocalEngine

_LOCAL = LocalEngine()
_ACTIVE: ContextVar[Engine] = ContextVar("synth_engine", default=_LOCAL)


def active_engine() -> Engine:
    """The engine set by the innermost :func:`use_engine` (default: the local engine)."""
    return _ACTIVE.get()


@contextmanager
def use_engine(engine: Engine | None) -> Iterator[Engine]:
    """Make ``engine`` the active one inside the ``with`` block (``None``: leave it as it is)."""
    if engine is None:
        yield active_engine()
        return
    token = _ACTIVE.set(engine)
    try:
        yield engine
    finally:
        _ACTIVE.reset(token)
