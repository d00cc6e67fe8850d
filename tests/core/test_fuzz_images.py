"""Property-based fuzzing of the image readers (issue 14, item 7): neutron FITS/TIFF frames,
CT TIFF volumes and Data Exchange HDF5 projections, and their side text files (time-of-flight
spectra, rotation-angles files).  Any bytes give a read or an
ssbscope.errors class, never another exception (bounded to seconds; the longer campaign is
``tools/fuzz_readers.py``, which runs the same targets)."""

import tempfile
from pathlib import Path

import pytest

pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ssbscope.fuzz import mutate, run_one, targets  # noqa: E402

TARGETS = targets()
NAMES = ["neutron.fits", "neutron.tiff", "tomo.volume_tiff", "tomo.dxchange", "neutron.tof_spectra",
         "tomo.angles_file"]
OPS = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1 << 24), st.integers(0, 1 << 16)),
               min_size=1, max_size=4)
FUZZ = settings(max_examples=60, deadline=5000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _check(target, data: bytes):
    with tempfile.TemporaryDirectory() as d:
        outcome, detail = run_one(target, data, Path(d))
    assert outcome != "bug", f"{target.name}: {detail}"


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_read(name):
    t = TARGETS[name]
    with tempfile.TemporaryDirectory() as d:
        assert [run_one(t, b, Path(d))[0] for _, b in t.seeds] == ["ok"] * len(t.seeds)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes(name, data):
    _check(TARGETS[name], data)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(k=st.integers(0, 1 << 20), ops=OPS)
def test_mutated_files(name, k, ops):
    t = TARGETS[name]
    _check(t, mutate(t.seeds[k % len(t.seeds)][1], ops))


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(k=st.integers(0, 1 << 20), frac=st.floats(0.0, 1.0))
def test_truncated_files(name, k, frac):
    t = TARGETS[name]
    b = t.seeds[k % len(t.seeds)][1]
    _check(t, b[: int(len(b) * frac)])
