"""Events -> cube: exact counts vs numpy, charge-sharing rules, file format, bad input."""

import numpy as np
import pytest

from ssbscope.compton import (EVENT_DTYPE, events_to_cube, iter_event_chunks, make_events,
                              read_event_header, read_events, write_events)
from ssbscope.errors import FileFormatError, InputError


def random_events(n=200_000, per_frame=30, seed=0):
    rng = np.random.default_rng(seed)
    fr = np.sort(rng.integers(0, max(1, n // per_frame), n))
    return make_events(fr, rng.integers(0, 80, n), rng.integers(0, 80, n),
                       rng.uniform(0, 119.9, n).astype(np.float32))


def test_no_discrimination_equals_numpy_histogram():
    ev = random_events()
    cube = events_to_cube(ev, charge_sharing="none")
    assert cube.shape == (80, 80, 600) and cube.dtype == np.uint32
    ref, _ = np.histogramdd(np.column_stack([ev["row"], ev["col"], ev["value"].astype(np.float64)]),
                            bins=(80, 80, 600), range=((0, 80), (0, 80), (0, 120)))
    assert np.array_equal(cube, ref.astype(np.uint32))


def test_discard_drops_neighbours_in_same_frame_only():
    # frame 0: (10,10) and (10,11) side neighbours -> both dropped; (40,40) isolated -> kept
    # frame 1: (10,10) alone -> kept (neighbour was in another frame)
    # frame 2: diagonal pair (5,5),(6,6): dropped with 8-connectivity, kept with 4
    ev = make_events([0, 0, 0, 1, 2, 2], [10, 10, 40, 10, 5, 6], [10, 11, 40, 11, 5, 6],
                     np.array([50, 40, 60, 70, 30, 35], np.float32))
    c8 = events_to_cube(ev, charge_sharing="discard")
    assert c8.sum() == 2 and c8[40, 40, 300] == 1 and c8[10, 11, 350] == 1
    c4 = events_to_cube(ev, charge_sharing="discard", connectivity=4)
    assert c4.sum() == 4 and c4[5, 5, 150] == 1 and c4[6, 6, 175] == 1


def test_add_sums_isolated_pairs_into_larger_pixel():
    ev = make_events([0, 0, 1, 1, 1], [10, 10, 20, 20, 21], [10, 11, 20, 21, 20],
                     np.array([60.0, 33.5, 10.0, 20.0, 30.0], np.float32))
    cube = events_to_cube(ev, charge_sharing="add")
    # pair (60 + 33.5 = 93.5 keV) lands in the pixel with 60 keV; the L-shaped triple is dropped
    assert cube.sum() == 1 and cube[10, 10, int(93.5 / 0.2)] == 1


def test_deterministic_whatever_the_thread_count():
    ev = random_events(3_000_000, per_frame=40, seed=1)
    a = events_to_cube(ev, charge_sharing="discard", n_threads=1)
    b = events_to_cube(ev, charge_sharing="discard", n_threads=2)
    assert a.tobytes() == b.tobytes()
    assert 0.7 * ev.size < a.sum() < ev.size  # random coincidences drop some


def test_per_pixel_calibration_and_mask():
    rng = np.random.default_rng(4)
    ev = random_events(50_000, seed=2)
    ev = ev[ev["value"] > 2.0]
    gain = rng.uniform(0.02, 0.04, (80, 80))
    off = rng.uniform(-1, 1, (80, 80))
    # store as pulse heights so that gain * adu + off reproduces the energies
    adu = ev.copy()
    adu["value"] = ((ev["value"] - off[ev["row"], ev["col"]]) / gain[ev["row"], ev["col"]]).astype(np.float32)
    mask = np.ones((80, 80), bool)
    mask[3, 4] = False
    cube = events_to_cube(adu, gain_kev_per_unit=gain, offset_kev=off, pixel_mask=mask,
                          charge_sharing="none", e_min_kev=-5.0, e_max_kev=125.0, bin_width_kev=0.5)
    e = (adu["value"].astype(np.float32) * gain[adu["row"], adu["col"]].astype(np.float32)
         + off[adu["row"], adu["col"]].astype(np.float32))
    keep = ~((adu["row"] == 3) & (adu["col"] == 4))
    ref, _ = np.histogramdd(np.column_stack([adu["row"][keep], adu["col"][keep], e[keep]]),
                            bins=(80, 80, 260), range=((0, 80), (0, 80), (-5, 125)))
    assert cube[3, 4].sum() == 0
    assert np.abs(cube.astype(int) - ref).sum() <= 2  # float32 rounding at bin edges


def test_file_round_trip_and_streaming(tmp_path):
    ev = random_events(100_000, seed=3)
    p = write_events(tmp_path / "x.ssbevt", ev, metadata={"state": "pristine"}, frame_rate_hz=9000.0)
    h = read_event_header(p)
    assert h.n_events == ev.size and h.metadata == {"state": "pristine"} and h.frame_rate_hz == 9000.0
    back, _ = read_events(p)
    assert np.array_equal(back, ev)
    chunks = list(iter_event_chunks(p, chunk_events=7_000))
    assert sum(c.size for c in chunks) == ev.size
    # no frame split between chunks
    for a, b in zip(chunks[:-1], chunks[1:]):
        assert a["frame"][-1] < b["frame"][0]
    streamed = events_to_cube(p, chunk_events=7_000)
    assert np.array_equal(streamed, events_to_cube(ev))


def test_truncated_and_foreign_files(tmp_path):
    ev = random_events(1_000, seed=4)
    p = write_events(tmp_path / "x.ssbevt", ev)
    data = p.read_bytes()
    t = tmp_path / "t.ssbevt"
    t.write_bytes(data[:-5])
    with pytest.raises(FileFormatError, match="truncated"):
        events_to_cube(t)
    f = tmp_path / "f.bin"
    f.write_bytes(b"\x00" * 100)
    with pytest.raises(FileFormatError, match="magic"):
        read_events(f)
    (tmp_path / "s.bin").write_bytes(b"SSB")
    with pytest.raises(FileFormatError, match="shorter"):
        read_events(tmp_path / "s.bin")


def test_bad_events():
    ev = make_events([0, 1], [5, 85], [5, 5], np.array([10, 10], np.float32))
    with pytest.raises(InputError, match="outside the 80x80 pixel range"):
        events_to_cube(ev)
    ev = make_events([0, 1], [5, 6], [5, 5], np.array([10, -3], np.float32))
    with pytest.raises(InputError, match="negative energies"):
        events_to_cube(ev)
    ev = make_events([3, 1], [5, 6], [5, 5], np.array([10, 3], np.float32))
    with pytest.raises(InputError, match="not sorted by frame"):
        events_to_cube(ev)
    with pytest.raises(InputError, match="not sorted"):
        write_events("/tmp/never.ssbevt", ev)
    assert events_to_cube(np.zeros(0, EVENT_DTYPE)).sum() == 0
