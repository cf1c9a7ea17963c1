"""FID and KID of synthetic images against the training images, with bootstrap intervals.

Both compare embeddings (:mod:`.features`) of two image sets. The statistics are
torchmetrics' own (``FrechetInceptionDistance`` with a custom feature module, and the
``poly_mmd`` that its ``KernelInceptionDistance`` averages): FID is the Fréchet distance between Gaussians fitted to the two
sets' embeddings, ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``; KID is the
unbiased estimate of the squared maximum mean discrepancy with the cubic polynomial kernel
``(x.y / d + 1)^3``, averaged over random equal-size subsets.

FID is biased upwards at finite sample size (two samples of one population do not reach
0), so the audit reports beside it the **real-vs-real floor**: the FID of as many holdout
images (real, never seen by the generator or the encoder) against the same training
images. A generator that draws fresh images from the population reaches the floor, not 0.

Bias and intervals: FID is biased upwards at finite sample size, roughly by ``c / n`` (two
samples of one population do not reach 0). The audit removes that bias by Richardson
extrapolation in ``1 / n`` (the idea of Chong & Forsyth's FID-infinity with two sizes):
with ``T_n`` the FID of the full sets and ``T_m`` its mean over random half-size subsets
(drawn without replacement), ``2 T_n - T_m`` estimates the population FID. The interval is
the delete-d jackknife interval of Shao & Wu (1989) with d = n / 2 (half-sampling): the
spread of the half-size values around their mean, scaled by ``sqrt(m / (n - m))`` (1 for
halves), around the corrected value. (Politis & Romano's subsampling scale ``sqrt(m / n)``
assumes m / n -> 0; for halves drawn without replacement the finite-population correction
makes a half's value vary as much as the full set's, and that scale gave intervals 0.71 as
wide as they must be: 81 % coverage for 95 % nominal in the simulation.) KID is unbiased,
so the correction hardly moves it; the same interval applies. The raw FID ``T_n`` (the
number other tools print) is kept in the metric's details. Coverage of the population
value is checked by simulation in ``tests/test_image_fid_coverage.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import poly_mmd

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Metric, TableBlock
from synth.audits.images.features import image_encoder
from synth.audits.images.image_sets import IMAGE_ONLY
from synth.audits.images.image_sets import finding_columns, load_set, training_and_synthetic
from synth.audits.param_checks import check_int
from synth.stats.intervals import Interval

LEVEL = 0.95
KID_SUBSETS = 20  # subsets per KID estimate (torchmetrics' default is 100; the bootstrap repeats it)


class _Given(nn.Module):
    """A feature "extractor" for torchmetrics that passes precomputed embeddings through."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class FrechetDistance:
    """FID between embeddings (torchmetrics ``FrechetInceptionDistance``, float64), one metric reused per call."""

    def __init__(self, dim: int) -> None:
        self.metric = FrechetInceptionDistance(feature=_Given(dim))

    def __call__(self, a: np.ndarray, b: np.ndarray) -> float:
        """FID between ``a`` (n, d) and ``b`` (m, d), n, m >= 2."""
        self.metric.reset()
        self.metric.update(torch.from_numpy(np.asarray(a, dtype=np.float64)), real=True)
        self.metric.update(torch.from_numpy(np.asarray(b, dtype=np.float64)), real=False)
        return float(self.metric.compute())


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between embeddings ``a`` (n, d) and ``b`` (m, d) (torchmetrics; float64), n, m >= 2."""
    return FrechetDistance(a.shape[1])(a, b)


def kernel_distance(a: np.ndarray, b: np.ndarray, *, seed: int, subsets: int = KID_SUBSETS) -> float:
    """KID between embeddings ``a`` (n, d) and ``b`` (m, d): the mean of torchmetrics' unbiased
    polynomial-kernel MMD^2 (``poly_mmd``, as ``KernelInceptionDistance`` computes it) over
    ``subsets`` random subsets of ``min(n, m, 1000)`` rows of each set, drawn with ``seed``."""
    size = int(min(len(a), len(b), 1000))
    rng = np.random.default_rng(seed)
    ta = torch.from_numpy(np.asarray(a, dtype=np.float64))
    tb = torch.from_numpy(np.asarray(b, dtype=np.float64))
    values = [float(poly_mmd(ta[rng.choice(len(a), size, replace=False)], tb[rng.choice(len(b), size, replace=False)]))
              for _ in range(subsets)]
    return float(np.mean(values))


@dataclass(frozen=True)
class Distances:
    """Bias-corrected FID and KID of one candidate set against the reference, with intervals."""

    fid: float
    fid_ci: Interval
    kid: float
    kid_ci: Interval
    n_reference: int
    n_candidate: int
    raw_fid: float  # the plain FID of the full sets (biased upwards)


def subsample_interval(estimate: float, half: np.ndarray, *, lower: float | None, level: float = LEVEL,
                       fraction: float = 0.5) -> tuple[float, Interval]:
    """(bias-corrected value, interval) from the full-set ``estimate`` and its subsample values ``half``
    (each on ``fraction`` = m / n of the rows, drawn without replacement; see the module docstring);
    the interval is clipped at ``lower`` when given."""
    reps = np.asarray(half, dtype=float)
    reps = reps[np.isfinite(reps)]
    method = f"delete-half jackknife, half-size without replacement (n={len(half)}), Richardson bias correction"
    if reps.size < 2 or not np.isfinite(estimate):
        return estimate, Interval(float("nan"), float("nan"), method, level)
    corrected = 2.0 * estimate - float(reps.mean())
    # delete-d jackknife scale sqrt(m / (n - m)): without replacement a subsample's value varies
    # as sigma^2 (1/m - 1/n), the full set's as sigma^2 / n
    spread = (reps - reps.mean()) * np.sqrt(fraction / (1.0 - fraction))
    q_lo, q_hi = np.quantile(spread, [(1 - level) / 2, (1 + level) / 2])
    low, high = corrected - q_hi, corrected - q_lo
    if lower is not None:
        corrected, low, high = max(lower, corrected), max(lower, low), max(lower, high)
    return float(corrected), Interval(float(low), float(high), method, level)


def distances(reference: np.ndarray, candidate: np.ndarray, *, n_boot: int, seed: int) -> Distances:
    """Bias-corrected FID and KID of ``candidate`` (m, d) against ``reference`` (n, d), with subsampling intervals.

    ``n_boot`` half-size subsample pairs (without replacement, one from each set). FID is
    clipped at 0; KID is not (its estimate of a zero population value is negative half the time).
    """
    rng = np.random.default_rng(seed)
    fd = FrechetDistance(reference.shape[1])
    raw_fid = fd(reference, candidate)
    raw_kid = kernel_distance(reference, candidate, seed=seed)
    fids, kids = np.empty(n_boot), np.empty(n_boot)
    half_r, half_c = max(2, len(reference) // 2), max(2, len(candidate) // 2)
    for b in range(n_boot):
        r = reference[rng.choice(len(reference), half_r, replace=False)]
        c = candidate[rng.choice(len(candidate), half_c, replace=False)]
        fids[b] = fd(r, c)
        kids[b] = kernel_distance(r, c, seed=seed + 1 + b, subsets=max(2, KID_SUBSETS // 4))
    fraction = half_r / len(reference)  # the candidate's half_c / len(candidate) is the same up to rounding
    fid, fid_ci = subsample_interval(raw_fid, fids, lower=0.0, fraction=fraction)
    kid, kid_ci = subsample_interval(raw_kid, kids, lower=None, fraction=fraction)
    return Distances(fid, fid_ci, kid, kid_ci, len(reference), len(candidate), raw_fid)


class ImageFidAudit(Audit):
    """FID and KID of synthetic images against the training images, beside the real-vs-real floor.

    Args:
        size: side in pixels the images are compared at (default: the synthetic images' size).
        max_images: images per set, at most (random, seeded).
        n_boot: half-size subsample pairs per interval.
        encoder_path: a local TorchScript image encoder (see :mod:`.features`); default: a
            findings classifier trained on the training images.
        epochs: training epochs of that classifier.
    """

    name = "image_fid"
    family = "fidelity"
    title = "Image fidelity: FID and KID"
    provides = ("fidelity.fid", "fidelity.kid")
    data_kinds = IMAGE_ONLY

    def __init__(self, *, size: int | None = None, max_images: int = 1000, n_boot: int = 50,
                 encoder_path: str | None = None, epochs: int = 12) -> None:
        super().__init__(
            size=None if size is None else check_int(self.name, "size", size, 16, 64, maximum=1024),
            max_images=check_int(self.name, "max_images", max_images, 10), n_boot=check_int(self.name, "n_boot", n_boot, 20),
            encoder_path=encoder_path, epochs=check_int(self.name, "epochs", epochs, 1))

    def run(self, inputs: AuditInputs) -> AuditSection:
        p = self.params
        column, size, train, synthetic = training_and_synthetic(inputs, p["size"], max_train=p["max_images"],
                                                                max_synthetic=p["max_images"])
        if len(train) < 10 or len(synthetic) < 10:
            return self.skip(f"FID needs at least 10 training and 10 synthetic images (got {len(train)} and {len(synthetic)}).")
        encoder = image_encoder(train, finding_columns(inputs.train), encoder_path=p["encoder_path"], audit=self.name,
                                seed=inputs.seed, epochs=p["epochs"])
        if encoder is None:
            return self.skip("no image encoder: the training images have no positive finding labels to train one on, "
                             f"and no audit.params.{self.name}.encoder_path was given.")
        reference = encoder.embed(train.images)
        syn = distances(reference, encoder.embed(synthetic.images), n_boot=p["n_boot"], seed=inputs.seed)
        floor = None
        if len(inputs.holdout) >= 10:
            holdout = load_set(inputs.holdout, column, size, max_images=min(p["max_images"], len(synthetic)),
                               seed=inputs.seed + 2, n_jobs=inputs.n_jobs)
            floor = distances(reference, encoder.embed(holdout.images), n_boot=p["n_boot"], seed=inputs.seed + 3)
        return _section(self, syn, floor, encoder.description, size)


def _section(audit: ImageFidAudit, syn: Distances, floor: Distances | None, encoder: str, size: int) -> AuditSection:
    floor_text = (f"; {floor.n_candidate} holdout images reach {floor.fid:.3g} [{floor.fid_ci.low:.3g}, "
                  f"{floor.fid_ci.high:.3g}] (the real-vs-real floor)" if floor else "; no holdout images for a floor")
    details = {"n_reference": syn.n_reference, "n_synthetic": syn.n_candidate, "size_px": size, "encoder": encoder,
               "raw_fid": syn.raw_fid}
    if floor:
        details.update(real_floor=floor.fid, real_floor_ci=floor.fid_ci.to_dict(), n_holdout=floor.n_candidate)
    kid_details = {**details}
    if floor:
        kid_details.update(real_floor=floor.kid, real_floor_ci=floor.kid_ci.to_dict())
    metrics = [
        Metric(name="fidelity.fid", value=syn.fid, ci=syn.fid_ci, better="closer", ideal=floor.fid if floor else 0.0,
               reference=floor.fid if floor else None,
               passing="Close to the real-vs-real floor: synthetic images are as far from the training images (in the "
                       "encoder's embedding) as unseen real images are.", details=details),
        Metric(name="fidelity.kid", value=syn.kid, ci=syn.kid_ci, better="closer", ideal=floor.kid if floor else 0.0,
               reference=floor.kid if floor else None,
               passing="Near 0 (unbiased): the synthetic and training embeddings are indistinguishable by the "
                       "polynomial-kernel MMD.", details=kid_details),
    ]
    rows = [("synthetic", syn.n_candidate, _fmt(syn.fid, syn.fid_ci), _fmt(syn.kid, syn.kid_ci))]
    if floor:
        rows.append(("holdout (real floor)", floor.n_candidate, _fmt(floor.fid, floor.fid_ci), _fmt(floor.kid, floor.kid_ci)))
    bars = Figure(id="image_fid", title="FID against the training images", kind="bars",
                  data={"y_label": "FID", "categories": [r[0] for r in rows],
                        "series": [{"label": "FID", "values": [syn.fid] + ([floor.fid] if floor else [])}]},
                  caption="FID of each image set against the training images in the same embedding; the holdout bar is "
                          "what fresh real images reach.")
    return AuditSection(
        audit=audit.name, family=audit.family, title=audit.title,
        summary=f"FID {syn.fid:.3g} [{syn.fid_ci.low:.3g}, {syn.fid_ci.high:.3g}] of {syn.n_candidate} synthetic images "
                f"against {syn.n_reference} training images{floor_text}.",
        metrics=metrics, figures=[bars],
        tables=[TableBlock(title="FID and KID against the training images", columns=("images", "n", "FID [95% CI]",
                                                                                       "KID [95% CI]"),
                           rows=tuple(rows), caption="Bias-corrected values with subsampling intervals (see the notes).")],
        notes=[f"Embedding: {encoder}; images compared at {size} x {size} pixels. FID and KID are torchmetrics' "
               "implementations fed with these embeddings; their scale depends on the encoder, so compare a value with "
               "the floor beside it, not with FIDs from Inception features elsewhere.",
               f"FID is shown bias-corrected (2 T_n - T_n/2, Richardson extrapolation in 1/n); the plain FID of the full "
               f"sets is {syn.raw_fid:.4g}. Intervals: delete-half jackknife (Shao & Wu) over half-size subsets."],
    )


def _fmt(value: float, ci: Interval) -> str:
    return f"{value:.4g} [{ci.low:.4g}, {ci.high:.4g}]"
