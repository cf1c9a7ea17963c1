"""The llm generator against a small chat-completions server on 127.0.0.1 (tests/chat_server.py).

The server stands in for the model (it fills the request's JSON Schema at random, or
copies the prompt's examples, or misbehaves), so these tests check the generator's own
behaviour: every strategy's prompt, schema and rule validity of what is kept, the copy
guard (exact and near copies, partial leaks), examples rotating, the privacy refusal for
remote servers, bounded failures with clear errors and nothing written, seeds, save/load
and the manifest's provenance. The embedded model runs in tests/test_generator_llm_embedded.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from chat_server import ChatServer

import synth
from synth.config.model import DataConfig
from synth.errors import ConfigError, SynthUserError
from synth.generators.llm import LLMGenerator
from synth.generators.llm.backends.base import BackendError
from synth.generators.llm.prompts import example_rows, row_json
from synth.generators.llm.sampling import GenerationBudgetError
from synth.prepare import prepare

RULES = ["age >= 18", "if arms == 0 then treat == 0"]


@pytest.fixture(scope="module")
def actg():
    prep = prepare(DataConfig(source="builtin:actg175"), seed=0)
    return prep.train.reset_index(drop=True), prep.modelled


@pytest.fixture(scope="module")
def server():
    with ChatServer("fresh") as srv:
        yield srv


def _generator(url: str, **params) -> LLMGenerator:
    defaults = dict(backend="openai", base_url=url, model="test", progress=False, rows_per_call=8, max_retries=0)
    return LLMGenerator(seed=1, **{**defaults, **params})


def _copies(synthetic: pd.DataFrame, train: pd.DataFrame) -> int:
    """Synthetic rows equal to some training row on every column (independent of the guard's code)."""
    key = lambda df: df.astype(str).agg("|".join, axis=1)  # noqa: E731
    return int(key(synthetic).isin(set(key(train[synthetic.columns]))).sum())


def _assert_schema_valid(frame: pd.DataFrame, schema) -> None:
    for spec in schema.columns:
        col = frame[spec.name]
        if not spec.nullable:
            assert col.notna().all(), spec.name
        present = col.dropna()
        if spec.categories is not None:
            assert set(present.tolist()) <= set(spec.categories), spec.name
        elif spec.minimum is not None:
            assert present.astype(float).between(spec.minimum, spec.maximum).all(), spec.name


@pytest.mark.parametrize("strategy", ["examples", "definitions_examples", "statistics", "rules"])
def test_each_strategy_gives_valid_rule_abiding_fresh_rows(actg, server, strategy):
    train, schema = actg
    first = len(server.requests)
    gen = _generator(server.url, strategy=strategy, rules=RULES, soft_rules=["cd420 >= cd40"],
                     definitions="builtin:actg175").fit(train, schema)
    rows = gen.sample(24, seed=3)
    assert rows.shape == (24, len(schema.names)) and list(rows.columns) == schema.names
    _assert_schema_valid(rows, schema)
    assert (rows["age"] >= 18).all()
    assert not ((rows["arms"] == 0) & (rows["treat"] != 0)).any()
    assert _copies(rows, train) == 0
    prompts = [r["messages"][-1]["content"] for r in server.requests[first:]]
    record = gen.provenance()["sampling"]
    # the fake model ignores the rules: rejections are counted, never emitted
    assert sum(record["rule_rejections"].values()) > 0
    assert record["valid_rows"] >= 24 and record["rows_kept"] == 24
    assert 0 < record["valid_row_rate"] <= 1
    if strategy in ("examples", "definitions_examples"):
        assert all(p.count('{"age":') >= 5 for p in prompts)  # five real rows per prompt
    if strategy == "definitions_examples":
        assert "Karnofsky score" in prompts[0]
    if strategy == "statistics":
        assert "typically" in prompts[0] and "r = " in prompts[0] and '{"age":' not in prompts[0]
    if strategy == "rules":
        assert "- age >= 18" in prompts[0] and '{"age":' not in prompts[0]


def test_rules_strategy_sends_no_training_row(actg, server):
    train, schema = actg
    first = len(server.requests)
    _generator(server.url, strategy="rules", rules=RULES).fit(train, schema).sample(8, seed=0)
    sent = json.dumps(server.requests[first:])
    lines = [row_json(r) for r in example_rows(train, schema)]
    assert not any(line in sent for line in lines)


def test_examples_rotate_between_prompts(actg, server):
    train, schema = actg
    first = len(server.requests)
    _generator(server.url, strategy="examples", rows_per_call=2).fit(train, schema).sample(12, seed=5)
    prompts = [r["messages"][-1]["content"] for r in server.requests[first:]]
    shown = [tuple(line for line in p.splitlines() if line.startswith("{")) for p in prompts]
    assert len(shown) >= 6 and len(set(shown)) == len(shown)


def test_a_copying_model_is_stopped_with_counts(actg):
    train, schema = actg
    with ChatServer("copy") as srv:
        gen = _generator(srv.url, strategy="examples", budget=2).fit(train, schema)
        with pytest.raises(GenerationBudgetError, match=r"kept 0 of the 10 rows.*dropped 24 exact"):
            gen.sample(10, seed=0)


def test_partial_leak_every_copied_row_is_dropped_and_counted(actg):
    train, schema = actg
    with ChatServer("partial", copy_every=4) as srv:
        gen = _generator(srv.url, strategy="examples").fit(train, schema)
        rows = gen.sample(24, seed=2)
        copies_sent = srv.copies_sent
    record = gen.provenance()["sampling"]
    assert _copies(rows, train) == 0
    assert copies_sent > 0
    assert record["guard_dropped"]["exact_copies"] == copies_sent


@pytest.mark.parametrize("min_distance, dropped", [(0.0, False), (0.05, True)])
def test_near_copies_are_dropped_within_min_distance(actg, min_distance, dropped):
    train, schema = actg
    # karnof moves one level (a categorical mismatch is distance 1): keep the near copy at 0 ...
    # use a numeric shift instead: 1 kg is 1/129 of wtkg's range, about 0.008 in the encoding
    with ChatServer("near", copy_every=4, near_column="wtkg", near_shift=1.0) as srv:
        gen = _generator(srv.url, strategy="examples", min_distance=min_distance).fit(train, schema)
        gen.sample(16, seed=4)
    guard = gen.provenance()["sampling"]["guard_dropped"]
    assert guard["exact_copies"] == 0
    assert (guard["near_copies"] > 0) == dropped


def test_a_server_ignoring_bounds_costs_rows_not_validity(actg):
    train, schema = actg
    with ChatServer("loose") as srv:
        gen = _generator(srv.url, strategy="rules").fit(train, schema)
        rows = gen.sample(16, seed=1)
    _assert_schema_valid(rows, schema)
    assert gen.provenance()["sampling"]["schema_invalid"] > 0


def test_same_seed_same_rows(actg, server):
    train, schema = actg
    gen = _generator(server.url, strategy="statistics", rules=RULES).fit(train, schema)
    a, b, c = gen.sample(10, seed=9), gen.sample(10, seed=9), gen.sample(10, seed=10)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_concurrent_calls_keep_the_order(actg, server):
    train, schema = actg
    one = _generator(server.url, strategy="rules", concurrency=1).fit(train, schema).sample(16, seed=3)
    four = _generator(server.url, strategy="rules", concurrency=4).fit(train, schema).sample(16, seed=3)
    pd.testing.assert_frame_equal(one, four)


# -- bad input: clear errors, bounded, nothing written ---------------------------------------


def _run(tmp_path, train, schema, url, **params):
    cfg = {
        "seed": 1,
        "data": {"source": "builtin:actg175"},
        "generator": {"name": "llm", "params": {"backend": "openai", "base_url": url, "model": "test",
                                               "progress": False, "max_retries": 1, "timeout_s": 2, **params}},
        "sample": {"rows": 8},
        "audit": {"enabled": False},
        "output": {"dir": str(tmp_path / "out")},
    }
    return synth.generate(cfg)


@pytest.mark.parametrize("mode, message", [
    ("garbage", "without a single JSON row"),
    ("error", "HTTP 500"),
])
def test_a_misbehaving_server_is_a_clear_error_and_nothing_is_written(actg, tmp_path, mode, message):
    train, schema = actg
    with ChatServer(mode) as srv:
        with pytest.raises(BackendError, match=message):
            _run(tmp_path, train, schema, srv.url, strategy="rules")
    assert not (tmp_path / "out").exists()


def test_an_unreachable_server_fails_after_bounded_retries(actg, tmp_path):
    train, schema = actg
    with ChatServer("fresh") as srv:
        url = srv.url  # the port is free again once the server is closed
    with pytest.raises(BackendError, match="cannot be reached .*2 attempt"):
        _run(tmp_path, train, schema, url, strategy="rules")
    assert not (tmp_path / "out").exists()


def test_a_server_that_times_out_fails_after_bounded_retries(actg, tmp_path):
    train, schema = actg
    with ChatServer("slow", delay_s=3) as srv:
        with pytest.raises(BackendError, match="did not answer in time .*2 attempt.*timeout"):
            _run(tmp_path, train, schema, srv.url, strategy="rules", timeout_s=0.5, concurrency=1)
        tries = len(srv.requests)
    assert tries == 2  # max_retries=1: one request and one retry, then the error
    assert not (tmp_path / "out").exists()


def test_a_rule_naming_an_unknown_column_fails_before_any_model_call(actg, tmp_path, server):
    train, schema = actg
    first = len(server.requests)
    with pytest.raises(ConfigError, match=r"'agee'.*Did you mean 'age'"):
        _run(tmp_path, train, schema, server.url, strategy="rules", rules=["agee >= 18"])
    assert len(server.requests) == first
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("strategy, n_examples", [("examples", None), ("definitions_examples", None), ("statistics", 3)])
def test_real_rows_never_go_to_a_remote_server_without_opt_in(strategy, n_examples):
    params = dict(backend="openai", base_url="https://llm.example.org/v1", model="m", strategy=strategy)
    if n_examples is not None:
        params["n_examples"] = n_examples
    with pytest.raises(ConfigError, match="not on this machine.*allow_real_rows_remote"):
        LLMGenerator(**params)
    LLMGenerator(**params, allow_real_rows_remote=True)  # the opt-in
    LLMGenerator(**{**params, "strategy": "rules", "n_examples": 0})  # no real rows: allowed
    LLMGenerator(**{**params, "base_url": "http://127.0.0.1:8080/v1"})  # loopback: allowed


def _one_persons_values() -> tuple[pd.DataFrame, object]:
    """200 rows in which one person holds the minimum and the maximum of ``score`` and two
    hold the level ``ZZRARE`` of ``site``: values no prompt or remote request may carry."""
    from synth.data.infer import infer_schema

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(18, 91, 200), "score": rng.normal(50, 10, 200).round(1),
                          "site": rng.choice(["north", "south"], 200)})
    frame.loc[0, "score"], frame.loc[1, "score"] = -41.25, 97.531
    frame.loc[[2, 3], "site"] = "ZZRARE"
    return frame, infer_schema(frame)


