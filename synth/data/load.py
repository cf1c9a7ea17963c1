"""Load a table from a CSV or Parquet file, a built-in dataset or a DataFrame.

:func:`load_table` is the one entry point. The table it returns always has a fresh
``RangeIndex`` (0..n-1): audits refer to records by that row index. Missing values stay
missing (``NaN`` / ``NA``); nothing is dropped or imputed here.

Every problem a user can cause (a missing file, a ragged CSV row, a Parquet file that is
really text, an empty table, duplicate column names, an unknown built-in name) raises a
:class:`~synth.errors.DataError` whose message names the file, says what is wrong and how
to fix it.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pandas as pd

from synth.data.datasets import load_dataset
from synth.errors import DataError, did_you_mean

BUILTIN_PREFIX = "builtin:"
Format = Literal["auto", "csv", "parquet"]

# extension (lower case) -> (format, field separator)
_EXTENSIONS: dict[str, tuple[str, str | None]] = {
    ".csv": ("csv", ","),
    ".csv.gz": ("csv", ","),
    ".tsv": ("csv", "\t"),
    ".tsv.gz": ("csv", "\t"),
    ".parquet": ("parquet", None),
    ".pq": ("parquet", None),
}
_FORMATS = ("auto", "csv", "parquet")
_SEP_NAMES = {",": "commas", "\t": "tabs"}


def load_table(source: str | Path | pd.DataFrame, *, format: Format = "auto") -> pd.DataFrame:
    """Load ``source`` as a DataFrame with a fresh RangeIndex.

    ``source`` is a DataFrame (copied), ``"builtin:NAME"`` (see
    :func:`synth.data.datasets.list_datasets`) or a file path: ``.csv``, ``.csv.gz`` and
    ``.tsv`` are read as CSV, ``.parquet`` / ``.pq`` as Parquet; any other extension needs
    ``format="csv"`` or ``format="parquet"``. Returns an (n_rows, n_columns) frame with
    string column names; raises :class:`DataError` for anything that cannot be used.
    A *named* index (a DataFrame's, or one stored in Parquet metadata) becomes a column,
    so no data is lost; an unnamed index (row labels) is replaced.
    """
    if format not in _FORMATS:
        raise DataError(
            f"Unknown table format '{format}': use one of {', '.join(_FORMATS)}." + did_you_mean(str(format), _FORMATS)
        )
    if isinstance(source, pd.DataFrame):
        return _finish(source.copy(), "the given DataFrame")
    if isinstance(source, str) and source.startswith(BUILTIN_PREFIX):
        name = source[len(BUILTIN_PREFIX):]
        frame, _ = load_dataset(name)
        return _finish(frame, source)
    if not isinstance(source, (str, Path)):
        raise DataError(
            f"Cannot load a table from a {type(source).__name__}: give a file path, 'builtin:NAME' or a pandas DataFrame."
        )
    path = Path(source).expanduser()
    _check_file(path)
    fmt, sep = _resolve_format(path, format)
    frame = _read_csv(path, sep or ",") if fmt == "csv" else _read_parquet(path)
    return _finish(frame, str(path))


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise DataError(
            f"Data path '{path}' is a folder, not a file: give the CSV or Parquet file inside it "
            f"(for MIMIC-IV folders use the MIMIC-IV cohort extraction instead)."
        )
    if path.exists():
        return
    folder = path.parent
    if not folder.is_dir():
        raise DataError(f"Data file '{path}' does not exist: its folder '{folder}' does not exist either; check the path.")
    names = [p.name for p in folder.iterdir() if p.is_file()]
    raise DataError(f"Data file '{path}' does not exist; check the path." + did_you_mean(path.name, names))


def _resolve_format(path: Path, format: Format) -> tuple[str, str | None]:
    name = path.name.lower()
    known = next((v for ext, v in _EXTENSIONS.items() if name.endswith(ext)), None)
    if format == "auto":
        if known is None:
            raise DataError(
                f"Cannot tell the format of '{path}' from its extension: rename it to one of "
                f"{', '.join(_EXTENSIONS)} or pass format='csv' / format='parquet'."
            )
        return known
    if format == "csv":
        return "csv", known[1] if known and known[0] == "csv" else ","
    return "parquet", None


def _read_csv(path: Path, sep: str) -> pd.DataFrame:
    _scan_csv(path, sep)
    try:
        return pd.read_csv(path, sep=sep, on_bad_lines="error", low_memory=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DataError(f"CSV file '{path}' is empty: it has no header and no rows. Export the table again.") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"CSV file '{path}' cannot be parsed: {_explain_parser_error(str(exc))}") from None
    except UnicodeDecodeError as exc:
        raise DataError(_not_utf8(path, exc)) from None


def _scan_csv(path: Path, sep: str) -> None:
    """Check the header and that every record has the header's field count.

    pandas silently pads short rows with NaN and renames duplicate headers to ``a.1``; a
    streaming pass with the csv module catches both and names the physical line number.
    """
    limit = csv.field_size_limit()
    try:
        # free-text fields (clinical notes) can exceed the csv module's 128 KiB default
        csv.field_size_limit(2**31 - 1)
        with _open_text(path) as handle:
            reader = csv.reader(handle, delimiter=sep)
            header: list[str] | None = None
            for record in reader:
                if _is_blank(record):
                    continue
                if header is None:
                    header = record
                    _check_header(path, header, sep)
                    continue
                if len(record) != len(header):
                    raise DataError(
                        f"CSV file '{path}' has a ragged row: line {reader.line_num} has {len(record)} fields but "
                        f"the header has {len(header)}. Fix that line (a missing or extra separator, or an "
                        f"unquoted '{sep}' inside a value) and load it again."
                    )
    except UnicodeDecodeError as exc:
        raise DataError(_not_utf8(path, exc)) from None
    except csv.Error as exc:
        raise DataError(f"CSV file '{path}' cannot be parsed: {exc}. Check its quoting near that line.") from None
    except (OSError, EOFError) as exc:  # e.g. a .csv.gz that is not gzip
        raise DataError(f"CSV file '{path}' cannot be read: {exc}. Check that the file is a (gzip-compressed) CSV.") from None
    finally:
        csv.field_size_limit(limit)


def _open_text(path: Path):
    if path.name.lower().endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _is_blank(record: list[str]) -> bool:
    return not record or (len(record) == 1 and not record[0].strip())


def _check_header(path: Path, header: list[str], sep: str) -> None:
    if len(header) == 1:
        for other, label in ((";", "semicolons"), ("\t", "tabs"), (",", "commas")):
            if other != sep and other in header[0]:
                raise DataError(
                    f"CSV file '{path}' has a single column named '{header[0][:60]}', which looks separated by "
                    f"{label}: re-save it separated by {_SEP_NAMES[sep]}, or give it the extension that matches "
                    "(.csv for commas, .tsv for tabs)."
                )
    _check_duplicates(path, header)


def _check_duplicates(path: Path | str, names: Iterable[object]) -> None:
    counts = Counter(str(n) for n in names)
    dupes = [n for n, c in counts.items() if c > 1]
    if dupes:
        raise DataError(
            f"Table '{path}' has duplicate column names: {', '.join(repr(d) for d in dupes)}. "
            "Rename the columns so that each name appears once."
        )


_PARSER_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _explain_parser_error(message: str) -> str:
    match = _PARSER_RE.search(message)
    if match:
        expected, line, found = match.groups()
        return (
            f"row {line} has {found} fields but {expected} were expected. Fix that row (a missing or extra "
            "separator, or an unquoted separator inside a value) and load it again."
        )
    return f"{message.strip()}. Check the quoting and separators near that place."


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    return (
        f"CSV file '{path}' is not UTF-8 text (byte {exc.start}: {exc.reason}). If it is a CSV, re-save it "
        "as UTF-8; if it is another format (e.g. Parquet), give it the matching extension."
    )


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(
            f"Parquet file '{path}' cannot be read: {exc}. Check that it really is a Parquet file "
            "(a CSV needs a .csv extension or format='csv') and that it was written completely."
        ) from None
    _check_duplicates(path, table.column_names)
    return table.to_pandas()


def _finish(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    _check_duplicates(where, frame.columns)
    frame.columns = [str(c) for c in frame.columns]
    if frame.shape[1] == 0:
        raise DataError(f"Table '{where}' has no columns: check that the file holds the table you meant.")
    if frame.shape[0] == 0:
        raise DataError(
            f"Table '{where}' has columns ({', '.join(frame.columns[:10])}) but no rows: export the data again with its rows."
        )
    return frame.reset_index(drop=True)
