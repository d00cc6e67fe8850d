"""Fixtures shared across test modules."""

import pytest


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """``ssbscope demo --size tiny`` run once per test process (a few minutes on 2 cores).

    Tests that use it carry ``@pytest.mark.xdist_group("tiny_demo")`` so that pytest-xdist
    (``--dist loadgroup``, set in pyproject.toml) sends them to one worker: the demo runs once.
    Tests must not modify the folder.
    """
    from ssbscope.cli import main

    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--size", "tiny", "--quiet"]) == 0
    return out