ONE_PERSON = ("-41.25", "97.531", "ZZRARE")


@pytest.mark.parametrize("strategy", ["rules", "statistics"])
def test_prompts_without_real_rows_name_no_single_persons_value(server, strategy):
    frame, schema = _one_persons_values()
    assert schema.column("score").maximum == 97.531  # the inferred schema holds that person's values
    first = len(server.requests)
    _generator(server.url, strategy=strategy, rows_per_call=4).fit(frame, schema).sample(4, seed=0)
    prompts = [r["messages"][-1]["content"] for r in server.requests[first:]]
    assert not any(v in p for v in ONE_PERSON for p in prompts)
    assert '"north"' in prompts[0] or "north:" in prompts[0]  # levels many records hold are named
    assert "typically" in prompts[0]  # a coarse range instead of the extremes


def test_a_remote_server_gets_no_bounds_and_no_rare_level_unless_allowed(monkeypatch, server):
    from synth.generators.llm.backends.openai_compatible import OpenAICompatibleBackend

    frame, schema = _one_persons_values()
    monkeypatch.setattr(OpenAICompatibleBackend, "remote", property(lambda self: True))  # as if not on loopback
    first = len(server.requests)
    rows = _generator(server.url, strategy="rules").fit(frame, schema).sample(16, seed=0)
    sent = json.dumps(server.requests[first:])
    assert not any(v in sent for v in ONE_PERSON)
    assert '"minimum"' not in sent and '"maximum"' not in sent
    _assert_schema_valid(rows, schema)  # the bounds still hold for what is kept
    first = len(server.requests)
    _generator(server.url, strategy="rules", allow_real_rows_remote=True).fit(frame, schema).sample(4, seed=0)
    assert "97.531" in json.dumps(server.requests[first:])  # the opt-in sends the schema as it is


