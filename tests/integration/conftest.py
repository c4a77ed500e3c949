"""Shared fixtures for Upkeep's integration tests: where the build is, and where shared/ test data is."""
import os
import pathlib

import pytest

TOP = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("UPKEEP_BUILD", TOP / "build"))
SHARED = pathlib.Path(os.environ.get("UPKEEP_SHARED", TOP.parent / "shared"))


@pytest.fixture(scope="session")
def build_dir():
    return BUILD


@pytest.fixture(scope="session")
def shared_dir():
    if not SHARED.is_dir():
        pytest.fail(f"shared test data not found at {SHARED} (set UPKEEP_SHARED)")
    return SHARED
