"""The report's accuracy table: measured beside truth, with the tolerance verdicts."""

import numpy as np
import pytest
import xarray as xr

from ssbscope.report import accuracy
from ssbscope.store import Store

TRUTH = {
    "tomo": {"cell": {
        "design": "anode_free", "voxel_size_um": 2.0,
        "scans": [
            {"time_s": 0.0, "state": "pristine", "charge_mah_cm2": 0.0, "plated_mah_cm2": 0.0,
             "faraday_thickness_um": 0.0, "mean_thickness_um": {"Li": 0.0, "LPSCl": 60.0},
             "roughness_um": {"Li|LPSCl": {"ra_um": 0.0}}, "pore_crack_volume_um3": 1000.0,
             "phase_volumes_um3": {"li": 100.0, "lpscl": 1000.0}},
            {"time_s": 100.0, "state": "plated", "charge_mah_cm2": 3.0, "plated_mah_cm2": 3.0,
             "faraday_thickness_um": 14.55, "mean_thickness_um": {"Li": 14.0, "LPSCl": 60.0},
             "roughness_um": {"Li|LPSCl": {"ra_um": 2.0}}, "pore_crack_volume_um3": 1500.0,
             "phase_volumes_um3": {"li": 150.0, "lpscl": 1000.0}},
        ]}},
}


def _store(tmp_path, *, li_um=14.3, ra=2.5, pc=1450.0, truth=TRUTH):
    st = Store.create(tmp_path / "s.zarr")
    t = xr.DataArray([0.0, 100.0], dims="time_s", attrs={"units": "s"})
    ds = xr.Dataset(
        {"thickness_mean_um": (("time_s", "layer"), [[0.0, 60.5], [li_um, 61.0]]),
         "ra_um": (("time_s", "interface"), [[np.nan], [ra]]),
         "pore_crack_volume_um3": (("time_s",), [990.0, pc]),
         "volume_change_pct": (("time_s", "phase"), [[0.0, 0.0], [49.0, 0.5]],
                               {"units": "percent"})},
        coords={"time_s": t, "layer": ["Li", "LPSCl"], "interface": ["Li|LPSCl"],
                "phase": ["Li", "Li6PS5Cl"]})
    for v in ds.variables.values():
        v.attrs.setdefault("long_name", "x")
    st.write("tomo/cell/metrics", ds)
    if truth is not None:
        st.update_attrs({"truth": truth})
    return st


def _by(df, quantity, where_part):
    sel = df[(df["quantity"] == quantity) & df["where"].str.contains(where_part, regex=False)]
    assert len(sel) == 1, (quantity, where_part, df[["quantity", "where"]])
    return sel.iloc[0]


def test_rows_errors_and_verdicts(tmp_path):
    df = accuracy.accuracy_table(_store(tmp_path))
    li = _by(df, "plated Li mean thickness", "plated")
    assert li["error"] == pytest.approx(100 * (14.3 - 14.0) / 14.0)
    assert li["within"] is True and li["paper_value"] == pytest.approx(14.2)
    ra = _by(df, "Ra Li|LPSCl", "plated")  # +25 % against a 10 % tolerance
    assert ra["error"] == pytest.approx(25.0) and ra["within"] is False
    pc = _by(df, "pore + crack volume", "plated")
    assert pc["error"] == pytest.approx(100 * (1450 - 1500) / 1500) and pc["within"] is True
    # pristine Ra truth is 0: no row (a relative error of a zero truth is undefined)
    assert not ((df["quantity"] == "Ra Li|LPSCl") & df["where"].str.contains("pristine")).any()
    lpscl = _by(df, "LPSCl mean thickness", "plated")  # absolute, one voxel (2 um)
    assert lpscl["error_unit"] == "um" and lpscl["error"] == pytest.approx(1.0) and lpscl["within"]
    vc = _by(df, "Li volume change", "plated")  # truth +50 %, measured +49 %: 1 pp < 5 pp
    assert vc["truth"] == pytest.approx(50.0) and vc["tolerance"] == pytest.approx(5.0)
    assert vc["within"] is True


def test_negative_control_flags_a_wrong_thickness(tmp_path):
    df = accuracy.accuracy_table(_store(tmp_path, li_um=11.0, pc=700.0))
    assert _by(df, "plated Li mean thickness", "plated")["within"] is False
    assert _by(df, "pore + crack volume", "plated")["within"] is False