def test_a_column_of_rare_levels_only_is_a_clear_error_for_a_remote_server(monkeypatch, server):
    from synth.data.infer import infer_schema
    from synth.generators.llm.backends.openai_compatible import OpenAICompatibleBackend

    frame = pd.DataFrame({"age": np.arange(100) % 50 + 20, "ward": [f"W{i % 25}" for i in range(100)]})  # 4 rows each
    schema = infer_schema(frame, {"ward": {"kind": "categorical"}})
    message = "column 'ward': every level is held by fewer than 5 training records.*allow_real_rows_remote"
    with pytest.raises(ConfigError, match=message):  # a server that is not on loopback: found by fit
        _generator("https://llm.example.org/v1", strategy="rules").fit(frame, schema)
    monkeypatch.setattr(OpenAICompatibleBackend, "remote", property(lambda self: True))
    gen = _generator(server.url, strategy="rules").fit(frame, schema)
    with pytest.raises(ConfigError, match=message):  # and by sample, for whatever the backend says is remote
        gen.sample(4, seed=0)


def test_statistics_hide_an_outlier_and_the_rare_level_of_a_two_level_column():
    from synth.data.infer import infer_schema
    from synth.generators.llm.statistics import table_statistics

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"lab": np.r_[rng.normal(50, 1, 199), 98765.4], "age": np.arange(200) % 60 + 20,
                          "hiv": ["neg"] * 198 + ["pos"] * 2, "grade": [1.0, 2.0, 3.0, np.nan] * 50})
    frame.loc[[198, 199], "age"] = [95, 96]  # the two rare-level people are the two oldest
    schema = infer_schema(frame, {"hiv": {"kind": "categorical"}, "grade": {"kind": "categorical"}})
    stats = table_statistics(frame, schema)
    lab = stats.columns["lab"]
    # a mean over raw values would be about 543 and give the outlier back (mean x n - the rest)
    assert lab.low <= lab.mean <= lab.high < 100
    assert lab.high < 100 and lab.sd < 5
    assert stats.columns["hiv"].shares == {"neg": 0.99, "other (rare)": 0.01}
    assert not any("hiv" in (c.a, c.b) for c in stats.correlations)  # its only variation is the rare level
    assert stats.columns["grade"].shares == {"1": 0.33, "2": 0.33, "3": 0.33}  # levels held as 1.0 are counted


