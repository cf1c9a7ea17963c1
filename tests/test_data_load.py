"""load_table: formats, fresh index, missing values kept, and one clear DataError per mistake."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from synth.data.load import load_table
from synth.errors import DataError


def _write(path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_csv_keeps_missing_values_and_gets_a_range_index(tmp_path):
    path = tmp_path / "t.csv"
    _write(path, "age,sex,lab\n30,F,1.5\n41,,\n55,M,2.0\n")
    df = load_table(path)
    assert list(df.columns) == ["age", "sex", "lab"]
    assert df.index.equals(pd.RangeIndex(3))
    assert df["sex"].isna().tolist() == [False, True, False]
    assert np.isnan(df.loc[1, "lab"])
    assert df["age"].tolist() == [30, 41, 55]


def test_gzip_csv_tsv_and_parquet_round_trip(tmp_path, population):
    frame = population.head(50)
    frame.to_csv(tmp_path / "a.csv.gz", index=False, compression="gzip")
    frame.to_csv(tmp_path / "a.tsv", index=False, sep="\t")
    frame.to_parquet(tmp_path / "a.parquet", index=False)
    frame.to_parquet(tmp_path / "a.pq", index=False)
    for name in ("a.csv.gz", "a.tsv", "a.parquet", "a.pq"):
        df = load_table(str(tmp_path / name))
        assert df.shape == (50, frame.shape[1]), name
        assert df["creatinine"].isna().sum() == frame["creatinine"].isna().sum(), name
        np.testing.assert_allclose(df["bmi"], frame["bmi"])


def test_explicit_format_reads_an_unusual_extension(tmp_path):
    path = tmp_path / "table.txt"
    _write(path, "a,b\n1,2\n3,4\n")
    assert load_table(path, format="csv")["b"].tolist() == [2, 4]
    pq_path = tmp_path / "table.bin"
    pd.DataFrame({"a": [1, 2]}).to_parquet(pq_path)
    assert load_table(pq_path, format="parquet")["a"].tolist() == [1, 2]


def test_dataframe_is_copied_and_reindexed(population):
    frame = population.iloc[[5, 3, 9]]
    df = load_table(frame)
    assert df.index.equals(pd.RangeIndex(3))
    df.loc[0, "bmi"] = -1.0
    assert frame.loc[5, "bmi"] != -1.0
    assert df["age"].tolist() == frame["age"].tolist()


def test_builtin_source_loads_the_dataset():
    df = load_table("builtin:breast_cancer")
    assert df.shape == (569, 31)
    assert df.index.equals(pd.RangeIndex(569))


def test_unknown_builtin_lists_available_and_suggests():
    with pytest.raises(DataError) as err:
        load_table("builtin:actg17")
    msg = str(err.value)
    assert "actg17" in msg and "breast_cancer" in msg and "Did you mean 'actg175'" in msg


def test_missing_file_suggests_a_close_name(tmp_path):
    _write(tmp_path / "patients.csv", "a\n1\n")
    with pytest.raises(DataError) as err:
        load_table(tmp_path / "patient.csv")
    msg = str(err.value)
    assert "patient.csv" in msg and "does not exist" in msg and "Did you mean 'patients.csv'" in msg


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(DataError, match="folder .* does not exist"):
        load_table(tmp_path / "nowhere" / "x.csv")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(DataError, match="is a folder, not a file"):
        load_table(tmp_path)


def test_ragged_long_row_names_line_and_counts(tmp_path):
    path = tmp_path / "r.csv"
    _write(path, "a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n")
    with pytest.raises(DataError) as err:
        load_table(path)
    msg = str(err.value)
    assert str(path) in msg and "line 3" in msg and "4 fields" in msg and "header has 3" in msg


def test_ragged_short_row_is_caught_too(tmp_path):
    # pandas alone would pad this row with NaN silently
    path = tmp_path / "r.csv"
    _write(path, "a,b,c\n1,2,3\n4,5,6\n8,9\n")
    with pytest.raises(DataError, match="line 4 has 2 fields but the header has 3"):
        load_table(path)


def test_ragged_row_line_number_counts_quoted_newlines(tmp_path):
    path = tmp_path / "q.csv"
    _write(path, 'a,b,c\n1,2,3\n"x\ny",5,6\n4,5,6,7\n')
    with pytest.raises(DataError, match="line 5 has 4 fields"):
        load_table(path)


def test_ragged_row_in_gzip_csv(tmp_path):
    path = tmp_path / "r.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("a,b\n1,2\n3\n")
    with pytest.raises(DataError, match="line 3 has 1 fields"):
        load_table(path)


def test_parquet_that_is_text(tmp_path):
    path = tmp_path / "t.parquet"
    _write(path, "a,b\n1,2\n" * 20)
    with pytest.raises(DataError) as err:
        load_table(path)
    msg = str(err.value)
    assert str(path) in msg and "cannot be read" in msg and "format='csv'" in msg


def test_csv_that_is_binary(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": range(100)}).to_parquet(path)
    with pytest.raises(DataError, match="binary data"):
        load_table(path)


def test_empty_file_header_only_and_no_columns(tmp_path):
    empty = tmp_path / "e.csv"
    _write(empty, "")
    with pytest.raises(DataError, match="empty"):
        load_table(empty)
    header = tmp_path / "h.csv"
    _write(header, "a,b\n")
    with pytest.raises(DataError, match=r"columns \(a, b\) but no rows"):
        load_table(header)
    with pytest.raises(DataError, match="no columns"):
        load_table(pd.DataFrame(index=range(3)))
    parquet = tmp_path / "e.parquet"
    pd.DataFrame({"a": pd.Series([], dtype=float)}).to_parquet(parquet)
    with pytest.raises(DataError, match="no rows"):
        load_table(parquet)


def test_duplicate_column_names(tmp_path):
    path = tmp_path / "d.csv"
    _write(path, "a,b,a\n1,2,3\n")
    with pytest.raises(DataError, match="duplicate column names: 'a'"):
        load_table(path)
    frame = pd.DataFrame([[1, 2]], columns=["x", "x"])
    with pytest.raises(DataError, match="duplicate column names: 'x'"):
        load_table(frame)


def test_semicolon_separated_file_is_explained(tmp_path):
    path = tmp_path / "s.csv"
    _write(path, "a;b;c\n1;2;3\n")
    with pytest.raises(DataError, match="semicolons"):
        load_table(path)


def test_unknown_extension_needs_a_format(tmp_path):
    path = tmp_path / "t.xlsx"
    _write(path, "a\n1\n")
    with pytest.raises(DataError) as err:
        load_table(path)
    msg = str(err.value)
    assert "t.xlsx" in msg and ".parquet" in msg and "format='csv'" in msg


def test_unknown_format_value():
    with pytest.raises(DataError, match="Unknown table format 'json'"):
        load_table("x.csv", format="json")  # type: ignore[arg-type]


def test_named_index_becomes_a_column_unnamed_is_replaced(tmp_path, population):
    named = population.head(10).set_index("age")
    df = load_table(named)
    assert list(df.columns)[0] == "age" and df["age"].tolist() == population["age"].head(10).tolist()
    sliced = population.iloc[5:15]  # unnamed row labels 5..14
    sliced.to_parquet(tmp_path / "s.parquet")
    named.to_parquet(tmp_path / "n.parquet")
    assert list(load_table(tmp_path / "s.parquet").columns) == list(population.columns)
    assert "age" in load_table(tmp_path / "n.parquet").columns


def test_very_long_text_field(tmp_path):
    note = "word " * 40_000  # 200 kB, above the csv module's default field limit
    pd.DataFrame({"id": [1, 2], "note": [note, "short"]}).to_csv(tmp_path / "n.csv", index=False)
    df = load_table(tmp_path / "n.csv")
    assert len(df.loc[0, "note"]) == len(note)
