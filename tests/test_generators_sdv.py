"""The SDV baseline generators (Gaussian copula, CTGAN, TVAE) against the generator contract.

CTGAN and TVAE train for 2 epochs with small networks: these tests check the adapter
(schema, dtypes, seeding, conditions, missing values, persistence), not model quality.
"""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import numpy as np
import pandas as pd
import pytest
from population import make_population, population_schema

from synth.errors import ConfigError, DataError, SynthUserError
from synth.generators.base import Condition, PrivacyGuarantee
from synth.generators.sdv_adapter import MODEL_FILE, SIDECAR_FILE, SDVGenerator
from synth.generators.sdv_ctgan import CTGANGenerator
from synth.generators.sdv_gaussian_copula import GaussianCopulaGenerator
from synth.generators.sdv_tvae import TVAEGenerator
from synth.schema import ColumnKind, ColumnSpec, Role, Schema

CLASSES: dict[str, type[SDVGenerator]] = {
    "gaussian_copula": GaussianCopulaGenerator,
    "ctgan": CTGANGenerator,
    "tvae": TVAEGenerator,
}
FAST_PARAMS: dict[str, dict] = {
    "gaussian_copula": {},
    "ctgan": dict(epochs=2, batch_size=100, pac=10, embedding_dim=16, generator_dim=(32, 32), discriminator_dim=(32, 32)),
    "tvae": dict(epochs=2, batch_size=100, embedding_dim=16, compress_dims=(32, 32), decompress_dims=(32, 32)),
}
NAMES = list(CLASSES)


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return make_population(300, seed=0)


@pytest.fixture(scope="module")
def fitted(train) -> dict[str, SDVGenerator]:
    schema = population_schema()
    return {name: CLASSES[name](seed=3, **FAST_PARAMS[name]).fit(train, schema) for name in NAMES}


# -- registration and parameters ------------------------------------------------------


def test_entry_points_load_the_three_generators():
    eps = {ep.name: ep for ep in entry_points(group="synth.generators")}
    for name, cls in CLASSES.items():
        loaded = eps[name].load()
        assert loaded is cls
        assert loaded.name == name
        assert loaded.supports_conditions is True
        assert loaded.description


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_has_a_default_and_a_description(name):
    params = CLASSES[name].Params
    assert params.model_config.get("extra") == "forbid"
    for field_name, field in params.model_fields.items():
        assert field.description, field_name
        assert not field.is_required(), field_name
    assert CLASSES[name]().params.enforce_min_max_values is True


@pytest.mark.parametrize(
    ("name", "typo", "suggestion"),
    [("ctgan", "epoch", "epochs"), ("tvae", "epoch", "epochs"), ("gaussian_copula", "default_distrib", "default_distribution")],
)
def test_unknown_parameter_is_a_config_error_with_a_suggestion(name, typo, suggestion):
    with pytest.raises(ConfigError) as err:
        CLASSES[name](**{typo: 5})
    assert f"unknown parameter '{typo}'" in str(err.value)
    assert f"Did you mean '{suggestion}'?" in str(err.value)


def test_invalid_parameter_values_name_the_key():
    with pytest.raises(ConfigError, match="batch_size"):
        CTGANGenerator(batch_size=101)
    with pytest.raises(ConfigError, match=r"pac.*multiple of pac \(7\)"):
        CTGANGenerator(batch_size=100, pac=7)
    with pytest.raises(ConfigError, match="default_distribution"):
        GaussianCopulaGenerator(default_distribution="cauchy")
    with pytest.raises(ConfigError, match="epochs"):
        TVAEGenerator(epochs=0)
    with pytest.raises(ConfigError, match="seed"):
        GaussianCopulaGenerator(seed=-1)