@pytest.mark.parametrize("params, message", [
    ({"rules": ["age >= "]}, "cannot be parsed"),
    ({"strategy": "rules", "n_examples": 2}, "shows no real rows"),
    ({"backend": "openai"}, "needs base_url"),
    ({"base_url": "http://127.0.0.1:1/v1"}, "only apply to backend 'openai'"),
    ({"stratgy": "rules"}, "Did you mean 'strategy'"),
])
def test_bad_parameters_are_config_errors(params, message):
    with pytest.raises(ConfigError, match=message):
        LLMGenerator(**params)


def test_budget_error_gives_the_rule_counts(actg, server):
    train, schema = actg
    gen = _generator(server.url, strategy="rules", rules=["age >= 69"], budget=2).fit(train, schema)
    with pytest.raises(GenerationBudgetError, match=r"'age >= 69': \d+.*Nothing was written"):
        gen.sample(20, seed=0)


# -- templates, persistence, manifest --------------------------------------------------------


def test_a_user_template_is_used_and_hashed(actg, server, tmp_path):
    train, schema = actg
    template = tmp_path / "mine.j2"
    template.write_text("Make {{ n_rows }} rows with {{ column_names | length }} fields.\n{{ output_format }}")
    first = len(server.requests)
    gen = _generator(server.url, strategy="rules", template=str(template)).fit(train, schema)
    gen.sample(8, seed=0)
    assert server.requests[first]["messages"][-1]["content"].startswith("Make 8 rows with 26 fields.")
    import hashlib

    assert gen.provenance()["template"]["sha256"] == hashlib.sha256(template.read_bytes()).hexdigest()
    bad = tmp_path / "bad.j2"
    bad.write_text("{{ nope }")
    with pytest.raises(ConfigError, match="not a valid Jinja template"):
        _generator(server.url, strategy="rules", template=str(bad)).fit(train, schema)


