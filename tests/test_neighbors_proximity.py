"""rows_within / frame_rows_within: which rows lie within a distance of another table's rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

from synth.neighbors import MixedEncoder, frame_rows_within, rows_within
from synth.schema import ColumnKind, ColumnSpec, Schema


def test_matches_brute_force_distances():
    rng = np.random.default_rng(3)
    q, r = rng.random((300, 4)), rng.random((500, 4))
    brute = cdist(q, r).min(1)
    radius = float(np.quantile(brute, 0.3))
    got = rows_within(q, r, radius)
    np.testing.assert_array_equal(got, brute <= radius)
    assert 0.2 < got.mean() < 0.4


def test_radius_zero_marks_exact_copies_only():
    rng = np.random.default_rng(4)
    r = rng.random((200, 3))
    q = np.vstack([r[:5], r[5:10] + 1e-3, rng.random((10, 3)) + 2])
    got = rows_within(q, r, 0.0)
    assert got.tolist() == [True] * 5 + [False] * 15


def test_empty_inputs_and_bad_radius():
    assert rows_within(np.zeros((0, 2)), np.ones((3, 2)), 1.0).shape == (0,)
    assert not rows_within(np.ones((2, 2)), np.zeros((0, 2)), 1.0).any()
    with pytest.raises(ValueError, match="radius"):
        rows_within(np.ones((1, 2)), np.ones((1, 2)), -1.0)


def test_frame_distances_in_the_mixed_encoding():
    schema = Schema((ColumnSpec("age", ColumnKind.INTEGER), ColumnSpec("sex", ColumnKind.CATEGORICAL)))
    train = pd.DataFrame({"age": [20, 60], "sex": ["F", "M"]})
    enc = MixedEncoder(schema).fit(train)
    # (20, F) is a copy; (40, F) is half the age range away (0.5); (20, M) one category mismatch (1.0)
    syn = pd.DataFrame({"age": [20, 40, 20], "sex": ["F", "F", "M"]})
    assert frame_rows_within(syn, train, enc, 0.0).tolist() == [True, False, False]
    assert frame_rows_within(syn, train, enc, 0.5).tolist() == [True, True, False]
    assert frame_rows_within(syn, train, enc, 0.999).tolist() == [True, True, False]
    assert frame_rows_within(syn, train, enc, 1.0).tolist() == [True, True, True]
