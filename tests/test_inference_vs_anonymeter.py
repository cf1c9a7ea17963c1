"""synth's inference attack against anonymeter's own InferenceEvaluator.

Where the definitions match (same targets: the same seed), the counts and risks must be
identical, not just close; where the randomness differs they must agree within intervals.
"""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pandas as pd
import pytest
from anonymeter.evaluators import InferenceEvaluator
from anonymeter.evaluators.inference_evaluator import evaluate_inference_guesses
from anonymeter.neighbors.mixed_types_kneighbors import MixedTypeKNeighbors, _nearest_neighbors
from anonymeter.preprocessing.transformations import mixed_types_transform

from synth.audits.privacy.anonymeter import nearest as anonymeter_nearest
from synth.audits.privacy.anonymeter.frames import prepare_frames
from synth.audits.privacy.anonymeter.inference import guess_is_correct, inference_risk
from synth.audits.privacy.anonymeter.nearest import (
    argsort_first,
    encode_like_anonymeter,
    index_dims,
    nearest_encoded,
    nearest_like_anonymeter,
)
from synth.errors import DataError

BACKENDS = ("index", "numba", "torch")


@pytest.fixture(scope="module")
def frames(known, schema):
    """Population frames in plain dtypes (anonymeter's KNN cannot take pandas' nullable ones),
    original column names kept; creatinine keeps its NaNs."""
    prepared = prepare_frames(known["train"], known["fresh"], known["holdout"], schema)
    back = {v: k for k, v in prepared.safe_names.items()}
    return tuple(f.rename(columns=back) for f in (prepared.ori, prepared.syn, prepared.control))


def _anonymeter(ori, syn, control, aux, secret, regression, n_attacks, seed):
    np.random.seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = InferenceEvaluator(
            ori=ori, syn=syn, control=control, aux_cols=aux, secret=secret, regression=regression, n_attacks=n_attacks
        ).evaluate(n_jobs=1)
        return ev.results(), ev.risk()


CASES = [
    # secret, regression, aux: categorical secret; numeric secret with tolerance; NaN-holding aux
    ("outcome", False, ["age", "sex", "race"]),
    ("race", False, ["age", "sex", "creatinine", "diabetes"]),
    ("bmi", True, ["age", "sex", "sbp", "creatinine"]),
]


