"""Flat/dark correction, zingers, ring removal and the centre search, on analytic data and twins."""

import numpy as np
import pytest

from ssbscope.errors import (
    DataQualityError,
    EmptyResultError,
    InputError,
    ParameterError,
)
from ssbscope.tomo import (
    fbp,
    find_center,
    flat_dark_correct,
    remove_rings,
    remove_zingers,
)
from ssbscope.tomo.prep import minus_log, normalize_offsets, stripe_offsets
from ssbscope.twin import ct


@pytest.fixture(scope="module")
def cell001():
    return ct.anode_free_001(3.0, n_xy=64, n_z=80, seed=0)


def test_flat_dark_beer_lambert_exact():
    rng = np.random.default_rng(0)
    line = rng.uniform(0, 2, size=(5, 3, 8))
    flat = rng.uniform(800, 1200, size=(3, 8))
    dark = rng.uniform(90, 110, size=(3, 8))
    counts = dark + (flat - dark) * np.exp(-line)
    flats = np.stack([flat] * 4)
    darks = np.stack([dark] * 3)
    out = flat_dark_correct(counts, flats, darks)
    assert out.dtype == np.float32 and out.shape == counts.shape
    assert np.allclose(out, line, atol=1e-5)
    t = flat_dark_correct(counts, flats, darks, log_transform=False)
    assert np.allclose(t, np.exp(-line), rtol=1e-5)
    # 2-D sinogram input with 1-D flats
    s = flat_dark_correct(counts[:, 0, :], flat[0], dark[0])
    assert np.allclose(s, line[:, 0, :], atol=1e-5)
    assert np.allclose(minus_log(np.exp(-line)), line, atol=1e-5)


def test_flat_dark_errors_and_mask():
    p = np.full((4, 2, 6), 500.0)
    flats = np.full((3, 2, 6), 1000.0)
    darks = np.full((3, 2, 6), 100.0)
    with pytest.raises(InputError, match="flats: frame shape"):
        flat_dark_correct(p, flats[:, :, :5], darks)
    with pytest.raises(InputError, match="darks: frame shape"):
        flat_dark_correct(p, flats, darks[:, :1])
    bad = flats.copy()
    bad[:, 1, 2] = 100.0  # flat == dark
    with pytest.raises(DataQualityError, match=r"flats - darks <= 0 at 1 pixel\(s\)"):
        flat_dark_correct(p, bad, darks)
    swapped = flat_dark_correct  # flats and darks swapped: every pixel negative
    with pytest.raises(DataQualityError, match="swapped"):
        swapped(p, darks, flats)
    out = flat_dark_correct(p, bad, darks, bad_pixels="mask")
    assert np.all(np.isfinite(out))
    assert out[0, 1, 2] == pytest.approx(-np.log(400 / 900), rel=1e-5)  # neighbours' value
    nan = p.copy()
    nan[1, 0, 0] = np.nan
    with pytest.raises(DataQualityError, match="non-finite"):
        flat_dark_correct(nan, flats, darks)
    p0 = p.copy()
    flat_dark_correct(p, flats, darks)
    assert np.array_equal(p, p0)  # input untouched


def test_remove_zingers_replaces_outliers_only():
    rng = np.random.default_rng(1)
    base = np.tile(np.linspace(0, 1, 32), (10, 16, 1)).astype(np.float32)
    base += 0.002 * rng.standard_normal(base.shape).astype(np.float32)
    z = rng.random(base.shape) < 0.01
    dirty = (base - z * 3.0).astype(np.float32)  # line integrals: a zinger lowers -ln(I/I0)
    clean = remove_zingers(dirty, threshold=0.2)
    assert np.abs(clean - base)[z].max() < 0.05
    # as transmission (zingers high) with polarity="high"; the low rule leaves them
    np.testing.assert_array_equal(remove_zingers(-dirty, threshold=0.2, polarity="high"), -clean)
    np.testing.assert_array_equal(remove_zingers(-dirty, threshold=0.2), -dirty)
    assert np.array_equal(clean[~z & ~np.roll(z, 1, 2) & ~np.roll(z, -1, 2)],
                          dirty[~z & ~np.roll(z, 1, 2) & ~np.roll(z, -1, 2)])
    with pytest.raises(ParameterError, match="threshold"):
        remove_zingers(dirty, threshold=0)
    with pytest.raises(ParameterError, match="size"):
        remove_zingers(dirty, size=4)