def test_save_and_load_without_pickle(actg, server, tmp_path):
    train, schema = actg
    gen = _generator(server.url, strategy="statistics", rules=RULES).fit(train, schema)
    gen.save(tmp_path / "g")
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["generator.json", "train.parquet"]
    again = LLMGenerator.load(tmp_path / "g")
    pd.testing.assert_frame_equal(gen.sample(8, seed=4), again.sample(8, seed=4))


def test_manifest_records_provenance_without_real_values(tmp_path, server):
    cfg = {
        "seed": 3,
        "data": {"source": "builtin:actg175"},
        "generator": {"name": "llm", "params": {"backend": "openai", "base_url": server.url, "model": "test",
                                               "strategy": "examples", "rules": RULES, "progress": False}},
        "sample": {"rows": 12},
        "audit": {"enabled": False},
        "output": {"dir": str(tmp_path / "run")},
    }
    run = synth.generate(cfg)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    prov = manifest["generator"]["provenance"]
    assert manifest["generator"]["name"] == "llm"
    assert prov["strategy"] == "examples" and len(prov["template"]["sha256"]) == 64
    assert prov["model"]["base_url"] == server.url and prov["temperature"] == 1.0
    assert set(prov["sampling"]["rule_rejections"]) == set(RULES)
    assert prov["sampling"]["rows_kept"] == 12 and "valid_row_rate" in prov["sampling"]
    assert "guard_dropped" in prov["sampling"]
    text = json.dumps(manifest)
    assert run.synthetic is not None
    prep = prepare(DataConfig(source="builtin:actg175"), seed=3)
    assert not any(row_json(r) in text for r in example_rows(prep.train, prep.modelled))


def test_conditions_are_refused_with_a_hint(actg, server):
    train, schema = actg
    from synth.generators.base import Condition

    gen = _generator(server.url, strategy="rules").fit(train, schema)
    with pytest.raises(SynthUserError, match="hard rule"):
        gen.sample(4, conditions=[Condition(rows=4, values={"arms": 1})])
    assert np.array_equal(gen.sample(0).shape, (0, 26))


@pytest.mark.parametrize("text, schema, final", [
    ("0", {"enum": [0, 1]}, True),  # no other level extends it: the delimiter is fixed
    ("1", {"enum": [1, 10]}, False),  # "10" extends "1": the model decides
    ('"Y"', {"enum": ["N", "Y"]}, True),
    ("45", {"type": "integer", "minimum": 12, "maximum": 70}, True),  # 450 > 70
    ("4", {"type": "integer", "minimum": 12, "maximum": 70}, False),
    ("119", {"anyOf": [{"type": "integer", "maximum": 1190}, {"type": "null"}]}, False),
    ("120", {"anyOf": [{"type": "integer", "maximum": 1190}, {"type": "null"}]}, True),
    ("null", {"anyOf": [{"type": "integer", "maximum": 1190}, {"type": "null"}]}, True),
    ("0", {"type": "integer", "minimum": 0, "maximum": 99}, True),  # JSON: no digit after a leading 0
    ("70.2", {"type": "number", "minimum": 31, "maximum": 160}, False),  # decimals may go on
    ("true", {"type": "boolean"}, True),
])
def test_embedded_engine_skips_steps_only_where_the_schema_fixes_the_next_token(text, schema, final):
    from synth.generators.llm.backends.answer_writer import value_is_final

    assert value_is_final(text, schema) is final


