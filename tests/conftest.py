"""Shared fixtures: the real data sets in ../shared/data and small generated inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from skinxai.data.paths import shared_data_dir

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return shared_data_dir()


@pytest.fixture(scope="session")
def fanconic(data_dir: Path) -> Path:
    return data_dir / "fanconic"


@pytest.fixture(scope="session")
def ham_root(data_dir: Path) -> Path:
    return data_dir / "ham10000"


@pytest.fixture(scope="session")
def default_model():
    """The shipped model in fp32: the oracle comparisons with pytorch-grad-cam and every
    exact-value test run there; ``test_precision`` checks the bf16 paths against it."""
    from skinxai.model import load_default_model

    return load_default_model(precision="32")
