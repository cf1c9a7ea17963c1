"""Shared fixtures: the known-answer population (see tests/population.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

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
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data folder {SHARED_DATA} is absent (it lives beside the repository as ../shared/data)")
    return SHARED_DATA
