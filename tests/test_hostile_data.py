"""Hostile data (issue 8, items 2, 3, 7, 8, 11, 12, 13): a clear error naming the file and column, or safe handling."""

from __future__ import annotations

import decimal
import json
import os
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hostile import config
from population import make_population

import synth
from synth.config import parse_config
from synth.data.coerce import clip_to_bounds
from synth.data.load import SNIFF_BYTES, load_table
from synth.disclosure import public_schema
from synth.errors import DataError
from synth.prepare import prepare


def _prepare(tmp_path, frame, **data):
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    cfg = parse_config(config(data=data))
    return prepare(cfg.data, seed=1, base_dir=tmp_path, source_label="run.yaml")


# -- item 12: sources that never end or block ---------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_and_device_data_sources_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "cohort.csv"
    os.mkfifo(fifo)
    started = time.perf_counter()
    for source in (fifo, "/dev/zero"):
        with pytest.raises(DataError, match="not a regular file"):
            load_table(source, format="csv")
    assert time.perf_counter() - started < 5


def test_binary_or_endless_line_csv_is_refused_after_a_bounded_read(tmp_path):
    zeros = tmp_path / "zeros.csv"
    zeros.write_bytes(b"\x00" * (4 * SNIFF_BYTES))
    with pytest.raises(DataError, match="binary data"):
        load_table(zeros)
    line = tmp_path / "line.csv"
    line.write_bytes(b"a" * (2 * SNIFF_BYTES))
    with pytest.raises(DataError, match="no line break"):
        load_table(line)


def test_parquet_name_on_other_bytes_is_refused_by_its_magic(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"\x00" * 1000)
    with pytest.raises(DataError, match="magic bytes"):
        load_table(path)


# -- item 11: Parquet column types a table cell cannot be --------------------------------

@pytest.mark.parametrize(
    ("array", "needle"),
    [
        (pa.array([[1, 2]] * 30), "nested values"),
        (pa.array([{"a": 1}] * 30), "nested values"),
        (pa.array([b"\x00\x01"] * 30), "raw bytes"),
    ],
)
def test_nested_and_binary_parquet_columns_are_named(tmp_path, array, needle):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"age": list(range(30)), "weird": array}), path)
    with pytest.raises(DataError) as err:
        load_table(path)
    assert "'weird'" in str(err.value) and needle in str(err.value) and "t.parquet" in str(err.value)


def test_decimal_parquet_and_frame_columns_become_numbers(tmp_path):
    values = [decimal.Decimal(f"{70 + i}.{i:02d}") for i in range(40)]
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"weight": pa.array(values, pa.decimal128(6, 2)), "n": list(range(40))}), path)
    frame = load_table(path)
    assert frame["weight"].dtype == "float64" and frame["weight"].iloc[1] == pytest.approx(71.01)
    from_frame = load_table(pd.DataFrame({"weight": values, "n": range(40)}))
    assert from_frame["weight"].dtype == "float64"


def test_list_cells_in_a_dataframe_are_named():
    with pytest.raises(DataError, match="'tags' holds list values"):
        load_table(pd.DataFrame({"tags": [["a"], ["b"]] * 15, "n": range(30)}))


# -- item 7: infinite values -------------------------------------------------------------

def test_infinite_values_are_an_error_naming_the_column(tmp_path):
    frame = make_population(80, seed=1)
    frame.loc[3, "bmi"] = np.inf
    frame.loc[4, "sbp"] = -np.inf
    with pytest.raises(DataError) as err:
        _prepare(tmp_path, frame)
    msg = str(err.value)
    assert "'bmi' (1 value)" in msg and "'sbp'" in msg and "cohort.csv" in msg and "data.infinite: missing" in msg


def test_overflowing_csv_numbers_are_infinite_too(tmp_path):
    path = tmp_path / "cohort.csv"
    text = make_population(60, seed=1).to_csv(index=False).splitlines()
    header = text[0].split(",")
    row = text[1].split(",")
    row[header.index("bmi")] = "1e999"  # read as inf by the CSV parser
    path.write_text("\n".join([text[0], ",".join(row), *text[2:]]) + "\n")
    cfg = parse_config(config())
    with pytest.raises(DataError, match="'bmi'"):
        prepare(cfg.data, seed=1, base_dir=tmp_path)


