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
from anonymeter.neighbors.mixed_types_kneighbors import MixedTypeKNeighbors

from synth.audits.anonymeter_frames import prepare_frames
from synth.audits.anonymeter_nearest import argsort_first, nearest_like_anonymeter
from synth.audits.inference_risk import guess_is_correct, inference_risk
from synth.errors import DataError


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = inference_risk(ori, syn, aux, secret, control=control, regression=regression, n_attacks=300, random_state=11)
        risk = ours.risk()
    assert (ours.n_success, ours.n_baseline, ours.n_control) == (
        ref_results.n_success, ref_results.n_baseline, ref_results.n_control
    )
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
    """Every index equals kneighbors' (ties resolved like numba's quicksort), both backends."""
    ori, syn, _ = frames
    queries = ori.iloc[:150]
    ref = MixedTypeKNeighbors(n_neighbors=1, n_jobs=1).fit(syn[aux]).kneighbors(queries[aux])[:, 0]
    for backend in ("numba", "torch"):
        idx, n_resolved = nearest_like_anonymeter(queries[aux], syn[aux], backend=backend)
        np.testing.assert_array_equal(idx, ref)
        assert n_resolved > 0  # the test really exercised tie-breaking


def test_argsort_first_is_numbas_argsort():
    @numba.njit
    def first(row):
        return row.argsort()[0]

    rng = np.random.default_rng(0)
    rows = rng.integers(0, 4, (300, 2000)).astype(np.float64)  # heavy ties
    rows[rng.random(rows.shape) < 0.2] = np.nan
    rows[7] = np.nan  # no finite value at all
    rows[8, :10] = 0.0  # short: insertion sort only
    expected = np.array([first(r) for r in rows])
    np.testing.assert_array_equal(argsort_first(rows), expected)
    short = rows[:, :9]
    np.testing.assert_array_equal(argsort_first(short), [first(np.ascontiguousarray(r)) for r in short])


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
