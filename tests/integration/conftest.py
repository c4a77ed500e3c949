"""Shared fixtures for Upkeep's integration tests: where the build is, where shared/ test data is, and the
servers the agent tests run their nodes against (over the test module's own `os3` fixture)."""
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


@pytest.fixture
def graph(build_dir, tmp_path, os3):
    """upkeep-graph serving the graph of the module's os3 fixture (its OS releases and repository server)."""
    from agentutil import start_graph
    g = start_graph(build_dir, tmp_path, os3[0])
    yield g
    g.stop()


@pytest.fixture
def lock(build_dir, tmp_path):
    """upkeep-lock on SQLite, one slot per group."""
    from agentutil import start_lock
    lk = start_lock(build_dir, tmp_path)
    yield lk
    lk.stop()
