"""The information constraint: how strongly the outcome depends on the subgroup.

The outcome of every generated row is drawn from the classifier's fair head, so the
constraint is put on that head's outcome probabilities ``p`` (B, K). Demographic parity
of a *decision* made by thresholding ``p`` at any cut-off needs more than equal mean
probabilities: the distribution of ``p`` must not depend on the subgroup. So each row is
summarised by its **score profile** (:func:`score_profile`): for a binary outcome the
positive probability and its soft exceedances ``sigmoid((p - t) / 0.05)`` of the cut-offs
``t = 0.1, 0.2, ..., 0.9`` (the share of rows a threshold at ``t`` would flag); for more
classes the class probabilities. Then

- **demographic parity** (:func:`parity_gap`): the square root of the subgroup share of
  the profile's variance (the correlation ratio, eta squared), averaged over the profile's
  components: ``sqrt(mean_j B_j / (T_j + tau))`` with ``B_j = sum_g pi_g (m_gj - m_j)^2``
  the variance between the subgroups' mean profiles ``m_g`` (over the batch's rows of
  subgroup ``g``, ``m = sum_g pi_g m_g``, ``pi`` the subgroups' shares in the data) and
  ``T_j = B_j + sum_g pi_g V_gj`` the total variance, ``V_g`` the variance within subgroup
  ``g``. It is 0 exactly when the subgroups' profiles agree in the mean and 1 when the
  subgroup alone sets the score. It is scale-free on purpose: a spread measured in rate
  units (as this penalty first was) shrinks when every score moves towards 0, so the
  head could meet it in part by predicting fewer positives for everyone, which lowered the
  outcome rate of the output (0.17 against the real 0.24 on ACTG 175); the share of
  variance does not move when all scores shrink together, so only the cross-entropy sets
  the rate. ``tau`` (1e-4, a standard deviation of 0.01) keeps components that hardly vary
  (a cut-off no score reaches) from counting;
- **equalized odds** (:func:`odds_gap`): the same within each true outcome class ``t``,
  each row weighted by the probability ``r_t`` that its true outcome is ``t`` (the
  reference head, trained on the records alone), averaged over the classes: equal
  decisions across subgroups among rows of the same true class.

Subgroups absent from the batch are left out (their share renormalised away).
"""

from __future__ import annotations

import torch

THRESHOLDS = tuple(round(0.1 * k, 1) for k in range(1, 10))
SOFTNESS = 0.05  # width of the soft threshold, in probability units
_EPS = 1e-6  # keeps the square root differentiable when the penalty is exactly 0
_TAU = 1e-4  # variance floor of a profile component (see the module docstring)


def score_profile(probs: torch.Tensor) -> torch.Tensor:
    """(B, S) per-row summary of outcome probabilities ``probs`` (B, K) (see the module docstring)."""
    if probs.shape[1] != 2:
        return probs
    p = probs[:, 1:2]
    cuts = torch.tensor(THRESHOLDS, dtype=probs.dtype, device=probs.device)
    return torch.cat([p, torch.sigmoid((p - cuts) / SOFTNESS)], dim=1)


def _variance_share(means: torch.Tensor, within: torch.Tensor, share: torch.Tensor) -> torch.Tensor:
    """sqrt(mean_j B_j / (T_j + tau) + eps) for (G, S) subgroup means and within-subgroup
    variances and (G,) shares summing to 1 (see the module docstring)."""
    centre = (share[:, None] * means).sum(0)
    between = (share[:, None] * (means - centre) ** 2).sum(0)
    total = between + (share[:, None] * within).sum(0)
    return torch.sqrt((between / (total + _TAU)).mean() + _EPS)


def parity_gap(scores: torch.Tensor, groups: torch.Tensor, shares: torch.Tensor) -> torch.Tensor:
    """Demographic-parity penalty (scalar) of per-row ``scores`` (B, S), e.g. :func:`score_profile`.

    ``groups`` (B,) long subgroup index; ``shares`` (G,) subgroup shares in the data.
    """
    return _conditional_gap(scores, groups, shares, torch.ones(scores.shape[0], 1, device=scores.device))


def odds_gap(scores: torch.Tensor, reference: torch.Tensor, groups: torch.Tensor, shares: torch.Tensor) -> torch.Tensor:
    """Equalized-odds penalty: the parity gap within each true class, rows weighted by ``reference`` (B, K)."""
    return _conditional_gap(scores, groups, shares, reference)


def _conditional_gap(scores: torch.Tensor, groups: torch.Tensor, shares: torch.Tensor,
                     weights: torch.Tensor) -> torch.Tensor:
    n_groups = shares.shape[0]
    gaps = []
    for t in range(weights.shape[1]):
        w = weights[:, t]
        mass = torch.zeros(n_groups, device=scores.device).index_add(0, groups, w)
        sums = torch.zeros(n_groups, scores.shape[1], device=scores.device).index_add(0, groups, w[:, None] * scores)
        squares = torch.zeros(n_groups, scores.shape[1], device=scores.device).index_add(
            0, groups, w[:, None] * scores**2)
        present = mass > 1e-8
        if int(present.sum()) < 2:
            continue
        share = shares[present] / shares[present].sum()
        means = sums[present] / mass[present, None]
        within = (squares[present] / mass[present, None] - means**2).clamp_min(0.0)
        gaps.append(_variance_share(means, within, share))
    if not gaps:
        return scores.sum() * 0.0
    return torch.stack(gaps).mean()
