"""Readers on the real instrument files and on the twin's own writers."""


import numpy as np
import pytest

from ssbscope.errors import FileFormatError, InputError, UnsupportedFormatError
from ssbscope.testing import realdata_dir
from ssbscope.tomo import (
    fbp,
    find_center,
    flat_dark_correct,
    read_projections,
    read_volume,
)
from ssbscope.twin import ct

REAL = realdata_dir()
TOMO = REAL / "xray_tomo"
VOL = REAL / "ct_volume"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data folder {REAL} is absent")


@needs_real
def test_tooth_dxchange_reads_and_reconstructs():
    pd = read_projections(TOMO / "tomopy_tooth.h5")
    assert pd.format == "dxchange"
    assert pd.projections.shape == (181, 2, 640)
    assert pd.flats.shape == (10, 2, 640) and pd.darks.shape == (10, 2, 640)
    assert np.rad2deg(pd.angles_rad[[0, -1]]) == pytest.approx([0.0, 179.0055], abs=1e-3)
    p = flat_dark_correct(np.asarray(pd.projections), pd.flats, pd.darks)
    c = find_center(p, pd.angles_rad)
    assert 200 < c < 440  # on the detector, near its middle
    img = fbp(p[:, 0], pd.angles_rad, c)
    assert np.all(np.isfinite(img))
    # a compact high-attenuation object on a low background
    obj = img > 0.5 * np.percentile(img, 99.5)
    ys, xs = np.nonzero(obj)
    assert obj.mean() > 0.02
    assert np.ptp(ys) < 0.6 * img.shape[0] and np.ptp(xs) < 0.6 * img.shape[1]
    from scipy.ndimage import binary_dilation

    near = binary_dilation(obj, iterations=25)
    yy, xx = np.mgrid[:640, :640]
    circle = (yy - 320) ** 2 + (xx - 320) ** 2 < 300**2
    bg = img[circle & ~near]
    assert abs(np.median(bg)) < 0.05 * np.median(img[obj])
    # the centre found is better than the detector middle: a sharper (higher-variance) slice
    img_mid = fbp(p[:, 0], pd.angles_rad, 320.0)
    assert np.abs(np.diff(img, axis=1)).sum() <= np.abs(np.diff(img_mid, axis=1)).sum()


@needs_real
def test_k11_nxtomo_follows_links_and_reconstructs():
    path = TOMO / "k11-18014.nxs"
    # the angle datasets link to files that are not shipped: clear error, then fallback
    with pytest.raises(FileFormatError, match="missing"):
        read_projections(path)
    pd = read_projections(path, angles_deg=(0.0, 180.0))
    assert pd.format == "nxtomo"
    assert pd.projections.shape == (3001, 22, 26)
    assert pd.flats.shape == (100, 22, 26) and pd.darks.shape == (100, 22, 26)
    assert pd.metadata["n_projections"] == 3001
    assert pd.metadata["start_time"].startswith("2022-10-15T13:49")  # scan time from the file
    assert str(pd.projections.dtype) == "uint16"
    assert pd.flats.mean() > 10 * pd.darks.mean()  # flats are open beam, darks are dark
    p = flat_dark_correct(np.asarray(pd.projections), pd.flats, pd.darks)
    assert np.all(np.isfinite(p))
    assert p.mean() > 0  # the sample attenuates
    c = find_center(p, pd.angles_rad)
    assert 0 <= c <= 25
    img = fbp(p[:, 10], pd.angles_rad, c)
    assert img.shape == (26, 26) and np.all(np.isfinite(img))
    with pytest.raises(InputError, match="angles"):
        read_projections(path, angles_deg=np.zeros(5))


@needs_real
def test_real_ct_volumes():
    v = read_volume(VOL / "taufactor_electrode.tiff")
    assert v.shape == (256, 256, 256) and v.format == "tiff"
    import dask.array as da

    assert isinstance(v.data, da.Array)  # lazy
    assert set(np.unique(v.data[::16].compute()).tolist()) == {0, 85, 170}
    s = read_volume(VOL / "battxct_im_1.tif")
    assert s.shape == (1, 576, 576) and s.data.dtype == np.uint16
    f = read_volume(VOL, pattern="battxct_cell_vol_*.tif")
    assert f.shape == (4, 728, 728) and f.format == "tiff-folder"
    assert f.metadata["first"] == "battxct_cell_vol_im049.tif"
    one = read_volume(VOL / "battxct_cell_vol_im051.tif").data[0].compute()
    assert np.array_equal(f.data[2].compute(), one)
    x = f.to_xarray()
    assert x.dims == ("z", "y", "x")


