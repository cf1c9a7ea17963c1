"""The run manifest: what ran, on what, how long each step took, and what it wrote."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

MANIFEST_SCHEMA_VERSION = 1
_PACKAGES = ("synth", "numpy", "pandas", "scipy", "scikit-learn", "torch", "sdv", "ctgan", "sdmetrics",
             "anonymeter", "fairlearn", "pyarrow", "duckdb")


def package_versions() -> dict[str, str | None]:
    """Installed versions of synth's main dependencies (None when absent), plus Python."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def hardware() -> dict[str, Any]:
    """The machine: OS, CPU count, memory (GiB) and accelerator, if any."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        info["memory_gib"] = None
    if "torch" in sys.modules:
        import torch

        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_entry(path: Path, root: Path) -> dict[str, Any]:
    """``{"path": relative path, "sha256": hex, "bytes": size}`` of a written output."""
    return {"path": str(path.relative_to(root)), "sha256": sha256_file(path), "bytes": path.stat().st_size}


def folder_entry(path: Path, root: Path) -> dict[str, Any]:
    """``{"path": relative folder + "/", "files": n, "bytes": total, "sha256": digest}`` of an output folder.

    The digest is sha256 over each file's relative path and sha256 in sorted order, so two
    folders with the same files give the same digest.
    """
    files = sorted(p for p in path.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(path).as_posix()}\0{sha256_file(f)}\n".encode())
    return {"path": str(path.relative_to(root)) + "/", "files": len(files),
            "bytes": sum(f.stat().st_size for f in files), "sha256": h.hexdigest()}


class StepTimer:
    """Wall-clock seconds per named pipeline step."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 3)


def build_manifest(
    *,
    config_hash: str | None,
    seed: int,
    config: dict[str, Any] | None,
    timings: dict[str, float],
    outputs: list[dict[str, Any]],
    started_utc: str,
    finished_utc: str,
    command: str,
) -> dict[str, Any]:
    """The manifest.json content (versioned)."""
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "command": command,
        "config_sha256": config_hash,
        "seed": seed,
        "started_utc": started_utc,
        "finished_utc": finished_utc,
        "timings_s": timings,
        "versions": package_versions(),
        "hardware": hardware(),
        "outputs": outputs,
        "config": config,
    }
