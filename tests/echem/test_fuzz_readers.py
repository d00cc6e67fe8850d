"""Property-based fuzzing of the echem readers (issue 14, item 7).

Any bytes — random, or truncations/mutations of real instrument files (seeds:
tests/data/realdata, ../shared/realdata when present, twin-written files) — give a valid table
or an ssbscope.errors exception, never another exception, never a hang (hypothesis deadline).
Bounded to a few seconds per reader; the longer campaign is tools/fuzz_readers.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ssbscope.fuzz import mutate, run_one, targets  # noqa: E402

TARGETS = targets()
OPS = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1 << 24), st.integers(0, 1 << 16)),
               min_size=1, max_size=4)
FUZZ = settings(max_examples=40, deadline=5000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _check(target, data: bytes):
    with tempfile.TemporaryDirectory() as d:
        outcome, detail = run_one(target, data, Path(d))
    assert outcome != "bug", f"{target.name}: {detail}"


ECHEM = [n for n in TARGETS if n.startswith("echem.")]


@pytest.mark.parametrize("name", ECHEM)
def test_seeds_are_read(name):
    """The unmutated seeds read (else the fuzzing would only exercise error paths)."""
    t = TARGETS[name]
    assert t.seeds
    with tempfile.TemporaryDirectory() as d:
        outcomes = [run_one(t, b, Path(d))[0] for _, b in t.seeds]
    assert outcomes.count("ok") >= max(1, len(outcomes) // 2)


@pytest.mark.parametrize("name", ECHEM)
@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(name, data):
    _check(TARGETS[name], data)


@pytest.mark.parametrize("name", ECHEM)
@FUZZ
@given(k=st.integers(0, 1 << 20), ops=OPS)
def test_mutated_real_files(name, k, ops):
    t = TARGETS[name]
    _, seed = t.seeds[k % len(t.seeds)]
    _check(t, mutate(seed, ops))


@pytest.mark.parametrize("name", ECHEM)
@FUZZ
@given(k=st.integers(0, 1 << 20), frac=st.floats(0.0, 1.0))
def test_truncated_real_files(name, k, frac):
    t = TARGETS[name]
    _, seed = t.seeds[k % len(t.seeds)]
    _check(t, seed[: int(frac * len(seed))])