def test_twin_dxchange_round_trip(tmp_path):
    ph = ct.soft_short_002(n_xy=32, n_z=48, seed=1)
    sc = ph.scan(n_angles=40, seed=2)
    path = ct.write_dxchange(tmp_path / "scan.h5", sc)
    pd = read_projections(path)
    assert np.array_equal(np.asarray(pd.projections), sc.projections)
    assert np.array_equal(pd.flats, sc.flats) and np.array_equal(pd.darks, sc.darks)
    assert np.allclose(pd.angles_rad, sc.angles_rad)
    assert pd.metadata["pixel_size_um"] == pytest.approx(1.62)
    assert pd.metadata["rotation_center_px"] == pytest.approx(sc.center_px)


def test_twin_tiff_and_hdf5_volumes_round_trip(tmp_path):
    import h5py

    ph = ct.coin_cell_000("pristine", n_xy=32, n_z=64, li_thickness_um=40.0, seed=0)
    f = ct.write_tiff_volume(tmp_path / "v.tif", ph.mu_per_voxel, voxel_size_um=3.24)
    v = read_volume(f)
    assert v.voxel_size_um == pytest.approx(3.24, rel=1e-4)
    assert np.array_equal(v.data.compute(), ph.mu_per_voxel)
    d = ct.write_tiff_volume(tmp_path / "slices", ph.labels, voxel_size_um=3.24, as_folder=True)
    w = read_volume(d)
    assert w.voxel_size_um == pytest.approx(3.24, rel=1e-4)
    assert np.array_equal(w.data.compute(), ph.labels)
    with h5py.File(tmp_path / "v.h5", "w") as h:
        ds = h.create_dataset("recon/volume", data=ph.labels, chunks=(8, 32, 32))
        ds.attrs["voxel_size_um"] = 3.24
        h.create_dataset("other", data=np.zeros(5))
    hv = read_volume(tmp_path / "v.h5")
    assert hv.metadata["dataset"] == "recon/volume" and hv.voxel_size_um == 3.24
    assert hv.data.chunks[0][0] == 8
    assert np.array_equal(hv.data[10:12].compute(), ph.labels[10:12])


def test_reader_errors(tmp_path):
    import tifffile

    with pytest.raises(FileFormatError, match="does not exist"):
        read_volume(tmp_path / "nope.tif")
    (tmp_path / "x.raw").write_bytes(b"\0" * 10)
    with pytest.raises(UnsupportedFormatError, match="suffix"):
        read_volume(tmp_path / "x.raw")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileFormatError, match="no TIFF"):
        read_volume(empty)
    # a TIFF with no image, and one cut inside its first directory: one line with advice
    (tmp_path / "nopages.tif").write_bytes(b"II*\x00" + bytes(8))
    with pytest.raises(FileFormatError, match=r"nopages\.tif: is a TIFF file with no image.*; check"):
        read_volume(tmp_path / "nopages.tif")
    (tmp_path / "cut.tif").write_bytes(b"II*\x00\x08\x00\x00\x00\x05\x00")
    with pytest.raises(FileFormatError, match=r"cut\.tif: .*TIFF.*; check the file"):
        read_volume(tmp_path / "cut.tif")


