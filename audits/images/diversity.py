"""Intra-prompt diversity: how alike are the images generated from one prompt (MS-SSIM)?

A generator that ignores its noise and returns one image per prompt (mode collapse, or a
memorized prompt) makes same-prompt images nearly identical: multi-scale structural
similarity (MS-SSIM, Wang et al. 2003; torchmetrics' implementation) near 1. The audit
averages MS-SSIM over pairs of generated images that share a prompt (at most
``max_pairs`` pairs per prompt) and sets it beside the same average over pairs of *real*
training images that share their findings (the same positive CheXpert labels): real
radiographs with the same findings differ in patient, exposure and positioning, and
generated ones should differ about as much.

Interval: percentile bootstrap over prompts (cluster bootstrap: a prompt's pairs share
images, so pairs are not independent).

MS-SSIM settings follow the image size: Gaussian window 11 px at 161 px and more (the
standard 5 scales), else 7 px (64 px and more) or 5 px, and as many of the standard scales
(with their weights renormalised) as the window fits: each scale halves the image.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure as ms_ssim

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Metric, TableBlock
from synth.audits.images.image_sets import IMAGE_ONLY, finding_columns, finding_labels, image_column, load_set, synthetic_size
from synth.audits.param_checks import check_int
from synth.stats.intervals import percentile_interval

BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # the standard MS-SSIM scale weights


def ms_ssim_settings(size: int) -> tuple[int, tuple[float, ...]]:
    """(Gaussian window in px, scale weights) for ``size`` px images (see the module docstring)."""
    kernel = 11 if size >= 161 else 7 if size >= 64 else 5 if size >= 16 else 3
    scales = max(1, max(s for s in range(1, 6) if (kernel - 1) * 2 ** (s - 1) < size))
    betas = np.array(BETAS[:scales]) / sum(BETAS[:scales])
    return kernel, tuple(float(b) for b in betas)


def pair_ms_ssim(a: np.ndarray, b: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """MS-SSIM of each pair ``(a[i], b[i])``, images (n, 1, s, s) in [0, 1] -> (n,) float64."""
    kernel, betas = ms_ssim_settings(a.shape[-1])
    out = []
    for start in range(0, len(a), batch_size):
        x = torch.from_numpy(np.asarray(a[start:start + batch_size], dtype=np.float32))
        y = torch.from_numpy(np.asarray(b[start:start + batch_size], dtype=np.float32))
        out.append(ms_ssim(x, y, data_range=1.0, kernel_size=kernel, betas=betas, reduction="none").double())
    return torch.cat(out).numpy() if out else np.zeros(0)


def grouped_pairs(keys: list[str], max_pairs: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """``(group, i, j)`` pairs of positions that share a key, at most ``max_pairs`` random pairs per key."""
    groups: dict[str, list[int]] = {}
    for position, key in enumerate(keys):
        groups.setdefault(key, []).append(position)
    pairs = []
    for g, members in enumerate(m for m in groups.values() if len(m) >= 2):
        every = [(i, j) for a, i in enumerate(members) for j in members[a + 1:]]
        chosen = rng.choice(len(every), min(max_pairs, len(every)), replace=False)
        pairs += [(g, *every[c]) for c in sorted(chosen)]
    return pairs


def _findings_key(rows: pd.DataFrame, findings: list[str]) -> list[str]:
    labels = finding_labels(rows, findings)
    return ["|".join(f for f, v in zip(findings, row) if v == 1) or "none" for row in labels]


def _mean_and_interval(values: np.ndarray, groups: np.ndarray, n_boot: int, seed: int):
    ids = np.unique(groups)
    by_group = [values[groups == g] for g in ids]
    rng = np.random.default_rng(seed)
    reps = np.array([np.concatenate([by_group[i] for i in rng.integers(0, len(ids), len(ids))]).mean()
                     for _ in range(n_boot)])
    return float(values.mean()), percentile_interval(reps, f"bootstrap over prompts (n={n_boot})")


class ImageDiversityAudit(Audit):
    """MS-SSIM between generated images of one prompt, beside real images with the same findings.

    Args:
        size: side in pixels (default: the synthetic images' size).
        max_images: synthetic and training images read, at most each.
        max_pairs: pairs per prompt (or per finding set), at most.
        n_boot: bootstrap replicates over prompts.
    """

    name = "image_diversity"
    family = "fidelity"
    title = "Image diversity within a prompt"
    provides = ("fidelity.intra_prompt_ms_ssim",)
    data_kinds = IMAGE_ONLY

    def __init__(self, *, size: int | None = None, max_images: int = 1000, max_pairs: int = 10, n_boot: int = 200) -> None:
        super().__init__(size=None if size is None else check_int(self.name, "size", size, 16, 64, maximum=1024),
                         max_images=check_int(self.name, "max_images", max_images, 4),
                         max_pairs=check_int(self.name, "max_pairs", max_pairs, 1),
                         n_boot=check_int(self.name, "n_boot", n_boot, 20))

    def run(self, inputs: AuditInputs) -> AuditSection:
        p = self.params
        column = image_column(inputs)
        size = synthetic_size(inputs, p["size"])
        prompt = inputs.schema.prompt
        findings = finding_columns(inputs.synthetic)
        synthetic = load_set(inputs.synthetic, column, size, max_images=p["max_images"], seed=inputs.seed,
                             n_jobs=inputs.n_jobs)
        if prompt is not None and prompt in synthetic.rows.columns:
            keys, unit = synthetic.rows[prompt].astype(str).tolist(), "prompt"
        else:
            keys, unit = _findings_key(synthetic.rows, findings), "finding set"
        rng = np.random.default_rng(inputs.seed)
        pairs = grouped_pairs(keys, p["max_pairs"], rng)
        if not pairs:
            return self.skip(f"no two generated images share a {unit}; sample several images per prompt to measure "
                             "diversity within a prompt.")
        g, i, j = (np.array(c) for c in zip(*pairs))
        values = pair_ms_ssim(synthetic.images[i], synthetic.images[j])
        value, ci = _mean_and_interval(values, g, p["n_boot"], inputs.seed)
        details = {"pairs": int(len(values)), "groups": int(len(np.unique(g))), "grouped_by": unit, "size_px": size,
                   "window_px": ms_ssim_settings(size)[0], "scales": len(ms_ssim_settings(size)[1])}
        rows = [(f"generated, same {unit}", len(values), int(len(np.unique(g))), f"{value:.3f} [{ci.low:.3f}, {ci.high:.3f}]")]
        ideal = None
        train_findings = finding_columns(inputs.train)
        if train_findings:
            train = load_set(inputs.train, column, size, max_images=p["max_images"], seed=inputs.seed + 1,
                             n_jobs=inputs.n_jobs)
            real_pairs = grouped_pairs(_findings_key(train.rows, train_findings), p["max_pairs"], rng)
            if real_pairs:
                rg, ri, rj = (np.array(c) for c in zip(*real_pairs))
                real = pair_ms_ssim(train.images[ri], train.images[rj])
                ideal, real_ci = _mean_and_interval(real, rg, p["n_boot"], inputs.seed + 1)
                details.update(real_baseline=ideal, real_baseline_ci=real_ci.to_dict(), real_pairs=int(len(real)))
                rows.append(("real, same findings", len(real), int(len(np.unique(rg))),
                             f"{ideal:.3f} [{real_ci.low:.3f}, {real_ci.high:.3f}]"))
        metric = Metric(name="fidelity.intra_prompt_ms_ssim", value=value, ci=ci, better="closer", ideal=ideal,
                        reference=ideal, details=details,
                        passing="Close to the real baseline: images generated from one prompt differ as much as real "
                                "radiographs with the same findings; near 1 means one image per prompt.")
        edges = np.linspace(0, 1, 26)
        series = [{"label": f"generated, same {unit}", "edges": edges.tolist(),
                   "counts": (np.histogram(values, edges)[0] / len(values)).tolist()}]
        return AuditSection(
            audit=self.name, family=self.family, title=self.title, metrics=[metric],
            summary=f"Mean MS-SSIM {value:.3f} [{ci.low:.3f}, {ci.high:.3f}] over {len(values)} pairs of generated images "
                    f"sharing a {unit}" + (f"; real images with the same findings: {ideal:.3f}." if ideal is not None else "."),
            figures=[Figure(id="intra_prompt_ms_ssim", title="MS-SSIM of same-prompt pairs", kind="histograms",
                            data={"x_label": "MS-SSIM", "series": series},
                            caption="Share of pairs per bin; mass near 1 means near-identical images for one prompt.")],
            tables=[TableBlock(title="Similarity within a prompt", columns=("pairs of", "pairs", "groups", "mean MS-SSIM [95% CI]"),
                               rows=tuple(rows), caption="Aggregates only.")],
            notes=[f"MS-SSIM (torchmetrics) at {size} px, Gaussian window {details['window_px']} px, "
                   f"{details['scales']} scale(s)."])
