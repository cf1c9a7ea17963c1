"""Pick and open the engine a run asks for (config ``execution:``, or ``--engine``)."""

from __future__ import annotations

from synth.config.model import ExecutionConfig
from synth.execution.engine import Engine
from synth.execution.local import LocalEngine


def open_engine(engine: str = "local", address: str | None = None, num_cpus: int | None = None) -> Engine:
    """The engine named ``engine`` ("local" or "ray"), connected and ready.

    For Ray this connects to (or starts) the cluster now, so an unreachable ``address`` is a
    :class:`~synth.errors.ConfigError` before any data is read. Close it with ``close()``.
    """
    if engine == "local":
        return LocalEngine()
    if engine == "ray":
        from synth.execution.ray_engine import RayEngine

        return RayEngine(address=address, num_cpus=num_cpus)
    from synth.errors import ConfigError

    raise ConfigError(f"execution.engine: '{engine}' is not an engine. Expected 'local' or 'ray'.")


def open_configured(execution: ExecutionConfig, override: str | None = None) -> Engine:
    """:func:`open_engine` for a config's ``execution:`` section, ``override`` (``--engine``) taking
    precedence over its ``engine``."""
    return open_engine(override or execution.engine, execution.address, execution.num_cpus)