def test_remove_zingers_keeps_a_layer_edge_and_finds_injected_spikes():
    """The 001_ twin's Cu disk seen edge-on: a 4-row cylinder of line integral up to
    1.76 above empty rows.  The old rule (two-sided 3 x 3 median, ``polarity="both",
    temporal=False``) replaced 42 % of its last row's pixels on the twin's own scans (and
    30 % of the two outer rows of the 3-row disk at the top; the window's median there is
    the 2nd-lowest of the six disk values, so wherever the chord changes by > 0.1 per pixel
    the pixel stands *above* it); the one-sided, temporal rule replaces none of them (here
    the old rule takes 28 % of that row).  Zingers (single frames, single pixels, 0.1 %
    density, lowering -ln by A = 0.3 / 1.0 on top of Poisson noise): 35 / 40 and 36 / 36 found (old rule 37 /
    40, 36 / 36); the 5 missed lie on the disk's last row where the chord is steep (the
    pixel stands > A above its median): the old rule's 2 extra replaced those for standing
    above the median and left them 0.44 off, against 0.30 left in place; mean error at the
    spikes 0.059 / 0.061 against 0.066 / 0.061, and 0 against 0.46 elsewhere.
    Measured on the twin folder (small, cases A / B, seeds 0 / 1, 5 scans each): pixels
    rewritten on the zinger-free scans 1.80-1.83 % -> 0.000 %; recall of injected spikes at
    A = 0.5 / 1.0 equal to the old rule's (99.1-100 %); at A = 0.12-0.2 (1.2-2 x the
    threshold, the noise level of the attenuating rows) up to 1.7 points lower, all of the
    difference pixels the old rule replaced for standing *above* their median, i.e. without
    the spike as well."""
    rng = np.random.default_rng(3)
    n_a, n_r, n_d = 60, 10, 40
    x = np.arange(n_d) - (n_d - 1) / 2
    chord = 2 * np.sqrt(np.clip(15.0 ** 2 - x ** 2, 0, None))       # px
    mu = np.zeros(n_r)
    mu[:4] = 1.76 / 30.0                                             # 1/px: the Cu rows
    line = np.broadcast_to(mu[None, :, None] * chord[None, None, :], (n_a, n_r, n_d))
    flux = 3e4
    counts = rng.poisson(flux * np.exp(-line)).astype(np.float64)
    old = dict(polarity="both", temporal=False)
    p = (-np.log(np.maximum(counts, 1) / flux)).astype(np.float32)
    assert (remove_zingers(p, **old) != p)[:, 3].mean() > 0.2        # 28 % of the last row
    assert np.array_equal(remove_zingers(p), p)                      # none of it now
    for amp in (0.3, 1.0):
        hit = rng.random(counts.shape) < 1e-3
        hit[:, 3, :] |= rng.random((n_a, n_d)) < 0.01                # more on that row
        pz = np.where(hit, p - np.float32(amp), p).astype(np.float32)
        n, o = remove_zingers(pz), remove_zingers(pz, **old)
        assert not ((n != pz) & ~hit).any()                         # no false positive
        assert ((n != pz) & hit).sum() >= (0.85 if amp < 0.5 else 1.0) * hit.sum()
        err_n, err_o = np.abs(n - p), np.abs(o - p)
        assert err_n[hit].mean() <= err_o[hit].mean() and err_n[hit].max() <= err_o[hit].max()
        # spikes only the old rule replaced (it replaced them for standing above their
        # median): its replacement is no closer to the truth than the spike left in place
        only_old = (o != pz) & (n == pz) & hit
        assert np.all(err_o[only_old] >= err_n[only_old])


