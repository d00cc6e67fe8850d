"""Real neutron radiograph series through ``ssbscope run`` stages (ssbscope.neutron.stages.input_stages)."""


import numpy as np
import pytest

from ssbscope.config import from_dict
from ssbscope.errors import FileFormatError, ParameterError
from ssbscope.neutron import write_tiff_series
from ssbscope.pipeline import run
from ssbscope.store import Store
from ssbscope.testing import realdata_dir
from ssbscope.workflow import stages_for

NEUTRON = realdata_dir("neutron")


def _run(tmp_path, items, analysis=None):
    exp = from_dict({"name": "t", "inputs": {"neutron": items}, "analysis": {"neutron": analysis or {}}},
                    base_dir=tmp_path)
    store = Store.create(tmp_path / "s.zarr")
    run(stages_for(exp), store, raw_dir=tmp_path / "raw", config=exp, quiet=True)
    return store


@pytest.mark.skipif(not NEUTRON.exists(), reason="shared/realdata/neutron not present")
def test_real_ibeatles_tof_series(tmp_path):
    from astropy.io import fits

    files = sorted(NEUTRON.glob("ibeatles_Image019_0026*.fits"))
    st = _run(tmp_path, [{"path": str(NEUTRON / "ibeatles_Image019_0026*.fits"), "format": "fits",
                          "label": "ib", "flight_path_m": 16.0}])
    ds = st["neutron/input/ib"].load()
    raw = np.stack([fits.getdata(f).astype(np.float64) for f in files])
    assert ds["counts"].shape == (3, 512, 512) and "transmission" not in ds
    assert ds.attrs["normalised"] in (False, "False") and ds.attrs["normalisation"].startswith("none")
    # time-of-flight header values of every frame, and the wavelength from L = 16 m
    tof = [fits.getheader(f)["TOF"] for f in files]
    np.testing.assert_allclose(ds["tof_s"].values, tof, rtol=1e-12)
    np.testing.assert_allclose(ds["wavelength_a"].values, 3956.034 * np.asarray(tof) / 16.0, rtol=1e-9)
    np.testing.assert_array_equal(ds["n_counts"].values, [fits.getheader(f)["N_COUNTS"] for f in files])
    assert "time_s" not in ds.coords  # no frame time in these headers: none is invented
    # TOF frames are wavelength channels: never median-binned, and the dataset says why
    assert ds.attrs["binning"].startswith("none: time-of-flight series")
    assert "bin" not in ds.dims and "count_ratio" not in ds and "ratio_profile" not in ds
    # gamma-spot removal touches a few pixels only; the rest are the file's values
    changed = ds["counts"].values != raw.astype(np.float32)
    assert (changed.sum(axis=(1, 2)) == ds["n_gamma_spots"].values).all()
    assert 0 < changed.sum() < 1e-3 * changed.size
    np.testing.assert_allclose(ds["mean_counts"].values, raw.mean(axis=(1, 2)), rtol=1e-3)
    np.testing.assert_allclose(ds["profile_counts"].values.mean(axis=1), ds["mean_counts"].values, rtol=1e-5)


@pytest.mark.skipif(not NEUTRON.exists(), reason="shared/realdata/neutron not present")
def test_real_tof_series_binned_on_request_says_channels(tmp_path, caplog):
    # an explicit bin_frames bins a TOF stack, but the dataset and the log say the bins are
    # wavelength-channel groups, not times
    with caplog.at_level("WARNING", logger="ssbscope.neutron.stages"):
        st = _run(tmp_path, [{"path": str(NEUTRON / "ibeatles_Image019_0026*.fits"), "format": "fits",
                              "label": "ib", "flight_path_m": 16.0, "bin_frames": 3}])
    ds = st["neutron/input/ib"].load()
    assert ds.sizes["bin"] == 1 and "count_ratio" in ds
    assert "wavelength-channel groups" in ds.attrs["binning"], ds.attrs["binning"]
    assert any("time-of-flight" in r.getMessage() and "bin_frames=3" in r.getMessage()
               for r in caplog.records), caplog.text


