"""Property-based fuzzing of the .ssbevt event parser and the HEXITEC stream/table parsers
(issue 14, item 7): any bytes give a valid result or an ssbscope.errors exception, never another
exception, never a hang. Seeds: a written event file, a synthetic 2-frame HEXITEC stream and the
real GSE stream/calibration table when ../shared/realdata is present."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ssbscope.fuzz import hexitec_stream, mutate, run_one, targets  # noqa: E402

TARGETS = targets()
NAMES = ["compton.events", "compton.hexitec_raw", "compton.hexitec_caltable", "compton.calibration_npz",
         "compton.angle_map_npz", "compton.angle_map_npy"]
OPS = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1 << 24), st.integers(0, 1 << 16)),
               min_size=1, max_size=4)
FUZZ = settings(max_examples=60, deadline=5000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _check(target, data: bytes):
    with tempfile.TemporaryDirectory() as d:
        outcome, detail = run_one(target, data, Path(d))
    assert outcome != "bug", f"{target.name}: {detail}"


def test_synthetic_hexitec_seed_is_a_valid_stream(tmp_path):
    from ssbscope.compton.hexitec import read_hexitec_raw

    p = tmp_path / "s.dat"
    p.write_bytes(hexitec_stream(n_frames=3))
    fr = read_hexitec_raw(p)
    assert fr.frames.shape == (3, 80, 80) and fr.present.all() and fr.raw_mode
    assert 990 <= fr.frames.min() and fr.frames.max() < 1020


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_read(name):
    t = TARGETS[name]
    with tempfile.TemporaryDirectory() as d:
        assert all(run_one(t, b, Path(d))[0] == "ok" for _, b in t.seeds)


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


@FUZZ
@given(n=st.integers(0, 1 << 40), jl=st.integers(0, 1 << 20),
       header=st.one_of(st.just(b"[]"), st.just(b'{"n_rows": "x"}'), st.just(b'{"n_rows": -5}'),
                        st.just(b'{"n_rows": 100000000, "n_cols": 100000000}'),
                        st.just(b'{"value_unit": 3}'), st.binary(max_size=64)),
       values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=20))
def test_event_header_fields(n, jl, header, values):
    """Hostile header fields (event counts, JSON of the wrong type, absurd geometry) and
    non-finite photon energies."""
    import struct

    from ssbscope.compton.events import EVENT_DTYPE, MAGIC

    ev = np.zeros(len(values), EVENT_DTYPE)
    ev["value"] = np.asarray(values, np.float32) if values else ev["value"]
    data = struct.pack("<8sQI", MAGIC, n % (len(values) + 2), len(header)) + header + ev.tobytes()
    _check(TARGETS["compton.events"], data)
