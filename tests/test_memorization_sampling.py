"""Query sampling in the memorisation audit (``max_query_rows``): queries are sampled, references never."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synth.audits.base import AuditInputs
from synth.audits.privacy.memorization import MemorizationAudit
from synth.errors import ConfigError


@pytest.fixture(scope="module")
def known(known_twins):
    """The population with natural duplicates: about 4 % of rows have an exact twin."""
    return known_twins


DISTANCE_METRICS = ("privacy.dcr_share", "privacy.dcr_baseline_ratio", "privacy.nndr_ratio", "privacy.nnaa",
                    "privacy.nnaa_privacy_loss")
COPY_METRICS = ("privacy.exact_copy_rate", "privacy.exact_copy_rate_holdout", "privacy.exact_copy_excess")


def _run(known, schema, generated: str, **params):
    inputs = AuditInputs(train=known["train"], holdout=known["holdout"], synthetic=known[generated], schema=schema, seed=3)
    return MemorizationAudit(n_boot=50, **params).run(inputs)


@pytest.fixture(scope="module")
def runs(known, schema):
    # train 1000, holdout 500, synthetic 1000 rows: a cap of 300 samples every table's queries
    return {
        (g, cap): _run(known, schema, g, max_query_rows=cap)
        for g in ("fresh", "copy")
        for cap in (300, 1000)
    }


def test_below_the_cap_nothing_is_sampled(runs, known, schema):
    full = _run(known, schema, "fresh")  # default cap, far above 1000 rows
    capped = runs[("fresh", 1000)]  # cap equal to the largest table
    for name in DISTANCE_METRICS + COPY_METRICS:
        assert capped.metric(name).to_dict() == full.metric(name).to_dict(), name
    share = full.metric("privacy.dcr_share").details
    assert share["queries_sampled"] is False
    assert share["n_query"] == {"synthetic": 1000}
    assert share["n_reference"] == {"train": 1000, "holdout": 500}
    assert any("no query sampling" in n for n in full.notes)


def test_sampled_queries_are_documented_in_details(runs):
    s = runs[("fresh", 300)]
    d = s.metric("privacy.dcr_share").details
    assert d["queries_sampled"] is True
    assert d["n_query"] == {"synthetic": 300}
    assert d["n_reference"] == {"train": 1000, "holdout": 500}  # the reference side is complete
    assert d["closer_to_train"] + d["closer_to_holdout"] + d["ties"] == 300
    nnaa = s.metric("privacy.nnaa").details
    assert nnaa["n_query"] == {"train": 300, "holdout": 300, "synthetic": 300}
    assert nnaa["n_reference"] == {"train": 1000, "holdout": 500, "synthetic": 1000}
    base = s.metric("privacy.dcr_baseline_ratio").details
    assert base["n_query"] == {"synthetic": 300, "holdout": 300} and base["queries_sampled"] is True
    assert any("Queries sampled (max_query_rows = 300)" in n for n in s.notes)
    table = s.tables[0]
    assert "random sample of 300 of the 1000 training rows" in table.caption
    json.dumps(s.to_dict())


def test_exact_copies_always_use_every_row(runs):
    for g in ("fresh", "copy"):
        for name in COPY_METRICS:
            a, b = runs[(g, 300)].metric(name), runs[(g, 1000)].metric(name)
            assert a.value == b.value and a.ci == b.ci, name
            assert a.details["queries_sampled"] is False and a.details["n_query"] == {"synthetic": 1000}


def test_sampled_share_carries_its_sampling_uncertainty(runs):
    sampled, full = runs[("fresh", 300)].metric("privacy.dcr_share"), runs[("fresh", 1000)].metric("privacy.dcr_share")
    assert sampled.ci.low <= 0.5 <= sampled.ci.high
    assert sampled.ci.low <= full.value <= sampled.ci.high
    assert sampled.ci.high - sampled.ci.low > full.ci.high - full.ci.low  # fewer rows, wider interval
    loss = runs[("fresh", 300)].metric("privacy.nnaa_privacy_loss")
    assert loss.ci.low < 0.05 and loss.ci.high > -0.05


def test_memorisation_is_still_caught_on_sampled_queries(runs):
    s = runs[("copy", 300)]
    assert s.metric("privacy.dcr_share").value > 0.97  # natural twins in the holdout tie a few copies
    assert s.metric("privacy.dcr_share").ci.low > 0.85  # the split's randomization variance, 300 queries
    assert s.metric("privacy.dcr_baseline_ratio").ci.high < 0.1
    assert s.metric("privacy.nnaa_privacy_loss").ci.low > 0.3
    # a sampled synthetic copy sits at distance 0 from its (complete) training table
    assert s.metric("privacy.dcr_baseline_ratio").details["synthetic_rows_at_distance_zero"] == 300
    ranking = s.tables[0]
    assert all(row[2] == 0.0 for row in ranking.rows)  # the most exposed sampled rows have an exact synthetic copy
    assert s.metric("privacy.exposure_excess").details["n_query"] == {"train": 300, "holdout": 300}


def test_sampling_is_seeded(known, schema):
    a = _run(known, schema, "fresh", max_query_rows=200)
    b = _run(known, schema, "fresh", max_query_rows=200)
    assert a.metric("privacy.dcr_share").to_dict() == b.metric("privacy.dcr_share").to_dict()
    other = MemorizationAudit(n_boot=50, max_query_rows=200).run(AuditInputs(
        train=known["train"], holdout=known["holdout"], synthetic=known["fresh"], schema=schema, seed=4))
    assert other.metric("privacy.dcr_share").value != a.metric("privacy.dcr_share").value or \
        other.metric("privacy.nnaa").value != a.metric("privacy.nnaa").value


def test_max_query_rows_is_checked():
    for bad in (0, 9, 2.5, True, "100"):
        with pytest.raises(ConfigError, match="max_query_rows"):
            MemorizationAudit(max_query_rows=bad)
    assert MemorizationAudit().params["max_query_rows"] == 50_000


def test_query_rows_sample_without_replacement():
    from synth.audits.privacy.memorization import _query_rows

    rng = np.random.default_rng(0)
    rows = _query_rows(1000, 300, rng)
    assert rows.size == 300 and np.unique(rows).size == 300 and (np.diff(rows) > 0).all()
    np.testing.assert_array_equal(_query_rows(50, 300, rng), np.arange(50))
