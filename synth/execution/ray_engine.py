"""The Ray engine: shards run as Ray tasks on a local or remote Ray cluster.

Large inputs go into Ray's object store once per :meth:`RayEngine.map` (``ray.put``) and
every task receives references to them, so a 1M-row reference table crosses the network
once per node, not once per shard. Tasks are retried when their worker dies
(``max_retries``); a shard's result depends only on its inputs, so a retried shard
returns what the first attempt would have.
"""

from __future__ import annotations

import os
import socket
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from synth.errors import ConfigError
from synth.execution.engine import Engine, Shard, ShardTiming
from synth.execution.progress import track

R = TypeVar("R")

# How long to wait for a cluster's port before calling the address unreachable.
CONNECT_TIMEOUT_S = 5.0
# Ray's default client-server port (ray://host without a port).
_RAY_CLIENT_PORT = 10001


def _run_shard(fn: Callable[..., R], keys: tuple[str, ...], *args: Any) -> tuple[float, float | None, R]:
    """Inside a Ray worker: rebuild the shared mapping from the (resolved) object refs, call
    ``fn``; returns (seconds it took, the worker's peak resident memory during it in MiB or
    None where the peak cannot be reset, its result)."""
    from synth.execution.resources import peak_rss_mib, reset_peak_rss

    resets = reset_peak_rss()  # workers are reused: the peak read below is this shard's own
    started = time.perf_counter()
    shared = dict(zip(keys, args[: len(keys)], strict=True))
    result = fn(shared, *args[len(keys):])
    return time.perf_counter() - started, (peak_rss_mib() if resets else None), result


def check_reachable(address: str, key: str = "execution.address", timeout: float = CONNECT_TIMEOUT_S) -> None:
    """:class:`ConfigError` unless ``address`` (``ray://host[:port]`` or ``host:port``) accepts a TCP connection.

    Run before any work, so a mistyped or stopped cluster fails the run in seconds with
    nothing written, not after the data has been loaded.
    """
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    host = parts.hostname
    try:
        port = parts.port or (_RAY_CLIENT_PORT if parts.scheme == "ray" else None)
    except ValueError:
        port = None
    if not host or port is None:
        raise ConfigError(
            f"{key}: '{address}' is not a Ray address. Expected 'ray://HOST:PORT' (the Ray client port, "
            "10001 by default), 'HOST:PORT' (the head node's GCS port, 6379 by default) or 'auto'."
        )
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{key}: no Ray cluster answers at '{address}' ({host}:{port}: {exc.strerror or exc}). Start one "
            "(`ray start --head` on the head node), fix the address, or run with `execution: {engine: local}` "
            "(or --engine local). Nothing was run or written."
        ) from None


class RayEngine(Engine):
    """Shards as Ray tasks, one CPU each.

    Args:
        address: ``None`` starts a private local cluster in this process (``ray.init()``);
            ``"auto"`` joins the cluster started on this machine by ``ray start``;
            ``"ray://HOST:PORT"`` connects through the Ray client; ``"HOST:PORT"`` joins as a driver.
        num_cpus: CPUs of the private local cluster (``address: None`` only; default: all).
        max_retries: times a task whose worker died is run again.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, max_retries: int = 3) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "execution.engine: 'ray' needs Ray, which is not installed. Install it with "
                "`pip install 'synth[ray]'`, or use `engine: local`."
            ) from None
        if address is not None and num_cpus is not None:
            raise ConfigError(
                f"execution.num_cpus: {num_cpus} CPUs can only be given to a private local cluster (address: null); "
                f"the cluster at '{address}' has the CPUs its nodes were started with. Drop num_cpus."
            )
        if address not in (None, "auto"):
            check_reachable(address)
        super().__init__()
        self.address, self.max_retries = address, max_retries
        self._owned = not ray.is_initialized()
        if self._owned:
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
            if address is None:
                kwargs["num_cpus"] = num_cpus
                # Workers start from this interpreter and import synth as this process does.
                kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": os.pathsep.join(_import_roots())}}
            else:
                kwargs["address"] = address
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f"execution.address: could not join the Ray cluster at '{address or 'a new local cluster'}': "
                    f"{exc}. Start one (`ray start --head`), fix the address, or use `engine: local`. "
                    "Nothing was run or written."
                ) from None
        self._ray = ray
        # A cluster this engine started ends with it: on close(), or when a failed run drops it.
        self._shutdown = weakref.finalize(self, ray.shutdown) if self._owned else None
        self._remote = ray.remote(num_cpus=1, max_retries=max_retries)(_run_shard)

    @property
    def distributed(self) -> bool:
        return True

    @property
    def workers(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def map(
        self,
        fn: Callable[..., R],
        shards: Sequence[Shard],
        *,
        shared: Mapping[str, Any] | None = None,
        label: str = "work",
    ) -> list[R]:
        ray = self._ray
        shared = dict(shared or {})
        keys = tuple(shared)
        refs = [ray.put(shared[k]) for k in keys]  # once per map, not once per shard
        pending = {self._remote.remote(fn, keys, *refs, *s.args): i for i, s in enumerate(shards)}
        results: list[Any] = [None] * len(shards)
        tracker = track(label, sum(s.rows for s in shards), len(shards))
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    i = pending.pop(ref)
                    seconds, worker_peak, results[i] = ray.get(ref)
                    self.timings.append(ShardTiming(label, shards[i].rows, seconds, shards[i].work, worker_peak))
                    tracker.advance(shards[i].rows)
        finally:
            tracker.close()
            for ref in pending:
                ray.cancel(ref, force=True)
        return results

    def describe(self) -> dict[str, Any]:
        nodes = [n for n in self._ray.nodes() if n.get("Alive")]
        return {"engine": self.name, "address": self.address, "workers": self.workers, "nodes": len(nodes),
                "ray_version": self._ray.__version__}

    def close(self) -> None:
        if self._shutdown is not None:
            self._shutdown()


def _import_roots() -> list[str]:
    """Folders from which this process imports synth (an editable install's source tree included)."""
    import sys

    import synth

    roots = [os.path.dirname(os.path.dirname(os.path.abspath(synth.__file__)))]
    return roots + [p for p in sys.path if p and os.path.isdir(p) and p not in roots]
