"""Coverage of the FID and KID intervals by simulation (slow): fresh Gaussian 'embeddings' per draw, whose
population FID has a closed form and whose population KID is 0 for one population."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from synth.audits.images.fid import distances

pytestmark = pytest.mark.slow


def test_fid_and_kid_intervals_keep_their_coverage():
    d, n, draws = 4, 200, 100
    rng = np.random.default_rng(0)
    spread = rng.normal(size=(d, d)) * 0.4
    s1, s2, mu2 = np.eye(d), np.eye(d) + spread @ spread.T, np.full(d, 0.15)
    true_fid = float(mu2 @ mu2 + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))
    fid_hits = kid_hits = 0
    for r in range(draws):
        a = rng.multivariate_normal(np.zeros(d), s1, n)
        shifted = distances(a, rng.multivariate_normal(mu2, s2, n), n_boot=30, seed=r)
        fid_hits += shifted.fid_ci.low <= true_fid <= shifted.fid_ci.high
        same = distances(a, rng.multivariate_normal(np.zeros(d), s1, n), n_boot=30, seed=r)
        kid_hits += same.kid_ci.low <= 0.0 <= same.kid_ci.high
    # 95 % nominal; with 100 draws a rate below 0.88 would be a clear miss (binomial 1 % tail)
    assert fid_hits / draws >= 0.88, fid_hits
    assert kid_hits / draws >= 0.88, kid_hits
