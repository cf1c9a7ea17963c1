"""Coverage of the privacy and membership intervals by simulation over null draws.

A null draw is a fresh set of population rows (``population.draw``): a new random
train/holdout split and a synthetic table drawn independently from the same population,
so every random input (training, holdout and synthetic rows) is new in every draw and no
record leaks. Each interval is checked against the value its metric takes without a leak:

- 0.5 for ``privacy.dcr_share`` and every membership AUC; 0 for the excesses, the NNAA
  privacy loss, the advantages and the epsilon bounds (a one-sided ``[bound, inf)`` covers
  0 when the bound is 0); 1 for the baseline and NNDR ratios; the target FPR for a TPR at
  that FPR;
- for the exact-copy rates, the probability that a fresh row equals some training
  (holdout) row: the catalogue weight of the standard records present there;
- for ``privacy.nnaa``, the adversarial accuracy of exchangeable samples,
  ``(n_real + n_syn - 2) / (2 (n_real + n_syn - 1))``, and for the NNAA privacy loss the
  holdout's minus the training data's (about 1e-4, not quite 0 for unequal sizes).

The shadow attack runs with a stand-in generator whose output is fresh population rows
(it ignores its training data: the null by construction).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from population import CATALOGUE_SHARE, catalogue, draw, make_population, population_schema
from synth.audits.base import AuditInputs
from synth.audits.membership import MembershipAudit
from synth.audits.privacy.exact_copies import row_hashes
from synth.audits.privacy.memorization import MemorizationAudit
from synth.generators.base import Generator


class FreshDraws(Generator):
    """A generator that has learnt nothing from its training data: it samples fresh rows of
    the population (the null of every membership attack). Test and bench use only."""

    name = "fresh_draws"

    def fit(self, data: pd.DataFrame, schema) -> FreshDraws:  # noqa: ANN001
        self.schema = schema
        return self

    def sample(self, n, conditions=None, seed=None) -> pd.DataFrame:  # noqa: ANN001
        return make_population(n, seed=10_000_000 + (self.seed if seed is None else seed), twins=True)

    def save(self, path: Path) -> None:
        raise NotImplementedError("test stand-in")

    @classmethod
    def load(cls, path: Path, *, trusted: bool = False) -> Generator:
        raise NotImplementedError("test stand-in")


def _copy_rate_truth(real: pd.DataFrame) -> float:
    schema = population_schema()
    records, weights = catalogue()
    present = np.isin(row_hashes(records, schema, schema.names), row_hashes(real, schema, schema.names))
    return float(CATALOGUE_SHARE * weights[present].sum())


def _aa(n_real: int, n_syn: int) -> float:
    """Adversarial accuracy of exchangeable samples: each row's nearest other row is real
    with probability (n_real - 1) / (n_real + n_syn - 1), synthetic likewise."""
    return (n_real + n_syn - 2) / (2 * (n_real + n_syn - 1))


def null_values(train: pd.DataFrame, holdout: pd.DataFrame, n_syn: int) -> dict[str, float]:
    """The value of every metric without a leak (see the module docstring)."""
    truth = {
        "privacy.exact_copy_rate": _copy_rate_truth(train),
        "privacy.exact_copy_rate_holdout": _copy_rate_truth(holdout),
        "privacy.exact_copy_excess": 0.0, "privacy.exposure_excess": 0.0, "privacy.dcr_share": 0.5,
        "privacy.dcr_baseline_ratio": 1.0, "privacy.nndr_ratio": 1.0,
        "privacy.nnaa": _aa(len(train), n_syn),
        "privacy.nnaa_privacy_loss": _aa(len(holdout), n_syn) - _aa(len(train), n_syn),
        "membership.auc": 0.5, "membership.epsilon_lower_bound": 0.0,
    }
    for attack in ("distance", "domias", "shadow"):
        truth |= {f"membership.{attack}.auc": 0.5, f"membership.{attack}.tpr_at_1pct_fpr": 0.01,
                  f"membership.{attack}.tpr_at_0.1pct_fpr": 0.001, f"membership.{attack}.advantage": 0.0,
                  f"membership.{attack}.epsilon_lower_bound": 0.0}
    return truth


def null_coverage(
    n_draws: int, *, n_train: int, n_holdout: int, n_synthetic: int, first_seed: int = 50_000,
    shadow: bool = False, membership_params: dict | None = None,
) -> dict[str, list[bool]]:
    """For each metric, whether its interval covered the null value in each draw."""
    covered: dict[str, list[bool]] = defaultdict(list)
    schema = population_schema()
    memorization = MemorizationAudit()
    membership = MembershipAudit(attacks=("distance", "domias", "shadow") if shadow else ("distance", "domias"),
                                 **(membership_params or {}))
    for seed in range(first_seed, first_seed + n_draws):
        d = draw(seed, n_train=n_train, n_holdout=n_holdout, n_synthetic=n_synthetic)
        inputs = AuditInputs(d.train, d.holdout, d.synthetic, schema, seed=seed,
                             generator_factory=(lambda s=seed: FreshDraws(seed=s)) if shadow else None)
        truth = null_values(d.train, d.holdout, n_synthetic)
        for section in (memorization.run(inputs), membership.run(inputs)):
            for m in section.metrics:
                if m.name in truth and m.ci is not None:
                    t = truth[m.name]
                    covered[m.name].append(bool(m.ci.low - 1e-12 <= t <= m.ci.high + 1e-12))
    return dict(covered)
