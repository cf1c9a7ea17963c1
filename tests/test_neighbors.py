"""Exact nearest-neighbour search (audits/neighbors.py) against scipy's cKDTree and brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from synth.neighbors.search import _float32_products_are_ieee, nearest, nearest_distance, nearest_other

P = {"euclidean": 2, "cityblock": 1}


def _row_distances(q: np.ndarray, r: np.ndarray, idx: np.ndarray, metric: str) -> np.ndarray:
    """Distance from each query to the reference rows ``idx`` (n_q, k), computed directly."""
    diff = q[:, None, :] - r[idx]
    if metric == "euclidean":
        return np.sqrt((diff**2).sum(-1))
    d = np.abs(diff).sum(-1)
    return d / q.shape[1] if metric == "mean_abs" else d


def _check(q, r, k, metric, d, i, *, exclude_self=False, rtol=1e-9, atol=1e-9):
    """Distances equal cKDTree's; indices point at rows at exactly those distances, without repeats."""
    tree = cKDTree(r)
    p = P.get(metric, 1)
    kk = k + 1 if exclude_self else k
    ref_d, _ = tree.query(q, k=kk, p=p)
    ref_d = np.asarray(ref_d).reshape(len(q), kk)
    if exclude_self:
        ref_d = ref_d[:, 1:]  # the row itself at distance 0 comes first
    if metric == "mean_abs":
        ref_d = ref_d / q.shape[1]
    assert d.shape == i.shape == (len(q), k)
    np.testing.assert_allclose(d, ref_d, rtol=rtol, atol=atol)
    np.testing.assert_allclose(_row_distances(q, r, i, metric), d, rtol=rtol, atol=atol)
    assert (np.diff(d, axis=1) >= 0).all()
    assert all(len(set(row)) == k for row in i.tolist())
    if exclude_self:
        assert not (i == np.arange(len(q))[:, None]).any()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    return rng.random((600, 6)), rng.random((2500, 6))


@pytest.mark.parametrize("metric", ["euclidean", "cityblock", "mean_abs"])
@pytest.mark.parametrize("k", [1, 2, 7])
def test_matches_kdtree(data, metric, k):
    q, r = data
    d, i = nearest(q, r, k, metric=metric)
    _check(q, r, k, metric, d, i)


@pytest.mark.parametrize("metric", ["euclidean", "cityblock"])
@pytest.mark.parametrize("k", [1, 3])
def test_exclude_self_matches_kdtree(data, metric, k):
    _, r = data
    d, i = nearest(r, r, k, metric=metric, exclude_self=True)
    _check(r, r, k, metric, d, i, exclude_self=True)


def test_small_blocks_give_the_same_answer(data):
    q, r = data
    d0, _ = nearest(q, r, 3)
    d1, i1 = nearest(q, r, 3, block_queries=7, block_reference=13)
    np.testing.assert_array_equal(d0, d1)
    _check(q, r, 3, "euclidean", d1, i1)
    d2, i2 = nearest(r, r, 2, exclude_self=True, block_queries=5, block_reference=11)
    _check(r, r, 2, "euclidean", d2, i2, exclude_self=True)


def test_ties_and_duplicates_on_a_coarse_grid():
    rng = np.random.default_rng(3)
    r = rng.integers(0, 3, (3000, 4)).astype(np.float64)  # 81 distinct points, ~37 copies each
    q = rng.integers(0, 3, (400, 4)).astype(np.float64)
    for metric in ("euclidean", "cityblock"):
        for k in (1, 5, 60):
            d, i = nearest(q, r, k, metric=metric)
            _check(q, r, k, metric, d, i, atol=1e-12)
            assert (d[:, :k] == 0).all() if k <= 30 else True  # every query point has many exact copies
    d, i = nearest(r, r, 2, exclude_self=True)
    assert (d == 0).all()  # every row has exact duplicates besides itself
    assert not (i == np.arange(len(r))[:, None]).any()


def test_exact_zero_and_equidistant_rows():
    r = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    d, i = nearest(np.array([[0.0, 0.0]]), r, 4)
    np.testing.assert_array_equal(d[0], [0.0, 1.0, 1.0, 1.0])  # recomputed from differences: no round-off
    assert i[0, 0] == 0 and set(i[0, 1:]) == {1, 2, 3}
    d, _ = nearest(np.array([[0.0, 0.0]]), r, 4, metric="cityblock")
    np.testing.assert_array_equal(d[0], [0.0, 1.0, 1.0, 1.0])


def test_float32_screen_cannot_lose_the_true_neighbour():
    """Two far-apart clusters whose fine structure float32 cannot resolve: a float32 search
    gets most neighbours wrong, the screened search must still give the float64 answer."""
    rng = np.random.default_rng(11)
    r = np.where(rng.random((3000, 1)) < 0.5, 0.0, 1000.0) + rng.random((3000, 3)) * 1e-2
    q = np.where(rng.random((300, 1)) < 0.5, 0.0, 1000.0) + rng.random((300, 3)) * 1e-2
    brute = np.sqrt(((q[:, None, :] - r[None, :, :]) ** 2).sum(-1))
    truth = np.argsort(brute, axis=1)[:, :2]
    centre = r.mean(0)  # as the search centres its rows
    q32, r32 = torch.from_numpy(q - centre).float(), torch.from_numpy(r - centre).float()
    naive32 = (r32.pow(2).sum(1) - 2 * q32 @ r32.T).argmin(1).numpy()
    assert (naive32 != truth[:, 0]).mean() > 0.5  # float32 alone gets most of them wrong

    d, i = nearest(q, r, 2)
    np.testing.assert_allclose(d, np.take_along_axis(brute, truth, 1), rtol=1e-12)
    np.testing.assert_array_equal(i, truth)
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")  # float64 throughout
    try:
        d64, _ = nearest(q, r, 2)
    finally:
        torch.set_float32_matmul_precision(before)
    np.testing.assert_array_equal(d, d64)