def test_stripe_offsets_reduce_sparse_stripes_on_one_profile():
    # one sinogram's column means: a steep chord profile plus 5 % defective columns (3 % std)
    ratios = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        x = np.linspace(-1, 1, 200)
        prof = 0.3 * np.sqrt(np.clip(1 - x**2, 0, None)) + 0.05 * x
        stripes = 0.03 * rng.standard_normal(200) * (rng.random(200) < 0.05)
        noisy = prof + stripes + 5e-4 * rng.standard_normal(200)
        off = stripe_offsets(noisy)
        inner = np.abs(x) < 0.9  # the steep rim is excluded (too few smooth neighbours)
        ratios.append(np.std((noisy - off - prof)[inner]) / np.std(stripes[inner]))
    # measured 0.08-0.48 (mean 0.24) in 1-D; detector rows (2-D profiles) do better
    assert np.mean(ratios) < 0.35
    assert stripe_offsets(np.zeros(50)).tolist() == [0.0] * 50


def _ring_amplitude(stripe_maps, angles, inner):
    """RMS over the inner cell of the rings that angle-constant sinogram offsets make."""
    tot = []
    for st in stripe_maps:
        img = fbp(np.repeat(st[None, :], angles.size, axis=0), angles)
        tot.append(np.mean(img[inner] ** 2))
    return float(np.sqrt(np.mean(tot)))


