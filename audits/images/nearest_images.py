"""Image memorization: does a generated image reproduce a training image?

For every generated image the audit finds its nearest training images (exact search,
:func:`synth.neighbors.search.nearest`) in two spaces: pixels (the images at the audit's
size, Euclidean) and the image encoder's embedding (:mod:`.features`). A generation is
flagged as a copy by the calibrated distance of Carlini et al. (2023, "Extracting
Training Data from Diffusion Models", sec. 4.2):

    l(x_gen) = d(x_gen, x_1) / (alpha * mean_{j <= n} d(x_gen, x_j))

with ``x_1 .. x_n`` its ``n`` nearest training images (n = 50, alpha = 0.5 as in the
paper): a copy is much closer to one training image than to the training images around
it, whereas a novel image sits about as close to its nearest neighbour as to the next
ones (l near 1 / alpha). It is flagged when l < ``threshold``. The training images are
searched once per distinct image (exact duplicates at the audit's size kept once): 20
copies of one radiograph would otherwise fill 20 of the 50 neighbours of a generation
that reproduces it, pull the mean down to that generation's own distance and hide the
copy, and duplicated images are the ones a model memorizes first.

The baseline: the same search from the holdout images (real images of the same
population the generator never saw) gives the share of images that look like copies by
chance (twins, repeated studies, near-identical normal films). The headline
``privacy.image_copy_excess`` is the synthetic share minus that baseline share, with
Newcombe's interval; its lower bound above 0 means significantly more copies than chance.

A gallery of the closest generated / training pairs is added only with
``audit.include_real_records: true`` (it shows training images); otherwise the report
gets row indices and distances only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Metric, TableBlock, ThreatModel
from synth.audits.images.features import image_encoder
from synth.audits.images.gallery import pair_gallery
from synth.audits.images.image_sets import IMAGE_ONLY, ImageSet, finding_columns, load_set, training_and_synthetic
from synth.audits.param_checks import check_int
from synth.errors import ConfigError
from synth.neighbors.search import nearest
from synth.stats.intervals import newcombe_difference, wilson

THREAT_MODEL = ThreatModel(
    attack="nearest-training-image copy detection",
    attacker_has=("the synthetic images",),
    description="Anyone holding the released images and one patient's radiograph can recognise that radiograph when "
                "a generated image reproduces it; the holdout baseline says how often unseen real images look as close "
                "by chance.",
)


@dataclass(frozen=True)
class CalibratedSearch:
    """Nearest training image of each query and its calibrated distance (Carlini et al.).

    ``nearest_index`` (q,) int64 into the training set; ``distance`` (q,) to it;
    ``calibrated`` (q,) = distance / (alpha * mean distance to the ``n_neighbors`` nearest).
    """

    nearest_index: np.ndarray
    distance: np.ndarray
    calibrated: np.ndarray
    n_neighbors: int


def calibrated_search(queries: np.ndarray, training: np.ndarray, *, n_neighbors: int, alpha: float,
                      n_jobs: int | None = None) -> CalibratedSearch:
    """Exact k-nearest search of ``queries`` (q, d) among ``training`` (n, d) and Carlini's calibrated distance."""
    k = int(min(n_neighbors, len(training)))
    d, idx = nearest(np.asarray(queries, dtype=np.float64), np.asarray(training, dtype=np.float64), k=k)
    scale = alpha * d.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        # all k neighbours at distance 0 (k identical copies): a copy, calibrated distance 0
        calibrated = np.where(scale > 0, d[:, 0] / np.where(scale > 0, scale, 1.0), 0.0)
    return CalibratedSearch(idx[:, 0].astype(np.int64), d[:, 0], calibrated, k)


def distinct_images(images: ImageSet) -> ImageSet:
    """``images`` with exact pixel duplicates dropped (the first of each kept, order kept)."""
    flat = np.ascontiguousarray(images.images.reshape(len(images), -1))
    _, first = np.unique(flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1]))).ravel(), return_index=True)
    if len(first) == len(images):
        return images
    keep = np.sort(first)
    return ImageSet(images.images[keep], images.rows.iloc[keep], images.positions[keep])


def _flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float64)