def test_numerical_distributions_must_name_numeric_columns(train):
    gen = GaussianCopulaGenerator(numerical_distributions={"creatinin": "gamma"})
    with pytest.raises(ConfigError, match="Did you mean 'creatinine'"):
        gen.fit(train, population_schema())
    with pytest.raises(ConfigError, match="'sex'"):
        GaussianCopulaGenerator(numerical_distributions={"sex": "norm"}).fit(train, population_schema())
    ok = GaussianCopulaGenerator(numerical_distributions={"creatinine": "uniform"}).fit(train, population_schema())
    learned = ok._synthesizer.get_learned_distributions()
    assert learned["creatinine"]["distribution"] == "uniform"
    assert learned["bmi"]["distribution"] == "beta"  # the default for the rest


def test_privacy_is_no_formal_guarantee(fitted):
    for gen in fitted.values():
        assert gen.privacy == PrivacyGuarantee()
        assert gen.privacy.mechanism == "none"


# -- fit / sample contract ------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_sample_has_schema_columns_order_and_dtypes(fitted, name):
    schema = population_schema()
    out = fitted[name].sample(120)
    assert out.shape == (120, len(schema))
    assert list(out.columns) == schema.names
    assert isinstance(out.index, pd.RangeIndex) and out.index[0] == 0
    assert out["age"].dtype == "Int64"
    assert out["bmi"].dtype == "float64" and out["sbp"].dtype == "float64"
    assert out["diabetes"].dtype == "boolean"
    assert out["sex"].dtype == object and set(out["sex"]) <= {"F", "M"}
    assert set(out["race"]) <= {"asian", "black", "other", "white"}
    # integer category levels stay ints (0/1), not floats or strings
    assert out["outcome"].dtype == "Int64"
    assert {type(v) for v in out["outcome"].dropna().tolist()} == {int}
    assert set(out["outcome"].dropna().tolist()) <= {0, 1}
    # enforce_min_max_values keeps values in the training range
    assert out["age"].min() >= 18 and out["age"].max() <= 90


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_byte_identical_csv_and_clone_refits_identically(fitted, train, name):
    gen = fitted[name]
    first = gen.sample(80).to_csv()
    assert gen.sample(80).to_csv() == first
    assert gen.sample(80, seed=3).to_csv() == first  # default seed is the constructor's
    assert gen.sample(80, seed=4).to_csv() != first
    twin = gen.clone()
    assert type(twin) is type(gen) and not twin.is_fitted
    assert twin.seed == gen.seed and twin.params == gen.params
    twin.fit(train, population_schema())
    assert twin.sample(80).to_csv() == first


def test_different_fit_seed_gives_a_different_neural_model(fitted, train):
    other = CTGANGenerator(seed=4, **FAST_PARAMS["ctgan"]).fit(train, population_schema())
    assert other.sample(80, seed=9).to_csv() != fitted["ctgan"].sample(80, seed=9).to_csv()


def test_global_random_state_is_left_untouched(fitted, train):
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    GaussianCopulaGenerator(seed=1).fit(train, population_schema()).sample(20)
    fitted["tvae"].sample(20)
    assert np.array_equal(np.random.random(3), expected)


def test_sample_zero_rows_keeps_columns_and_dtypes(fitted):
    out = fitted["gaussian_copula"].sample(0)
    assert out.shape == (0, 8)
    assert out["age"].dtype == "Int64" and out["diabetes"].dtype == "boolean"


def test_gaussian_copula_reproduces_known_marginals(fitted, train):
    out = fitted["gaussian_copula"].sample(3000, seed=11)
    assert abs((out["sex"] == "M").mean() - (train["sex"] == "M").mean()) < 0.05
    assert abs((out["race"] == "white").mean() - (train["race"] == "white").mean()) < 0.05
    assert abs(out["bmi"].mean() - train["bmi"].mean()) < 0.5
    assert abs(out["age"].mean() - train["age"].mean()) < 3
    # age and sbp are correlated in the population (sbp = 110 + 0.5 age + noise)
    assert out["age"].astype(float).corr(out["sbp"]) > 0.4


# -- missing values -------------------------------------------------------------------