def test_tifffile_lines_are_ours_or_dropped(tmp_path, caplog):
    """tifffile logs what it finds wrong before our error: the user sees one line, ours.  A file
    that reads despite tifffile's complaint keeps it, logged by ssbscope with the file's name."""
    import logging

    import tifffile

    caplog.set_level(logging.DEBUG)
    (tmp_path / "nopages.tif").write_bytes(b"II*\x00" + bytes(8))
    with pytest.raises(FileFormatError, match="no image"):
        read_volume(tmp_path / "nopages.tif")
    (tmp_path / "cut.tif").write_bytes(b"II*\x00\x08\x00\x00\x00\x05\x00")
    with pytest.raises(FileFormatError):
        read_volume(tmp_path / "cut.tif")
    assert not [r for r in caplog.records if r.name.startswith("tifffile")], caplog.text
    # a good one-page TIFF whose first directory points to a second one past the end of the file
    good = tmp_path / "good.tif"
    tifffile.imwrite(good, np.arange(16, dtype=np.uint16).reshape(4, 4))
    b = bytearray(good.read_bytes())
    off = int.from_bytes(b[4:8], "little")
    n = int.from_bytes(b[off:off + 2], "little")
    nxt = off + 2 + 12 * n
    b[nxt:nxt + 4] = (len(b) + 1000).to_bytes(4, "little")
    good.write_bytes(bytes(b))
    caplog.clear()
    v = read_volume(good)
    np.testing.assert_array_equal(np.asarray(v.data)[0], np.arange(16).reshape(4, 4))
    assert not [r for r in caplog.records if r.name.startswith("tifffile")], caplog.text
    ours = [r for r in caplog.records if r.name == "ssbscope.tiff"]
    assert ours and all(r.getMessage().startswith("good.tif: ") for r in ours), caplog.text
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    tifffile.imwrite(mixed / "a1.tif", np.zeros((4, 4), np.uint8))
    tifffile.imwrite(mixed / "a2.tif", np.zeros((5, 4), np.uint8))
    with pytest.raises(FileFormatError, match="differs"):
        read_volume(mixed)
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(FileFormatError, match="HDF5"):
        read_projections(tmp_path / "bad.h5")
    import h5py

    with h5py.File(tmp_path / "noflat.h5", "w") as h:
        h.create_dataset("exchange/data", data=np.zeros((3, 2, 4)))
    with pytest.raises(FileFormatError, match="data_white"):
        read_projections(tmp_path / "noflat.h5")
    with h5py.File(tmp_path / "wrongtheta.h5", "w") as h:
        h.create_dataset("exchange/data", data=np.zeros((3, 2, 4)))
        h.create_dataset("exchange/data_white", data=np.ones((2, 2, 4)))
        h.create_dataset("exchange/data_dark", data=np.zeros((2, 2, 4)))
        h.create_dataset("exchange/theta", data=np.arange(4.0))
    with pytest.raises(FileFormatError, match="4 angles for 3 projections"):
        read_projections(tmp_path / "wrongtheta.h5")
    with h5py.File(tmp_path / "wrongflat.h5", "w") as h:
        h.create_dataset("exchange/data", data=np.zeros((3, 2, 4)))
        h.create_dataset("exchange/data_white", data=np.ones((2, 2, 5)))
        h.create_dataset("exchange/data_dark", data=np.zeros((2, 2, 4)))
        h.create_dataset("exchange/theta", data=np.arange(3.0))
    with pytest.raises(FileFormatError, match="flats have frame shape"):
        read_projections(tmp_path / "wrongflat.h5")
    with h5py.File(tmp_path / "other.h5", "w") as h:
        h.create_dataset("x", data=np.zeros((3, 2, 4)))
    with pytest.raises(UnsupportedFormatError, match="NXtomo"):
        read_projections(tmp_path / "other.h5")


def test_dxchange_scan_times_are_read(tmp_path):
    import h5py

    from ssbscope.tomo import read_projections

    f = tmp_path / "dx.h5"
    rng = np.random.default_rng(0)
    with h5py.File(f, "w") as h:
        h["exchange/data"] = rng.uniform(100, 200, (4, 2, 8)).astype(np.float32)
        h["exchange/data_white"] = np.full((2, 2, 8), 250.0, np.float32)
        h["exchange/data_dark"] = np.zeros((2, 2, 8), np.float32)
        h["exchange/theta"] = np.linspace(0, 180, 4, endpoint=False)
        h["process/acquisition/start_date"] = np.bytes_("2024-03-01T10:00:00+00:00")
        h["process/acquisition/end_date"] = "2024-03-01T10:12:30+00:00"
        h["measurement/instrument/detector/exposure_time"] = 0.05
    pd_ = read_projections(f)
    assert pd_.metadata["start_time"] == "2024-03-01T10:00:00+00:00"
    assert pd_.metadata["end_time"] == "2024-03-01T10:12:30+00:00"
    assert pd_.metadata["count_time_s"] == pytest.approx(0.05)


# --------------------------------------------------------------------- separate-file layouts
def _tooth():
    from ssbscope.testing import realdata_dir

    p = realdata_dir("xray_tomo", "tomopy_tooth.h5")
    if not p.exists():
        pytest.skip("shared/realdata/xray_tomo not present")
    return p


def _as_tiff_series(tmp_path, pdat, n_proj=None):
    """The real tooth scan re-packaged the way lab CT writes it: one TIFF per projection,
    flats/ and darks/ folders, angles.txt (a header line, then index and angle in degrees)."""
    import tifffile

    proj = np.asarray(pdat.projections)
    n = proj.shape[0] if n_proj is None else n_proj
    for sub, frames in (("proj", proj[:n]), ("flats", pdat.flats), ("darks", pdat.darks)):
        (tmp_path / sub).mkdir()
        for k, fr in enumerate(frames):
            tifffile.imwrite(tmp_path / sub / f"img_{k}.tif", fr)  # natural order: img_2 < img_10
    ang = np.rad2deg(pdat.angles_rad[:n])
    (tmp_path / "angles.txt").write_text("# index angle(deg)\n" +
                                         "".join(f"{k} {a:.10f}\n" for k, a in enumerate(ang)))
    return proj[:n]


