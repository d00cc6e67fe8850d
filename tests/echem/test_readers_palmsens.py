"""PalmSens sessions (.pssession, UTF-16 JSON as PSTrace writes them): real files from the
PalmSens SDK (tests/data/realdata/palmsens, MANIFEST.md).

References: the session's own |Z| and phase arrays (the sign convention of z_imag_ohm and
phase_deg), its charge array (units and time axis of the current), the method's potential
window; both files are UTF-16 with byte-order marks, detected by content under any name.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import cumulative_trapezoid

from ssbscope import echem
from ssbscope.echem.io import sniff_format
from ssbscope.errors import FileFormatError, UnsupportedFormatError

PS = Path(__file__).resolve().parents[1] / "data" / "realdata" / "palmsens"
EIS = PS / "palmsens-sdk_BatteryCurve.pssession"
CV = PS / "palmsens-sdk_cv_1scan.pssession"


def test_files_are_utf16_and_detected_by_content(tmp_path):
    for p in (EIS, CV):
        assert p.read_bytes()[:2] == b"\xff\xfe"  # UTF-16 LE with BOM, as PSTrace writes
        q = tmp_path / (p.stem + ".txt")
        shutil.copyfile(p, q)
        assert sniff_format(p) == sniff_format(q) == "palmsens-pssession"


def test_battery_impedance_spectrum():
    """PEIS of a battery at OCP (PalmSens4): 50 frequencies 12.5 kHz - 0.1 Hz; the stored
    |Z| and phase agree with our Z' + jZ'' (capacitive: Z'' < 0, phase < 0)."""
    e = echem.read_eis(EIS)
    assert e.attrs["format"] == "palmsens-pssession" and e.attrs["instrument"] == "PalmSens"
    assert e.attrs["technique"] == "Impedance Spectroscopy"
    assert e.attrs["device_serial"] == "PS4A17B000061"
    assert len(e) == 50 and e["spectrum"].nunique() == 1
    assert e["frequency_Hz"].max() == pytest.approx(12500.0) and e["frequency_Hz"].min() == pytest.approx(0.1)
    assert np.all(np.diff(e["frequency_Hz"]) < 0)
    np.testing.assert_allclose(np.hypot(e["z_real_ohm"], e["z_imag_ohm"]), e["z_abs_ohm"], rtol=1e-4)
    np.testing.assert_allclose(np.degrees(np.arctan2(e["z_imag_ohm"], e["z_real_ohm"])),
                               e["phase_deg"], atol=0.01)
    assert (e["z_imag_ohm"] < 0).all()
    # an ohmic intercept below 1 ohm at 12.5 kHz rising to tens of ohm at 0.1 Hz
    assert 0.5 < e["z_real_ohm"].iloc[0] < 1.0 and 10 < e["z_real_ohm"].iloc[-1] < 100
    assert e["voltage_V"].iloc[0] == pytest.approx(1.439)  # the battery's OCP
    with pytest.raises(FileFormatError, match="impedance session, not a time series.*read_eis"):
        echem.read(EIS)


def test_cyclic_voltammogram_time_series():
    """One CV scan (ES4, PSTrace 5.11): -0.5 V -> -1 V -> +1 V -> ... at 0.1 s per point; the
    session's charge array is the integral of its current (µC and µA scaled right)."""
    d = echem.read(CV)
    assert d.attrs["format"] == "palmsens-pssession" and d.attrs["technique"] == "Cyclic Voltammetry"
    assert len(d) == 41
    assert d["voltage_V"].min() == pytest.approx(-1.0, abs=1e-3)
    assert d["voltage_V"].max() == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(np.diff(d["time_s"]), 0.1, rtol=1e-3)
    q = cumulative_trapezoid(d["current_A"], d["time_s"], initial=0.0) / 3.6
    np.testing.assert_allclose(q, d["capacity_mAh"], rtol=1e-6, atol=1e-12)
    assert 1e-6 < np.abs(d["current_A"]).max() < 1e-3  # tens of µA, not µA read as A
    with pytest.raises(FileFormatError, match="no impedance measurement"):
        echem.read_eis(CV)


def test_damaged_and_multi_scan_sessions_refused_clearly(tmp_path):
    raw = CV.read_bytes()
    cut = tmp_path / "cut.pssession"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FileFormatError, match=r"cut\.pssession: PalmSens session is not valid JSON"):
        echem.read(cut)
    # two scans on one time array (as PSTrace stores a multi-scan CV): refused, not merged
    text = raw.decode("utf-16").lstrip("\ufeff")
    import json

    d, _ = json.JSONDecoder().raw_decode(text)
    vals = d["Measurements"][0]["DataSet"]["Values"]
    vals.extend([dict(v) for v in vals if "Potential" in v["Type"] or "Current" in v["Type"]])
    two = tmp_path / "two_scans.pssession"
    two.write_bytes(b"\xff\xfe" + json.dumps(d).encode("utf-16-le"))
    with pytest.raises(UnsupportedFormatError, match="2 scans on one time array"):
        echem.read(two)


def test_run_reads_a_session_by_content(tmp_path):
    from ssbscope.cli import main
    from ssbscope.store import Store

    shutil.copyfile(CV, tmp_path / "cv.dat")
    shutil.copyfile(EIS, tmp_path / "battery.dat")
    y = tmp_path / "exp.yaml"
    y.write_text("name: palmsens\ncell:\n  area_cm2: 1.0\ninputs:\n  echem:\n"
                 "    - {path: cv.dat, label: cv}\n    - {path: battery.dat, kind: eis, label: peis}\n")
    assert main(["validate", str(y)]) == 0
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    st = Store.open(tmp_path / "out")
    assert len(st["echem/timeseries"]["time_s"]) == 41
    ds = st["echem/eis"]
    assert ds.sizes["point"] == 50
    np.testing.assert_allclose(np.sort(ds["frequency_Hz"].values.ravel())[[0, -1]], [0.1, 12500.0])
    # the Randles fit either finds the ohmic intercept or is stored as failed with its reason
    if bool(ds["fit_ok"].values[0]):
        assert 0.5 < float(ds["r_s_ohm"].values[0]) < 1.0
    else:
        assert str(ds["fit_problem"].values[0]) and np.isnan(float(ds["r_s_ohm"].values[0]))
