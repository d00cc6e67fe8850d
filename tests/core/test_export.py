"""`ssbscope export`: CSV/Parquet tables equal the store's values, BDF reads back with the
Battery Data Format column names, volumes as TIFF stacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ssbscope.cli import main
from ssbscope.export import BDF_COLUMNS, export_store, read_csv_table
from ssbscope.store import Store


@pytest.fixture()
def store(tmp_path):
    st = Store.create(tmp_path / "s.zarr")
    rng = np.random.default_rng(3)
    n = 50
    t = np.arange(n) * 10.0
    current = np.where(t < 250, 1e-3, -1e-3)
    charge_mah = np.cumsum(np.r_[0.0, current[1:] * np.diff(t)]) / 3.6
    st.write("echem/timeseries", xr.Dataset(
        {"voltage_V": ("time_s", 3.0 + 0.001 * t), "current_A": ("time_s", current),
         "cycle": ("time_s", np.zeros(n, np.int64)), "step": ("time_s", (t >= 250).astype(np.int64) + 3),
         "charge_mAh": ("time_s", charge_mah), "mode": ("time_s", np.where(t < 250, "CC charge", "CC discharge"))},
        coords={"time_s": t}))
    st.write("tomo/s/metrics", xr.Dataset(
        {"thickness_mean_um": (("time_s", "layer"), rng.random((3, 2)) * 100),
         "volume_change_pct": ("time_s", [0.0, 1.5, -2.0]),
         "state": ("time_s", ["pristine", "plated", "stripped"])},
        coords={"time_s": [0.0, 3600.0, 7200.0], "layer": ["Li", "LPSCl"]}))
    st.write("tomo/s/volumes", xr.Dataset(
        {"volume": (("time_s", "z", "y", "x"), rng.random((2, 5, 4, 3)).astype(np.float32), {"units": "1/pixel"})},
        coords={"time_s": [0.0, 3600.0]}, attrs={"voxel_size_um": 0.65}))
    return st


def _expected_long(ds, var, dims):
    return np.asarray(ds[var].transpose(*dims).values).reshape(-1)


def test_csv_round_trip_equals_the_store(store, tmp_path):
    out = tmp_path / "csv"
    assert main(["export", str(store.path), "--format", "csv", "--out", str(out), "--quiet"]) == 0
    files = sorted(p.name for p in out.iterdir())
    # one file per dataset, or per dimension group where the variables differ in dimensions
    assert files == ["echem__timeseries.csv", "tomo__s__metrics__time_s-layer.csv",
                     "tomo__s__metrics__time_s.csv"]
    df, units = read_csv_table(out / "echem__timeseries.csv")
    ts = store["echem/timeseries"]
    assert units["voltage_V"] == "V" and units["time_s"] == "s" and units["charge_mAh"] == "mA*h"
    for v in ("voltage_V", "current_A", "charge_mAh", "cycle", "step"):
        np.testing.assert_array_equal(df[v].to_numpy(), ts[v].values)
    np.testing.assert_array_equal(df["time_s"].to_numpy(), ts["time_s"].values)
    assert list(df["mode"]) == [str(x) for x in ts["mode"].values]
    df2, units2 = read_csv_table(out / "tomo__s__metrics__time_s-layer.csv")
    met = store["tomo/s/metrics"]
    np.testing.assert_array_equal(df2["thickness_mean_um"].to_numpy(),
                                  _expected_long(met, "thickness_mean_um", ("time_s", "layer")))
    assert list(df2["layer"]) == ["Li", "LPSCl"] * 3 and units2["thickness_mean_um"] == "um"
    assert list(df2["time_s"]) == [0.0, 0.0, 3600.0, 3600.0, 7200.0, 7200.0]


def test_parquet_round_trip_with_units_in_field_metadata(store, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "pq"
    written = export_store(store, out, format="parquet")
    assert {p.name for p in written} == {"echem__timeseries.parquet", "tomo__s__metrics__time_s-layer.parquet",
                                         "tomo__s__metrics__time_s.parquet"}
    table = pq.read_table(out / "echem__timeseries.parquet")
    f = table.schema.field("charge_mAh")
    assert f.metadata[b"units"] == b"mA*h" and f.metadata[b"long_name"] == b"charge"
    df = table.to_pandas()
    ts = store["echem/timeseries"]
    for v in ("voltage_V", "current_A", "charge_mAh", "step", "time_s"):
        np.testing.assert_array_equal(df[v].to_numpy(), ts[v].values)
    assert b"echem/timeseries" in table.schema.metadata[b"ssbscope"]
    met = pq.read_table(out / "tomo__s__metrics__time_s.parquet").to_pandas()
    np.testing.assert_array_equal(met["volume_change_pct"], [0.0, 1.5, -2.0])
    assert list(met["state"]) == ["pristine", "plated", "stripped"]


def test_bdf_reads_back_with_the_bdf_column_names(store, tmp_path):
    out = tmp_path / "bdf"
    assert main(["export", str(store.path), "--format", "bdf", "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["echem__timeseries.bdf.csv"]
    df = pd.read_csv(out / "echem__timeseries.bdf.csv")
    assert list(df.columns) == list(BDF_COLUMNS)
    assert df.columns[:3].tolist() == ["Test Time / s", "Voltage / V", "Current / A"]
    ts = store["echem/timeseries"]
    np.testing.assert_array_equal(df["Test Time / s"], ts["time_s"].values)
    np.testing.assert_array_equal(df["Voltage / V"], ts["voltage_V"].values)
    np.testing.assert_array_equal(df["Current / A"], ts["current_A"].values)
    # Step Count is monotonic (the instrument's step 3 -> 4 is steps 1 -> 2)
    assert df["Step Count / 1"].tolist() == [1] * 25 + [2] * 25
    # Net Capacity in Ah: charge (1 mA for 240 s) then discharge, Faraday: Q = I t
    np.testing.assert_allclose(df["Net Capacity / Ah"].max(), 1e-3 * 240 / 3600, rtol=1e-12)


def test_bdf_without_echem_series_is_an_error(tmp_path, capsys):
    st = Store.create(tmp_path / "s.zarr")
    st.write("tomo/s/metrics", xr.Dataset({"a_um": ("time_s", [1.0])}, coords={"time_s": [0.0]}))
    assert main(["export", str(st.path), "--format", "bdf", "--out", str(tmp_path / "o")]) == 2
    assert "no echem time series" in capsys.readouterr().err


def test_volumes_as_tiff_stacks_on_request(store, tmp_path):
    import tifffile

    plain = export_store(store, tmp_path / "a", format="csv")
    assert not [p for p in plain if p.suffix == ".tif"]
    written = export_store(store, tmp_path / "b", format="csv", volumes=True)
    tifs = [p for p in written if p.suffix == ".tif"]
    assert [p.name for p in tifs] == ["tomo__s__volumes__volume__000.tif", "tomo__s__volumes__volume__001.tif"]
    vol = store["tomo/s/volumes"]["volume"].values
    for k, p in enumerate(tifs):
        with tifffile.TiffFile(p) as tf:
            np.testing.assert_array_equal(tf.asarray(), vol[k])
            assert tf.imagej_metadata["spacing"] == pytest.approx(0.65)
            assert tf.imagej_metadata["unit"] == "um"


def test_export_to_a_file_is_one_line_naming_the_folder(store, tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("x")
    for out in (f, f / "sub"):
        assert main(["export", str(store.path), "--format", "csv", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{out}: export folder" in err and "--out" in err
    assert f.read_text() == "x"