class ImageMemorizationAudit(Audit):
    """Copies of training images among the generated images, against a holdout baseline.

    Args:
        size: side in pixels for the pixel-space search (default: the synthetic images' size).
        max_images: synthetic and holdout query images, at most each (random, seeded).
        max_train: training images searched, at most (default: all).
        n_neighbors: neighbours in Carlini's calibration (50 in the paper).
        alpha: Carlini's alpha (0.5 in the paper).
        threshold: calibrated distance below which an image counts as a copy.
        gallery_pairs: closest pairs shown when ``audit.include_real_records`` is set.
        encoder_path / epochs: the embedding (see :mod:`.features`).
    """

    name = "image_memorization"
    family = "privacy"
    title = "Image memorization: nearest training images"
    provides = ("privacy.image_copy_rate", "privacy.image_copy_excess", "privacy.image_copy_rate_embedding",
                "privacy.image_copy_excess_embedding")
    data_kinds = IMAGE_ONLY

    def __init__(self, *, size: int | None = None, max_images: int = 2000, max_train: int | None = None,
                 n_neighbors: int = 50, alpha: float = 0.5, threshold: float = 0.5, gallery_pairs: int = 6,
                 encoder_path: str | None = None, epochs: int = 12) -> None:
        for key, value, low, high in (("alpha", alpha, 0.0, 1.0), ("threshold", threshold, 0.0, 1.0 / max(alpha, 1e-9))):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
                raise ConfigError(f"audit.params.{self.name}.{key}: expected a number in ({low:g}, {high:g}], got "
                                  f"{value!r}; e.g. {key}: 0.5.")
        super().__init__(
            size=None if size is None else check_int(self.name, "size", size, 16, 64, maximum=1024),
            max_images=check_int(self.name, "max_images", max_images, 10),
            max_train=None if max_train is None else check_int(self.name, "max_train", max_train, 10),
            n_neighbors=check_int(self.name, "n_neighbors", n_neighbors, 2), alpha=float(alpha),
            threshold=float(threshold), gallery_pairs=check_int(self.name, "gallery_pairs", gallery_pairs, 0),
            encoder_path=encoder_path, epochs=check_int(self.name, "epochs", epochs, 1))

    def run(self, inputs: AuditInputs) -> AuditSection:
        p = self.params
        column, size, train, synthetic = training_and_synthetic(inputs, p["size"], max_train=p["max_train"],
                                                                max_synthetic=p["max_images"])
        if len(inputs.holdout) < 10:
            return self.skip(f"the holdout has {len(inputs.holdout)} images; the copy baseline needs at least 10.")
        holdout = load_set(inputs.holdout, column, size, max_images=p["max_images"], seed=inputs.seed + 2,
                           n_jobs=inputs.n_jobs)
        if len(train) < 2 or len(synthetic) == 0:
            return self.skip("fewer than 2 training images or no synthetic images.")
        search = dict(n_neighbors=p["n_neighbors"], alpha=p["alpha"], n_jobs=inputs.n_jobs)
        distinct = distinct_images(train)
        flat_train = _flat(distinct.images)
        pixel_syn = calibrated_search(_flat(synthetic.images), flat_train, **search)
        pixel_hold = calibrated_search(_flat(holdout.images), flat_train, **search)
        section = AuditSection(audit=self.name, family=self.family, title=self.title)
        section.metrics += _copy_metrics("", "pixel", pixel_syn, pixel_hold, p["threshold"])
        encoder = image_encoder(train, finding_columns(inputs.train), encoder_path=p["encoder_path"], audit=self.name,
                                seed=inputs.seed, epochs=p["epochs"])
        if encoder is not None:
            emb_train = encoder.embed(distinct.images)
            emb_syn = calibrated_search(encoder.embed(synthetic.images), emb_train, **search)
            emb_hold = calibrated_search(encoder.embed(holdout.images), emb_train, **search)
            section.metrics += _copy_metrics("_embedding", "embedding", emb_syn, emb_hold, p["threshold"])
            section.notes.append(f"Embedding: {encoder.description}.")
        else:
            section.notes.append("No embedding-space search: no finding labels to train an encoder on and no "
                                 f"audit.params.{self.name}.encoder_path.")
        rate, excess = section.metric("privacy.image_copy_rate"), section.metric("privacy.image_copy_excess")
        section.summary = (
            f"{rate.details['flagged']} of {len(synthetic)} generated images ({rate.value:.1%}) are pixel-space copies of a "
            f"training image (calibrated distance < {p['threshold']:g}); {excess.details['baseline_flagged']} of "
            f"{len(holdout)} holdout images ({excess.details['baseline_rate']:.1%}) look as close by chance. Excess "
            f"{excess.value:+.1%} [{excess.ci.low:+.1%}, {excess.ci.high:+.1%}].")
        section.figures.append(_histogram(pixel_syn, pixel_hold, p["threshold"]))
        section.tables.append(_closest_table(synthetic, pixel_syn, distinct))
        section.notes.append(
            f"Search: exact, over {len(distinct)} distinct training images at {size} x {size} pixels (of {len(train)}; "
            f"exact duplicates count once; Euclidean on pixel values in "
            f"[0, 1]); calibrated distance of Carlini et al. (2023) with the {pixel_syn.n_neighbors} nearest training "
            f"images and alpha = {p['alpha']:g}; a novel image scores about {1 / p['alpha']:.2g}, an exact copy 0.")
        self._gallery(section, inputs, synthetic, distinct, pixel_syn)
        return section

    def _gallery(self, section: AuditSection, inputs: AuditInputs, synthetic: ImageSet, train: ImageSet,
                 found: CalibratedSearch) -> None:
        count = min(self.params["gallery_pairs"], len(synthetic))
        if count == 0:
            return
        if not inputs.include_real_records:
            section.notes.append("Gallery of the closest generated / training pairs withheld: it shows training images. "
                                 "Set audit.include_real_records: true to include it.")
            return
        order = np.argsort(found.calibrated, kind="stable")[:count]
        pairs = [(synthetic.images[i], train.images[found.nearest_index[i]],
                  f"calibrated distance {found.calibrated[i]:.3f}") for i in order]
        section.figures.append(pair_gallery(
            "image_copy_gallery", "Closest generated / training pairs", pairs,
            "Shown because audit.include_real_records is true: each generated image beside its nearest training image "
            "(pixel space), closest first."))


