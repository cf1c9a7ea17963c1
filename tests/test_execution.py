"""The execution engines without a cluster: sharded numerics equal unsharded ones, the
config's ``execution`` section, progress over shards, and an unreachable Ray address.

A real Ray cluster is exercised in tests/test_ray_engine.py; here an in-process engine
that *declares* itself distributed makes the numerics take their sharded path (the same
shard functions a Ray worker runs), which is what these tests compare with the local path.
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from synth.cli.main import app
from synth.config.load import parse_config
from synth.errors import ConfigError
from synth.execution import LocalEngine, use_engine
from synth.execution.progress import BarTracker, LineTracker, use_progress
from synth.generators.base import Generator
from synth.neighbors.search import nearest, nearest_other
from synth.stats.bootstrap import replicates
from synth.stats.intervals import bootstrap


class ShardingInProcess(LocalEngine):
    """Runs shards here but says it is distributed with ``n`` workers, so callers shard."""

    name = "sharding-in-process"

    def __init__(self, n: int = 3) -> None:
        super().__init__()
        self.n = n

    @property
    def distributed(self) -> bool:
        return True

    @property
    def workers(self) -> int:
        return self.n


@pytest.fixture
def small_shards(monkeypatch):
    monkeypatch.setattr("synth.neighbors.search._MIN_SHARD_QUERIES", 64)
    monkeypatch.setattr("synth.neighbors.search._CHUNK_QUERIES", 64)
    monkeypatch.setattr("synth.stats.bootstrap._MIN_SHARDED_WORK", 0)


@pytest.mark.parametrize("metric", ["euclidean", "cityblock"])
def test_sharded_search_equals_local(small_shards, metric):
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(1500, 6))
    ref[700:720] = ref[:20]  # exact duplicates: distance-zero neighbours on both sides of a shard cut
    queries = np.vstack([rng.normal(size=(900, 6)), ref[:50]])
    local = nearest(queries, ref, 3, metric=metric)
    local_self = nearest(ref, ref, 2, metric=metric, exclude_self=True)
    local_other = nearest_other(ref, np.arange(0, 1500, 7), 1, metric=metric)
    engine = ShardingInProcess(4)
    with use_engine(engine):
        sharded = nearest(queries, ref, 3, metric=metric)
        sharded_self = nearest(ref, ref, 2, metric=metric, exclude_self=True)
        sharded_other = nearest_other(ref, np.arange(0, 1500, 7), 1, metric=metric)
    assert len({t.label for t in engine.timings}) == 1 and len(engine.timings) >= 3 * 4  # it did shard
    for got, want in ((sharded, local), (sharded_self, local_self), (sharded_other, local_other)):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])  # the same row, also among equidistant ones
    # self is never its own neighbour, duplicates are found at distance 0 across shard cuts
    assert not (sharded_self[1][:, 0] == np.arange(1500)).any()
    assert (sharded_self[0][700:720, 0] == 0).all() and (sharded_self[0][:20, 0] == 0).all()
    # brute force (independent of the blocked search): the nearest distances
    brute = np.abs(queries[:, None, :] - ref[None]).sum(-1) if metric == "cityblock" else \
        np.sqrt(((queries[:, None, :] - ref[None]) ** 2).sum(-1))
    np.testing.assert_allclose(sharded[0][:, 0], brute.min(1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("metric", ["euclidean", "cityblock"])
def test_sharded_search_picks_the_local_row_among_ties(small_shards, metric):
    """Coded categories: most queries have several reference rows at their nearest distance;
    which one is returned (the DCR share gives the synthetic row to that row's person) is
    the one the local search returns."""
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 3, size=(3000, 4)) * 0.7
    queries = rng.integers(0, 3, size=(2500, 4)) * 0.7
    local = nearest(queries, ref, 2, metric=metric)
    with use_engine(ShardingInProcess(4)):
        sharded = nearest(queries, ref, 2, metric=metric)
    np.testing.assert_array_equal(sharded[0], local[0])
    np.testing.assert_array_equal(sharded[1], local[1])


def test_sharded_bootstrap_replicates_equal_local(small_shards):
    rng = np.random.default_rng(0)
    x = rng.exponential(size=400)
    stat = lambda idx: float(np.median(x[idx]))  # noqa: E731
    local = replicates(stat, x.size, n_boot=37, seed=11)
    engine = ShardingInProcess(3)
    with use_engine(engine):
        sharded = replicates(stat, x.size, n_boot=37, seed=11)
        interval = bootstrap(stat, x.size, n_boot=37, seed=11)
    assert len(engine.timings) >= 2 * 2
    np.testing.assert_array_equal(sharded, local)
    # the replicates are the seeded stream's resamples: the first one by hand
    first = np.random.default_rng(11).integers(0, x.size, x.size)
    assert sharded[0] == np.median(x[first])
    assert interval.low <= np.median(x) <= interval.high


def test_execution_config_is_strict():
    base = {"data": {"source": "builtin:actg175"}}
    cfg = parse_config({**base, "execution": {"engine": "ray", "address": "auto", "num_cpus": 4}}, "c.yaml")
    assert (cfg.execution.engine, cfg.execution.address, cfg.execution.num_cpus) == ("ray", "auto", 4)
    assert parse_config(base, "c.yaml").execution.engine == "local"
    with pytest.raises(ConfigError, match="adress"):
        parse_config({**base, "execution": {"adress": "auto"}}, "c.yaml")
    with pytest.raises(ConfigError, match="engine"):
        parse_config({**base, "execution": {"engine": "spark"}}, "c.yaml")


def test_progress_lines_report_rows_per_second():
    lines: list[str] = []
    tracker = LineTracker(lines.append, "search", 300, 3, every=0.0)
    for _ in range(3):
        tracker.advance(100)
    tracker.close()
    assert lines and "300/300 rows" in lines[-1] and "3/3 shards" in lines[-1] and "rows/s" in lines[-1]
    shown: list[str] = []
    bar = BarTracker(shown.append, "search", 200, 2, restore="stage", every=0.0)
    bar.advance(100)
    assert "1/2 shards" in shown[-1] and "100/200 rows" in shown[-1] and "━" * 12 in shown[-1]
    bar.close()
    assert shown[-1] == "stage"


def test_search_reports_progress_over_its_chunks():
    seen: list[tuple[str, int, int]] = []
    done: list[int] = []

    class Sink:
        def __call__(self, label, total, shards):
            seen.append((label, total, shards))
            return self

        def advance(self, rows):
            done.append(rows)

        def close(self):
            pass

    rng = np.random.default_rng(1)
    with use_progress(Sink()):
        nearest(rng.normal(size=(5000, 3)), rng.normal(size=(300, 3)), 1)
    assert seen and seen[0][0] == "nearest-neighbour search" and seen[0][1] == 5000
    assert sum(done) == 5000


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with block ends


@pytest.mark.parametrize("command", ["generate", "audit"])
def test_unreachable_ray_address_is_a_user_error_with_nothing_written(tmp_path: Path, command):
    pytest.importorskip("ray")
    cfg = tmp_path / "run.yaml"
    out = tmp_path / "out"
    cfg.write_text(yaml.safe_dump({
        "data": {"source": "builtin:actg175", "target": "cens"},
        "execution": {"engine": "ray", "address": f"ray://127.0.0.1:{_closed_port()}"},
        "output": {"dir": str(out)},
    }))
    args = ["generate", "--config", str(cfg)] if command == "generate" else \
        ["audit", "--real", "missing-real.csv", "--synthetic", "missing-syn.csv", "--config", str(cfg), "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "execution.address" in res.output and "no Ray cluster answers" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_engine_option_is_checked():
    res = CliRunner().invoke(app, ["generate", "--config", "examples/quickstart.yaml", "--engine", "spark"])
    assert res.exit_code == 2 and "--engine 'spark'" in res.output


def test_sharded_anonymeter_search_equals_local(monkeypatch):
    from synth.audits.privacy.anonymeter.nearest import nearest_encoded

    monkeypatch.setattr("synth.audits.privacy.anonymeter.nearest._MIN_SHARD_QUERIES", 50)
    rng = np.random.default_rng(2)
    # two numeric columns and two categorical codes; many ties on the categories
    cand = np.column_stack([rng.normal(size=800), rng.normal(size=800), rng.integers(0, 3, 800), rng.integers(0, 2, 800)])
    queries = np.vstack([cand[:100], np.column_stack([rng.normal(size=300), rng.normal(size=300),
                                                      rng.integers(0, 3, 300), rng.integers(0, 2, 300)])])
    codes = rng.integers(0, 4, 800)
    local = nearest_encoded(queries, cand, 2, tie_codes=codes)
    engine = ShardingInProcess(3)
    with use_engine(engine):
        sharded = nearest_encoded(queries, cand, 2, tie_codes=codes)
    assert len(engine.timings) >= 6
    np.testing.assert_array_equal(sharded[0], local[0])
    assert sharded[1] == local[1]
    assert (sharded[0][:100] == np.arange(100)).mean() > 0.9  # copies find themselves (up to equal-code ties)


def test_num_cpus_with_a_cluster_address_is_a_config_error():
    pytest.importorskip("ray")
    from synth.execution import open_engine

    with pytest.raises(ConfigError, match="execution.num_cpus"):
        open_engine("ray", "auto", 4)


def test_replicates_from_separate_streams_are_each_generators_draws(small_shards):
    """``streams``: each table from its own generator, in turn; the hand-written loop with
    one generator per table (the form the DCR statistics were written in) is the answer."""
    rng = np.random.default_rng(5)
    a, b, c = rng.exponential(size=300), rng.normal(size=200), rng.normal(size=150)
    stat = lambda ia, ib, ic: float(np.median(a[ia]) + b[ib].mean() - c[ic].mean())  # noqa: E731
    streams = ((4, (a.size,)), ([4, 2], (b.size, c.size)))
    g1, g2 = np.random.default_rng(4), np.random.default_rng([4, 2])
    by_hand = []
    for _ in range(23):
        ia = g1.integers(0, a.size, a.size)
        ib, ic = g2.integers(0, b.size, b.size), g2.integers(0, c.size, c.size)
        by_hand.append(stat(ia, ib, ic))
    local = replicates(stat, (a.size, b.size, c.size), n_boot=23, streams=streams)
    with use_engine(ShardingInProcess(3)):
        sharded = replicates(stat, (a.size, b.size, c.size), n_boot=23, streams=streams)
    np.testing.assert_array_equal(local, by_hand)
    np.testing.assert_array_equal(sharded, by_hand)


def test_dcr_bootstraps_sharded_equal_local(small_shards):
    """The DCR baseline ratio and the NNAA privacy loss keep their numbers when their
    bootstrap replicates are sharded."""
    from synth.audits.privacy.dcr import AdversarialAccuracy, dcr_baseline_ratio, nnaa_privacy_loss

    rng = np.random.default_rng(8)
    d_s, d_h = rng.exponential(size=400), rng.exponential(size=300)
    aa_t = AdversarialAccuracy(real_term=(rng.random(300) < 0.5) * 1.0, synthetic_term=(rng.random(400) < 0.5) * 1.0)
    aa_h = AdversarialAccuracy(real_term=(rng.random(200) < 0.6) * 1.0, synthetic_term=(rng.random(400) < 0.6) * 1.0)
    local = (dcr_baseline_ratio(d_s, d_h, n_boot=50, seed=3), nnaa_privacy_loss(aa_t, aa_h, n_boot=50, seed=3))
    engine = ShardingInProcess(3)
    with use_engine(engine):
        sharded = (dcr_baseline_ratio(d_s, d_h, n_boot=50, seed=3), nnaa_privacy_loss(aa_t, aa_h, n_boot=50, seed=3))
    assert {t.label for t in engine.timings} == {"bootstrap replicates"} and len(engine.timings) >= 8
    assert sharded == local
    # the ratio's interval is over independent resamples of both sides: the point is inside
    assert local[0][1].low <= local[0][0] <= local[0][1].high


class _ResampleGenerator(Generator):
    """Test fake for the shadow attack: samples its training rows with replacement."""

    name = "test_resample"

    def fit(self, data, schema):
        self._rows = data.reset_index(drop=True)
        return self

    def sample(self, n, conditions=None, seed=None):
        return self._rows.iloc[np.random.default_rng(seed).integers(0, len(self._rows), n)].reset_index(drop=True)

    def save(self, path):
        raise NotImplementedError("test fake")

    @classmethod
    def load(cls, path, *, trusted=False):
        raise NotImplementedError("test fake")


def test_shadow_models_run_as_shards_with_each_shadows_features(schema, population):
    """Each shadow generator is one engine shard, and the attack's scores are those of
    :func:`shadow_features` called shadow by shadow (the unsharded loop, written out here)."""
    from synth.audits.membership import shadow_attack
    from synth.neighbors.encoding import MixedEncoder

    columns = schema.modelled().names
    frame = population[columns].iloc[:120].reset_index(drop=True)
    encoder = MixedEncoder(schema, columns).fit(frame)
    owner, n_targets, n_shadows, seed = np.arange(120) // 2, 60, 4, 5
    synthetic = encoder.transform(population[columns].iloc[200:400])
    kw = dict(generator_factory=_ResampleGenerator, schema=schema, encoder=encoder, target_frame=frame,
              target_owner=owner, n_targets=n_targets, synthetic=synthetic, n_shadows=n_shadows, sample_rows=150, seed=seed)
    engine = ShardingInProcess(2)
    with use_engine(engine):
        outcome = shadow_attack.run_shadow_attack(**kw)
    assert [t.label for t in engine.timings].count("shadow models") == n_shadows
    design = shadow_attack.balanced_design(n_shadows, n_targets, np.random.default_rng([seed, 0x5AD0]))
    rows = encoder.transform(frame)
    by_hand = np.stack([shadow_attack.shadow_features(_ResampleGenerator, schema, encoder, frame, rows, owner, n_targets,
                                                      design[s], 150, seed + 1000 + s) for s in range(n_shadows)])
    cv = [shadow_attack.likelihood_ratio(by_hand[np.arange(n_shadows) != s], design[np.arange(n_shadows) != s], by_hand[s])
          for s in range(n_shadows)]
    np.testing.assert_array_equal(outcome.cv_scores, np.concatenate(cv))
    np.testing.assert_array_equal(outcome.cv_labels, design.reshape(-1).astype(int))
