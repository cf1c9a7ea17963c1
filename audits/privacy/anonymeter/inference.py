"""A fast, exact re-implementation of anonymeter's inference attack.

anonymeter's :class:`~anonymeter.evaluators.InferenceEvaluator` (v1.1) defines the attack;
this module computes the *same* numbers faster. The definition, read from its source:

- **targets**: ``ori.sample(n)`` rows of the original (training) data, drawn with the
  numpy global ``RandomState``; the attacker knows their ``aux_cols`` and guesses ``secret``.
- **attack**: the guess is the ``secret`` of the nearest synthetic row under anonymeter's
  mixed-type distance (``MixedTypeKNeighbors``, one neighbour). Columns are split by dtype:
  numeric dtypes are divided by their range over *synthetic rows + sampled targets*
  (``x / (max - min)``, a zero range counts 1); every other dtype is label-encoded. The
  distance between two rows sums, column by column in the order ``sorted(numeric) +
  sorted(categorical)``: ``|a - b|`` for numerics, ``1`` for a categorical mismatch, and
  ``1`` when both values are NaN (one NaN makes the distance NaN, which sorts last). The
  nearest row is ``argsort()[0]`` of that distance row under numba's quicksort, so ties go
  to whichever tied row numba's quicksort puts first.
- **guess rule**: categorical secrets must match exactly; with ``regression=True`` a guess
  is correct when ``|guess - secret| / (guess + 1e-12) <= 0.05`` (note: divided by the
  *guess*, not its absolute value, exactly as anonymeter does). Two missing values match.
- **baseline**: ``syn.sample(n)[secret]`` re-indexed onto the targets' index labels
  (``reindex_like``); anonymeter aligns by label, so a target whose label was not among the
  sampled synthetic labels gets no guess (NaN). We keep that quirk: it is the definition.
- **control**: the same attack against rows of ``control`` (not used for generation).
- **risk**: anonymeter's own :class:`~anonymeter.stats.confidence.EvaluationResults` turns the
  counts into Wilson success rates and the residual risk ``(attack - control) / (1 - control)``
  with its propagated error.

The nearest synthetic row is found by :mod:`synth.audits.privacy.anonymeter.nearest`: a k-d tree
proposes the nearest rows where the attacker's columns embed in few dimensions (a linear
scan otherwise), the proposals are re-scored with anonymeter's own float64 arithmetic, and
wherever tied rows carry different secrets the tie goes where anonymeter's numba quicksort
puts it, so every guess is the guess anonymeter makes.

Given the same ``RandomState`` seed as ``np.random.seed(seed)`` before anonymeter's
``evaluate()``, the sampled targets, success counts and risk are identical.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from anonymeter.stats.confidence import EvaluationResults, PrivacyRisk

from synth.audits.privacy.anonymeter.nearest import Backend, nearest_like_anonymeter
from synth.errors import DataError, did_you_mean

# anonymeter's relative tolerance for a numeric (regression) guess.
DEFAULT_TOLERANCE = 0.05


@dataclass(frozen=True)
class InferenceRiskResult:
    """The counts of one inference attack and what anonymeter makes of them.

    ``target_rows`` are the positions (``iloc``) in ``ori`` of the attacked rows, in
    sampling order; ``correct`` says, per attacked row, whether the guess was right.
    ``n_attacks_control`` is ``-1`` and ``n_control`` ``None`` without a control set
    (anonymeter's convention). ``n_ambiguous`` counts attacked rows (training and control)
    whose nearest synthetic rows tied with different secrets; their ties were resolved
    exactly as anonymeter's numba ``argsort`` resolves them.
    """

    secret: str
    aux_cols: tuple[str, ...]
    regression: bool
    n_attacks: int
    n_attacks_baseline: int
    n_attacks_control: int
    n_success: int
    n_baseline: int
    n_control: int | None
    target_rows: np.ndarray
    correct: np.ndarray
    n_ambiguous: int
    confidence_level: float = 0.95

    def results(self) -> EvaluationResults:
        """anonymeter's EvaluationResults for these counts (it warns when the baseline wins)."""
        return EvaluationResults(
            n_attacks=(self.n_attacks, self.n_attacks_baseline, self.n_attacks_control),
            n_success=self.n_success,
            n_baseline=self.n_baseline,
            n_control=self.n_control,
            confidence_level=self.confidence_level,
        )

    def risk(self, baseline: bool = False) -> PrivacyRisk:
        """The inference risk with its interval, as ``InferenceEvaluator.risk`` returns it."""
        return self.results().risk(baseline=baseline)


def inference_risk(
    ori: pd.DataFrame,
    syn: pd.DataFrame,
    aux_cols: list[str],
    secret: str,
    *,
    control: pd.DataFrame | None = None,
    regression: bool | None = False,
    n_attacks: float = 500,
    random_state: int | np.random.RandomState | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    confidence_level: float = 0.95,
    backend: Backend = "auto",
    device: str | torch.device = "cpu",
    n_jobs: int | None = None,
) -> InferenceRiskResult:
    """Run anonymeter's inference attack (baseline, training targets, control targets).

    Args:
        ori: the original rows the synthetic data was made from (attack targets).
        syn: the synthetic rows the attacker holds.
        aux_cols: columns the attacker knows about each target.
        secret: the column the attacker guesses.
        control: original rows *not* used for generation; ``None`` reports the raw attack rate.
        regression: ``True`` scores numeric guesses within ``tolerance``; ``None`` decides by
            the secret's dtype; ``False`` (anonymeter's default) needs exact matches.
        n_attacks: targets per attack, capped by the rows available (``np.inf``: all rows).
        random_state: a seed or ``RandomState``; a seed ``s`` draws the same targets as
            ``np.random.seed(s)`` before ``InferenceEvaluator.evaluate()``. ``None`` uses
            numpy's global state, exactly as anonymeter does.
        tolerance: relative tolerance of a numeric guess.
        confidence_level: level of the Wilson intervals.
        backend / device: how nearest rows are searched (see
            :func:`~synth.audits.privacy.anonymeter.nearest.nearest_like_anonymeter`): ``"auto"`` is
            the k-d tree for a few auxiliary dimensions and the numba scan otherwise on CPU,
            torch blocks on a CUDA ``device``; every backend gives the same guesses.
        n_jobs: threads for the search (``None``: the libraries' defaults).

    Returns:
        An :class:`InferenceRiskResult`; ``.risk()`` is the anonymeter risk.
    """
    aux_cols = list(aux_cols)
    frames = {"ori": ori, "syn": syn} | ({"control": control} if control is not None else {})
    for label, frame in frames.items():
        for col in [*aux_cols, secret]:
            if col not in frame.columns:
                raise DataError(
                    f"Column '{col}' is not in the {label} data (columns: {', '.join(map(str, frame.columns))})."
                    + did_you_mean(str(col), map(str, frame.columns))
                    + " Pass aux_cols/secret that every frame has."
                )
    if secret in aux_cols:
        raise DataError(f"The secret column '{secret}' is also an auxiliary column; the attacker would already know it.")
    if not aux_cols:
        raise DataError(f"No auxiliary columns given for secret '{secret}'; the attacker needs at least one known column.")

    # None goes through to pandas' sample, which then draws from numpy's global state.
    rs = random_state if random_state is None or isinstance(random_state, np.random.RandomState) else (
        np.random.RandomState(random_state)
    )
    n_ori = int(min(n_attacks, len(ori)))
    n_baseline = int(min(len(syn), n_ori))
    n_ctrl = -1 if control is None else int(min(n_attacks, len(control)))

    # Same order of draws as InferenceEvaluator.evaluate(): baseline, training, control.
    attack = functools.partial(
        _attack, syn=syn, aux_cols=aux_cols, secret=secret, regression=regression,
        tolerance=tolerance, rs=rs, search={"backend": backend, "device": device, "n_jobs": n_jobs},
    )
    base_hits, _, _, _ = attack(ori, n_baseline, naive=True)
    hits, rows, correct, amb_ori = attack(ori, n_ori, naive=False)
    ctrl_hits, amb_ctrl = None, 0
    if control is not None:
        ctrl_hits, _, _, amb_ctrl = attack(control, n_ctrl, naive=False)
    resolved = regression if regression is not None else bool(pd.api.types.is_numeric_dtype(ori[secret]))
    return InferenceRiskResult(
        secret=secret,
        aux_cols=tuple(aux_cols),
        regression=resolved,
        n_attacks=n_ori,
        n_attacks_baseline=n_baseline,
        n_attacks_control=n_ctrl,
        n_success=hits,
        n_baseline=base_hits,
        n_control=ctrl_hits,
        target_rows=rows,
        correct=correct,
        n_ambiguous=amb_ori + amb_ctrl,
        confidence_level=confidence_level,
    )


def _attack(
    targets_from: pd.DataFrame,
    n: int,
    *,
    naive: bool,
    syn: pd.DataFrame,
    aux_cols: list[str],
    secret: str,
    regression: bool | None,
    tolerance: float,
    rs: np.random.RandomState | None,
    search: dict[str, Any],
) -> tuple[int, np.ndarray, np.ndarray, int]:
    """One of anonymeter's ``_run_attack`` calls: (hits, target positions, correct, ambiguous)."""
    if regression is None:
        regression = bool(pd.api.types.is_numeric_dtype(targets_from[secret]))
    # Positions and labels both: pandas' sample is a RandomState.choice over positions.
    targets = targets_from.sample(n, replace=False, random_state=rs)
    positions = targets_from.index.get_indexer(targets.index) if targets_from.index.is_unique else np.full(n, -1)
    n_ambiguous = 0
    if naive:
        guesses = syn.sample(n, random_state=rs)[secret]
    else:
        codes = pd.factorize(syn[secret], use_na_sentinel=True)[0]
        nearest, n_ambiguous = nearest_like_anonymeter(targets[aux_cols], syn[aux_cols], tie_codes=codes, **search)
        guesses = syn[secret].iloc[nearest]
        guesses.index = targets.index
    guesses = guesses.reindex_like(targets)  # anonymeter aligns by label (see module doc)
    correct = guess_is_correct(guesses.to_numpy(), targets[secret].to_numpy(), regression, tolerance)
    return int(correct.sum()), positions, correct, n_ambiguous


def guess_is_correct(
    guesses: np.ndarray, secrets: np.ndarray, regression: bool, tolerance: float = DEFAULT_TOLERANCE
) -> np.ndarray:
    """anonymeter's guess rule, elementwise over two (n,) arrays; returns (n,) bool.

    Exact match for categorical secrets; for ``regression`` a guess within ``tolerance``
    relative to the guess itself. Two missing values count as a correct guess.
    """
    if regression:
        value_match = np.abs(guesses - secrets) / (guesses + 1e-12) <= tolerance
    else:
        value_match = guesses == secrets
    nan_match = np.logical_and(pd.isnull(guesses), pd.isnull(secrets))
    return np.asarray(np.logical_or(nan_match, value_match), dtype=bool)