def test_answer_writer_forces_the_structure_and_feeds_the_model_every_character_once():
    """The embedded engine's bookkeeping (engine-independent; the real model runs in
    tests/test_generator_llm_embedded.py): what is fed plus what is sampled is the answer."""
    from synth.generators.llm.backends.answer_writer import AnswerWriter, answer_fields
    from synth.generators.llm.row_schema import batch_json_schema
    from synth.schema import ColumnKind, ColumnSpec, Schema

    schema = Schema((ColumnSpec("age", ColumnKind.INTEGER, minimum=12, maximum=70),
                     ColumnSpec("wt", ColumnKind.NUMERIC, minimum=30, maximum=160),
                     ColumnSpec("site", ColumnKind.CATEGORICAL, categories=("A",)),
                     ColumnSpec("sex", ColumnKind.CATEGORICAL, categories=("F", "M"))))
    writer = AnswerWriter(answer_fields(batch_json_schema(schema, 2)), rows=2, decimals=2)
    seen = writer.take_forced()
    # the model writes a delimiter after "70.2" (it alone knows where that number ends); after
    # "45" (450 > 70), "31.25" (two decimals, the grammar's most) and a level the schema fixes
    # the delimiter and no token is sampled for it; the single-level column is never sampled
    script = [["4", "5"], ["70", ".", "2", ","], ['"F', '"'], ["6", ","], ["31", ".", "25"], ['"M"']]
    for value in script:
        assert not writer.done
        for k, piece in enumerate(value):
            finished = writer.add(piece)
            assert finished is (k == len(value) - 1), (value, piece)
            seen += piece
        seen += writer.take_forced()
    assert writer.done
    expected = [{"age": 45, "wt": 70.2, "site": "A", "sex": "F"}, {"age": 6, "wt": 31.25, "site": "A", "sex": "M"}]
    assert json.loads(writer.text) == {"rows": expected}
    assert seen == writer.text  # every delimiter exactly once, forced or sampled


def test_answer_writer_cut_short_keeps_complete_rows():
    from synth.generators.llm.backends.answer_writer import AnswerWriter, answer_fields
    from synth.generators.llm.row_schema import batch_json_schema
    from synth.schema import ColumnKind, ColumnSpec, Schema

    schema = Schema((ColumnSpec("a", ColumnKind.CATEGORICAL, categories=(0, 1)),
                     ColumnSpec("b", ColumnKind.CATEGORICAL, categories=(0, 1))))
    writer = AnswerWriter(answer_fields(batch_json_schema(schema, 3)), rows=3)
    assert json.loads(writer.truncated()) == {"rows": []}
    for piece in ["1", "0", "1"]:
        writer.add(piece)
    assert json.loads(writer.truncated()) == {"rows": [{"a": 1, "b": 0}]}


@pytest.mark.parametrize("schema, inside, outside", [
    ({"type": "integer", "minimum": 0, "maximum": 99}, "0123456789-,", "aeE.x "),
    ({"type": "number"}, "0123456789-.,", "eE+x "),  # short numbers: no exponent
    ({"enum": ["N", "Y"]}, '"NY,', "ny0 "),
    ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, "0123456789nul,", "xtr "),
])
def test_grammar_alphabet_covers_what_the_grammar_accepts(schema, inside, outside):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from synth.generators.llm.backends.value_grammar import grammar_alphabet, value_gbnf

    alphabet = grammar_alphabet(value_gbnf(schema, ","))
    assert set(inside) <= alphabet
    assert not set(outside) & alphabet


def test_grammar_alphabet_is_unbounded_for_negated_classes():
    from synth.generators.llm.backends.value_grammar import grammar_alphabet

    assert grammar_alphabet('root ::= "\\"" [^"]* "\\""') is None
    assert grammar_alphabet('root ::= [a-c] "x\\n"') == frozenset("abcx\n")


