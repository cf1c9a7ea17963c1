"""Staged outputs: everything a run writes appears at once, or not at all.

Files are written into a hidden staging folder beside the output folder and moved into
place (``os.replace``, atomic per file) only when the whole run has succeeded; a failed
or interrupted run removes the staging folder and leaves no half-written output.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType


class StagedOutputs:
    """Collect a run's files, then :meth:`commit` them into ``out_dir``."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=f".synth-tmp-{self.out_dir.name}-", dir=self.out_dir.parent))
        self.names: list[str] = []

    def path(self, name: str) -> Path:
        """Where to write output ``name`` (a relative path) while staging."""
        p = self.staging / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if name not in self.names:
            self.names.append(name)
        return p

    def final(self, name: str) -> Path:
        return self.out_dir / name

    def commit(self) -> list[Path]:
        """Move every staged file into ``out_dir``; return the final paths."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        done = []
        for name in self.names:
            src, dst = self.staging / name, self.out_dir / name
            if not src.exists():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                if dst.exists():
                    shutil.rmtree(dst)
                shutil.move(str(src), str(dst))
            else:
                os.replace(src, dst)
            done.append(dst)
        self.abort()
        return done

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if et is not None:
            self.abort()