def _copy_metrics(suffix: str, space: str, syn: CalibratedSearch, hold: CalibratedSearch, threshold: float) -> list[Metric]:
    k_syn, n_syn = int((syn.calibrated < threshold).sum()), len(syn.calibrated)
    k_hold, n_hold = int((hold.calibrated < threshold).sum()), len(hold.calibrated)
    counts = {"flagged": k_syn, "n_synthetic": n_syn, "baseline_flagged": k_hold, "n_holdout": n_hold,
              "baseline_rate": k_hold / n_hold, "threshold": threshold, "space": space}
    return [
        Metric(name=f"privacy.image_copy_rate{suffix}", value=k_syn / n_syn, ci=wilson(k_syn, n_syn), better="lower",
               ideal=k_hold / n_hold, threat_model=THREAT_MODEL, details=counts,
               passing=f"At or below the holdout share: generated images are no more often {space}-space copies of a "
                       "training image than unseen real images are."),
        Metric(name=f"privacy.image_copy_excess{suffix}", value=k_syn / n_syn - k_hold / n_hold,
               ci=newcombe_difference(k_syn, n_syn, k_hold, n_hold), better="lower", ideal=0.0,
               threat_model=THREAT_MODEL, details=counts,
               passing="Lower bound at or below 0: no significant excess of copies over what unseen real images show."),
    ]


def _histogram(syn: CalibratedSearch, hold: CalibratedSearch, threshold: float) -> Figure:
    values = np.r_[syn.calibrated, hold.calibrated]
    top = float(max(np.quantile(values, 0.99), threshold * 1.5, 1e-6))
    edges = np.linspace(0.0, top, 31)
    series = []
    for label, found in (("synthetic", syn), ("holdout (baseline)", hold)):
        counts, _ = np.histogram(np.clip(found.calibrated, 0, top), bins=edges)
        series.append({"label": label, "edges": edges.tolist(), "counts": (counts / max(1, counts.sum())).tolist()})
    return Figure(id="image_copy_distances", title="Calibrated distance to the nearest training image", kind="histograms",
                  data={"x_label": "calibrated distance (pixel space)", "series": series},
                  caption=f"Share of images per bin; left of {threshold:g} counts as a copy. Generated images piling up "
                          "near 0 while holdout images do not is memorization.")


def _closest_table(synthetic: ImageSet, found: CalibratedSearch, train: ImageSet, count: int = 10) -> TableBlock:
    order = np.argsort(found.calibrated, kind="stable")[:count]
    rows = tuple((int(synthetic.rows.index[i]), int(train.rows.index[found.nearest_index[i]]),
                  round(float(found.distance[i]), 4), round(float(found.calibrated[i]), 4)) for i in order)
    return TableBlock(title="Closest generated images", columns=("synthetic row", "nearest training row",
                                                                 "pixel distance", "calibrated distance"),
                      rows=rows, caption="Row indices only (no image content); smallest calibrated distance first.",
                      per_record=True)  # which training images were copied: an attacker's oracle if published