@pytest.fixture(scope="module")
def ring_scans(cell001):
    # two scans sharing flats, darks and the defect map; only the residual gain errors of
    # 10 % of the pixels (3 % std) differ.  Rings = angle-constant part of the difference.
    kw = dict(n_angles=180, flux_photons=2e4, seed=4)
    a = cell001.scan(gain_error_std=0.03, gain_error_fraction=0.1, **kw)
    b = cell001.scan(gain_error_std=0.0, **kw)
    pa = flat_dark_correct(a.projections, a.flats, a.darks)
    pb = flat_dark_correct(b.projections, b.flats, b.darks)
    n = cell001.cell_mask.shape[0]
    yy, xx = np.mgrid[:n, :n]
    inner = (yy - n // 2) ** 2 + (xx - n // 2) ** 2 < (0.8 * 0.45 * n) ** 2  # 80 % of radius
    before = _ring_amplitude((pa - pb).mean(axis=0), a.angles_rad, inner)
    return a.angles_rad, pa, pb, inner, before


@pytest.mark.parametrize("method,goal", [("fit", 5.0), ("sorting", 3.0)])
def test_ring_removal_5x_without_biasing_the_mean(ring_scans, method, goal):
    ang, pa, pb, inner, before = ring_scans
    rr = remove_rings(pa, method=method)
    after = _ring_amplitude((rr - pb).mean(axis=0), ang, inner)
    assert before / after >= goal  # "fit": 7.3x measured, "sorting": ~4x
    # the mean attenuation of the cell is not biased by the removal: it moves the cell's mean
    # away from the error-free scan's by at most 0.25 % of it (measured: "fit" +0.05 %,
    # "sorting" -0.5 %, i.e. towards it).  The gain errors' own effect on the mean (~1 %) is no
    # ring; the old check (no further than the raw scan, no margin) compared two ~1 % numbers
    # and flipped with the twin's noise draw.
    rows = range(8, 56, 8)
    m_ref = np.mean([fbp(pb[:, r], ang)[inner].mean() for r in rows])
    m_raw = np.mean([fbp(pa[:, r], ang)[inner].mean() for r in rows])
    m_rr = np.mean([fbp(rr[:, r], ang)[inner].mean() for r in rows])
    assert abs(m_rr - m_ref) <= abs(m_raw - m_ref) + 0.0025 * abs(m_ref), (m_rr, m_raw, m_ref)


@pytest.fixture(scope="module")
def dense_twins():
    """The three twin cells scanned with a 0.5 % response error on EVERY detector pixel."""
    cells = {"coin_000": ct.coin_cell_000(n_xy=64, n_z=96, seed=0),
             "anode_free_001": ct.anode_free_001(3.0, n_xy=64, n_z=64, seed=0),
             "pellet_002": ct.soft_short_002(n_xy=64, n_z=64, seed=0)}
    out = {}
    for name, c in cells.items():
        sc = c.scan(n_angles=180, flux_photons=2e4, gain_error_std=0.005,
                    gain_error_fraction=1.0, seed=4)
        out[name] = (sc, flat_dark_correct(sc.projections, sc.flats, sc.darks))
    return out


def _rings_vs_truth(p, sc, rows, inner):
    """Ring amplitude: RMS over the inner cell of the FBP of the angle-constant part of the
    difference to the twin's exact line integrals (flat-field noise stripes count too)."""
    d = (p - sc.line_integrals).mean(axis=0)
    return _ring_amplitude(d[list(rows)], sc.angles_rad, inner)


@pytest.mark.parametrize("name", ["coin_000", "anode_free_001", "pellet_002"])
def test_normalize_removes_dense_gain_rings_5x(dense_twins, name):
    sc, pa = dense_twins[name]
    p0 = pa.copy()
    rr = remove_rings(pa, method="normalize")
    assert np.array_equal(pa, p0)  # input untouched
    assert np.array_equal(rr, remove_rings(pa, method="normalize"))  # deterministic
    n = pa.shape[2]
    yy, xx = np.mgrid[:n, :n]
    inner = (yy - n // 2) ** 2 + (xx - n // 2) ** 2 < (0.8 * 0.45 * n) ** 2
    rows = range(1, pa.shape[1], 3)
    ratio = _rings_vs_truth(pa, sc, rows, inner) / _rings_vs_truth(rr, sc, rows, inner)
    assert ratio >= 5.0  # measured 5.9x coin, 5.3x anode-free, 5.5x pellet ("fit": 1.0x)
    # mean not biased: (a) total attenuation (sum over the detector of each projection =
    # integral of mu over the slice) within 0.5 % of the truth and closer than before
    tot = lambda p: float(p.sum(dtype=np.float64))
    t_true = tot(sc.line_integrals)
    assert abs(tot(rr) - t_true) <= min(5e-3 * t_true, abs(tot(pa) - t_true))
    # (b) mean of the reconstructed inner cell: off from the truth's by no more than the gain
    # errors' own effect or 1 % (a ring-free scan with the same photon noise is 0.4-2.6 %
    # off at this size, the noise floor of this metric); measured 2.3 %, 0.9 %, 0.6 %
    mean = lambda p: np.mean([fbp(p[:, r], sc.angles_rad)[inner].mean() for r in rows])
    m_t = mean(sc.line_integrals)
    assert abs(mean(rr) - m_t) <= max(abs(mean(pa) - m_t), 0.01 * abs(m_t))


def test_normalize_sparse_defects_5x(cell001):
    # 10 % defective pixels at 3 %: rings vs the exact line integrals (vs a gain-error-free
    # scan sharing the flats it is 4.7x, as the flat-noise stripes are removed too)
    sc = cell001.scan(n_angles=180, flux_photons=2e4, gain_error_std=0.03,
                      gain_error_fraction=0.1, seed=4)
    pa = flat_dark_correct(sc.projections, sc.flats, sc.darks)
    n = pa.shape[2]
    yy, xx = np.mgrid[:n, :n]
    inner = (yy - n // 2) ** 2 + (xx - n // 2) ** 2 < (0.8 * 0.45 * n) ** 2
    rows = range(1, pa.shape[1], 3)
    rr = remove_rings(pa, method="normalize")
    ratio = _rings_vs_truth(pa, sc, rows, inner) / _rings_vs_truth(rr, sc, rows, inner)
    assert ratio >= 10.0  # measured 18x (64 rows); "fit" ~5x, "sorting" ~8x


def test_normalize_offsets_edges_and_bad_input():
    # a smooth profile with a steep cylinder rim gives (near) zero offsets; white stripes are
    # recovered in the smooth part
    x = np.linspace(-1, 1, 128)
    prof = 1.4 * np.sqrt(np.clip(1 - (x / 0.9) ** 2, 0, None))
    assert np.abs(normalize_offsets(prof)).max() < 1e-3
    rng = np.random.default_rng(2)
    e = 0.005 * rng.standard_normal(128)
    off = normalize_offsets(prof + e)
    mid = np.abs(x) < 0.7
    assert np.std((e - off)[mid]) < 0.6 * np.std(e[mid])
    with pytest.raises(ParameterError, match="half_width"):
        normalize_offsets(prof[:10])
    with pytest.raises(ParameterError, match="k_edge"):
        normalize_offsets(prof, k_edge=0)
    with pytest.raises(InputError, match="profile"):
        normalize_offsets(np.zeros((2, 2, 20)))


def test_remove_rings_default_is_normalize_and_narrow_detectors(dense_twins):
    _sc, pa = dense_twins["pellet_002"]
    sub = pa[:, 20:23]
    assert np.array_equal(remove_rings(sub), remove_rings(sub, method="normalize"))
    # 4 columns: too few for the normalisation, the sorting step alone is applied
    narrow = sub[:, :, 30:34]
    assert np.array_equal(remove_rings(narrow), remove_rings(narrow, method="sorting", size=7))
    with pytest.raises(ParameterError, match="norm_half_width"):
        remove_rings(sub, norm_half_width=1)


def test_remove_rings_bad_input():
    s = np.zeros((10, 20), np.float32)
    with pytest.raises(ParameterError, match="method"):
        remove_rings(s, method="wavelet")
    with pytest.raises(ParameterError, match="size"):
        remove_rings(s, method="normalize", size=4)
    s[2, 3] = np.nan
    with pytest.raises(DataQualityError, match="NaN"):
        remove_rings(s)
    with pytest.raises(DataQualityError, match="NaN"):
        remove_rings(s, method="normalize")


def test_find_center_twin_within_half_pixel(cell001):
    # gain errors, zingers and Poisson noise; the axis 2.3 px right of the detector middle
    sc = cell001.scan(n_angles=180, flux_photons=2e4, gain_error_std=0.02,
                      gain_error_fraction=0.1, zinger_fraction=1e-4, center_offset_px=2.3, seed=3)
    p = flat_dark_correct(sc.projections, sc.flats, sc.darks)
    assert find_center(p, sc.angles_rad) == pytest.approx(sc.center_px, abs=0.5)


def test_find_center_360_offset(cell001):
    sc = cell001.scan(n_angles=240, flux_photons=2e4, scan="360-offset",
                      center_offset_px=-20.0, seed=5)
    p = flat_dark_correct(sc.projections, sc.flats, sc.darks)
    c = find_center(p, sc.angles_rad, scan="360-offset")
    assert c == pytest.approx(sc.center_px, abs=0.5)


def test_find_center_bad_input():
    p = np.random.default_rng(0).random((20, 32))
    with pytest.raises(InputError, match="do not match"):
        find_center(p, np.linspace(0, np.pi, 19))
    with pytest.raises(InputError, match="180 deg"):
        find_center(p, np.linspace(0, np.pi / 2, 20))
    q = p.copy()
    q[0, 0] = np.inf
    with pytest.raises(DataQualityError, match="NaN/inf"):
        find_center(q, np.linspace(0, np.pi, 20, endpoint=False))
    with pytest.raises(EmptyResultError, match="constant"):
        find_center(np.ones((20, 32)), np.linspace(0, np.pi, 20, endpoint=False))
