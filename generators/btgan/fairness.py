"""The information constraint: how strongly the outcome depends on the subgroup.

The outcome of every generated row is drawn from the classifier's fair head, so the
constraint is put on that head's outcome probabilities ``p`` (B, K). Demographic parity
of a *decision* made by thresholding ``p`` at any cut-off needs more than equal mean
probabilities: the distribution of ``p`` must not depend on the subgroup. So each row is
summarised by its **score profile** (:func:`score_profile`): for a binary outcome the
positive probability and its soft exceedances ``sigmoid((p - t) / 0.05)`` of the cut-offs
``t = 0.1, 0.2, ..., 0.9`` (the share of rows a threshold at ``t`` would flag); for more
classes the class probabilities. Then

- **demographic parity** (:func:`parity_gap`): the population-weighted spread of the
  subgroups' mean profiles, ``sqrt(sum_g pi_g * mean_j (m_gj - m_j)^2)`` with ``m_g`` the
  mean profile over the batch's rows of subgroup ``g``, ``m = sum_g pi_g m_g`` and ``pi``
  the subgroups' shares in the data. It is 0 exactly when the subgroups' profiles agree,
  and it is in the units of a rate: the weighted standard deviation of the subgroups'
  positive rates;
- **equalized odds** (:func:`odds_gap`): the same spread within each true outcome class
  ``t``, each row weighted by the probability ``r_t`` that its true outcome is ``t`` (the
  reference head, trained on the records alone), averaged over the classes: equal
  decisions across subgroups among rows of the same true class.

Subgroups absent from the batch are left out (their share renormalised away).
"""

from __future__ import annotations

import torch

THRESHOLDS = tuple(round(0.1 * k, 1) for k in range(1, 10))
SOFTNESS = 0.05  # width of the soft threshold, in probability units
_EPS = 1e-6  # keeps the square root differentiable when the spread is exactly 0


def score_profile(probs: torch.Tensor) -> torch.Tensor:
    """(B, S) per-row summary of outcome probabilities ``probs`` (B, K) (see the module docstring)."""
    if probs.shape[1] != 2:
        return probs
    p = probs[:, 1:2]
    cuts = torch.tensor(THRESHOLDS, dtype=probs.dtype, device=probs.device)
    return torch.cat([p, torch.sigmoid((p - cuts) / SOFTNESS)], dim=1)


def _spread(means: torch.Tensor, share: torch.Tensor) -> torch.Tensor:
    """sqrt(sum_g share_g * mean_j (means_gj - centre_j)^2 + eps) for (G, S) means and (G,) shares summing to 1."""
    centre = (share[:, None] * means).sum(0)
    return torch.sqrt((share * ((means - centre) ** 2).mean(1)).sum() + _EPS)


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
        present = mass > 1e-8
        if int(present.sum()) < 2:
            continue
        share = shares[present] / shares[present].sum()
        gaps.append(_spread(sums[present] / mass[present, None], share))
    if not gaps:
        return scores.sum() * 0.0
    return torch.stack(gaps).mean()