def test_no_truth_no_section(tmp_path):
    st = _store(tmp_path, truth=None)
    assert accuracy.accuracy_table(st).empty
    assert accuracy.section(st) is None


def test_section_html_counts(tmp_path):
    sec = accuracy.section(_store(tmp_path))
    judged = accuracy.accuracy_table(_store(tmp_path / "b"))
    n = int(judged["within"].notna().sum())
    ok = int(judged["within"].dropna().astype(bool).sum())
    assert f"{ok} of {n} within" in sec.html
    assert dict(sec.summary)["within tolerance"] == f"{ok} of {n}"
    assert "Ra Li|LPSCl" in dict(sec.summary)["outside"]


def test_noise_corrected_ra_row(tmp_path):
    st = _store(tmp_path)
    ds = st["tomo/cell/metrics"].load()
    ds["ra_noise_corrected_um"] = (("time_s", "interface"), [[np.nan], [2.1]])
    ds["ra_noise_corrected_um"].attrs["long_name"] = "x"
    st.write("tomo/cell/metrics", ds)
    df = accuracy.accuracy_table(st)
    raw = _by(df, "Ra Li|LPSCl", "plated")
    cor = _by(df, "Ra Li|LPSCl (noise-corrected)", "plated")
    assert raw["error"] == pytest.approx(25.0) and raw["within"] is False
    assert cor["error"] == pytest.approx(5.0) and cor["within"] is True


def test_resolution_corrected_ra_row_and_its_validity_note(tmp_path):
    """The resolution-corrected Ra beside the raw one; its note marks it not valid where the
    map's noise share exceeds RA_NOISE_SHARE_VALID or the value is below a third of a voxel
    (2 um voxels here: 0.67 um), and says nothing of the kind otherwise."""
    for val, share, bad in ((2.05, 0.2, False), (2.05, 0.6, True), (0.5, 0.2, True)):
        st = _store(tmp_path / f"{val}-{share}")
        ds = st["tomo/cell/metrics"].load()
        ds.attrs["voxel_size_um"] = 2.0
        ds["ra_resolution_corrected_um"] = (("time_s", "interface"), [[np.nan], [val]])
        ds["height_noise_fraction"] = (("time_s", "interface"), [[np.nan], [share]])
        for k in ("ra_resolution_corrected_um", "height_noise_fraction"):
            ds[k].attrs["long_name"] = "x"
        st.write("tomo/cell/metrics", ds)
        row = _by(accuracy.accuracy_table(st), "Ra Li|LPSCl (resolution-corrected)", "plated")
        assert row["error"] == pytest.approx(100.0 * (val - 2.0) / 2.0)
        assert row["within"] is (abs(val - 2.0) <= 0.2)
        assert ("NOT VALID" in row["note"]) is bad, row["note"]
        assert f"noise share of the map's variance {share:.2f}" in row["note"]


def test_pore_and_isolated_li_rows(tmp_path):
    """The soft-short twin's truth has pores and dead Li apart: rows for the scan after the
    short (the first scan is the reference: NaN, no row), 20 % tolerance."""
    truth = {"tomo": {"ss": {"design": "soft_short_002", "voxel_size_um": 3.0, "scans": [
        {"time_s": 0.0, "state": "pristine", "pore_volume_um3": 6000.0,
         "isolated_li_um3": 0.0},
        {"time_s": 100.0, "state": "after the soft short", "pore_volume_um3": 6000.0,
         "isolated_li_um3": 7000.0}]}}}
    st = Store.create(tmp_path / "s.zarr")
    ds = xr.Dataset({"pore_volume_um3": (("time_s",), [np.nan, 6600.0]),
                     "isolated_li_um3": (("time_s",), [np.nan, 4900.0])},
                    coords={"time_s": [0.0, 100.0]})
    for v in ds.variables.values():
        v.attrs.setdefault("long_name", "x")
    st.write("tomo/ss/metrics", ds)
    st.update_attrs({"truth": truth})
    df = accuracy.accuracy_table(st)
    pv = _by(df, "pore volume (present in the first scan)", "after")
    assert pv["error"] == pytest.approx(10.0) and pv["within"] is True
    assert pv["tolerance"] == pytest.approx(20.0)
    li = _by(df, "isolated (dead) Li volume", "after")
    assert li["error"] == pytest.approx(-30.0) and li["within"] is False
    assert not df["where"].str.contains("pristine").any()
