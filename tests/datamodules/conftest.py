"""Shared fixtures: the stdlib-docstring sample is built once per session (about 2 s)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def stdlib_text(tmp_path_factory):
    from synthos.datamodules.sample_data import sample_text

    return sample_text(tmp_path_factory.mktemp("sample_text"))


@pytest.fixture(scope="session")
def stdlib_docs(stdlib_text):
    with open(stdlib_text, encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]
