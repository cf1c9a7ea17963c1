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
import decimal
import re
import stat
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
SNIFF_BYTES = 1 << 20  # what a loader reads to check a file is what its name says, before parsing it
MAX_FIELD_BYTES = 64 << 20  # one CSV field (a long clinical note fits; a runaway file does not)
_PARQUET_MAGIC = b"PAR1"


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
    if not str(path).strip():
        raise DataError("The data path is empty: give the path of a CSV or Parquet file.")
    if path.is_dir():
        raise DataError(
            f"Data path '{path}' is a folder, not a file: give the CSV or Parquet file inside it "
            f"(for MIMIC-IV folders use the MIMIC-IV cohort extraction instead)."
        )
    if path.exists():
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise DataError(f"Data file '{path}' cannot be read: {exc.strerror or exc}.") from None
        if not stat.S_ISREG(mode):
            # a FIFO blocks forever and a device such as /dev/zero never ends
            raise DataError(
                f"Data path '{path}' is not a regular file (a pipe, device or socket): copy the table into a "
                "CSV or Parquet file and give that file's path."
            )
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


def _sniff_text(path: Path) -> None:
    """Refuse a ".csv" that is binary or has no line break in its first :data:`SNIFF_BYTES`."""
    try:
        if path.name.lower().endswith(".gz"):
            import gzip

            with gzip.open(path, "rb") as handle:
                head = handle.read(SNIFF_BYTES)
        else:
            with open(path, "rb") as handle:
                head = handle.read(SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise DataError(
            f"CSV file '{path}' cannot be read: {exc}. Check that the file is a (gzip-compressed) CSV."
        ) from None
    if b"\x00" in head:
        raise DataError(
            f"CSV file '{path}' holds binary data (NUL bytes in its first {len(head):,} bytes), not text. If it is "
            "another format (e.g. Parquet), give it the matching extension."
        )
    if len(head) == SNIFF_BYTES and b"\n" not in head and b"\r" not in head:
        raise DataError(
            f"CSV file '{path}' has no line break in its first {SNIFF_BYTES:,} bytes: it is not a table with a "
            "header line. Check that this is the file you meant."
        )


def _read_csv(path: Path, sep: str) -> pd.DataFrame:
    _sniff_text(path)
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
        csv.field_size_limit(MAX_FIELD_BYTES)
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
        raise DataError(
            f"CSV file '{path}' cannot be parsed: {exc} (a field over {MAX_FIELD_BYTES >> 20} MiB usually means an "
            "unclosed quote). Check its quoting near that line."
        ) from None
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

    not_parquet = (
        f"Parquet file '{path}' cannot be read: {{}}. Check that it really is a Parquet file "
        "(a CSV needs a .csv extension or format='csv') and that it was written completely."
    )
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(_PARQUET_MAGIC))
    except OSError as exc:
        raise DataError(not_parquet.format(exc.strerror or exc)) from None
    if magic != _PARQUET_MAGIC:
        raise DataError(not_parquet.format("it does not start with the Parquet magic bytes 'PAR1'"))
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(not_parquet.format(exc)) from None
    _check_duplicates(path, table.column_names)
    return _plain_arrow(table, path).to_pandas()


def _plain_arrow(table, path: Path):
    """Decimal columns as float64; nested (list, struct, map) and binary columns refused by name."""
    import pyarrow as pa
    import pyarrow.types as pat

    for i, field in enumerate(table.schema):
        t = field.type
        if pat.is_dictionary(t):
            t = t.value_type
        if pat.is_decimal(t):
            try:
                table = table.set_column(i, field.name, table.column(i).cast(pa.float64()))
            except pa.ArrowException as exc:
                raise DataError(f"Parquet file '{path}': decimal column '{field.name}' cannot be read as numbers: "
                                f"{exc}.") from None
        elif pat.is_nested(t):
            raise DataError(
                f"Parquet file '{path}': column '{field.name}' holds nested values ({t}); a table cell must be one "
                "number, label, date or text. Flatten or drop that column and save the file again."
            )
        elif pat.is_binary(t) or pat.is_large_binary(t) or pat.is_fixed_size_binary(t):
            raise DataError(
                f"Parquet file '{path}': column '{field.name}' holds raw bytes ({t}), which synth cannot model. "
                "Decode it to text or drop that column and save the file again."
            )
    return table


def _plain_cells(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Decimal cells as floats; lists, dicts, sets, arrays and bytes refused naming the column.

    ``frame`` is the loader's own copy, so Decimal columns are converted in place.
    """
    import numpy as np

    for name in frame.columns:
        col = frame[name]
        if col.dtype != object:
            continue
        kinds = {type(v) for v in col.dropna().to_numpy()}
        nested = [k for k in kinds if issubclass(k, (list, tuple, dict, set, frozenset, np.ndarray))]
        if nested:
            raise DataError(
                f"Table '{where}': column '{name}' holds {nested[0].__name__} values; a table cell must be one "
                "number, label, date or text. Flatten or drop that column."
            )
        if any(issubclass(k, (bytes, bytearray, memoryview)) for k in kinds):
            raise DataError(
                f"Table '{where}': column '{name}' holds raw bytes, which synth cannot model. Decode it to text or "
                "drop that column."
            )
        if decimal.Decimal in kinds:
            converted = col.map(lambda v: float(v) if isinstance(v, decimal.Decimal) else v)
            frame[name] = converted.astype("float64") if kinds <= {decimal.Decimal, float} else converted
    return frame


def _finish(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    _check_duplicates(where, frame.columns)
    frame.columns = [str(c) for c in frame.columns]
    frame = _plain_cells(frame, where)
    if frame.shape[1] == 0:
        raise DataError(f"Table '{where}' has no columns: check that the file holds the table you meant.")
    if frame.shape[0] == 0:
        raise DataError(
            f"Table '{where}' has columns ({', '.join(frame.columns[:10])}) but no rows: export the data again with its rows."
        )
    return frame.reset_index(drop=True)
