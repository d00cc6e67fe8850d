"""Real neutron radiograph series through ``ssbscope run`` stages (ssbscope.neutron.stages.input_stages)."""

from pathlib import Path

import numpy as np
import pytest

from ssbscope.config import from_dict
from ssbscope.errors import FileFormatError
from ssbscope.neutron import write_tiff_series
from ssbscope.pipeline import run
from ssbscope.store import Store
from ssbscope.workflow import stages_for

NEUTRON = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "neutron"


def _run(tmp_path, items):
    exp = from_dict({"name": "t", "inputs": {"neutron": items}}, base_dir=tmp_path)
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
    # gamma-spot removal touches a few pixels only; the rest are the file's values
    changed = ds["counts"].values != raw.astype(np.float32)
    assert (changed.sum(axis=(1, 2)) == ds["n_gamma_spots"].values).all()
    assert 0 < changed.sum() < 1e-3 * changed.size
    np.testing.assert_allclose(ds["mean_counts"].values, raw.mean(axis=(1, 2)), rtol=1e-3)
    np.testing.assert_allclose(ds["profile_counts"].values.mean(axis=1), ds["mean_counts"].values, rtol=1e-5)


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
                          "label": "exact", "gamma_filter": False},
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


def test_bad_inputs_name_the_file(tmp_path):
    write_tiff_series(tmp_path / "s", np.ones((3, 8, 8), np.float32), [0.0, 1.0, 2.0])
    write_tiff_series(tmp_path / "ob", np.ones((1, 4, 4), np.float32), [0.0])
    with pytest.raises(FileFormatError, match="nothere.fits"):
        _run(tmp_path, [{"path": "nothere.fits"}])
    with pytest.raises(FileFormatError, match="frame_00000.tif.*not a FITS"):
        _run(tmp_path, [{"path": "s", "format": "fits"}])
    with pytest.raises(FileFormatError, match="open_beam frames"):
        _run(tmp_path, [{"path": "s", "open_beam": "ob"}])