def test_normalised_series_with_times(tmp_path):
    rng = np.random.default_rng(3)
    ny, nx, nt = 24, 32, 6
    t_map = np.clip(0.3 + 0.6 * rng.random((ny, nx)), 0, 1)
    ob = np.full((ny, nx), 4000.0)
    df = np.full((ny, nx), 100.0)
    ob[2, 3] = 90.0  # a dead open-beam pixel: OB <= DF
    expect = np.stack([t_map * (1 - 0.02 * k) for k in range(nt)])
    exact = df + expect * (ob - df)
    noisy = df + rng.poisson(np.clip(expect * (ob - df), 0, None)).astype(float)
    noisy[3, 10, 12] += 3000.0  # a gamma spot
    for name, fr in (("exact", exact), ("noisy", noisy)):
        write_tiff_series(tmp_path / name, fr.astype(np.float32), 10.0 * np.arange(nt))
    write_tiff_series(tmp_path / "ob", ob[None].astype(np.float32), [0.0])
    write_tiff_series(tmp_path / "df", df[None].astype(np.float32), [0.0])
    st = _run(tmp_path, [{"path": "exact", "open_beam": "ob", "dark": "df", "time_s": 100.0,
                          "label": "exact", "gamma_filter": False, "pixel_size_um": 55.0},
                         {"path": "noisy", "open_beam": "ob", "dark": "df", "label": "noisy"}])
    ds = st["neutron/input/exact"].load()
    tr = ds["transmission"].values
    np.testing.assert_allclose(ds["time_s"].values, 100.0 + 10.0 * np.arange(nt))
    assert ds["mask_reason"].values[2, 3] == 1 and np.isnan(tr[:, 2, 3]).all()
    assert int((ds["mask_reason"].values != 0).sum()) == 1
    ok = np.ones(tr.shape, bool)
    ok[:, 2, 3] = False
    np.testing.assert_allclose(tr[ok], expect[ok], rtol=1e-5)  # Eq. 1, float32
    np.testing.assert_allclose(ds["mean_transmission"].values, np.nanmean(tr, axis=(1, 2)), rtol=1e-6)
    assert "fewer than analysis.neutron.bin_frames=30" in ds.attrs["binning"] and "bin" not in ds.dims
    # with counting noise: the spot is replaced, other pixels within 5 Poisson sigmas of the truth
    dn = st["neutron/input/noisy"].load()
    tn = dn["transmission"].values
    with np.errstate(invalid="ignore"):
        sig = np.sqrt(expect * (ob - df)) / (ob - df)
    ok[3, 10, 12] = False
    assert np.all(np.abs(tn - expect)[ok] < 5 * sig[ok])
    assert abs(tn[3, 10, 12] - expect[3, 10, 12]) < 5 * sig[3, 10, 12]
    assert dn["n_gamma_spots"].values[3] >= 1
    assert dn["n_gamma_spots"].values.sum() < 1e-3 * tn.size + 1
    # physical coordinates of the pixel centres with a pixel size (issue 15 §1), the pixel
    # indices kept as the dimension coordinates (ROIs are given in pixels); none without one
    for d, n in (("y", ny), ("x", nx)):
        c = ds[f"{d}_um"]
        assert c.dims == (d,) and c.attrs["units"] == "um"
        np.testing.assert_allclose(c.values, (np.arange(n) + 0.5) * 55.0, rtol=1e-12)
        np.testing.assert_array_equal(ds[d].values, np.arange(n))
    assert "y_um" not in dn.coords and "x_um" not in dn.coords


def test_bad_inputs_name_the_file(tmp_path):
    write_tiff_series(tmp_path / "s", np.ones((3, 8, 8), np.float32), [0.0, 1.0, 2.0])
    write_tiff_series(tmp_path / "ob", np.ones((1, 4, 4), np.float32), [0.0])
    with pytest.raises(FileFormatError, match="nothere.fits"):
        _run(tmp_path, [{"path": "nothere.fits"}])
    with pytest.raises(FileFormatError, match="frame_00000.tif.*not a FITS"):
        _run(tmp_path, [{"path": "s", "format": "fits"}])
    with pytest.raises(FileFormatError, match="open_beam frames"):
        _run(tmp_path, [{"path": "s", "open_beam": "ob"}])


