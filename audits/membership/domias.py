"""DOMIAS: density-ratio membership inference (van Breugel et al., AISTATS 2023).

A generator that overfits puts *more* probability mass near its training records than the
population does. DOMIAS scores a candidate ``x`` by the ratio of the synthetic density to
the population (reference) density,

    score(x) = log p_syn(x) - log p_ref(x),

computed in log space so neither density under- nor overflows. As published, both
densities live in the full data space: here the documented mixed-type encoding
(:mod:`synth.neighbors.encoding`, every feature, nothing projected away), where the
squared Euclidean distance is the audit's own record distance. Each density is a Gaussian
kernel density estimate (:class:`sklearn.neighbors.KernelDensity`) whose bandwidth is
chosen by held-out likelihood: the sample is split 80/20 at random, a KDE is fitted on the
80 % for each bandwidth of a log-spaced grid, and the bandwidth that gives the held-out
20 % the highest mean log-likelihood is refitted on the whole sample. The synthetic
density uses at most ``max_fit_rows`` random synthetic rows; the reference density uses
the reference sample of the query's fold, with the bandwidth chosen on the first one. The
membership audit passes one reference sample, disjoint from every candidate, as the paper
does (see :meth:`synth.audits.membership.audit.MembershipAudit._domias`); several folds are
for callers that cross-fit.

Differences from synthcity's ``DomiasMIA_KDE`` (which calls ``scipy.stats.gaussian_kde``
with Scott's rule on the raw numeric columns): a bandwidth fitted to the data instead of
a rule of thumb that assumes a Gaussian population (Scott's rule oversmooths a density
with point masses and clusters), an encoding that puts categorical and numeric columns
on one documented scale, and no failure on the singular covariance that one-hot columns or
a collapsed generator produce. ``bench/bench_domias.py`` compares the two on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import KernelDensity

from synth.audits.base import ThreatModel

THREAT_MODEL = ThreatModel(
    attack="DOMIAS density ratio p_synthetic(x) / p_reference(x)",
    attacker_has=(
        "the released synthetic data",
        "a reference sample of the population, disjoint from the training data (the holdout, cross-fitted)",
        "the candidate record whose membership is guessed",
    ),
    description=(
        "A black-box attacker who sees only the released synthetic rows fits one density to them and one to "
        "the reference sample, and flags candidates where the synthetic data is denser than the population; "
        "no access to the generator."
    ),
)

# Candidate bandwidths in encoded units (a full-range numeric difference or a category
# mismatch is 1): from far below the closest-record distances to beyond the data's spread.
BANDWIDTHS: tuple[float, ...] = tuple(float(h) for h in np.geomspace(0.005, 1.0, 11))
_SELECT_ROWS = 2000  # rows (fit + held out) the bandwidth search uses at most
_RTOL = 1e-6  # KernelDensity's relative tolerance: densities exact to 1e-6 relative


@dataclass(frozen=True)
class DomiasScores:
    """Scores (n,) float64 log density ratios, and the fitted densities' bandwidths."""

    scores: np.ndarray
    synthetic_bandwidth: float
    reference_bandwidth: float
    synthetic_fit_rows: int
    reference_fit_rows: int
    dims: int


def _cap(x: np.ndarray, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    if x.shape[0] <= max_rows:
        return x
    return x[np.sort(rng.choice(x.shape[0], max_rows, replace=False))]


def select_bandwidth(sample: np.ndarray, seed: int, grid: tuple[float, ...] = BANDWIDTHS) -> float:
    """The grid bandwidth with the highest mean held-out log-likelihood (80/20 split of at
    most 2,000 rows of ``sample`` (n, d)); the smallest bandwidth wins ties."""
    rng = np.random.default_rng(seed)
    x = _cap(sample, _SELECT_ROWS, rng)
    if x.shape[0] < 5:
        return grid[len(grid) // 2]
    order = rng.permutation(x.shape[0])
    n_fit = int(round(0.8 * x.shape[0]))
    fit, held = x[order[:n_fit]], x[order[n_fit:]]
    best, best_ll = grid[0], -np.inf
    for h in grid:
        ll = float(np.mean(KernelDensity(bandwidth=h, rtol=_RTOL).fit(fit).score_samples(held)))
        if ll > best_ll + 1e-12:
            best, best_ll = h, ll
    return best


def domias_scores(
    queries: np.ndarray,
    folds: np.ndarray,
    synthetic: np.ndarray,
    references: list[np.ndarray],
    *,
    max_fit_rows: int = 5000,
    seed: int = 0,
) -> DomiasScores:
    """DOMIAS scores of ``queries`` (n, d) given ``synthetic`` (n_s, d) and one reference
    sample per fold (``references[f]`` (n_f, d); ``folds`` (n,) each query's fold).

    All arrays use one encoder. Returns :class:`DomiasScores` with (n,) log density ratios
    (higher = more likely a member; 0 = as dense in the synthetic data as in the population).
    """
    rng = np.random.default_rng([seed, 0xD0])
    syn_fit = _cap(synthetic, max_fit_rows, rng)
    h_syn = select_bandwidth(syn_fit, seed + 1)
    h_ref = select_bandwidth(references[0], seed + 2)
    log_syn = KernelDensity(bandwidth=h_syn, rtol=_RTOL).fit(syn_fit).score_samples(queries)
    log_ref = np.empty(queries.shape[0])
    for f, reference in enumerate(references):
        at = np.flatnonzero(folds == f)
        if at.size:
            ref_fit = _cap(reference, max_fit_rows, rng)
            log_ref[at] = KernelDensity(bandwidth=h_ref, rtol=_RTOL).fit(ref_fit).score_samples(queries[at])
    return DomiasScores(
        scores=log_syn - log_ref,
        synthetic_bandwidth=h_syn,
        reference_bandwidth=h_ref,
        synthetic_fit_rows=int(syn_fit.shape[0]),
        reference_fit_rows=int(min(max_fit_rows, references[0].shape[0])),
        dims=int(queries.shape[1]),
    )
