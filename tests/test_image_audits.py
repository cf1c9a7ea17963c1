"""Image audits on images whose answer is known: FID/KID closed forms and corruptions, planted copies,
identical and varied same-prompt images, consistent and shuffled labels, and the opt-in gallery."""

from __future__ import annotations

import json

import numpy as np
import pytest
from image_sets import FINDINGS, inputs_from_arrays, phantom_table, smooth_images
from scipy import linalg
from scipy.ndimage import gaussian_filter

from synth.audits.images.diversity import ImageDiversityAudit
from synth.audits.images.fid import distances, frechet_distance, kernel_distance
from synth.audits.images.label_consistency import LabelConsistencyAudit
from synth.audits.images.nearest_images import ImageMemorizationAudit, calibrated_search
from synth.data.images.io import load_images
from synth.errors import ConfigError
from synth.schema import DataKind
from synth.verdict import IMAGE_DEFAULT_GATES, parse_gates
from synth.vision import FindingsClassifier


def test_fid_equals_the_closed_form_frechet_distance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6))
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) * 0.5 + 0.3
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * linalg.sqrtm(s_a @ s_b).real)  # scipy, not torchmetrics
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_kid_is_zero_for_one_population_and_positive_for_a_shift():
    rng = np.random.default_rng(1)
    same = distances(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)), n_boot=20, seed=0)
    assert same.kid_ci.low <= 0 <= same.kid_ci.high
    shifted = distances(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)) + 0.5, n_boot=20, seed=0)
    assert shifted.kid_ci.low > 0 and shifted.fid_ci.low > same.fid_ci.high
    assert kernel_distance(np.ones((5, 2)), np.ones((5, 2)), seed=0) == pytest.approx(0.0, abs=1e-9)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    table = phantom_table(tmp_path_factory.mktemp("phantom") / "set", 160, seed=11, size=32)
    images = load_images(table["image"].tolist(), size=32)
    labels = table[list(FINDINGS)].apply(lambda c: c.astype(float)).fillna(0).to_numpy()
    return table, images, labels


def test_fid_known_answers_split_halves_near_zero_and_rising_with_corruption(phantom):
    table, images, labels = phantom
    encoder = FindingsClassifier(list(FINDINGS), epochs=3, seed=0).fit(images[:80], labels[:80])
    half_a, half_b = images[80:120], images[120:160]
    feats = encoder.features
    reference = feats(half_a).astype(np.float64)
    itself = distances(reference, feats(half_b).astype(np.float64), n_boot=20, seed=0)
    blurred = [frechet_distance(reference, feats(gaussian_filter(half_b, (0, 0, s, s))).astype(np.float64))
               for s in (0.8, 1.6, 3.2)]
    rng = np.random.default_rng(0)
    noised = [frechet_distance(reference, feats(np.clip(half_b + rng.normal(0, s, half_b.shape), 0, 1)
                                                .astype(np.float32)).astype(np.float64)) for s in (0.05, 0.15, 0.4)]
    assert itself.raw_fid < blurred[0] < blurred[1] < blurred[2]
    assert itself.raw_fid < noised[0] < noised[1] < noised[2]
    # one population: the bias-corrected FID and its whole interval sit below the mildest corruption
    assert itself.fid_ci.low <= itself.fid <= itself.fid_ci.high < min(blurred[0], noised[0])
    assert itself.fid < 0.5 * min(blurred[0], noised[0])


def test_label_consistency_reads_prompted_findings_and_not_shuffled_ones(phantom, tmp_path):
    table, images, labels = phantom
    cols = {f: table[f].to_numpy() for f in FINDINGS}
    rng = np.random.default_rng(0)
    shuffled = {f: v[80:][rng.permutation(80)] for f, v in cols.items()}
    base = dict(train={f: v[:80] for f, v in cols.items()}, holdout={f: v[80:120] for f, v in cols.items()})
    audit = LabelConsistencyAudit(epochs=3, n_boot=40, min_positives=3)
    good = audit.run(inputs_from_arrays(tmp_path / "a", images[:80], images[80:120], images[80:],
                                        labels={**base, "synthetic": {f: v[80:] for f, v in cols.items()}}))
    bad = audit.run(inputs_from_arrays(tmp_path / "b", images[:80], images[80:120], images[80:],
                                       labels={**base, "synthetic": shuffled}))
    g, b = good.metric("fidelity.label_consistency_auroc"), bad.metric("fidelity.label_consistency_auroc")
    assert g.value > 0.75 and g.ci.low > b.ci.high, (good.summary, bad.summary)
    assert b.ci.low < 0.5 < b.ci.high


def _copies_case(tmp_path, n_copies: int, n_near: int, include: bool = False):
    rng = np.random.default_rng(3)
    train, holdout, fresh = smooth_images(120, 24, rng), smooth_images(60, 24, rng), smooth_images(100, 24, rng)
    exact = train[:n_copies]
    near = np.clip(train[n_copies:n_copies + n_near] + rng.normal(0, 0.01, train[:n_near].shape), 0, 1)
    synthetic = np.concatenate([exact, near, fresh[: 100 - n_copies - n_near]]).astype(np.float32)
    return inputs_from_arrays(tmp_path, train, holdout, synthetic, include_real_records=include)


