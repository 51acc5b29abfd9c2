"""Base datasets and splits shared by the suite's tests (loaded once per session)."""

from __future__ import annotations

import pytest

from benchmarks.collapse_suite.bases import load_base
from benchmarks.collapse_suite.split import split_base


@pytest.fixture(scope="session")
def bases():
    """name -> BaseDataset, loaded on first use."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load_base(name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def split_of(bases):
    """(name, seed) -> (BaseDataset, Split)."""

    def get(name, seed=0):
        base = bases(name)
        return base, split_base(base, seed)

    return get