def test_missing_values_default_per_generator():
    assert GaussianCopulaGenerator().params.missing_values == "marginal"  # copula misstates a common rate
    assert CTGANGenerator().params.missing_values == "joint"
    assert TVAEGenerator().params.missing_values == "marginal"  # TVAE collapses a rare indicator


@pytest.mark.parametrize("name", NAMES)
def test_missing_values_are_modelled_not_dropped(fitted, name):
    out = fitted[name].sample(1000, seed=5)
    rate = out["creatinine"].isna().mean()
    assert out["bmi"].notna().all()  # no missing values invented for a complete column
    if name == "ctgan":
        assert 0 < rate < 1  # a 2-epoch network gets a learned rate wrong, but never drops it
    else:
        assert abs(rate - 37 / 300) < 0.04  # the training rate
    other = fitted[name].sample(1000, seed=6)["creatinine"].isna()
    assert not other.equals(out["creatinine"].isna())  # where values go missing follows the seed


def _missing_for_men_only() -> pd.DataFrame:
    """Known answer: creatinine is missing for about 35 % of men and no women."""
    data = make_population(400, seed=2)
    rng = np.random.default_rng(0)
    data["creatinine"] = data["creatinine"].fillna(1.0)
    data.loc[(data["sex"] == "M") & (rng.random(400) < 0.4), "creatinine"] = np.nan
    return data


def test_joint_missingness_depends_on_other_columns():
    gen = GaussianCopulaGenerator(seed=0, missing_values="joint")
    out = gen.fit(_missing_for_men_only(), population_schema()).sample(3000)
    missing_by_sex = out["creatinine"].isna().groupby(out["sex"]).mean()
    # The copula attenuates the dependence (about 0.22 vs 0.10 here); missing values
    # re-inserted at random would give the same rate for both sexes.
    assert missing_by_sex["M"] - missing_by_sex["F"] > 0.07


def test_marginal_missingness_keeps_the_rate_but_not_the_dependence():
    data = _missing_for_men_only()
    gen = GaussianCopulaGenerator(seed=0, missing_values="marginal").fit(data, population_schema())
    out = gen.sample(3000)
    assert abs(out["creatinine"].isna().mean() - data["creatinine"].isna().mean()) < 0.03
    missing_by_sex = out["creatinine"].isna().groupby(out["sex"]).mean()
    assert abs(missing_by_sex["M"] - missing_by_sex["F"]) < 0.04


def test_boolean_and_datetime_columns_with_missing_values_round_trip():
    data = make_population(300, seed=1)
    rng = np.random.default_rng(1)
    data["diabetes"] = data["diabetes"].mask(rng.random(300) < 0.15)
    admitted = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, 300), unit="D")
    data["admitted"] = pd.Series(admitted).mask(rng.random(300) < 0.2)
    base = population_schema()
    schema = Schema(
        tuple(ColumnSpec("diabetes", ColumnKind.BOOLEAN, nullable=True, categories=(False, True))
              if c.name == "diabetes" else c for c in base.columns)
        + (ColumnSpec("admitted", ColumnKind.DATETIME, nullable=True),)
    )
    gen = GaussianCopulaGenerator(seed=0).fit(data, schema)
    out = gen.sample(2000)
    assert out["diabetes"].dtype == "boolean"
    assert abs(out["diabetes"].isna().mean() - data["diabetes"].isna().mean()) < 0.05
    assert out["admitted"].dtype == "datetime64[ns]"
    assert abs(out["admitted"].isna().mean() - data["admitted"].isna().mean()) < 0.05
    observed = out["admitted"].dropna()
    assert observed.min() >= data["admitted"].min() and observed.max() <= data["admitted"].max()
    conditioned = gen.sample(5, [Condition(5, {"diabetes": None})])
    assert conditioned["diabetes"].isna().all()


# -- fit input checks -----------------------------------------------------------------