# --------------------------------------------------------------------------- binning (002_ Methods)

NT, DT_S, NY, NX = 65, 10.0, 20, 16
BAND = slice(8, 12)  # rows whose transmission drops 0.60 -> 0.45 at frame 35 (t = 350 s)


def _operando(tmp_path):
    """65 Poisson frames 10 s apart, open beam, dark (one dead open-beam pixel), a dropping band."""
    rng = np.random.default_rng(11)
    ob = np.full((NY, NX), 4000.0)
    df = np.full((NY, NX), 100.0)
    ob[2, 3] = 90.0  # dead: OB <= DF, masked
    tr = np.full((NT, NY, NX), 0.60)
    tr[35:, BAND, :] = 0.45
    frames = (df + rng.poisson(tr * np.clip(ob - df, 0, None))).astype(np.float32)
    write_tiff_series(tmp_path / "s", frames, DT_S * np.arange(NT))
    write_tiff_series(tmp_path / "ob", ob[None].astype(np.float32), [0.0])
    write_tiff_series(tmp_path / "df", df[None].astype(np.float32), [0.0])
    return frames.astype(np.float64), ob, df


def _groups(a, n):
    g = a.shape[0] // n
    return np.median(a[: g * n].reshape((g, n) + a.shape[1:]), axis=1)