@pytest.mark.parametrize("fmt", ["json_schema", "json_object"])
def test_the_schema_travels_as_the_server_expects(actg, server, fmt):
    train, schema = actg
    first = len(server.requests)
    _generator(server.url, strategy="rules", response_format=fmt, rows_per_call=4).fit(train, schema).sample(4, seed=1)
    sent = server.requests[first]["response_format"]
    assert sent["type"] == fmt
    row_schema = (sent["schema"] if fmt == "json_object" else sent["json_schema"]["schema"])["properties"]["rows"]
    assert row_schema["minItems"] == row_schema["maxItems"] == 4
    assert list(row_schema["items"]["properties"]) == schema.names
    assert row_schema["items"]["properties"]["age"] == {"type": "integer", "minimum": 12, "maximum": 70}


@pytest.mark.parametrize("text, ok", [
    ("9", True),  # 90..99 are within [49, 1119]
    ("4", True), ("49,", True), ("12,", False), ("0", False), ("2", True), ("11191", False), ("1119,", True),
    (",", False), ("-", False), ("nu", True),  # not a number prefix: the grammar decides
])
def test_number_prefix_check_keeps_every_integer_in_bounds_reachable(text, ok):
    from synth.generators.llm.backends.value_grammar import number_prefix_ok

    assert number_prefix_ok(text, ",", (49.0, 1119.0)) is ok


def test_number_prefix_check_agrees_with_brute_force():
    """Known answer by enumeration: a prefix is viable iff some in-bounds number starts with it."""
    from synth.generators.llm.backends.value_grammar import number_prefix_ok

    lo, hi = 31.0, 159.94
    values = [f"{v / 100:.2f}".rstrip("0").rstrip(".") for v in range(0, 30001)]
    values += [f"{v / 100:.2f}" for v in range(0, 30001)]
    inside = [v for v in values if lo <= float(v) <= hi]
    for prefix in ["1", "2", "3", "31", "30.", "31.", "15", "159.9", "16", "0", "7", "159.95", "45.1"]:
        expected = any(v.startswith(prefix) for v in inside)
        assert number_prefix_ok(prefix, ",", (lo, hi)) is expected, prefix
        assert number_prefix_ok(prefix + ",", ",", (lo, hi)) is (lo <= float(prefix) <= hi), prefix


def test_value_grammar_allows_no_space_after_a_value():
    """A space would end a number before its minimum (``100 `` where the minimum is 124) and
    cost a step; the answer is compact JSON."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from synth.generators.llm.backends.value_grammar import grammar_alphabet, value_gbnf

    for schema in ({"type": "integer", "minimum": 124}, {"anyOf": [{"type": "number"}, {"type": "null"}]},
                   {"type": "boolean"}, {"enum": [0, 1]}):
        assert " " not in grammar_alphabet(value_gbnf(schema, ","))
    assert " " in grammar_alphabet(value_gbnf({"enum": ["a b", "c"]}, ","))  # inside a level it stays


def test_waves_size_to_the_keep_rate_and_fill_the_backend_while_nothing_is_kept(actg):
    """A wave asks for the missing rows at the keep rate so far; while no row has been kept
    (a model whose rows all break a rule) it asks for as many answers as the backend takes
    at once, not for the few a keep rate of 1 would suggest; the budget caps it."""
    from synth.generators.llm.sampling import RowSampler, SamplingPlan

    class Backend:
        max_concurrency = 16

    _, schema = actg
    plan = SamplingPlan(rows_per_call=4, examples_per_prompt=0, temperature=1.0, top_p=1.0, max_tokens_per_row=8,
                        budget=10, progress=False)
    sampler = RowSampler(schema=schema, backend=Backend(), renderer=None, examples=None, rules=[], soft_rules=[],
                         guard=None, plan=plan)
    assert sampler._wave_size(16, 160) == 5  # nothing asked yet: 1.25 x 16 rows / 4 per call
    sampler.counts.rows_requested, sampler.counts.rows_kept = 20, 0
    assert sampler._wave_size(16, 160) == 16
    sampler.counts.rows_kept = 10  # half kept: 1.25 x 6 / (4 x 0.5) -> 4 calls
    assert sampler._wave_size(6, 160) == 4
    sampler.counts.rows_requested, sampler.counts.rows_kept = 150, 0
    assert sampler._wave_size(16, 160) == 3  # 10 rows of budget left: 3 calls of 4
