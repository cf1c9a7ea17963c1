"""Bt-GAN's differential-privacy path: same losses as the plain path, honest accounting, checked inputs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier

from synth.errors import ConfigError
from synth.generators.btgan import BtGANGenerator
from synth.generators.btgan.losses import RecordBatch, per_record_gradients, record_losses
from synth.generators.btgan.networks import Discriminator, OutcomeClassifier
from synth.generators.btgan.privacy import PrivateRecordStep, plan_noise
from synth.generators.btgan.trainer import PlainRecordStep
from synth.schema import ColumnKind, ColumnSpec, Role, Schema


def _nets(seed: int, reference: bool) -> tuple[Discriminator, OutcomeClassifier]:
    torch.manual_seed(seed)
    return Discriminator(9, (16, 16), pac=1), OutcomeClassifier(7, (12,), 3, reference=reference)


def _batch(b: int, seed: int = 1) -> RecordBatch:
    g = torch.Generator().manual_seed(seed)
    return RecordBatch(real=torch.randn(b, 9, generator=g), fake=torch.randn(b, 9, generator=g),
                       mix=torch.rand(b, 1, generator=g), features=torch.randn(b, 7, generator=g),
                       outcome=torch.randint(0, 3, (b,), generator=g))


@pytest.mark.parametrize("reference", [False, True])
def test_per_record_path_gives_the_plain_losses_and_gradients(reference):
    d, c = _nets(0, reference)
    batch = _batch(13)
    critic, classifier = record_losses(d, c, batch, gp_weight=10.0)
    (critic + classifier).backward()
    plain = {p: p.grad.clone() for p in [*d.parameters(), *c.parameters()]}
    grads, critic_each, classifier_each = per_record_gradients(d, c, batch, gp_weight=10.0)
    assert critic_each.shape == (13,) and classifier_each.shape == (13,)
    assert critic_each.mean().item() == pytest.approx(critic.item(), rel=1e-5, abs=1e-6)
    assert classifier_each.mean().item() == pytest.approx(classifier.item(), rel=1e-5, abs=1e-6)
    assert set(grads) == set(plain)
    for p, g in plain.items():
        torch.testing.assert_close(grads[p].mean(0), g, rtol=1e-4, atol=1e-6)
    # the per-record gradients differ between records (they are not the mean repeated)
    first = next(iter(grads.values()))
    assert not torch.allclose(first[0], first[1])


def test_opacus_step_without_noise_or_clipping_is_the_plain_step():
    batch = _batch(11)
    d1, c1 = _nets(3, True)
    d2, c2 = _nets(3, True)
    plain = PlainRecordStep(d1, c1, torch.optim.SGD([*d1.parameters(), *c1.parameters()], lr=0.1), gp_weight=10.0)
    accountant = RDPAccountant()
    private = PrivateRecordStep(d2, c2, torch.optim.SGD([*d2.parameters(), *c2.parameters()], lr=0.1),
                                noise_multiplier=0.0, max_grad_norm=1e12, expected_batch_size=11, sample_rate=0.5,
                                accountant=accountant, noise_generator=torch.Generator().manual_seed(0), gp_weight=10.0)
    losses_plain = plain(batch)
    losses_private = private.step(batch)
    assert losses_private == pytest.approx(losses_plain, rel=1e-5)
    for a, b in zip([*d1.parameters(), *c1.parameters()], [*d2.parameters(), *c2.parameters()]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    assert accountant.history == [(0.0, 0.5, 1)]  # the step was accounted


def test_clipping_bounds_each_record_and_noise_is_added():
    batch = _batch(8)
    d, c = _nets(5, False)
    grads, _, _ = per_record_gradients(d, c, batch, gp_weight=10.0)
    norms = torch.stack([g.reshape(8, -1).norm(dim=1) for g in grads.values()], 1).norm(dim=1)
    clip = float(norms.min()) / 4  # every record is clipped
    before = [p.detach().clone() for p in [*d.parameters(), *c.parameters()]]
    step = PrivateRecordStep(d, c, torch.optim.SGD([*d.parameters(), *c.parameters()], lr=1.0), noise_multiplier=0.0,
                             max_grad_norm=clip, expected_batch_size=8, sample_rate=0.1, accountant=RDPAccountant(),
                             noise_generator=torch.Generator().manual_seed(0), gp_weight=10.0)
    step.step(batch)
    update = torch.cat([(b - p.detach()).reshape(-1) for b, p in zip(before, [*d.parameters(), *c.parameters()])])
    # mean of 8 vectors of norm exactly `clip` has norm at most `clip`
    assert float(update.norm()) <= clip * (1 + 1e-4)
    assert float(update.norm()) > 0.1 * clip


def test_noise_plan_matches_opacus_and_composes_the_count_release():
    sgd_only = plan_noise(3.0, 1e-5, 0.05, 2000, release_counts=False, group_budget=0.1)
    reference = get_noise_multiplier(target_epsilon=3.0, target_delta=1e-5, sample_rate=0.05, steps=2000)
    assert sgd_only.counts is None
    assert sgd_only.sgd == pytest.approx(reference, rel=0.02)
    both = plan_noise(3.0, 1e-5, 0.05, 2000, release_counts=True, group_budget=0.1)
    accountant = RDPAccountant()
    accountant.history = [(both.counts, 1.0, 1), (both.sgd, 0.05, 2000)]
    assert accountant.get_epsilon(1e-5) <= 3.0 + 1e-9
    assert both.sgd > sgd_only.sgd  # the count release takes part of the budget
    accountant.history = [(both.counts, 1.0, 1)]
    assert accountant.get_epsilon(1e-5) <= 0.3 + 1e-9


def _table(n: int, seed: int = 0) -> tuple[pd.DataFrame, Schema]:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    age = rng.integers(20, 80, n)
    lab = rng.normal(5, 1, n) + (sex == "M")
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(lab - 5.5)))).astype(int)
    frame = pd.DataFrame({"age": pd.array(age, dtype="Int64"), "lab": lab, "sex": sex, "y": y})
    bounds, levels = frozenset({"minimum", "maximum"}), frozenset({"categories"})  # declared, as DP needs
    schema = Schema((
        ColumnSpec("age", ColumnKind.INTEGER, minimum=20, maximum=79, declared=bounds),
        ColumnSpec("lab", ColumnKind.NUMERIC, minimum=0.0, maximum=10.0, declared=bounds),
        ColumnSpec("sex", ColumnKind.CATEGORICAL, categories=("F", "M"), roles=frozenset({Role.SENSITIVE}),
                   declared=levels),
        ColumnSpec("y", ColumnKind.CATEGORICAL, categories=(0, 1), roles=frozenset({Role.TARGET}), declared=levels),
    ))
    return frame, schema


TINY = {"epochs": 3, "batch_size": 60, "embedding_dim": 8, "generator_dim": (16,), "discriminator_dim": (16,),
        "classifier_dim": (8,), "progress": False}


def test_dp_fit_spends_at_most_the_target_and_says_so(tmp_path):
    frame, schema = _table(300)
    gen = BtGANGenerator(seed=0, dp_epsilon=2.0, **TINY).fit(frame, schema)
    privacy = gen.privacy
    assert privacy.mechanism.startswith("DP-SGD")
    assert privacy.delta == pytest.approx(1 / 3000)
    assert 0.5 * 2.0 < privacy.epsilon <= 2.0  # calibrated to the target, not far below it
    assert "subgroup and missing-value counts" in privacy.notes
    plan = gen.provenance()["dp_sgd"]
    assert plan["noise_multiplier"] > 0 and plan["sample_rate"] == pytest.approx(TINY["batch_size"] / 300)
    out = gen.sample(200)
    assert list(out.columns) == schema.names and len(out) == 200
    gen.save(tmp_path / "dp")
    loaded = BtGANGenerator.load(tmp_path / "dp")
    assert loaded.privacy == privacy
    pd.testing.assert_frame_equal(loaded.sample(200), out)


def test_dp_delta_of_one_over_n_or_more_is_refused_before_training(monkeypatch):
    frame, schema = _table(100)

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("synth.generators.btgan.trainer.Trainer.fit", no_training)
    with pytest.raises(ConfigError, match=r"dp_delta.*below 1/n"):
        BtGANGenerator(seed=0, dp_epsilon=1.0, dp_delta=0.01, **TINY).fit(frame, schema)


@pytest.mark.parametrize("params, fragment", [
    ({"pac": 10}, "pac=10"),
    ({"weighted_sampling": True}, "weighted_sampling"),
    ({"validation_fraction": 0.2}, "validation_fraction"),
    ({"rejection_sampling": True}, "rejection_sampling"),
])
def test_dp_refuses_steps_that_would_read_records_outside_the_accounting(params, fragment):
    with pytest.raises(ConfigError, match=fragment):
        BtGANGenerator(seed=0, dp_epsilon=1.0, batch_size=60, **params)


def test_dp_refuses_facts_read_off_the_records_before_training(monkeypatch):
    """Bounds, levels and missingness inferred from the records are people's values outside
    the epsilon: with DP each must be declared, and the error names the columns and keys
    without printing any value of the data."""
    frame, schema = _table(300)
    frame.loc[7, "lab"] = 98765.4321  # one person's extreme value: the inferred maximum would be theirs
    frame["age"] = frame["age"].astype("Float64")
    frame.loc[3, "age"] = None
    inferred = Schema((
        replace(schema.column("age"), declared=frozenset(), nullable=True),
        replace(schema.column("lab"), declared=frozenset({"minimum"}), maximum=98765.4321),
        replace(schema.column("sex"), declared=frozenset()),
        schema.column("y"),
    ))

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("synth.generators.btgan.trainer.Trainer.fit", no_training)
    with pytest.raises(ConfigError) as caught:
        BtGANGenerator(seed=0, dp_epsilon=1.0, **TINY).fit(frame, inferred)
    message = str(caught.value)
    assert "numeric columns without both min and max: age, lab" in message
    assert "categorical columns without categories: sex" in message
    assert "columns with missing values not declared nullable: age" in message
    assert "data.columns" in message and "98765" not in message and "79" not in message
    # The same table with every fact declared trains (here: reaches the trainer).
    declared = inferred.replace_column(replace(schema.column("age"), nullable=True,
                                               declared=frozenset({"minimum", "maximum", "nullable"})))
    declared = declared.replace_column(schema.column("lab")).replace_column(schema.column("sex"))
    with pytest.raises(AssertionError, match="training started"):
        BtGANGenerator(seed=0, dp_epsilon=1.0, **TINY).fit(frame, declared)
    # "nullable: false" over missing values is no declaration of them: the encoding would
    # otherwise learn from the records that some value is missing.
    denied = declared.replace_column(replace(declared.column("age"), nullable=False))
    with pytest.raises(ConfigError, match="columns with missing values not declared nullable: age"):
        BtGANGenerator(seed=0, dp_epsilon=1.0, **TINY).fit(frame, denied)
    # Without DP nothing needs declaring: the encoding is not claimed private.
    with pytest.raises(AssertionError, match="training started"):
        BtGANGenerator(seed=0, **TINY).fit(frame, inferred)


def test_an_integer_outcome_binned_from_declared_bounds_has_declared_levels():
    frame, schema = _table(300)
    spec = ColumnSpec("y", ColumnKind.INTEGER, minimum=0, maximum=1, roles=frozenset({Role.TARGET}),
                      declared=frozenset({"minimum", "maximum"}))
    gen = BtGANGenerator(seed=0, dp_epsilon=1.0, **TINY)
    model_schema, _, _ = gen._resolve_roles(schema.replace_column(spec), frame)
    assert model_schema.column("y").categories == (0, 1) and "categories" in model_schema.column("y").declared
    inferred = replace(spec, declared=frozenset())
    model_schema, _, _ = gen._resolve_roles(schema.replace_column(inferred), frame)
    assert "categories" not in model_schema.column("y").declared
    # Levels declared on an integer column are kept as declared, not rebuilt from the
    # (inferred) range, whose ends are people's values.
    levels = replace(spec, minimum=0, maximum=1, categories=tuple(range(16)), declared=frozenset({"categories"}))
    model_schema, _, _ = gen._resolve_roles(schema.replace_column(levels), frame)
    assert model_schema.column("y").categories == tuple(range(16)) and "categories" in model_schema.column("y").declared


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine (the test runs where there is one)")
def test_dp_training_on_cuda_spends_at_most_the_target():
    frame, schema = _table(300)
    gen = BtGANGenerator(seed=0, dp_epsilon=2.0, device="cuda", **TINY).fit(frame, schema)
    assert gen.provenance()["device"].startswith("cuda") and gen.privacy.epsilon <= 2.0
    out = gen.sample(200)
    assert list(out.columns) == schema.names and len(out) == 200


def test_release_counts_noise_scales_with_the_joint_sensitivity():
    """Two subgroups and one nullable column: a record moves the joint count vector by at most
    sqrt(2) in L2, so each coordinate's noise has standard deviation sqrt(2) x the multiplier."""
    from synth.generators.btgan.privacy import release_counts

    gen = torch.Generator().manual_seed(0)
    draws = np.array([np.concatenate(release_counts(np.array([5000.0, 5000.0]), [5000], 3.0, gen))
                      for _ in range(4000)])
    assert draws.std(axis=0) == pytest.approx(np.full(3, 3.0 * np.sqrt(2)), rel=0.05)
    groups, missing = release_counts(None, [5000, 5000], 3.0, gen)
    assert groups is None and missing.shape == (2,)


def test_dp_missing_share_is_anchored_to_its_release():
    """Known answer: 30 % of 'lab' is missing. At epsilon 1000 (the release is nearly exact)
    the generated missing share stays near 30 %; without the anchor, the DP generator's
    indicator drifts (0.13 and 0.93 on these two seeds)."""
    frame, schema = _table(300)
    frame["lab"] = frame["lab"].where(np.random.default_rng(0).uniform(size=len(frame)) > 0.3)
    lab = schema.column("lab")
    schema = schema.replace_column(replace(lab, nullable=True, declared=lab.declared | {"nullable"}))
    truth = frame["lab"].isna().mean()
    for seed in (0, 1):
        gen = BtGANGenerator(seed=seed, dp_epsilon=1000.0, **{**TINY, "epochs": 150}).fit(frame, schema)
        assert abs(gen.sample(2000)["lab"].isna().mean() - truth) < 0.1
        assert "missing-value counts" in gen.privacy.notes