def test_fit_rejects_columns_the_schema_does_not_model(train):
    schema = population_schema()
    with_id = train.assign(patient_id=range(len(train)))
    full_schema = Schema(schema.columns + (ColumnSpec("patient_id", ColumnKind.ID, roles=frozenset({Role.IDENTIFIER})),))
    with pytest.raises(DataError, match="patient_id"):
        GaussianCopulaGenerator().fit(with_id, full_schema)
    with pytest.raises(DataError, match="lacks the schema column.*bmi"):
        GaussianCopulaGenerator().fit(train.drop(columns="bmi"), schema)


def test_fit_models_only_the_modelled_columns_and_leaves_data_alone(train):
    full_schema = Schema(
        population_schema().columns + (ColumnSpec("patient_id", ColumnKind.ID, roles=frozenset({Role.IDENTIFIER})),)
    )
    before = train.copy()
    gen = GaussianCopulaGenerator().fit(train, full_schema)
    pd.testing.assert_frame_equal(train, before)  # fit never mutates its input
    assert "patient_id" not in gen.sample(5).columns
    assert gen.schema.names == population_schema().names


def test_fit_rejects_values_that_contradict_the_schema(train):
    bad_level = train.copy()
    bad_level.loc[0, "race"] = "martian"
    with pytest.raises(DataError, match=r"race.*'martian'"):
        GaussianCopulaGenerator().fit(bad_level, population_schema())
    bad_number = train.astype({"bmi": object})
    bad_number.loc[0, "bmi"] = "tall"
    with pytest.raises(DataError, match="'bmi' is declared numeric"):
        GaussianCopulaGenerator().fit(bad_number, population_schema())
    with pytest.raises(DataError, match="empty"):
        GaussianCopulaGenerator().fit(train.iloc[:0], population_schema())


def test_sample_before_fit_is_a_user_error():
    with pytest.raises(SynthUserError, match="not fitted"):
        TVAEGenerator().sample(5)


# -- conditions -----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_conditions_are_honoured_in_order(fitted, name):
    conditions = [
        Condition(rows=6, values={"sex": "M", "outcome": 1}),
        Condition(rows=4, values={"race": "asian"}),
        Condition(rows=5, values={"sex": "F"}),
    ]
    out = fitted[name].sample(15, conditions)
    assert len(out) == 15 and list(out.columns) == population_schema().names
    assert (out["sex"].iloc[:6] == "M").all() and (out["outcome"].iloc[:6] == 1).all()
    assert (out["race"].iloc[6:10] == "asian").all()
    assert (out["sex"].iloc[10:] == "F").all()
    assert out["outcome"].dtype == "Int64"
    assert fitted[name].sample(15, conditions).to_csv() == out.to_csv()


def test_conditions_on_numeric_values_and_equivalent_types(fitted):
    gen = fitted["gaussian_copula"]
    out = gen.sample(9, [Condition(4, {"age": 50}), Condition(3, {"outcome": np.int64(1)}), Condition(2, {"creatinine": None})])
    assert (out["age"].iloc[:4] == 50).all()
    assert out["outcome"].iloc[4:7].tolist() == [1, 1, 1]
    assert out["creatinine"].iloc[7:].isna().all()
    empty = gen.sample(3, [Condition(3, {})])
    assert len(empty) == 3


def test_condition_errors_name_the_problem(fitted):
    gen = fitted["gaussian_copula"]
    with pytest.raises(ConfigError, match=r"4 \+ 3 = 7"):
        gen.sample(8, [Condition(4, {"sex": "M"}), Condition(3, {"sex": "F"})])
    with pytest.raises(ConfigError) as err:
        gen.sample(2, [Condition(2, {"sexx": "M"})])
    assert "'sexx'" in str(err.value) and "Did you mean 'sex'?" in str(err.value)
    assert "Valid columns: age, sex, race" in str(err.value)
    with pytest.raises(ConfigError) as err:
        gen.sample(2, [Condition(2, {"race": "Asian"})])
    assert "'race'" in str(err.value) and "'asian', 'black', 'other', 'white'" in str(err.value)
    with pytest.raises(ConfigError, match="outcome"):
        gen.sample(2, [Condition(2, {"outcome": True})])  # True is not the level 1
    with pytest.raises(ConfigError, match="not nullable"):
        gen.sample(2, [Condition(2, {"bmi": None})])
    with pytest.raises(ConfigError, match=r"outside the column's range \[18, 90\]"):
        gen.sample(2, [Condition(2, {"age": 200})])
    with pytest.raises(ConfigError, match="whole number"):
        gen.sample(2, [Condition(2, {"age": 50.5})])
    with pytest.raises(ConfigError, match="sample seed"):
        gen.sample(2, seed=2**40)