def test_many_neighbours_use_the_row_screen_and_keep_the_float64_answer(monkeypatch):
    """k = 50 of 3,000 rows (3 tiles): the per-row screen. Two far-apart clusters whose fine structure float32
    cannot resolve, in 64 dimensions, and a query set with exact copies of reference rows: brute force's answer."""
    from synth.neighbors import search

    def tile_screen(*args):
        raise AssertionError("the tile screen ran")

    monkeypatch.setattr(search._Search, "run_chunk", tile_screen)
    rng = np.random.default_rng(5)
    r = np.where(rng.random((3000, 1)) < 0.5, 0.0, 1000.0) + rng.random((3000, 64)) * 1e-2
    q = np.where(rng.random((200, 1)) < 0.5, 0.0, 1000.0) + rng.random((200, 64)) * 1e-2
    q[:20] = r[rng.choice(3000, 20, replace=False)]  # exact copies: distance 0 first
    brute = np.sqrt(((q[:, None, :] - r[None, :, :]) ** 2).sum(-1))
    d, i = nearest(q, r, 50)
    np.testing.assert_allclose(d, np.sort(brute, axis=1)[:, :50], rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.take_along_axis(brute, i, 1), d, rtol=1e-12)
    assert (d[:20, 0] == 0).all() and (d[20:, 0] > 0).all()
    assert all(len(set(row)) == 50 for row in i.tolist())


def test_row_screen_falls_back_where_more_rows_tie_than_it_keeps(monkeypatch):
    """Every query has 40 reference rows at exactly its nearest distance: a top-24 screen (k = 16) cannot hold them
    all, so those queries take the exact pass; distances still equal brute force's."""
    from synth.neighbors import search

    calls = []
    exact = search._Search.run_rows_exact
    monkeypatch.setattr(search._Search, "run_rows_exact", lambda self, rows: calls.append(rows.numel()) or exact(self, rows))
    rng = np.random.default_rng(9)
    points = rng.random((50, 8))
    r = np.repeat(points, 40, axis=0)  # 40 copies of each point
    q = points[rng.integers(0, 50, 100)] + rng.normal(0, 1e-3, (100, 8))
    d, i = nearest(q, r, 16)
    _check(q, r, 16, "euclidean", d, i, atol=1e-12)
    assert sum(calls) == 100  # every query tied beyond the kept rows


def test_sorted_reference_and_float32_input(data):
    q, r = data
    r_sorted = r[np.argsort(r[:, 0])]
    d, i = nearest(q.astype(np.float32), r_sorted.astype(np.float32), 2)
    _check(q.astype(np.float32).astype(np.float64), r_sorted.astype(np.float32).astype(np.float64), 2,
           "euclidean", d, i)


def test_reduced_precision_matmul_falls_back_to_float64(data):
    q, r = data
    before = torch.get_float32_matmul_precision()
    assert _float32_products_are_ieee()  # the default: float32 screening on
    torch.set_float32_matmul_precision("medium")
    try:
        assert not _float32_products_are_ieee()
        d, i = nearest(q, r, 2)
    finally:
        torch.set_float32_matmul_precision(before)
    _check(q, r, 2, "euclidean", d, i)


@pytest.mark.skipif(not hasattr(torch.backends.mkldnn, "matmul"), reason="torch without per-backend precision settings")
def test_bf16_cpu_matmul_setting_falls_back_to_float64(data):
    q, r = data
    matmul = torch.backends.mkldnn.matmul
    before = matmul.fp32_precision
    matmul.fp32_precision = "bf16"
    try:
        assert not _float32_products_are_ieee()
        d, i = nearest(q, r, 2)
    finally:
        matmul.fp32_precision = before
    _check(q, r, 2, "euclidean", d, i)


def test_nearest_other_equals_exclude_self_on_chosen_rows(data):
    _, r = data
    rows = np.array([5, 0, 2499, 17, 17])
    d, i = nearest_other(r, rows, 3)
    d_all, i_all = nearest(r, r, 3, exclude_self=True)
    np.testing.assert_array_equal(d, d_all[rows])
    assert not (i == rows[:, None]).any()
    dup = np.vstack([r, r[:10]])  # rows 0..9 now have an exact twin
    d, i = nearest_other(dup, np.arange(12), 1)
    assert (d[:10, 0] == 0).all() and d[10, 0] > 0
    np.testing.assert_array_equal(i[:10, 0], np.arange(2500, 2510))


def test_torch_thread_setting_is_restored(data):
    q, r = data
    threads = torch.get_num_threads()
    nearest(q, r, 1)
    assert torch.get_num_threads() == threads


def test_nearest_distance_and_bad_input(data):
    q, r = data
    np.testing.assert_array_equal(nearest_distance(q, r), nearest(q, r, 1)[0][:, 0])
    with pytest.raises(ValueError, match="equal width"):
        nearest(q, r[:, :3])
    with pytest.raises(ValueError, match="reference has 3 rows"):
        nearest(q, r[:3], 4)
    with pytest.raises(ValueError, match="reference has 3 rows"):
        nearest(r[:3], r[:3], 3, exclude_self=True)
    with pytest.raises(ValueError, match="finite"):
        nearest(np.full((2, 6), np.nan), r)
    with pytest.raises(ValueError, match="unknown metric"):
        nearest(q, r, metric="cosine")  # type: ignore[arg-type]
    d, i = nearest(q[:0], r, 2)
    assert d.shape == i.shape == (0, 2)
