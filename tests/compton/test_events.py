"""Events -> cube: exact counts vs numpy, charge-sharing rules, file format, bad input."""

import itertools

import numpy as np
import pytest

from ssbscope.compton import (
    EVENT_DTYPE,
    events_to_cube,
    iter_event_chunks,
    make_events,
    read_event_header,
    read_events,
    write_events,
)
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
    for a, b in itertools.pairwise(chunks):
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


# ----------------------------------------------------------------------------- references
def _reference_cube(ev, mode, connectivity, gain, off, mask, e_min, width, nbins, n=80):
    """Straightforward per-frame reference: pixel clusters from scipy.ndimage.label."""
    from scipy import ndimage

    structure = ndimage.generate_binary_structure(2, 2 if connectivity == 8 else 1)
    cube = np.zeros((n, n, nbins), np.int64)
    frames = ev["frame"]
    starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]])
    ends = np.r_[starts[1:], frames.size]
    for a, b in zip(starts, ends):
        r = ev["row"][a:b].astype(int)
        c = ev["col"][a:b].astype(int)
        e = ev["value"][a:b].astype(np.float32) * gain[r, c].astype(np.float32) \
            + off[r, c].astype(np.float32)
        occ = np.zeros((n, n), int)
        np.add.at(occ, (r, c), 1)
        keep_e, keep_r, keep_c = [], [], []
        if mode == "discard":
            nb = ndimage.convolve(occ, structure.astype(int), mode="constant") - occ
            ok = (occ[r, c] == 1) & (nb[r, c] == 0)
            keep_e, keep_r, keep_c = e[ok], r[ok], c[ok]
        else:  # "add": singles kept, isolated two-pixel clusters summed into the larger signal
            lab, nlab = ndimage.label(occ > 0, structure)
            for lbl in range(1, nlab + 1):
                idx = np.flatnonzero(lab[r, c] == lbl)
                if idx.size == 1:
                    keep_e.append(e[idx[0]]); keep_r.append(r[idx[0]]); keep_c.append(c[idx[0]])
                elif idx.size == 2 and (lab == lbl).sum() == 2:
                    i, j = idx if e[idx[0]] >= e[idx[1]] else idx[::-1]
                    keep_e.append(np.float32(e[i] + e[j])); keep_r.append(r[i]); keep_c.append(c[i])
            keep_e, keep_r, keep_c = np.array(keep_e, np.float32), np.array(keep_r, int), np.array(keep_c, int)
        xi = np.floor((keep_e.astype(np.float64) - e_min) / width).astype(np.int64)
        ok = (xi >= 0) & (xi < nbins) & mask[keep_r, keep_c]
        np.add.at(cube, (keep_r[ok], keep_c[ok], xi[ok]), 1)
    return cube