def test_planted_copies_and_near_copies_are_flagged_against_the_holdout_baseline(tmp_path):
    section = ImageMemorizationAudit(gallery_pairs=3).run(_copies_case(tmp_path, 5, 5))
    rate, excess = section.metric("privacy.image_copy_rate"), section.metric("privacy.image_copy_excess")
    assert rate.details["flagged"] == 10 and rate.details["baseline_flagged"] == 0, section.summary
    assert excess.ci.low > 0
    # the closest generated images point at the training images they copy
    assert {row[1] for row in section.tables[0].rows[:10]} == set(range(10))
    assert not any(f.kind == "gallery" for f in section.figures)  # training images stay out without the opt-in
    assert "base64" not in json.dumps(section.to_dict())


def test_a_single_copy_is_found_but_is_not_a_significant_excess(tmp_path):
    section = ImageMemorizationAudit().run(_copies_case(tmp_path, 1, 0))
    assert section.metric("privacy.image_copy_rate").details["flagged"] == 1
    assert section.tables[0].rows[0][1] == 0  # the copy of training image 0 comes first
    assert section.metric("privacy.image_copy_excess").ci.low <= 0


def test_near_copies_of_a_duplicated_training_image_are_flagged(tmp_path):
    """One training image held 20 times (as a model's most memorized image would be) and generations 0.2 of its
    neighbourhood's distance from it: Carlini's ratio over the 50 nearest *distinct* images flags them; counting the
    20 copies as 20 neighbours pulls the mean towards the generations' own distance and hides them."""
    rng = np.random.default_rng(6)
    distinct, holdout, fresh = smooth_images(100, 24, rng), smooth_images(40, 24, rng), smooth_images(90, 24, rng)
    train = np.concatenate([distinct, np.repeat(distinct[:1], 19, axis=0)])  # image 0 held 20 times
    flat = distinct.reshape(100, -1)
    around = np.sort(np.linalg.norm(flat[1:] - flat[0], axis=1))[:49].mean()
    step = rng.normal(size=(10, flat.shape[1]))
    near = flat[0] + step / np.linalg.norm(step, axis=1, keepdims=True) * 0.2 * around
    synthetic = np.concatenate([near.reshape(10, 1, 24, 24), fresh]).astype(np.float32)
    section = ImageMemorizationAudit().run(inputs_from_arrays(tmp_path, train, holdout, synthetic))
    rate = section.metric("privacy.image_copy_rate")
    assert rate.details["flagged"] == 10 and rate.details["baseline_flagged"] == 0, section.summary
    assert {row[1] for row in section.tables[0].rows[:10]} == {0}  # all point at the first of the copies
    diluted = calibrated_search(near, train.reshape(119, -1), n_neighbors=50, alpha=0.5)
    assert (diluted.calibrated > 0.5).all()  # what the duplicates would have hidden


def test_fresh_images_score_near_one_over_alpha_and_exact_copies_zero():
    rng = np.random.default_rng(4)
    train = smooth_images(200, 16, rng).reshape(200, -1)
    fresh = calibrated_search(smooth_images(50, 16, rng).reshape(50, -1), train, n_neighbors=50, alpha=0.5)
    copies = calibrated_search(train[:5], train, n_neighbors=50, alpha=0.5)
    assert np.all(copies.calibrated == 0) and list(copies.nearest_index) == list(range(5))
    assert 1.2 < np.median(fresh.calibrated) <= 2.0


def test_gallery_appears_only_with_the_opt_in(tmp_path):
    section = ImageMemorizationAudit(gallery_pairs=2).run(_copies_case(tmp_path, 3, 0, include=True))
    gallery = [f for f in section.figures if f.kind == "gallery"]
    assert len(gallery) == 1 and len(gallery[0].data["pairs"]) == 2
    assert all(img["png"].startswith("iVBORw0KGgo") for pair in gallery[0].data["pairs"] for img in pair["images"])


def test_identical_images_per_prompt_have_ms_ssim_one_and_varied_ones_less(tmp_path):
    rng = np.random.default_rng(5)
    train = smooth_images(20, 32, rng)
    one = smooth_images(4, 32, rng)
    collapsed = np.repeat(one, 5, axis=0)  # five identical images per prompt
    varied = smooth_images(20, 32, rng)
    prompts = {"train": ["x"] * 20, "holdout": ["x"] * 20, "synthetic": [f"p{i // 5}" for i in range(20)]}
    audit = ImageDiversityAudit(n_boot=40)
    same = audit.run(inputs_from_arrays(tmp_path / "a", train, train, collapsed, prompts=prompts))
    mixed = audit.run(inputs_from_arrays(tmp_path / "b", train, train, varied, prompts=prompts))
    assert same.metric("fidelity.intra_prompt_ms_ssim").value == pytest.approx(1.0, abs=1e-4)
    assert mixed.metric("fidelity.intra_prompt_ms_ssim").ci.high < 0.9


def test_bad_parameters_name_the_key():
    with pytest.raises(ConfigError, match="audit.params.image_memorization.threshold"):
        ImageMemorizationAudit(threshold=-1)
    with pytest.raises(ConfigError, match="audit.params.image_fid.n_boot"):
        from synth.audits.images.fid import ImageFidAudit
        ImageFidAudit(n_boot=1)


def test_image_data_gets_the_image_default_gates():
    gates = parse_gates(None, kind=DataKind.IMAGE)
    assert [g.expression for g in gates] == list(IMAGE_DEFAULT_GATES)
    assert {g.metric for g in gates} == {"privacy.image_copy_excess", "privacy.prompt_memorization_excess",
                                         "membership.diffusion.auc"}
