"""The white-box image audits on a tiny fitted diffusion model: they run, state their threat model and
intervals, keep real prompt text out of the output unless asked, and skip without the model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from image_sets import phantom_table

from synth.audits.base import AuditInputs
from synth.audits.images import denoiser
from synth.audits.images.diffusion_membership import DiffusionMembershipAudit
from synth.audits.images.prompt_memorization import RARE_WORD, PromptMemorizationAudit
from synth.errors import ConfigError
from synth.generators.cxr_diffusion import CXRDiffusionGenerator
from synth.schema import ColumnKind, ColumnSpec, Role, Schema

TINY = dict(resolution=16, block_out_channels=[8, 16], attention_head_dim=8, train_steps=3, batch_size=4, warmup_steps=1, sampling_steps=2,
            progress=False, num_threads=1, max_prompt_tokens=32)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    table = phantom_table(tmp_path_factory.mktemp("phantom") / "set", 48, seed=2, size=32)
    table = table[["image", "prompt", "view_position", "cardiomegaly"]]
    schema = Schema((ColumnSpec("image", ColumnKind.IMAGE),
                     ColumnSpec("prompt", ColumnKind.TEXT, roles=frozenset({Role.PROMPT})),
                     ColumnSpec("view_position", ColumnKind.CATEGORICAL), ColumnSpec("cardiomegaly", ColumnKind.CATEGORICAL)))
    train, holdout = table.iloc[:30].reset_index(drop=True), table.iloc[30:].reset_index(drop=True)
    generator = CXRDiffusionGenerator(seed=0, **TINY).fit(train, schema)
    return train, holdout, schema, generator


def _inputs(fitted, **kw) -> AuditInputs:
    train, holdout, schema, generator = fitted
    return AuditInputs(train=train, holdout=holdout, synthetic=train.iloc[:0], schema=schema, seed=0,
                       generator=kw.pop("generator", generator), n_jobs=1, **kw)


def test_internals_condition_like_the_generator_and_predict_noise_shapes(fitted):
    m = fitted[3].diffusion_internals()
    assert m.prompt_column == "prompt" and m.view_column == "view_position" and m.resolution == 16
    c = denoiser.condition(m, ["Cardiomegaly.", ""], ["PA", "AP"])
    assert c.hidden.shape[:2] == c.mask.shape == (2, m.prompt_tokens) and c.views.tolist() == m.view_labels(["PA", "AP"]).tolist()
    x = denoiser.model_images(np.zeros((2, 1, 16, 16)))
    assert float(x.min()) == -1.0
    eps = denoiser.predict_noise(m, x, torch.tensor([10, 500]), c)
    assert tuple(eps.shape) == (2, 1, 16, 16)
    # gradients reach each token embedding; words follow the prompt's whitespace
    tokens = denoiser.token_embeddings(m, ["Dr. ___ saw it."])
    assert tokens.word_text[0] == ["dr", "___", "saw", "it"]
    assert set(tokens.words[0]) >= {-1, 0, 1, 2, 3}


def test_prompt_memorization_reports_scores_without_real_text(fitted):
    section = PromptMemorizationAudit(max_prompts=12, max_holdout_prompts=12, n_noise=1, top_prompts=2).run(_inputs(fitted))
    rate = section.metric("privacy.prompt_memorization_rate")
    assert rate.ci is not None and rate.threat_model is not None and 0 <= rate.value <= 1
    assert section.metric("privacy.prompt_memorization_excess").ci.low <= section.metric("privacy.prompt_memorization_excess").value
    dumped = json.dumps(section.to_dict())
    for prompt in fitted[0]["prompt"]:
        assert prompt not in dumped  # no training report text without the opt-in
    words = section.tables[1].rows
    train_words = " ".join(fitted[0]["prompt"]).lower()
    assert all(w == RARE_WORD or w in train_words for w, _, _ in words)
    shown = PromptMemorizationAudit(max_prompts=12, max_holdout_prompts=12, n_noise=1, top_prompts=1).run(
        _inputs(fitted, include_real_records=True))
    assert "prompt" in shown.tables[0].columns


def test_diffusion_membership_gives_every_metric_with_intervals(fitted):
    section = DiffusionMembershipAudit(max_images=12, n_noise=1, timesteps=[50]).run(_inputs(fitted))
    names = {m.name for m in section.metrics}
    assert {"membership.diffusion.auc", "membership.diffusion_loss.auc", "membership.diffusion_pia.auc",
            "membership.diffusion_loss.tpr_at_1pct_fpr", "membership.diffusion_pia.epsilon_lower_bound"} <= names
    head = section.metric("membership.diffusion.auc")
    assert head.ci.low <= head.value <= head.ci.high and head.threat_model.attacker_has


def test_diffusion_membership_auc_interval_counts_a_patient_once(fitted):
    """Known answer: three identical images per patient carry no more evidence than one image per patient, so
    the AUC interval clustered by patient is as wide as that of the one-image-per-patient set; counting the copies
    as independent narrows it by about sqrt(3)."""
    train, holdout, schema, generator = fitted
    one_train, one_hold = train.iloc[:12].reset_index(drop=True), holdout.iloc[:12].reset_index(drop=True)
    tripled_train, tripled_hold = (pd.concat([f] * 3, ignore_index=True) for f in (one_train, one_hold))
    patients = np.tile(np.arange(12), 3)
    audit = DiffusionMembershipAudit(max_images=36, n_noise=1, timesteps=[50], attacks=["loss"])

    def interval(tr, ho, **groups):
        inputs = AuditInputs(train=tr, holdout=ho, synthetic=tr.iloc[:0], schema=schema, seed=0, generator=generator,
                             n_jobs=1, **groups)
        section = audit.run(inputs)
        return section.metric("membership.diffusion_loss.auc"), section

    single, _ = interval(one_train, one_hold)
    naive, _ = interval(tripled_train, tripled_hold)
    clustered, section = interval(tripled_train, tripled_hold, train_groups=patients, holdout_groups=patients + 100)
    assert clustered.value == pytest.approx(single.value) == pytest.approx(naive.value)  # same scores, copied
    width = {name: m.ci.high - m.ci.low for name, m in (("single", single), ("naive", naive), ("clustered", clustered))}
    assert 0.85 < width["clustered"] / width["single"] < 1.25, width
    assert width["naive"] / width["single"] < 0.7, width
    assert clustered.ci.method.startswith("DeLong, clustered") and clustered.details["n_patients"] == 24
    assert any("24 patients" in note for note in section.notes)


def test_white_box_audits_skip_without_the_model_and_check_their_parameters(fitted):
    assert PromptMemorizationAudit().run(_inputs(fitted, generator=None)).skipped
    assert DiffusionMembershipAudit().run(_inputs(fitted, generator=None)).skipped
    with pytest.raises(ConfigError, match="timesteps"):
        DiffusionMembershipAudit(timesteps=[5000]).run(_inputs(fitted))
    with pytest.raises(ConfigError, match="attacks"):
        DiffusionMembershipAudit(attacks=["secmi"])


def _ideal_memorizer(monkeypatch, memorized: torch.Tensor, unconditional: str) -> None:
    """Replace the model's noise prediction by a closed form (a test fake; the real UNet path is tested above):
    the conditional branch has memorized one image x* exactly, eps_c(x_t, t) = (x_t - sqrt(a_t) x*) / sqrt(1 - a_t);
    the unconditional branch predicts either zero noise or the image 0, eps_u = x_t / sqrt(1 - a_t)."""
    def predict(m, x, t, c):
        a = m.noise_scheduler.alphas_cumprod.to(torch.float32)[t].reshape(-1, 1, 1, 1)
        if c == "cond":
            return (x - a.sqrt() * memorized) / (1 - a).sqrt()
        return torch.zeros_like(x) if unconditional == "zero" else x / (1 - a).sqrt()

    monkeypatch.setattr(denoiser, "condition", lambda m, prompts, views: "cond")
    monkeypatch.setattr(denoiser, "unconditional", lambda m, n: "uncond")
    monkeypatch.setattr(denoiser, "predict_noise", predict)


def test_prompt_norm_over_steps_matches_closed_forms_of_an_ideal_memorizer(fitted, monkeypatch):
    from synth.audits.images.prompt_memorization import noise_prediction_norms

    m = fitted[3].diffusion_internals()
    m = type(m)(**{**m.__dict__, "sampler_timesteps": (999, 749, 499, 249)})
    a = m.noise_scheduler.alphas_cumprod.double()
    memorized = torch.full((1, 1, 16, 16), 0.5)
    # eps_u = x_t / sqrt(1 - a): the difference is -sqrt(a_t / (1 - a_t)) x* wherever the path goes,
    # so d = 0.5 x the mean of sqrt(a_t / (1 - a_t)) over the steps used
    _ideal_memorizer(monkeypatch, memorized, "image zero")
    for steps in (1, 3):
        d = noise_prediction_norms(m, ["p"], None, n_noise=2, seed=0, steps=steps)
        ts = [999, 749, 499][:steps]
        assert d[0] == pytest.approx(0.5 * np.mean([np.sqrt(a[t] / (1 - a[t])) for t in ts]), rel=1e-4)
    # eps_u = 0: the difference is eps_c itself, which an exact memorizer keeps constant along its own
    # deterministic DDIM path (x_t = sqrt(a_t) x* + sqrt(1 - a_t) eps_1): d is the same for 1 and 3 steps, and
    # equals the closed form at the first step; a path that did not move would give a different value at t = 749
    _ideal_memorizer(monkeypatch, memorized, "zero")
    noise = torch.randn((2, 1, 16, 16), generator=torch.Generator().manual_seed(0))
    eps1 = (noise - a[999].sqrt().float() * memorized) / (1 - a[999]).sqrt().float()
    expected = float(np.mean([e.norm().item() / 16 for e in eps1]))
    one = noise_prediction_norms(m, ["p"], None, n_noise=2, seed=0, steps=1)[0]
    three = noise_prediction_norms(m, ["p"], None, n_noise=2, seed=0, steps=3)[0]
    still = float(np.mean([((n - a[749].sqrt().float() * memorized) / (1 - a[749]).sqrt().float()).norm().item() / 16
                           for n in noise]))
    assert one == pytest.approx(expected, rel=1e-4) and three == pytest.approx(expected, rel=1e-4)
    assert abs(still - expected) > 0.01  # the test can tell a path that moves from one that does not