@pytest.mark.parametrize("mode", ["discard", "add"])
@pytest.mark.parametrize("connectivity", [4, 8])
def test_charge_sharing_matches_per_frame_reference(mode, connectivity):
    # dense frames (300 hits on 80 x 80 pixels): many neighbours, twins and clusters; per-pixel
    # gain/offset, a pixel mask and frames that straddle the kernel's 8192-record blocks
    rng = np.random.default_rng(11)
    n = 30_000
    fr = np.sort(rng.integers(0, n // 300, n))
    ev = make_events(fr, rng.integers(0, 80, n), rng.integers(0, 80, n),
                     rng.uniform(5, 3000, n).astype(np.float32))
    gain = rng.uniform(0.018, 0.022, (80, 80))
    off = rng.uniform(-0.5, 0.5, (80, 80))
    mask = rng.random((80, 80)) > 0.05
    cube = events_to_cube(ev, charge_sharing=mode, connectivity=connectivity, gain_kev_per_unit=gain,
                          offset_kev=off, pixel_mask=mask, e_min_kev=0.0, e_max_kev=120.0,
                          bin_width_kev=0.5)
    ref = _reference_cube(ev, mode, connectivity, gain, off, mask, 0.0, 0.5, 240)
    assert ref.sum() > 1000 and ref.sum() < 0.9 * n  # the rule really removes hits
    assert cube[~mask].sum() == 0
    # identical counts (float32 energies as in the kernel; with this seed no energy falls on
    # a bin edge where multiplying by 1/width and dividing by width could differ)
    diff = np.abs(cube.astype(np.int64) - ref).sum()
    assert diff == 0, diff


def test_frame_longer_than_a_block():
    # one frame of 127 x 127 = 16129 hits on the even rows/columns of a 255 x 255 detector
    # (longer than the kernel's 8192-record block; no two lattice hits are neighbours), plus
    # (1, 1): diagonal neighbour of four lattice hits, and (10, 11): side neighbour of two;
    # between ordinary frames of isolated hits
    rr, cc = np.meshgrid(np.arange(0, 253, 2), np.arange(0, 253, 2), indexing="ij")
    rr, cc = rr.ravel(), cc.ravel()
    big = rr.size
    fr = np.r_[np.zeros(3), np.ones(big + 2), [2, 2]].astype(np.uint32)
    row = np.r_[[1, 5, 9], rr, [1, 10], [101, 201]]
    col = np.r_[[1, 5, 9], cc, [1, 11], [101, 201]]
    ev = make_events(fr, row, col, np.full(fr.size, 5.5, np.float32))
    kw = {"n_rows": 255, "n_cols": 255, "e_min_kev": 0.0, "e_max_kev": 10.0, "bin_width_kev": 1.0}
    c4 = events_to_cube(ev, charge_sharing="discard", connectivity=4, **kw)
    # 4-connectivity: (10, 10), (10, 11), (10, 12) dropped; (1, 1) has no side neighbour
    assert c4.sum() == 3 + big + 2 - 3 + 2
    assert c4[10, 10:13].sum() == 0 and c4[1, 1, 5] == 2 and c4[0, 0, 5] == 1
    c8 = events_to_cube(ev, charge_sharing="discard", connectivity=8, **kw)
    # 8-connectivity: also (1, 1) and its diagonal neighbours (0|2, 0|2) dropped
    assert c8.sum() == 3 + big + 2 - 3 - 5 + 2
    assert c8[1, 1, 5] == 1 and c8[0, 0].sum() == 0 and c8[2, 2].sum() == 0 and c8[4, 4, 5] == 1
    assert c8[101, 101, 5] == 1 and c8[201, 201, 5] == 1


def test_thread_counts_and_block_sizes_give_same_bytes():
    ev = random_events(2_500_000, per_frame=40, seed=5)
    for mode in ("none", "discard"):
        ref = events_to_cube(ev, charge_sharing=mode, n_threads=1)
        for th in (2, 3):
            assert events_to_cube(ev, charge_sharing=mode, n_threads=th).tobytes() == ref.tobytes()


def _crowded_events(n_frames=26_000, seed=21):
    """~1.05e6 hits sorted by frame: uniform hits plus dense clusters (a hit next to or on
    the previous one: neighbours, twins, chains), hits outside the 80 x 80 pixels, negative
    values, energies above the range, and one frame of 700 hits."""
    rng = np.random.default_rng(seed)
    per = rng.poisson(40, n_frames)
    per[n_frames // 2] = 700  # longer than a small block
    fr = np.repeat(np.arange(n_frames), per)
    n = fr.size
    r = rng.integers(0, 80, n)
    c = rng.integers(0, 80, n)
    near = np.flatnonzero(rng.random(n) < 0.3)  # 30 %: next to (or on) the previous hit
    near = near[near > 0]
    for _ in range(2):  # chains: apply twice so that clusters grow
        r[near] = np.clip(r[near - 1] + rng.integers(-1, 2, near.size), 0, 79)
        c[near] = np.clip(c[near - 1] + rng.integers(-1, 2, near.size), 0, 79)
    out = rng.random(n) < 0.01
    r[out] = rng.integers(80, 256, out.sum())
    out = rng.random(n) < 0.005
    c[out] = rng.integers(80, 256, out.sum())
    j = rng.integers(0, 620, n)  # bin index; 600-619 above the 0-120 keV range
    val = ((j + 0.5) * 0.2).astype(np.float32)  # bin centres: no rounding ambiguity
    neg = rng.random(n) < 0.01
    val[neg] = -val[neg]
    return make_events(fr, r, c, val), j


def _discard_reference(ev, j, connectivity, mask, n=80, nbins=600):
    """The "discard" rule by set membership: a valid hit is kept when no other valid hit of its
    frame lies on its pixel or on a 4-/8-neighbour (searchsorted over sorted (frame, pixel)
    keys)."""
    fr = ev["frame"].astype(np.int64)
    r = ev["row"].astype(np.int64)
    c = ev["col"].astype(np.int64)
    valid = (r < n) & (c < n) & (ev["value"] >= 0)

    def key(rr, cc):  # padded by one pixel on each side: neighbours never wrap
        return (fr * (n + 2) + rr + 1) * (n + 2) + cc + 1

    vk = np.sort(key(r, c)[valid])

    def count(rr, cc):
        k = key(rr, cc)
        return np.searchsorted(vk, k, side="right") - np.searchsorted(vk, k, side="left")

    offsets = [(0, 1), (0, -1), (1, 0), (-1, 0)]
    if connectivity == 8:
        offsets += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    crowded = count(r, c) > 1
    for dr, dc in offsets:
        crowded |= count(r + dr, c + dc) > 0
    keep = valid & ~crowded & (j < nbins)
    keep[valid] &= mask[r[valid], c[valid]]
    idx = (r[keep] * n + c[keep]) * nbins + j[keep]
    return np.bincount(idx, minlength=n * n * nbins).reshape(n, n, nbins)


@pytest.mark.parametrize("connectivity", [4, 8])
def test_discard_matches_set_membership_reference(connectivity, monkeypatch):
    # dense clusters, twins, invalid hits (check=False), frames cut by small blocks, a frame
    # longer than the block, and parts for 2 and 3 threads: same bytes as the reference
    from ssbscope.compton import events as events_module

    ev, j = _crowded_events()
    mask = np.random.default_rng(5).random((80, 80)) > 0.05
    ref = _discard_reference(ev, j, connectivity, mask)
    kept = ref.sum()
    assert 0.3 * ev.size < kept < 0.8 * ev.size  # the rule removes many hits, keeps many
    # unit gain / zero offset: the calibrated kernel path, same energies
    unit = {"gain_kev_per_unit": np.ones((80, 80)), "offset_kev": np.zeros((80, 80))}
    for block, threads, cal in ((1 << 13, 1, {}), (97, 2, {}), (4096, 3, {}), (97, 2, unit)):
        monkeypatch.setattr(events_module, "_BLOCK", block)
        cube = events_to_cube(ev, charge_sharing="discard", connectivity=connectivity,
                              pixel_mask=mask, n_threads=threads, check=False, **cal)
        assert cube.tobytes() == ref.astype(np.uint32).tobytes(), (block, threads, bool(cal))
    with pytest.raises(InputError, match="outside the 80x80 pixel range"):
        events_to_cube(ev, charge_sharing="discard")


def test_frame_of_more_than_65536_hits():
    # one frame: 127 x 127 isolated hits on the even rows/columns of a 255 x 255 detector
    # (all kept), then 54000 hits piled on pixel (254, 254) (no lattice neighbour; all
    # dropped).  The pile's hits sit past record 65536 of the frame, where a 16-bit owner
    # index would wrap onto (and wrongly reject) lattice hits.
    rr, cc = np.meshgrid(np.arange(0, 253, 2), np.arange(0, 253, 2), indexing="ij")
    pile = 54_000
    row = np.r_[rr.ravel(), np.full(pile, 254)]
    col = np.r_[cc.ravel(), np.full(pile, 254)]
    fr = np.r_[np.zeros(row.size, np.uint32), [1, 1]]  # then a frame with one side pair
    ev = make_events(fr, np.r_[row, 7, 7], np.r_[col, 7, 8], np.full(fr.size, 5.5, np.float32))
    assert ev.size > 65536 + 2
    kw = {"n_rows": 255, "n_cols": 255, "e_min_kev": 0.0, "e_max_kev": 10.0, "bin_width_kev": 1.0}
    for conn in (4, 8):
        cube = events_to_cube(ev, charge_sharing="discard", connectivity=conn, **kw)
        assert cube.sum() == rr.size and cube[254, 254].sum() == 0 and cube[7, 7:9].sum() == 0
        assert cube[0:253:2, 0:253:2, 5].all()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_photon_energies_are_refused_not_dropped(tmp_path, bad):
    """Reproduction (issue 14): NaN/inf energies in an event file were binned as 'out of range',
    i.e. dropped without a word.  Now refused naming the record; check=False counts them."""
    ev = random_events(5_000, seed=5)
    ev["value"][1234] = bad
    p = write_events(tmp_path / "nan.ssbevt", ev)
    with pytest.raises(InputError, match=r"nan\.ssbevt: 1 event\(s\) with a non-finite photon energy .* record 1234"):
        events_to_cube(p, chunk_events=1_000)
    with pytest.raises(InputError, match=r"events: 1 event\(s\) with a non-finite photon energy"):
        events_to_cube(ev)
    cube = events_to_cube(ev, check=False, charge_sharing="none")
    assert int(cube.sum()) == ev.size - 1
