"""The Bt-GAN generator (``btgan``): contract, encoding, mechanisms, bad input, persistence."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import numpy as np
import pandas as pd
import pytest
import torch
from population import make_population, population_schema

from synth.errors import ConfigError, DataError
from synth.generators.base import Condition
from synth.generators.btgan import BtGANGenerator
from synth.generators.btgan.encoding import TableTransformer
from synth.generators.btgan.fairness import QUANTILES, odds_gap, parity_gap, score_profile
from synth.generators.btgan.gmm import fit_mixtures
from synth.generators.btgan.weights import bucket_weights, density_buckets, density_scores
from synth.schema import ColumnKind, ColumnSpec, Role, Schema

TINY = {"epochs": 4, "batch_size": 100, "embedding_dim": 16, "generator_dim": (32,), "discriminator_dim": (32,),
        "classifier_dim": (16,), "progress": False}


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return make_population(400, seed=0)


@pytest.fixture(scope="module")
def fitted(train) -> BtGANGenerator:
    return BtGANGenerator(seed=3, validation_fraction=0.2, validation_every=2, **TINY).fit(train, population_schema())


# -- contract -----------------------------------------------------------------------------


def test_entry_point_and_parameters():
    eps = {ep.name: ep for ep in entry_points(group="synth.generators")}
    assert eps["btgan"].load() is BtGANGenerator
    for name, field in BtGANGenerator.Params.model_fields.items():
        assert field.description, name
    with pytest.raises(ConfigError, match="fairness_weigth.*Did you mean 'fairness_weight'"):
        BtGANGenerator(fairness_weigth=1.0)
    with pytest.raises(ConfigError, match=r"batch_size \(105\) must be a multiple of pac \(10\)"):
        BtGANGenerator(batch_size=105)


def test_sample_has_schema_columns_dtypes_and_is_reproducible(fitted, train):
    schema = population_schema()
    a, b = fitted.sample(300), fitted.sample(300)
    assert list(a.columns) == schema.names and len(a) == 300
    assert str(a["age"].dtype) == "Int64" and str(a["diabetes"].dtype) == "boolean"
    assert set(a["race"].dropna()) <= {"asian", "black", "other", "white"}
    assert a["age"].between(18, 90).all()
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(fitted.sample(300, seed=99))
    assert a["creatinine"].isna().any()  # missing values are modelled, not dropped
    assert fitted.sample(0).shape == (0, len(schema))
    refit = BtGANGenerator(seed=3, validation_fraction=0.2, validation_every=2, **TINY).fit(train, schema)
    pd.testing.assert_frame_equal(refit.sample(300), a)
    assert fitted.training_log.epochs_run <= TINY["epochs"] and fitted.training_log.validation


def test_subgroup_shares_are_the_real_ones_or_the_targets(fitted, train):
    out = fitted.sample(1000)
    real = train.groupby(["sex", "race"]).size() / len(train)
    syn = out.groupby(["sex", "race"]).size() / len(out)
    # exact allocation: every share within one row of its real share
    assert (abs(syn.reindex(real.index, fill_value=0) - real) <= 1 / 1000 + 1e-12).all()
    target = {"values": {"sex": "F", "race": "other"}, "share": 0.25}
    targeted = BtGANGenerator(seed=3, subgroup_shares=[target], **TINY)
    targeted.fit(train, population_schema())
    out = targeted.sample(800)
    share = ((out.sex == "F") & (out.race == "other")).mean()
    assert share == pytest.approx(0.25, abs=1 / 800)
    rest = out[~((out.sex == "F") & (out.race == "other"))].groupby(["sex", "race"]).size() / len(out)
    real_rest = real.drop(("F", "other"))
    assert np.allclose(rest.reindex(real_rest.index).to_numpy(), (0.75 * real_rest / real_rest.sum()).to_numpy(),
                       atol=2 / 800)


def test_conditions_on_discrete_columns_are_honoured(fitted):
    out = fitted.sample(70, conditions=[Condition(40, {"sex": "F", "diabetes": True}), Condition(20, {"race": "asian"}),
                                        Condition(10, {"outcome": 1})])
    assert (out.iloc[:40].sex == "F").all() and out.iloc[:40].diabetes.all()
    assert (out.iloc[40:60].race == "asian").all()
    assert (out.iloc[60:].outcome == 1).all()  # the outcome by rejection on the classifier's draws
    with pytest.raises(ConfigError, match="discrete columns only"):
        fitted.sample(5, conditions=[Condition(5, {"bmi": 30.0})])
    with pytest.raises(ConfigError, match="not a level of 'race'"):
        fitted._sample_matrix(5, {"race": "martian"}, np.random.default_rng(0), 1)


def test_save_load_round_trip_without_pickle(fitted, train, tmp_path):
    fitted.save(tmp_path / "g")
    files = sorted(p.name for p in (tmp_path / "g").iterdir())
    assert files == ["btgan.safetensors", "generator.json"]
    loaded = BtGANGenerator.load(tmp_path / "g")  # no trusted=True needed: nothing executes on load
    pd.testing.assert_frame_equal(loaded.sample(200, seed=5), fitted.sample(200, seed=5))
    meta = json.loads((tmp_path / "g" / "generator.json").read_text())
    assert meta["format"] == "synth.btgan/1" and meta["privacy"]["mechanism"] == "none"
    record = fitted.provenance()
    assert loaded.provenance() == record and record["epochs_run"] == fitted.training_log.epochs_run
    assert record["training_rows"] + record["held_out_rows"] == len(train) and record["device"] == "cpu"
    assert "dp_sgd" not in record
    # counts and settings only: no level of a sensitive column, no value of a record
    assert not {"asian", "black", "white", "F", "M"} & set(json.dumps(record).replace('"', " ").split())
    blob = (tmp_path / "g" / "btgan.safetensors").read_bytes()
    (tmp_path / "g" / "btgan.safetensors").write_bytes(blob[:-8] + bytes(8))
    with pytest.raises(DataError, match="SHA-256"):
        BtGANGenerator.load(tmp_path / "g")
    with pytest.raises(DataError, match="generator.json is missing"):
        BtGANGenerator.load(tmp_path)


# -- bad input: each a clear error before training ------------------------------------------


@pytest.fixture()
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("synth.generators.btgan.trainer.Trainer.fit", refuse)


def _schema_with(schema: Schema, name: str, **changes) -> Schema:
    from dataclasses import replace

    return schema.replace_column(replace(schema.column(name), **changes))


def test_sensitive_attribute_not_in_the_data(train, no_training):
    with pytest.raises(ConfigError, match="generator.params.sensitive names 'ethnicity'.*not a modelled column"):
        BtGANGenerator(sensitive=["ethnicity"], **TINY).fit(train, population_schema())


def test_sensitive_attribute_with_a_single_level(train, no_training):
    one_sex = train.assign(sex="F")
    with pytest.raises(DataError, match="sensitive column 'sex' has a single level"):
        BtGANGenerator(**TINY).fit(one_sex, population_schema())


def test_outcome_with_one_class(train, no_training):
    with pytest.raises(DataError, match="outcome 'outcome' has a single class"):
        BtGANGenerator(**TINY).fit(train.assign(outcome=pd.array([1] * len(train), dtype="Int64")), population_schema())


def test_no_outcome_and_no_sensitive_and_a_continuous_outcome(train, no_training):
    schema = population_schema()
    no_target = _schema_with(schema, "outcome", roles=frozenset())
    with pytest.raises(ConfigError, match="btgan needs an outcome"):
        BtGANGenerator(**TINY).fit(train, no_target)
    with pytest.raises(ConfigError, match="needs at least one sensitive column"):
        BtGANGenerator(sensitive=[], **{**TINY, "fairness_weight": 1.0})
    with pytest.raises(ConfigError, match="fairness penalty needs at least one sensitive column"):
        bare = Schema(tuple(c if c.name == "outcome" else ColumnSpec(c.name, c.kind, c.nullable, c.minimum, c.maximum,
                                                                       c.categories) for c in schema.columns))
        BtGANGenerator(**TINY).fit(train, bare)
    bmi_target = Schema(tuple(ColumnSpec(c.name, c.kind, c.nullable, c.minimum, c.maximum, c.categories,
                                         frozenset({Role.TARGET}) if c.name == "bmi" else c.roles - {Role.TARGET})
                              for c in schema.columns))
    with pytest.raises(ConfigError, match="outcome 'bmi' is numeric; btgan needs it discrete"):
        BtGANGenerator(**TINY).fit(train, bmi_target)


def test_without_sensitive_columns_it_trains_with_the_penalty_off(train):
    schema = Schema(tuple(ColumnSpec(c.name, c.kind, c.nullable, c.minimum, c.maximum, c.categories,
                                     c.roles - {Role.SENSITIVE}) for c in population_schema().columns))
    out = BtGANGenerator(seed=1, fairness_weight=0.0, **TINY).fit(train, schema).sample(50)
    assert len(out) == 50


# -- encoding ---------------------------------------------------------------------------------


def test_mixtures_recover_known_modes_and_keep_discrete_columns_small():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.r_[rng.normal(-5, 1, 3000), rng.normal(8, 0.5, 1000)], rng.integers(0, 2, 4000) * 3.0])
    mix = fit_mixtures(x, rng=rng)
    assert mix.n_modes[1] == 2 and sorted(mix.means[1, :2]) == pytest.approx([0.0, 3.0])
    # the heavy modes sit on the two true components, with their weights
    active = mix.active[0]
    left = mix.weights[0][active & (mix.means[0] < 1.5)].sum()
    assert left == pytest.approx(0.75, abs=0.02)
    left = active & (mix.means[0] < 1.5)
    avg_left = np.average(mix.means[0][left], weights=mix.weights[0][left])
    assert avg_left == pytest.approx(-5.0, abs=0.1)


def test_encoding_round_trips_within_each_mode(train):
    schema = population_schema()
    from synth.generators.sdv_adapter import training_frame

    frame = training_frame(train, schema)
    t = TableTransformer(schema).fit(frame, np.random.default_rng(0))
    encoded = t.transform(frame, np.random.default_rng(1))
    assert encoded.shape == (len(frame), t.width) and encoded.dtype == np.float32
    back = t.inverse(encoded)
    for c in ("sex", "race", "outcome"):
        assert (back[c].astype(str) == frame[c].astype(str)).all()
    assert (back["diabetes"].astype(bool) == frame["diabetes"].astype(bool)).all()
    assert back["creatinine"].isna().equals(frame["creatinine"].isna())
    inside = np.abs(encoded[:, t.block("bmi").start]) < 0.99  # values within 4 sd of their mode
    assert np.allclose(back["bmi"][inside], frame["bmi"][inside], atol=1e-4)
    assert (back["age"] == frame["age"].astype(float)).mean() > 0.95


def test_fixed_modes_need_declared_bounds_and_use_no_statistic_of_the_records(train):
    schema = population_schema()
    from synth.generators.sdv_adapter import training_frame

    frame = training_frame(train, schema)
    with pytest.raises(DataError, match="data.columns.bmi.min and .max"):
        TableTransformer(schema, fixed_modes=True).fit(frame, np.random.default_rng(0))
    bounded = schema
    for c in ("bmi", "sbp", "creatinine"):
        bounded = _schema_with(bounded, c, minimum=0.0, maximum=300.0)
    a = TableTransformer(bounded, fixed_modes=True).fit(frame, np.random.default_rng(0)).to_dict()
    shuffled = frame.iloc[::-1].assign(bmi=frame.bmi * 2)
    b = TableTransformer(bounded, fixed_modes=True).fit(shuffled, np.random.default_rng(5)).to_dict()
    assert a == b


def test_fixed_mode_decoding_keeps_a_value_inside_its_bin(train):
    """A DP bin encodes its values as alpha in [-0.5, 0.5]; a saturated generator output
    (alpha +-1) must decode to the bin's edge, not half a bin beyond it, so edge bins do not
    pile values onto the declared bounds. bmi over [0, 100] in 10 bins of width 10."""
    from synth.generators.sdv_adapter import training_frame

    schema = population_schema()
    for c, hi in (("bmi", 100.0), ("sbp", 300.0), ("creatinine", 300.0)):
        schema = _schema_with(schema, c, minimum=0.0, maximum=hi)
    frame = training_frame(train, schema)
    t = TableTransformer(schema, fixed_modes=True).fit(frame, np.random.default_rng(0))
    encoded = t.transform(frame, np.random.default_rng(1))
    spans = {s.role: s for s in t.block("bmi").spans}
    assert np.abs(encoded[:, spans["alpha"].start]).max() <= 0.5 + 1e-6
    rows = np.repeat(encoded[:1], 4, axis=0)
    rows[:, spans["mode"].start : spans["mode"].end] = 0.0
    for i, (mode, alpha) in enumerate(((0, -1.0), (9, 1.0), (3, 1.0), (3, -0.25))):
        rows[i, spans["mode"].start + mode] = 1.0
        rows[i, spans["alpha"].start] = alpha
    bmi = t.inverse(rows)["bmi"].astype(float).tolist()
    assert bmi == pytest.approx([0.0, 100.0, 40.0, 32.5])  # bin 3 is [30, 40]: its edge, and 35 - 0.25 * 10


# -- devices --------------------------------------------------------------------------------------

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device on this machine (the test runs where there is one)")


@needs_cuda
def test_trains_samples_and_reloads_on_cuda(train, tmp_path):
    gen = BtGANGenerator(seed=3, device="cuda", validation_fraction=0.2, validation_every=2, **TINY)
    gen.fit(train, population_schema())
    assert gen.provenance()["device"].startswith("cuda")
    out = gen.sample(300)
    assert list(out.columns) == population_schema().names and len(out) == 300
    # Seeded on the GPU too; CUDA kernels may differ in the last bits, which can flip a rare argmax.
    for again in (gen.sample(300), _reloaded(gen, tmp_path).sample(300)):
        same = (again.astype(str).to_numpy() == out.astype(str).to_numpy()).mean()
        assert same >= 0.99, same


def _reloaded(gen: BtGANGenerator, tmp_path) -> BtGANGenerator:
    gen.save(tmp_path / "g")
    return BtGANGenerator.load(tmp_path / "g")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_asking_for_cuda_without_one_is_a_config_error(train):
    with pytest.raises(ConfigError, match="device is 'cuda' but no CUDA device"):
        BtGANGenerator(seed=0, device="cuda", **TINY).fit(train, population_schema())


# -- the two mechanisms, known answers ------------------------------------------------------------


def test_parity_gap_is_the_weighted_spread_of_group_rates():
    # Two groups with positive rates 0.2 and 0.6, shares 0.25 / 0.75: centre 0.5,
    # spread sqrt(0.25 * 0.3^2 + 0.75 * 0.1^2) = sqrt(0.03).
    scores = torch.tensor([[0.2]] * 3 + [[0.6]] * 5)
    groups = torch.tensor([0] * 3 + [1] * 5)
    gap = parity_gap(scores, groups, torch.tensor([0.25, 0.75]))
    assert float(gap) == pytest.approx(np.sqrt(0.03 + 1e-6), rel=1e-5)
    equal = parity_gap(torch.full((8, 1), 0.3), groups, torch.tensor([0.25, 0.75]))
    assert float(equal) == pytest.approx(1e-3, rel=1e-3)
    # a subgroup absent from the batch drops out
    assert float(parity_gap(scores, groups, torch.tensor([0.2, 0.3, 0.5]))) == pytest.approx(
        float(parity_gap(scores, groups, torch.tensor([0.4, 0.6]))), rel=1e-6)


def test_score_profile_flags_each_decile_and_ignores_a_common_shift_or_stretch():
    torch.manual_seed(0)
    logit = torch.randn(1000)
    logits = torch.stack([torch.zeros(1000), logit], 1)
    profile = score_profile(logits)
    assert profile.shape == (1000, len(QUANTILES))
    # the k-th decile flags about (1 - k) of the rows
    assert profile.mean(0).numpy() == pytest.approx(1 - np.array(QUANTILES), abs=0.03)
    groups = (logit > 0.5).long()  # the score depends on the group
    shares = torch.tensor([0.7, 0.3])
    gap = float(parity_gap(profile, groups, shares))
    assert gap > 0.2
    # every score lowered and squeezed (fewer positives for everyone): same ranks, same penalty
    squeezed = torch.stack([torch.zeros(1000), 0.3 * logit - 2.0], 1)
    assert float(parity_gap(score_profile(squeezed), groups, shares)) == pytest.approx(gap, rel=1e-4)
    # a score that ignores the group: about 0
    assert float(parity_gap(profile, torch.randint(0, 2, (1000,)), shares)) < 0.05


def test_score_profile_sees_differences_a_mean_hides():
    # Same mean score in both groups, but group 1 is split low / high: a threshold in the
    # middle flags half of group 1 and all or none of group 0.
    s = torch.tensor([0.0, 0.0, 0.0, 0.0, -2.0, 2.0, -2.0, 2.0])
    logits = torch.stack([torch.zeros(8), s], 1)
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    shares = torch.tensor([0.5, 0.5])
    assert float(parity_gap(s[:, None], groups, shares)) == pytest.approx(1e-3, rel=1e-3)  # means agree
    assert float(parity_gap(score_profile(logits), groups, shares)) > 0.1  # the profiles do not


def test_odds_gap_conditions_on_the_true_class():
    # Group rates differ overall only because group 1 has more true positives: equalized
    # odds is met (rates equal within each true class) while demographic parity is not.
    true = torch.tensor([0, 0, 0, 1, 0, 1, 1, 1])
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    rate = torch.where(true == 1, 0.9, 0.1)
    scores = rate[:, None]
    reference = torch.nn.functional.one_hot(true, 2).float()
    shares = torch.tensor([0.5, 0.5])
    assert float(odds_gap(scores, reference, groups, shares)) == pytest.approx(1e-3, rel=1e-3)
    assert float(parity_gap(scores, groups, shares)) > 0.15


@pytest.mark.parametrize("weight", [0.5, 1.0, 3.0])
def test_fairness_weight_sets_the_size_of_the_fair_heads_parity_step(weight, train, monkeypatch):
    # Adam's first step moves every parameter with a non-zero gradient by exactly its
    # learning rate (m / sqrt(v) is the gradient's sign), whatever the loss's scale: a
    # weight multiplying the penalty's loss would cancel out (weights 1 and 3 would move
    # the head alike). The strength must show in the step itself: classifier_lr x weight.
    from synth.generators.btgan.trainer import Trainer, TrainingLog

    moved = {}

    def one_generator_step(self, *, stopping=None, progress=True):
        head = self.nets.classifier.fair
        before = [w.detach().clone() for w in head.parameters()]
        self.generator_step()
        moved["step"] = torch.cat([(w.detach() - b).abs().flatten() for w, b in zip(head.parameters(), before)])
        return TrainingLog()

    monkeypatch.setattr(Trainer, "fit", one_generator_step)
    BtGANGenerator(seed=0, fairness_weight=weight, classifier_lr=1e-3, generator_ema=0, **TINY).fit(
        train, population_schema())
    step = moved["step"][moved["step"] > 0]
    assert step.numel() > 0
    # (Adam's eps shortens the step of a parameter whose gradient is below ~1e-5 a little)
    assert float(step.max()) == pytest.approx(1e-3 * weight, rel=1e-4)
    assert float(step.median()) == pytest.approx(1e-3 * weight, rel=1e-3)


def test_density_weights_favour_sparse_records():
    rng = np.random.default_rng(0)
    dense = rng.normal(0, 0.01, 200)
    sparse = np.array([0.5, 0.8, 1.0])
    frame = pd.DataFrame({"x": np.r_[dense, sparse], "g": ["a"] * 200 + ["b"] * 3})
    schema = Schema((ColumnSpec("x", ColumnKind.NUMERIC),
                     ColumnSpec("g", ColumnKind.CATEGORICAL, categories=("a", "b"))))
    scores = density_scores(frame, schema, neighbors=3)
    assert scores[200:].min() > scores[:200].max()  # isolated records are farthest from their neighbours
    buckets = density_buckets(scores, 5)
    assert sorted(np.bincount(buckets).tolist()) == [40, 40, 41, 41, 41]  # equal-count buckets
    assert (buckets[200:] == 4).all()
    w = bucket_weights(scores, buckets, 5, cap=5.0)
    assert w.mean() == pytest.approx(1.0)
    assert w[200:].min() > 1.5 * np.median(w)  # the sparsest bucket is drawn more often
    assert w.max() / w.min() <= 25.0 + 1e-9  # the cap holds
    for b in range(5):  # one weight per bucket
        assert np.ptp(w[buckets == b]) == 0


def test_weighted_training_keeps_the_output_distribution():
    # The density bucket is a condition drawn with its real frequency at sample time, so
    # over-sampling sparse records in training does not shift the output towards them.
    from synth.generators.btgan.sampler import ConditionTable

    groups = np.zeros(1000, dtype=np.int64)
    codes = np.zeros((1000, 1), dtype=np.int64)
    buckets = np.repeat(np.arange(5), 200)
    table = ConditionTable.from_codes(groups, codes, buckets, 1, (1,), 5)
    drawn = table.draw(np.zeros(20_000, dtype=np.int64), np.random.default_rng(0))
    assert np.allclose(np.bincount(drawn.bucket, minlength=5) / 20_000, 0.2, atol=0.01)


def test_inclusion_probabilities_match_the_draws_and_undo_the_tilt():
    from synth.generators.btgan.sampler import TrainingSampler

    rng = np.random.default_rng(0)
    codes = np.c_[rng.integers(0, 3, 500), (rng.uniform(size=500) < 0.1).astype(int)]
    sampler = TrainingSampler(codes, rng.uniform(0.5, 2, 500), (3, 2), log_frequency=True, rng=rng)
    q = sampler.inclusion()
    assert q.sum() == pytest.approx(1.0)
    rows, _, _ = sampler.draw(200_000)
    assert np.abs(np.bincount(rows, minlength=500) / 200_000 - q).max() < 0.001  # simulation agrees
    # importance-weighted draws estimate the plain mean of a column over the records
    x = codes[:, 1].astype(float)
    weighted = np.sum(x[rows] / (500 * q[rows])) / np.sum(1 / (500 * q[rows]))
    assert x[rows].mean() > 0.2 > x.mean()  # the rare level is drawn far more often than it occurs
    assert weighted == pytest.approx(x.mean(), abs=0.01)