def test_infinite_values_as_missing_when_the_config_says_so(tmp_path):
    frame = make_population(80, seed=1)
    frame.loc[3, "bmi"] = np.inf
    prep = _prepare(tmp_path, frame, infinite="missing")
    both = pd.concat([prep.train, prep.holdout])
    assert both.loc[3, "bmi"] != both.loc[3, "bmi"]  # NaN
    assert np.isfinite(both["bmi"].dropna()).all()


# -- item 8: declared bounds are checked and applied ----------------------------------------

def test_real_values_outside_declared_bounds_are_an_error(tmp_path):
    frame = make_population(80, seed=1)  # ages 18-90
    with pytest.raises(DataError) as err:
        _prepare(tmp_path, frame, columns={"age": {"max": 60}})
    msg = str(err.value)
    assert "'age'" in msg and "above the max 60" in msg and "data.columns.age" in msg


def test_declared_bounds_clip_the_synthetic_data():
    frame = pd.DataFrame({"age": pd.array([10, 70, 95, 40], dtype="Int64"), "x": [-1.0, 0.5, 2.0, np.nan]})
    clipped = clip_to_bounds(frame, {"age": (18.0, 90.0), "x": (0.0, None)})
    assert clipped["age"].tolist() == [18, 70, 90, 40] and clipped["age"].dtype == "Int64"
    assert clipped["x"].tolist()[:3] == [0.0, 0.5, 2.0] and np.isnan(clipped["x"].iloc[3])


def test_generated_values_stay_inside_declared_bounds(tmp_path):
    frame = make_population(150, seed=2)
    frame["bmi"] = frame["bmi"].clip(15, 45)
    frame.to_csv(tmp_path / "cohort.csv", index=False)
    cfg = config(data={"source": str(tmp_path / "cohort.csv"), "columns": {"bmi": {"min": 15, "max": 45}}},
                 audit={"enabled": False},
                 generator={"name": "gaussian_copula", "params": {"enforce_min_max_values": False}},
                 sample={"rows": 400})
    cfg.pop("gates")
    run = synth.generate(cfg, output_dir=tmp_path / "out")
    bmi = run.synthetic["bmi"].dropna()
    assert bmi.min() >= 15 and bmi.max() <= 45


# -- items 2 and 3: what the schema in result.json may say --------------------------------

def test_near_unique_label_column_is_not_modelled(tmp_path):
    frame = make_population(120, seed=1)
    frame["patient_name"] = [f"Name{i:04d}" for i in range(120)]  # unique, short, not named like an id
    prep = _prepare(tmp_path, frame)
    assert "patient_name" not in prep.modelled.names
    reason = next(d["reason"] for d in prep.dropped if d["name"] == "patient_name")
    assert "near-unique" in reason and "kind: categorical" in reason
    kept = _prepare(tmp_path, frame, columns={"patient_name": {"kind": "categorical"}})
    assert "patient_name" in kept.modelled.names  # the config may opt in


def test_schema_facts_come_from_training_rows_only(tmp_path):
    frame = make_population(200, seed=1)
    frame["bmi"] = frame["bmi"].clip(16, 40)
    prep0 = _prepare(tmp_path, frame)
    held = prep0.holdout.index[0]
    frame.loc[held, "bmi"] = 159.93936  # one holdout patient's extreme value
    frame.loc[held, "race"] = "holdout-only-level"
    prep = _prepare(tmp_path, frame)
    assert held in prep.holdout.index
    assert prep.schema.column("bmi").maximum <= 40
    assert "holdout-only-level" not in prep.schema.column("race").categories


def test_public_schema_coarsens_ranges_and_hides_rare_levels():
    frame = make_population(400, seed=1)
    frame.loc[0, "bmi"] = 47.318462917305
    frame.loc[1:3, "race"] = "rare-level"  # 3 records < k = 5
    from synth.data.infer import infer_schema

    schema = infer_schema(frame, target="outcome")
    public = public_schema(schema, frame, k=5)
    text = json.dumps(public)
    assert "rare-level" not in text and "47.318" not in text
    bmi = next(c for c in public["columns"] if c["name"] == "bmi")
    low, high = bmi["range"]["low"], bmi["range"]["high"]
    assert frame["bmi"].min() < low < high < frame["bmi"].max()  # percentiles, not the extremes
    assert high == float(f"{high:.2g}") and low == float(f"{low:.2g}")  # two significant digits
    race = next(c for c in public["columns"] if c["name"] == "race")
    assert race["rare_levels"] == 1 and set(race["categories"]) == {"asian", "black", "other", "white"}
    named = public_schema(schema, frame, k=1)  # k = 1: the config names every level
    assert "rare-level" in json.dumps(named)
