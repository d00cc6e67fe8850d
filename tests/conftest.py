"""Fixtures shared across test modules."""

import pytest


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """``ssbscope demo --size tiny`` run once per test process (a few minutes on 2 cores).

    Its users live in one test module (tests/report/test_report.py): with pytest-xdist's
    ``--dist loadfile`` (set in pyproject.toml) one worker runs them all, so the demo runs
    once.  Tests must not modify the folder.
    """
    from ssbscope.cli import main

    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--size", "tiny", "--quiet"]) == 0
    return out