def test_tiff_series_with_flats_darks_and_angles_file(tmp_path):
    from ssbscope.tomo import read_projections

    ref = read_projections(_tooth())
    proj = _as_tiff_series(tmp_path, ref)
    pd_ = read_projections(str(tmp_path / "proj" / "*.tif"), flats=str(tmp_path / "flats"),
                           darks=str(tmp_path / "darks" / "*.tif"), angles=tmp_path / "angles.txt")
    assert pd_.format == "tiff-series"
    np.testing.assert_array_equal(np.asarray(pd_.projections), proj)  # natural file order kept
    np.testing.assert_array_equal(pd_.flats, ref.flats)
    np.testing.assert_array_equal(pd_.darks, ref.darks)
    np.testing.assert_allclose(pd_.angles_rad, ref.angles_rad, atol=1e-9)
    assert pd_.metadata["n_flats"] == ref.flats.shape[0]


def test_tiff_series_needs_flats_and_angles(tmp_path):
    from ssbscope.errors import FileFormatError
    from ssbscope.tomo import read_projections

    ref = read_projections(_tooth())
    _as_tiff_series(tmp_path, ref, n_proj=12)
    with pytest.raises(FileFormatError, match="needs flats and darks"):
        read_projections(tmp_path / "proj")
    with pytest.raises(FileFormatError, match="181 angles for 12 projections"):
        (tmp_path / "angles_all.txt").write_text("\n".join(str(a) for a in np.rad2deg(ref.angles_rad)))
        read_projections(tmp_path / "proj", flats=tmp_path / "flats", darks=tmp_path / "darks",
                         angles=tmp_path / "angles_all.txt")
    with pytest.raises(FileFormatError, match="matches no"):
        read_projections(str(tmp_path / "nope" / "*.tif"), flats=tmp_path / "flats",
                         darks=tmp_path / "darks", angles=tmp_path / "angles.txt")


def test_hdf5_flats_and_darks_in_separate_files(tmp_path):
    import h5py

    from ssbscope.tomo import read_projections

    ref = read_projections(_tooth())
    with h5py.File(tmp_path / "flats.h5", "w") as h:
        h["exchange/data_white"] = ref.flats[:4] * 2
    with h5py.File(tmp_path / "dark_only.h5", "w") as h:
        h["entry/frames"] = ref.darks[:3]
    pd_ = read_projections(_tooth(), flats=tmp_path / "flats.h5", darks=tmp_path / "dark_only.h5")
    np.testing.assert_array_equal(pd_.flats, ref.flats[:4] * 2)
    np.testing.assert_array_equal(pd_.darks, ref.darks[:3])
    assert pd_.format == "dxchange" and pd_.metadata["flats_files"]


def test_tiff_series_reconstructs_like_the_hdf5_in_a_run(tmp_path):
    """ssbscope run path: a TIFF series with flats/darks/angles gives the same sinogram as the
    original HDF5 file (same real counts, same angles)."""
    from ssbscope.config import Experiment, Inputs, TomoInput
    from ssbscope.pipeline import run
    from ssbscope.store import Store
    from ssbscope.tomo import read_projections
    from ssbscope.tomo import stages as S

    ref = read_projections(_tooth())
    _as_tiff_series(tmp_path, ref)
    import shutil

    shutil.copy(_tooth(), tmp_path / "tooth.h5")
    exp = Experiment(inputs=Inputs(tomo=[
        TomoInput(path="proj/*.tif", flats="flats/*.tif", darks="darks", angles="angles.txt",
                  label="tiff", time_s=0.0, series="a"),
        TomoInput(path="tooth.h5", label="h5", time_s=0.0, series="b")]), base_dir=str(tmp_path))
    stages = [s for s in S.input_stages(exp) if ".scan." in s.name]
    st = Store.create(tmp_path / "store.zarr")
    run(stages, st, raw_dir=tmp_path, quiet=True)
    a = st["tomo/a/scans/tiff"].load()
    b = st["tomo/b/scans/h5"].load()
    np.testing.assert_allclose(a["sinogram"].values, b["sinogram"].values, rtol=1e-6, atol=1e-6)
    assert float(a.attrs["center_px"]) == pytest.approx(float(b.attrs["center_px"]), abs=0.5)


def test_volume_glob_pattern(tmp_path):
    import tifffile

    from ssbscope.tomo import read_volume

    vol = np.arange(4 * 5 * 6, dtype=np.uint16).reshape(4, 5, 6)
    (tmp_path / "v").mkdir()
    for k, sl in enumerate(vol):
        tifffile.imwrite(tmp_path / "v" / f"slice_{k}.tif", sl)
    tifffile.imwrite(tmp_path / "v" / "other_0.tif", vol[0] * 0)  # not matched by the pattern
    vd = read_volume(str(tmp_path / "v" / "slice_*.tif"))
    np.testing.assert_array_equal(np.asarray(vd.data), vol)