def test_operando_series_median_binned_to_ratio_and_space_time_map(tmp_path):
    frames, ob, df = _operando(tmp_path)
    st = _run(tmp_path, [{"path": "s", "open_beam": "ob", "dark": "df", "label": "op",
                          "gamma_filter": False}])
    ds = st["neutron/input/op"].load()
    # independent reference: Eq. 1 in float64 numpy, median of each 30-frame group
    with np.errstate(divide="ignore", invalid="ignore"):
        eq1 = (frames - df) / (ob - df)
    expect = _groups(eq1, 30)
    expect[:, 2, 3] = np.nan
    b = ds["transmission_binned"]
    assert b.dims == ("bin", "y", "x") and b.shape == (2, NY, NX)  # 65 // 30; frames 60-64 dropped
    np.testing.assert_allclose(b.values, expect, rtol=2e-6, equal_nan=True)  # float32
    assert ds.attrs["frames_dropped"] == 5 and "trailing 5 frame(s) (60-64) dropped" in ds.attrs["binning"]
    np.testing.assert_array_equal(ds["frame_first"].values, [0, 30])
    np.testing.assert_array_equal(ds["frame_last"].values, [29, 59])
    np.testing.assert_allclose(ds["time_s_bin"].values, [DT_S * np.arange(0, 30).mean(),
                                                        DT_S * np.arange(30, 60).mean()])  # 145, 445 s
    # Tr_t/Tr_0 against bin 0; the dead open-beam pixel stays NaN in every bin
    r = ds["transmission_ratio"].values
    np.testing.assert_allclose(r, expect / expect[0], rtol=4e-6, equal_nan=True)
    assert np.isnan(b.values[:, 2, 3]).all() and np.isnan(r[:, 2, 3]).all()
    assert np.isfinite(np.delete(r.reshape(2, -1), 2 * NX + 3, axis=1)).all()
    # space-time map: the band's rows fall to 0.45/0.60 = 0.75 in bin 1 (25 of its 30 frames
    # after the drop), all other rows and bin 0 stay at 1 (counting noise of a 16-px row mean
    # of 30-frame medians ~0.2 %)
    p = ds["ratio_profile"]
    assert p.dims == ("bin", "y")
    np.testing.assert_allclose(p.values, np.nanmean(r, axis=2), rtol=1e-6)
    assert np.allclose(p.values[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(p.values[1, BAND], 0.75, atol=0.01)
    others = np.ones(NY, bool)
    others[BAND] = False
    np.testing.assert_allclose(p.values[1, others], 1.0, atol=0.01)


def test_raw_count_series_gives_count_ratio_with_explicit_bins(tmp_path):
    frames, ob, df = _operando(tmp_path)
    st = _run(tmp_path, [{"path": "s", "dark": "df", "label": "raw", "gamma_filter": False,
                          "bin_frames": 20}], analysis={"reference_index": 1})
    ds = st["neutron/input/raw"].load()
    assert "transmission_ratio" not in ds and ds["counts_binned"].shape == (3, NY, NX)
    expect = _groups(frames - df, 20)  # dark-subtracted counts, frames 60-64 dropped
    np.testing.assert_allclose(ds["counts_binned"].values, expect, rtol=1e-6)
    cr = ds["count_ratio"]
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(cr.values, expect / expect[1], rtol=4e-6)
    # the dead open-beam pixel has 0 dark-subtracted counts: invalid reference -> NaN
    assert np.isnan(cr.values[:, 2, 3]).all() and np.isfinite(cr.values).sum() == 3 * (NY * NX - 1)
    assert cr.attrs["reference_bin"] == 1 and "stable" in cr.attrs["description"]
    assert "dark subtracted" in cr.attrs["description"]
    prof = ds["ratio_profile"].values
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(prof, np.nanmean(expect / expect[1], axis=2), rtol=1e-5)
    # bins: frames 0-19, 20-39 (15 of 20 before the drop at frame 35: median still ~0.60, pulled
    # ~0.9 % low by the 5 low frames = 0.43 sigma of the 2 % pixel noise), 40-59 (all after):
    # against bin 1 the band stays ~1 in bin 0 and falls to ~0.75 in bin 2
    np.testing.assert_allclose(prof[0, BAND], 1.0, atol=0.02)
    np.testing.assert_allclose(prof[2, BAND], 0.45 / 0.60, atol=0.02)
    np.testing.assert_allclose(np.delete(prof, np.r_[BAND], axis=1), 1.0, atol=0.01)


def test_binning_off_or_too_long(tmp_path):
    _operando(tmp_path)
    st = _run(tmp_path, [{"path": "s", "open_beam": "ob", "label": "off", "bin_frames": 1}])
    ds = st["neutron/input/off"]
    assert ds.attrs["binning"].startswith("none: bin_frames=1")
    assert "bin" not in ds.dims and "transmission_binned" not in ds
    with pytest.raises(ParameterError, match=r"bin_frames=100: exceeds the 65 frame\(s\) .*/s\b"):
        _run(tmp_path, [{"path": "s", "label": "long", "bin_frames": 100}])


def test_pixels_empty_in_a_bin_are_counted_not_masked_ones(tmp_path):
    # a pixel without any finite frame in bin 0 (e.g. saturated, NaN-flagged) but valid later
    # is NaN in that bin and counted in empty_pixels; the masked dead pixel is not counted
    frames, ob, df = _operando(tmp_path)
    frames = frames.astype(np.float32)
    frames[:30, 5, 6] = np.nan
    write_tiff_series(tmp_path / "s", frames, DT_S * np.arange(NT))
    st = _run(tmp_path, [{"path": "s", "open_beam": "ob", "dark": "df", "label": "op",
                          "gamma_filter": False}])
    ds = st["neutron/input/op"].load()
    np.testing.assert_array_equal(ds["empty_pixels"].values, [1, 0])
    assert np.isnan(ds["transmission_binned"].values[0, 5, 6])
    assert np.isfinite(ds["transmission_binned"].values[1, 5, 6])
    assert np.isnan(ds["transmission_binned"].values[:, 2, 3]).all()  # masked, not counted


def test_fixed_colour_range_of_space_time_maps(tmp_path):
    from ssbscope.report.neutron import _input_spacetime_figure

    _operando(tmp_path)
    item = [{"path": "s", "open_beam": "ob", "dark": "df", "label": "op", "gamma_filter": False}]
    ds = _run(tmp_path, item, analysis={"ratio_half_range": 0.2})["neutron/input/op"].load()
    assert ds["ratio_profile"].attrs["colour_half_range"] == 0.2
    assert "colour range 1 ± 0.2 (analysis.neutron.ratio_half_range)" in _input_spacetime_figure(ds, "op")
    other = tmp_path / "b"
    other.mkdir()
    _operando(other)
    d2 = _run(other, item)["neutron/input/op"].load()
    assert "colour_half_range" not in d2["ratio_profile"].attrs
    assert "(this map&#x27;s largest deviation)" in _input_spacetime_figure(d2, "op")  # escaped
