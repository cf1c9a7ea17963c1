"""Our DCR share against SDMetrics' DCROverfittingProtection on shared examples.

Where the definitions match (``dcr_share_sdmetrics_definition``: SDMetrics' per-column
range-scaled distance, strict "closer", no size correction) the numbers must be equal,
row by row. Our own share (mixed-type euclidean distance, ties 1/2, equal-size weighting)
is a different statistic of the same question: with equal-size sets SDMetrics' value
must fall inside our interval.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from synth.audits.privacy.dcr import dcr_share, dcr_share_sdmetrics_definition, sdmetrics_dcr
from synth.neighbors.encoding import MixedEncoder
from synth.schema import ColumnKind, ColumnSpec, Schema

sdmetrics = pytest.importorskip("sdmetrics")
from sdmetrics.single_table import DCROverfittingProtection  # noqa: E402
from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr  # noqa: E402

SCHEMA = Schema((
    ColumnSpec("age", ColumnKind.INTEGER),
    ColumnSpec("sex", ColumnKind.CATEGORICAL),
    ColumnSpec("race", ColumnKind.CATEGORICAL),
    ColumnSpec("bmi", ColumnKind.NUMERIC),
    ColumnSpec("creatinine", ColumnKind.NUMERIC, nullable=True),
    ColumnSpec("diabetes", ColumnKind.BOOLEAN),
))
METADATA = {"columns": {
    "age": {"sdtype": "numerical"}, "sex": {"sdtype": "categorical"}, "race": {"sdtype": "categorical"},
    "bmi": {"sdtype": "numerical"}, "creatinine": {"sdtype": "numerical"}, "diabetes": {"sdtype": "boolean"},
}}


def _draw(n: int, seed: int) -> pd.DataFrame:
    """Clinical-looking rows whose numeric columns hit fixed bounds in every sample of a few
    hundred rows (clipping), so every set has the same range -- SDMetrics scales by each
    reference set's own range, and with equal ranges its cap at 1 never binds."""
    rng = np.random.default_rng(seed)
    creat = np.clip(np.round(rng.lognormal(0.0, 0.5, n), 2), 0.5, 2.0)
    return pd.DataFrame({
        "age": np.clip(rng.integers(10, 100, n), 18, 90),
        "sex": rng.choice(["F", "M"], n),
        "race": rng.choice(["white", "black", "asian", "other"], n, p=[0.6, 0.2, 0.12, 0.08]),
        "bmi": np.clip(np.round(rng.normal(27, 7, n), 1), 16.0, 40.0),
        "creatinine": np.where(rng.random(n) < 0.1, np.nan, creat),
        "diabetes": rng.random(n) < 0.15,
    })


@pytest.fixture(scope="module")
def sets():
    train, holdout, fresh = _draw(400, 1), _draw(400, 2), _draw(400, 3)
    noisy = train.copy()
    noisy["bmi"] = np.clip(noisy["bmi"] + np.random.default_rng(4).normal(0, 0.3, len(noisy)), 16.0, 40.0)
    return {"train": train, "holdout": holdout, "fresh": fresh, "noisy": noisy}


def _sdmetrics(train, synthetic, holdout) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DCROverfittingProtection.compute_breakdown(
            real_training_data=train, synthetic_data=synthetic, real_validation_data=holdout,
            metadata=METADATA, table_name=None,
        )


def test_example_has_shared_ranges(sets):
    for col in ("age", "bmi", "creatinine"):
        lows = {sets[k][col].min() for k in ("train", "holdout")}
        highs = {sets[k][col].max() for k in ("train", "holdout")}
        assert len(lows) == 1 and len(highs) == 1, col


@pytest.mark.parametrize("generated", ["fresh", "noisy"])
def test_per_row_dcr_equals_sdmetrics(sets, generated):
    for ref in ("train", "holdout"):
        theirs = calculate_dcr(dataset=sets[generated], reference_dataset=sets[ref], metadata=METADATA).to_numpy()
        ours, outside = sdmetrics_dcr(sets[generated], sets[ref], SCHEMA)
        assert not outside.any()
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("generated", ["fresh", "noisy"])
def test_share_equals_sdmetrics_exactly(sets, generated):
    theirs = _sdmetrics(sets["train"], sets[generated], sets["holdout"])
    ours = dcr_share_sdmetrics_definition(sets[generated], sets["train"], sets["holdout"], SCHEMA)
    assert ours.n_outside_range == 0
    assert ours.closer_to_training == theirs["synthetic_data_percentages"]["closer_to_training"]
    assert ours.closer_to_holdout == pytest.approx(theirs["synthetic_data_percentages"]["closer_to_holdout"])
    assert ours.score == pytest.approx(theirs["score"])


@pytest.mark.parametrize("generated", ["fresh", "noisy"])
def test_sdmetrics_share_inside_our_interval(sets, generated):
    theirs = _sdmetrics(sets["train"], sets[generated], sets["holdout"])["synthetic_data_percentages"]["closer_to_training"]
    enc = MixedEncoder(SCHEMA).fit(sets["train"])
    ours = dcr_share(enc.transform(sets[generated]), enc.transform(sets["train"]), enc.transform(sets["holdout"]))
    assert ours.ci.low <= theirs <= ours.ci.high
    if generated == "noisy":
        assert ours.ci.low > 0.9
    else:
        assert ours.ci.low <= 0.5 <= ours.ci.high


def test_out_of_range_rows_are_flagged_and_bounded(sets):
    """Synthetic values beyond the reference range: SDMetrics caps each column at 1, our
    encoding does not, so those rows get an upper bound; all other rows stay exact."""
    wild = sets["fresh"].copy()
    wild.loc[:39, "bmi"] = wild.loc[:39, "bmi"] + 30.0  # far above every reference bmi
    theirs = calculate_dcr(dataset=wild, reference_dataset=sets["train"], metadata=METADATA).to_numpy()
    ours, outside = sdmetrics_dcr(wild, sets["train"], SCHEMA)
    assert outside.sum() == 40 and outside[:40].all()
    np.testing.assert_allclose(ours[~outside], theirs[~outside], rtol=0, atol=1e-12)
    assert np.all(ours[outside] >= theirs[outside] - 1e-12)
