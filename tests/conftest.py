"""Shared fixtures: the known-answer population (see tests/population.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# `pytest -n 2` runs two workers on two cores: native pools (OpenMP in the tree models, BLAS)
# sized to every core would oversubscribe them, and their threads spin at each barrier while
# the other worker holds the core (the utility tests took 25 s of CPU instead of 5). One
# native thread per worker, set before numpy or scikit-learn load (subprocesses inherit it).
# Timing is not tested here: bench/bench_contention.py measures the runner's own sizing.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest
from hypothesis import settings

# The default test set replays the same fuzz examples on every run (a test run's verdict must
# not depend on chance); explore new ones with `pytest --hypothesis-profile=explore tests/test_fuzz.py`.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("default")

sys.path.insert(0, str(Path(__file__).parent))

from population import known_answer_split, make_population, population_schema  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def schema():
    return population_schema()


@pytest.fixture(scope="session")
def population():
    return make_population(3000, seed=0)


@pytest.fixture(scope="session")
def known():
    return known_answer_split(1000, seed=0)


@pytest.fixture(scope="session")
def known_twins():
    """:func:`known_answer_split` on the population with natural duplicates (the privacy known answers)."""
    return known_answer_split(1000, seed=0, twins=True)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data folder {SHARED_DATA} is absent (it lives beside the repository as ../shared/data)")
    return SHARED_DATA