@pytest.mark.parametrize(("secret", "regression", "aux"), CASES)
def test_same_seed_gives_identical_counts_and_risk(frames, secret, regression, aux):
    ori, syn, control = frames
    ref_results, ref_risk = _anonymeter(ori, syn, control, aux, secret, regression, 300, seed=11)
    for backend in ("auto", "index", "numba"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = inference_risk(ori, syn, aux, secret, control=control, regression=regression, n_attacks=300,
                                  random_state=11, backend=backend)
            risk = ours.risk()
        assert (ours.n_success, ours.n_baseline, ours.n_control) == (
            ref_results.n_success, ref_results.n_baseline, ref_results.n_control
        ), backend
        assert (ours.n_attacks, ours.n_attacks_baseline, ours.n_attacks_control) == (
            ref_results.n_attacks_ori, ref_results.n_attacks_baseline, ref_results.n_attacks_control
        )
        assert risk.value == ref_risk.value
        assert risk.ci == ref_risk.ci
        assert ours.correct.sum() == ours.n_success and len(ours.target_rows) == 300


def test_copy_without_control_reports_the_attack_rate(known, schema):
    prepared = prepare_frames(known["train"], known["copy"], known["holdout"], schema)
    aux = [prepared.safe(c) for c in ("age", "bmi", "sbp")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = inference_risk(prepared.ori, prepared.syn, aux, prepared.safe("race"), n_attacks=200, random_state=0)
    assert ours.n_control is None and ours.n_attacks_control == -1
    # Every target is its own nearest synthetic row (distance 0): the attack succeeds except
    # where another row ties at distance 0 with a different secret (and wins the tie-break).
    assert ours.n_success >= 196
    assert 200 - ours.n_success <= ours.n_ambiguous
    assert ours.risk().value == pytest.approx(ours.results().attack_rate.value)


def test_other_randomness_agrees_within_intervals(frames):
    ori, syn, control = frames
    aux = ["age", "sex", "race", "sbp"]
    _, ref = _anonymeter(ori, syn, control, aux, "outcome", False, 400, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = inference_risk(ori, syn, aux, "outcome", control=control, n_attacks=400, random_state=2).risk()
    assert ours.ci[0] <= ref.ci[1] and ref.ci[0] <= ours.ci[1]


@pytest.mark.parametrize(
    "aux",
    [
        ["age", "sex", "race", "creatinine", "diabetes"],  # mixed, NaNs on both sides, many ties
        ["sex", "race", "diabetes"],  # categorical only: nearly every row ties
        ["age", "bmi", "creatinine"],  # numeric only
    ],
)
def test_nearest_rows_are_anonymeters_including_ties_and_nans(frames, aux):
    """Every index equals kneighbors' (ties resolved like numba's quicksort), every backend;
    with codes, every guess equals the code of kneighbors' row."""
    ori, syn, _ = frames
    queries = ori.iloc[:150]
    ref = MixedTypeKNeighbors(n_neighbors=1, n_jobs=1).fit(syn[aux]).kneighbors(queries[aux])[:, 0]
    codes = np.arange(len(syn)) % 3
    resolved = {}
    for backend in BACKENDS:
        idx, resolved[backend] = nearest_like_anonymeter(queries[aux], syn[aux], backend=backend)
        np.testing.assert_array_equal(idx, ref)
        idx, _ = nearest_like_anonymeter(queries[aux], syn[aux], backend=backend, tie_codes=codes)
        np.testing.assert_array_equal(codes[idx], codes[ref])
    assert resolved["index"] > 0  # the test really exercised tie-breaking
    assert len(set(resolved.values())) == 1  # every backend sees the same ties


def test_index_dimensions_known_answers(frames):
    """Numeric columns count 1, a two-level category 1, a k-level category k (race: 4)."""
    ori, syn, _ = frames
    for aux, dims in ((["age", "bmi", "creatinine"], 3), (["sex", "race", "diabetes"], 6),
                      (["age", "sex", "race", "creatinine", "diabetes"], 8)):
        c_arr, q_arr, n_num = encode_like_anonymeter(syn[aux], ori[aux])
        assert index_dims(c_arr, q_arr, n_num) == dims


def _reference(q_arr, c_arr, n_num):
    """anonymeter's own jitted search on encoded arrays (full distance rows, numba argsort)."""
    return _nearest_neighbors(q_arr, c_arr, n_num, 1)[0][:, 0]


def test_index_with_many_equidistant_rows_and_the_scan_fallback(monkeypatch):
    """Integer grids: many distinct rows share each minimum (more than the tree's first
    neighbours), duplicated with different codes; also when such queries are scanned."""
    rng = np.random.default_rng(5)
    grid = np.array([(x, y) for x in range(7) for y in range(7)], dtype=np.float64)
    c_arr = np.vstack([grid, grid, grid[::3]])[rng.permutation(2 * 49 + 17)] / 6.0
    c_arr = np.hstack([c_arr, rng.integers(0, 2, (len(c_arr), 1))])  # a two-level category
    q_arr = np.hstack([rng.integers(0, 13, (120, 2)) / 12.0, rng.integers(0, 2, (120, 1))])
    codes = rng.integers(0, 3, len(c_arr))
    ref = _reference(q_arr, c_arr, 2)
    for max_members in (anonymeter_nearest._MAX_MEMBERS, 2):
        monkeypatch.setattr(anonymeter_nearest, "_MAX_MEMBERS", max_members)
        idx, n_resolved = nearest_encoded(q_arr, c_arr, 2, backend="index")
        np.testing.assert_array_equal(idx, ref)
        assert n_resolved > 60
        idx, _ = nearest_encoded(q_arr, c_arr, 2, backend="index", tie_codes=codes)
        np.testing.assert_array_equal(codes[idx], codes[ref])


def test_index_on_missing_value_patterns():
    """A query missing a value only meets rows missing the same values (other distances
    are NaN); a pattern no candidate has leaves an all-NaN row, ordered as numba orders it."""
    rng = np.random.default_rng(2)
    c_arr = rng.integers(0, 4, (300, 3)).astype(np.float64) / 3.0
    c_arr[rng.random(300) < 0.3, 0] = np.nan
    c_arr[rng.random(300) < 0.2, 2] = np.nan  # third column categorical: NaN is a level there
    q_arr = rng.integers(0, 4, (80, 3)).astype(np.float64) / 3.0
    q_arr[::4, 0] = np.nan
    q_arr[1::8, 1] = np.nan  # no candidate misses column 1
    q_arr[::5, 2] = np.nan
    ref = _reference(q_arr, c_arr, 2)
    for tie_codes in (None, np.arange(300) % 2):
        idx, _ = nearest_encoded(q_arr, c_arr, 2, backend="index", tie_codes=tie_codes)
        codes = np.arange(300) if tie_codes is None else tie_codes
        np.testing.assert_array_equal(codes[idx], codes[ref])


def test_index_margin_holds_for_large_unscaled_values():
    """Values near 1e9 in steps of 0.1 (not range-scaled): the tree's rounding differs from
    anonymeter's sums, and the re-scoring still picks anonymeter's minimum and ties."""
    rng = np.random.default_rng(3)
    c_arr = 1e9 + rng.integers(0, 30, (400, 3)) * 0.1
    q_arr = 1e9 + rng.integers(0, 30, (100, 3)) * 0.1
    ref = _reference(q_arr, c_arr, 3)
    np.testing.assert_array_equal(nearest_encoded(q_arr, c_arr, 3, backend="index")[0], ref)


def test_infinite_values_are_scanned():
    """The tree takes no infinities: "index" then scans, with anonymeter's answer."""
    rng = np.random.default_rng(4)
    c_arr = rng.integers(0, 3, (200, 2)).astype(np.float64)
    c_arr[::17, 0] = np.inf
    q_arr = rng.integers(0, 3, (50, 2)).astype(np.float64)
    q_arr[::9, 0] = np.inf
    ref = _reference(q_arr, c_arr, 2)
    for backend in ("index", "numba"):
        np.testing.assert_array_equal(nearest_encoded(q_arr, c_arr, 2, backend=backend)[0], ref)


def test_repeated_queries_are_searched_once_and_counted_each(frames):
    ori, syn, _ = frames
    aux = ["sex", "race", "diabetes"]  # every query ties
    queries = pd.concat([ori[aux].iloc[:3]] * 4, ignore_index=True)
    ref = MixedTypeKNeighbors(n_neighbors=1, n_jobs=1).fit(syn[aux]).kneighbors(queries)[:, 0]
    idx, n_resolved = nearest_like_anonymeter(queries, syn[aux])
    np.testing.assert_array_equal(idx, ref)
    assert n_resolved == 12


def test_encoding_is_bit_identical_to_anonymeters():
    rng = np.random.default_rng(6)

    def frame(n, shift):
        return pd.DataFrame({
            "i64": rng.integers(-5, 50, n) + shift,
            "i32": rng.integers(0, 9, n).astype(np.int32),
            "f32": rng.random(n).astype(np.float32),
            "f64": np.where(rng.random(n) < 0.2, np.nan, rng.normal(3, 7, n)),
            "flat": np.full(n, 4.0),  # zero range: divided by 1
            "cat": rng.choice(["x", "y", "z"], n),
        })

    syn, ori = frame(300, 0), frame(120, 40)
    ori["i64"] = ori["i64"].astype(np.float64)  # int in one frame, float in the other
    c_arr, q_arr, n_num = encode_like_anonymeter(syn, ori)
    num = sorted(c for c in syn.columns if c != "cat")
    ref_c, ref_q = mixed_types_transform(syn, ori, num_cols=num, cat_cols=["cat"])
    assert n_num == len(num)
    for ours, ref in ((c_arr, ref_c), (q_arr, ref_q)):
        expected = ref[num].to_numpy(dtype=np.float64)
        np.testing.assert_array_equal(ours[:, :n_num].view(np.int64), expected.view(np.int64))  # every bit
    labels = np.concatenate([ref_c["cat"], ref_q["cat"]])
    codes = np.concatenate([c_arr[:, -1], q_arr[:, -1]])
    np.testing.assert_array_equal(labels[:, None] == labels[None, :], codes[:, None] == codes[None, :])


def test_argsort_first_is_numbas_argsort():
    @numba.njit
    def first(row):
        return row.argsort()[0]

    rng = np.random.default_rng(0)
    rows = rng.integers(0, 4, (300, 2000)).astype(np.float64)  # heavy ties
    rows[rng.random(rows.shape) < 0.2] = np.nan
    rows[7] = np.nan  # no finite value at all
    rows[8, :10] = 0.0  # short: insertion sort only
    rows[9] = np.sort(rows[9])  # sorted (NaN last), reversed, constant, mostly NaN (NaN pivots)
    rows[10] = rows[9][::-1]
    rows[11] = 1.0
    rows[12, rng.random(2000) < 0.9] = np.nan
    rows[13] = rng.random(2000)  # no ties
    expected = np.array([first(r) for r in rows])
    np.testing.assert_array_equal(argsort_first(rows), expected)
    for n in (1, 2, 9, 15, 16, 17, 31, 100):  # around numba's insertion-sort cut-off (15)
        short = np.ascontiguousarray(rows[:, :n])
        np.testing.assert_array_equal(argsort_first(short), [first(r) for r in short])


def test_guess_rule_is_anonymeters():
    rng = np.random.default_rng(3)
    secrets = rng.normal(0, 10, 500)
    guesses = secrets * rng.uniform(0.9, 1.1, 500)
    guesses[::7] = -guesses[::7]  # negative guesses: anonymeter divides by the signed guess
    guesses[::11] = np.nan
    secrets[::22] = np.nan
    for regression in (True, False):
        ours = guess_is_correct(guesses, secrets, regression)
        ref = evaluate_inference_guesses(pd.Series(guesses), pd.Series(secrets), regression=regression)
        np.testing.assert_array_equal(ours, ref)
    cats = np.array(["a", "b", None, "a"], dtype=object)
    truth = np.array(["a", "a", None, "b"], dtype=object)
    np.testing.assert_array_equal(guess_is_correct(cats, truth, False), [True, False, True, False])


def test_missing_column_is_a_user_error(frames):
    ori, syn, control = frames
    with pytest.raises(DataError, match="'bmii'.*Did you mean 'bmi'"):
        inference_risk(ori, syn, ["age", "bmii"], "outcome", control=control)
    with pytest.raises(DataError, match="also an auxiliary column"):
        inference_risk(ori, syn, ["age", "outcome"], "outcome")