def test_sdv_prints_nothing_to_stdout_or_stderr(fitted, train, capfd):
    capfd.readouterr()
    GaussianCopulaGenerator(seed=0).fit(train, population_schema()).sample(10, [Condition(10, {"sex": "M"})])
    fitted["ctgan"].sample(10, [Condition(10, {"sex": "F"})])
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""


# -- save / load ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip_gives_identical_samples(fitted, tmp_path, name):
    gen = fitted[name]
    gen.save(tmp_path / "model")
    sidecar = json.loads((tmp_path / "model" / SIDECAR_FILE).read_text())
    assert sidecar["generator"] == name and sidecar["seed"] == 3
    assert len(sidecar["sha256"]) == 64
    assert sidecar["schema"] == population_schema().to_dict()
    loaded = CLASSES[name].load(tmp_path / "model", trusted=True)
    assert loaded.params == gen.params and loaded.seed == gen.seed
    assert loaded.schema == gen.schema
    assert loaded.sample(60).to_csv() == gen.sample(60).to_csv()
    conditions = [Condition(5, {"sex": "M"})]
    assert loaded.sample(5, conditions).to_csv() == gen.sample(5, conditions).to_csv()


def test_load_refuses_a_pickle_unless_trusted(fitted, tmp_path):
    fitted["gaussian_copula"].save(tmp_path)
    with pytest.raises(SynthUserError) as err:
        GaussianCopulaGenerator.load(tmp_path)
    message = str(err.value)
    assert not isinstance(err.value, DataError)
    assert "executes code" in message and "trusted=True" in message and "yourself" in message


def test_load_rejects_a_tampered_file_even_when_trusted(fitted, tmp_path):
    fitted["gaussian_copula"].save(tmp_path)
    with open(tmp_path / MODEL_FILE, "ab") as fh:
        fh.write(b"\0")
    for trusted in (False, True):
        with pytest.raises(DataError, match="SHA-256"):
            GaussianCopulaGenerator.load(tmp_path, trusted=trusted)


def test_load_rejects_wrong_generator_and_missing_files(fitted, tmp_path):
    fitted["gaussian_copula"].save(tmp_path / "gc")
    with pytest.raises(DataError, match="holds a 'gaussian_copula' generator"):
        CTGANGenerator.load(tmp_path / "gc", trusted=True)
    with pytest.raises(DataError, match=f"{SIDECAR_FILE} is missing"):
        GaussianCopulaGenerator.load(tmp_path / "nowhere", trusted=True)
    (tmp_path / "gc" / MODEL_FILE).unlink()
    with pytest.raises(DataError, match=f"lacks {MODEL_FILE}"):
        GaussianCopulaGenerator.load(tmp_path / "gc", trusted=True)


def test_save_before_fit_is_a_user_error(tmp_path):
    with pytest.raises(SynthUserError, match="not fitted"):
        CTGANGenerator().save(tmp_path)


# -- longer training (deselected by default) ------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ctgan", "tvae"])
def test_trained_networks_reproduce_the_missing_rate(name):
    data = make_population(1000, seed=4)
    out = CLASSES[name](seed=0, epochs=100).fit(data, population_schema()).sample(2000)
    assert abs(out["creatinine"].isna().mean() - data["creatinine"].isna().mean()) < 0.06
