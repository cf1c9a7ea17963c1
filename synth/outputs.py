"""A run's output folder is one unit: written beside, swapped in whole, locked.

:class:`StagedOutputs` is taken before any work starts, so every problem with the output
path is found first:

- the path must be usable: not empty, not an existing file, creatable, and not holding any
  of the run's inputs (the data, the config) -- the folder is replaced whole, so an input
  inside it would be lost;
- an existing folder must be one synth wrote (it carries :data:`MARKER`, listing what it
  holds) or empty; a folder with other files is refused, never emptied;
- a lock file beside the folder (``.synth-lock-NAME``, ``flock``) makes a second run into
  the same folder a clear error instead of a silent mix of two runs;
- leftovers of killed runs (``.synth-tmp-NAME-*`` staging folders, ``.synth-old-NAME-*``)
  are removed and listed in :attr:`StagedOutputs.cleaned`.

Files are written into a hidden staging folder beside the output folder. :meth:`commit`
swaps the staging folder and the output folder in one atomic ``renameat2(RENAME_EXCHANGE)``
on Linux (elsewhere: two renames), then deletes the old folder: a reader sees the old run's
files or the new run's, never a mix, and no stale file of an earlier run survives. A
failed or interrupted run removes its staging folder and leaves the output folder as it was.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from synth.errors import ConfigError

MARKER = ".synth-output.json"
_TMP, _OLD, _LOCK = ".synth-tmp-", ".synth-old-", ".synth-lock-"
_LEGACY_NAMES = frozenset({"manifest.json", "result.json", "report.html", "synthetic.csv", "synthetic.parquet",
                           "generator"})


def check_output_path(path: str | Path, what: str) -> Path:
    """``path`` as a Path, or :class:`ConfigError` when it is empty (``--out ""`` would mean the current folder)."""
    if not str(path).strip():
        raise ConfigError(f"{what} is empty: give the folder or file to write to.")
    return Path(path).expanduser()


def check_output_file(path: str | Path, what: str, inputs: Iterable[Path] = ()) -> Path:
    """Check a single output file path before work starts; return it.

    It must not be empty, an existing folder, one of ``inputs``, or in a folder that cannot
    be created. Raises :class:`ConfigError` naming ``what`` (e.g. ``--out``).
    """
    target = check_output_path(path, what)
    if target.is_dir():
        raise ConfigError(f"{what} '{target}' is a folder; give the path of a file (in it or elsewhere).")
    if target.exists() and not target.is_file():
        raise ConfigError(f"{what} '{target}' exists and is not a regular file; choose another path.")
    for source in inputs:
        if _same_path(target, source):
            raise ConfigError(f"{what} '{target}' is also an input of this command; writing it would destroy the "
                              "input. Choose another output path.")
    folder = target.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the folder that will hold the new ones; nothing is created before the work
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} '{target}': the folder '{folder}' is not a writable folder; choose another path.")
    return target


class StagedOutputs:
    """Collect a run's files in a staging folder, then :meth:`commit` them as the output folder.

    ``inputs`` are the run's input files (data, config): the output folder may not hold
    any of them. ``what`` names the setting in messages (e.g. ``"output.dir in run.yaml"``).
    """

    def __init__(self, out_dir: str | Path, *, inputs: Iterable[Path] = (), what: str = "the output folder") -> None:
        self.out_dir = check_output_path(out_dir, what).absolute()
        self.what = what
        self.names: list[str] = []
        self.cleaned: list[str] = []
        self._lock_fd: int | None = None
        name = self.out_dir.name
        if not name or self.out_dir == Path(self.out_dir.anchor):
            raise ConfigError(f"{what} '{out_dir}' is a file-system root; give a folder for this run's outputs.")
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise ConfigError(f"{what} '{out_dir}' exists and is not a folder. Choose another output folder.")
        for source in inputs:
            if _inside(Path(source), self.out_dir):
                raise ConfigError(
                    f"{what} '{out_dir}' holds the input '{source}'. A run replaces its output folder whole, so the "
                    "input would be lost: choose an output folder that holds none of the run's inputs."
                )
        _make_parent(self.out_dir, what)
        self._lock()
        try:
            self._clean_leftovers()
            self._check_owned()
            self.staging = Path(tempfile.mkdtemp(prefix=f"{_TMP}{name}-", dir=self.out_dir.parent))
        except BaseException:
            self._unlock()
            raise

    # -- writing -----------------------------------------------------------------------
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
        """Swap the staging folder in as the output folder; return the final paths of the staged files."""
        try:
            entries = sorted(p.name for p in self.staging.iterdir())
            (self.staging / MARKER).write_text(json.dumps({"written_by": "synth", "entries": entries}, indent=1))
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.staging, 0o777 & ~umask)  # mkdtemp made it private; an output folder is ordinary
            if self.out_dir.exists():
                if not _exchange(self.staging, self.out_dir):
                    old = Path(tempfile.mkdtemp(prefix=f"{_OLD}{self.out_dir.name}-", dir=self.out_dir.parent))
                    os.replace(self.out_dir, old / "previous")
                    os.replace(self.staging, self.out_dir)
                    self.staging = old
            else:
                os.replace(self.staging, self.out_dir)
            return [self.out_dir / n for n in self.names if (self.out_dir / n).exists()]
        finally:
            self.abort()

    def abort(self) -> None:
        """Remove the staging folder (after a commit: the previous output folder) and release the lock."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self._unlock()

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.abort()

    # -- checks ------------------------------------------------------------------------
    def _lock(self) -> None:
        import fcntl

        lock_path = self.out_dir.parent / f"{_LOCK}{self.out_dir.name}"
        while True:
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise ConfigError(f"{self.what}: cannot create the lock file '{lock_path}': "
                                  f"{exc.strerror or exc}. Choose a writable output folder.") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise ConfigError(
                    f"Another synth run is writing into '{self.out_dir}' ({self.what}). Wait for it to finish or "
                    "choose another output folder; two runs into one folder would mix their outputs."
                ) from None
            # the holder may have removed the file between our open and flock: lock the file that is there now
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(lock_path))
            except FileNotFoundError:
                same = False
            if same:
                self._lock_fd, self._lock_path = fd, lock_path
                return
            os.close(fd)

    def _unlock(self) -> None:
        if self._lock_fd is None:
            return
        try:
            os.unlink(self._lock_path)
        except OSError:
            pass
        os.close(self._lock_fd)
        self._lock_fd = None

    def _clean_leftovers(self) -> None:
        """Remove staging and old folders a killed run into this folder left behind (we hold the lock)."""
        name = self.out_dir.name
        for entry in self.out_dir.parent.iterdir():
            if entry.name.startswith((f"{_TMP}{name}-", f"{_OLD}{name}-")) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                self.cleaned.append(entry.name)

    def _check_owned(self) -> None:
        """An existing output folder must be empty or one synth wrote, holding only what synth put there."""
        if not self.out_dir.exists():
            return
        try:
            present = sorted(p.name for p in self.out_dir.iterdir())
        except OSError as exc:
            raise ConfigError(f"{self.what} '{self.out_dir}' cannot be read: {exc.strerror or exc}.") from None
        if not present:
            return
        known = _written_by_synth(self.out_dir)
        foreign = [n for n in present if known is None or n not in known]
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise ConfigError(
                f"{self.what} '{self.out_dir}' already holds files synth did not write ({shown}). A run replaces its "
                "output folder whole, so choose a new or empty folder (or move those files away)."
            )


def _written_by_synth(folder: Path) -> set[str] | None:
    """The entries a synth run wrote into ``folder`` (from its marker or, for older runs, its manifest), or None."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if isinstance(marker, dict) and marker.get("written_by") == "synth" and isinstance(marker.get("entries"), list):
            return {str(e) for e in marker["entries"]} | {MARKER}
    except (OSError, ValueError):
        pass
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(manifest, dict) and manifest.get("command") in ("generate", "audit") and "config_sha256" in manifest:
        return set(_LEGACY_NAMES)
    return None


def _make_parent(target: Path, what: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what} '{target}': cannot create the folder '{target.parent}': "
                          f"{exc.strerror or exc}. Choose a writable location.") from None
    if not target.parent.is_dir():
        raise ConfigError(f"{what} '{target}': '{target.parent}' is not a folder. Choose a writable location.")


def _inside(path: Path, folder: Path) -> bool:
    try:
        resolved, base = path.resolve(), folder.resolve()
    except OSError:
        return False
    return resolved == base or base in resolved.parents


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == Path(b).resolve() or (a.exists() and Path(b).exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap ``a`` and ``b`` (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # kernel or file system without RENAME_EXCHANGE
    raise OSError(err, os.strerror(err), str(b))
