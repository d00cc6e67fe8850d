"""Neware .nda/.ndax and Arbin .res through maintained readers (issue 14, item 4).

Real files: tests/data/realdata/neware, tests/data/realdata/arbin (MANIFEST.md: NewareNDA's
and cellpy's test data) and ../shared/realdata/potentiostat (navani's examples, read in place).
References, none of them the reader under test:
- Neware BTSDA (the vendor's own software) exports of the same three files, stored beside them
  by the NewareNDA authors (`*.btsda.parquet`): test time ("Total Time"), voltage, signed
  current, cycle and step index record by record;
- the cyclers' own charge counters (Faraday: ∫I dt over each step equals the counter within 1 %);
- mdbtools' `mdb-export` (a C reader of MS Access files) for the Arbin tables, when installed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import trapezoid

from ssbscope import echem
from ssbscope.echem.io import MODES, sniff_format
from ssbscope.errors import FileFormatError, SsbscopeError, UnsupportedFormatError
from ssbscope.testing import realdata_dir

pytest.importorskip("NewareNDA")
pytest.importorskip("access_parser")

HERE = Path(__file__).resolve().parents[1] / "data" / "realdata"
NW = HERE / "neware"
RES = HERE / "arbin" / "cellpy_20160805_test001_45_cc_01.res"
REAL = realdata_dir("potentiostat")
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data folder {REAL} not present")

# file -> (format, rows, (V min, V max) of the test's voltage window, number of cycles)
NEWARE = {
    "newarenda_TestFile.nda": ("neware-nda", 6669, (1.70, 4.21), 3),        # BTS 9 (nda v130)
    "newarenda_TESTCELL0001-B2-2025-M50T.ndax": ("neware-ndax", 77745, (2.49, 4.21), 7),
    "newarenda_TESTCELL0001-Test_Data_Collection_Ndc17.ndax": ("neware-ndax", 80, (3.56, 3.62), 1),
    "newarenda_46_1_5_60_ZZZZZZZZTEST_20250924092922.ndax": ("neware-ndax", 84, (2.79, 3.07), 1),
}
BTSDA = ("newarenda_TestFile.nda", "newarenda_TESTCELL0001-B2-2025-M50T.ndax",
         "newarenda_TESTCELL0001-Test_Data_Collection_Ndc17.ndax")


def _steps(df):
    """Row index arrays of each step (a change of step index or cycle starts a new one)."""
    s, c = df["step"].to_numpy(), df["cycle"].to_numpy()
    new = np.r_[True, (s[1:] != s[:-1]) | (c[1:] != c[:-1])]
    b = np.r_[np.flatnonzero(new), len(df)]
    return [np.arange(b[k], b[k + 1]) for k in range(len(b) - 1)]


def _faraday(df, charge, discharge, per_step_counters: bool, to_mah: float, floor_mah: float):
    """(integrated, counter) mAh of every step whose counter passes ``floor_mah``."""
    t, i = df["time_s"].to_numpy(), df["current_A"].to_numpy()
    out = []
    for m in _steps(df):
        if len(m) < 3:
            continue
        qc, qd = df[charge].to_numpy()[m], df[discharge].to_numpy()[m]
        cnt = (qc[-1] - qd[-1]) if per_step_counters else (qc[-1] - qc[0]) - (qd[-1] - qd[0])
        cnt *= to_mah
        if abs(cnt) >= floor_mah:
            out.append((trapezoid(i[m], t[m]) / 3.6, cnt))
    return np.array(out)


# ------------------------------------------------------------------------------- Neware

@pytest.mark.parametrize("name", sorted(NEWARE))
def test_neware_binary_read(name):
    fmt, rows, (vmin, vmax), n_cycles = NEWARE[name]
    p = NW / name
    assert sniff_format(p) == fmt
    df = echem.read(p)
    assert df.attrs["format"] == fmt and df.attrs["instrument"] == "Neware"
    assert df.attrs["reader"].startswith("NewareNDA ")
    assert len(df) == rows
    assert list(df.columns[:6]) == ["time_s", "voltage_V", "current_A", "cycle", "step", "mode"]
    assert np.all(np.diff(df["time_s"].to_numpy()) >= 0)
    assert vmin <= df["voltage_V"].min() and df["voltage_V"].max() <= vmax
    assert df["cycle"].nunique() == n_cycles
    assert set(df["mode"]) <= set(MODES)
    # the sign follows the step type: charge > 0, discharge < 0, rest 0
    st = df["instrument_state"].str.lower()
    i = df["current_A"].to_numpy()
    assert np.all(i[st.str.contains("dchg").to_numpy()] <= 0)
    assert np.all(i[(st.str.contains("chg") & ~st.str.contains("dchg")).to_numpy()] >= 0)
    assert np.all(i[(df["mode"] == "rest").to_numpy()] == 0)


@pytest.mark.parametrize("name", BTSDA)
def test_neware_binary_matches_vendor_btsda_export(name):
    """Record by record against the same file exported by Neware BTSDA: test time (the sum of
    step times NewareNDA gives for .ndax, as recorded for the BTS 9 .nda), V, signed I, cycle
    and step index."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    df = echem.read(NW / name)
    ref = pd.read_parquet(NW / (name.rsplit(".", 1)[0] + ".btsda.parquet"))
    keys = ["Total Time", "Voltage(mV)", "Current(uA)", "Step Index", "Cycle Index", "Step Type"]
    a = ref[keys].to_numpy()
    ref = ref[np.r_[True, ~(a[1:] == a[:-1]).all(axis=1)]]  # the same exact-duplicate rule
    assert len(df) == len(ref)
    np.testing.assert_allclose(df["time_s"], ref["Total Time"], atol=0.01, rtol=0)
    np.testing.assert_allclose(df["step_time_s"], ref["Time"], atol=0.01, rtol=0)
    np.testing.assert_allclose(df["voltage_V"], ref["Voltage(mV)"] / 1e3, atol=1e-4, rtol=0)
    np.testing.assert_allclose(df["current_A"], ref["Current(uA)"] / 1e6, atol=1e-6, rtol=1e-6)
    assert (df["cycle"].to_numpy() == ref["Cycle Index"].to_numpy()).all()
    assert (df["step"].to_numpy() == ref["Step Index"].to_numpy()).all()
    # BTSDA's step type 4 is rest
    assert ((df["mode"] == "rest").to_numpy() == (ref["Step Type"] == 4).to_numpy()).all()


def test_neware_nda_charge_of_each_step_is_the_integral_of_current():
    """Faraday on the BTS 9 .nda (no interpolated records): every charge, CV and discharge
    step's counter equals ∫I dt within 1 % (trapezoid; the CV steps are the coarsest)."""
    df = echem.read(NW / "newarenda_TestFile.nda")
    assert df.attrs["time_source"] == "test time as recorded" and "reader_notes" in df.attrs
    assert not any("interpolation" in w for w in df.attrs.get("warnings", []))
    q = _faraday(df, "charge_capacity_mAh", "discharge_capacity_mAh", True, 1.0, 1.0)
    assert len(q) == 6  # 2 x (CC charge, CV charge, CC discharge)
    np.testing.assert_allclose(q[:, 0], q[:, 1], rtol=0.01)
    assert np.abs(q[:, 1]).max() > 5000  # a ~6 Ah cell


@needs_real
@pytest.mark.parametrize("name,rtol", [("navani_test.nda", 0.01), ("navani_test.ndax", 0.005)])
def test_neware_step_time_files_sum_to_test_time_and_pass_faraday(name, rtol):
    """Files whose NewareNDA Time restarts at each step: time_s is their sum (the last record
    of the .nda: 5 + 25 + 50 + 100 + 500 s of steps 1-5 + 41.6 s of step 6); the counters
    agree with ∫I dt (steps above 1e-4 mAh; the .nda logs 50 nA)."""
    df = echem.read(REAL / name)
    assert df.attrs["time_source"] == "step times added up"
    if name.endswith(".nda"):
        assert df["time_s"].iloc[-1] == pytest.approx(680.0 + 41.6, abs=0.01)
        assert df.attrs["start_time"] == "2020-03-25T11:16:50"
        assert df.attrs["software"].startswith("BTS 7.6")
    else:
        assert df["time_s"].iloc[-1] == pytest.approx(300 + 21600 + 21600 + 300, abs=0.01)
        assert df.attrs["start_time"] == "2024-02-01T20:24:23"
    q = _faraday(df, "charge_capacity_mAh", "discharge_capacity_mAh", True, 1.0, 1e-4)
    assert len(q) >= 2
    np.testing.assert_allclose(q[:, 0], q[:, 1], rtol=rtol)


def test_ndax_records_filled_by_newarenda_are_flagged():
    df = echem.read(NW / "newarenda_TESTCELL0001-Test_Data_Collection_Ndc17.ndax")
    assert any("interpolation" in w for w in df.attrs["warnings"])
    assert "aux_temperature_1_C" in df.columns
    assert 15 < df["aux_temperature_1_C"].median() < 40  # a lab at room temperature


def test_binaries_detected_by_content_whatever_their_name(tmp_path):
    for src, fmt in ((NW / "newarenda_TestFile.nda", "neware-nda"),
                     (NW / "newarenda_TESTCELL0001-Test_Data_Collection_Ndc17.ndax", "neware-ndax")):
        q = tmp_path / f"renamed_{fmt}.dat"
        shutil.copyfile(src, q)
        assert sniff_format(q) == fmt
        a, b = echem.read(src), echem.read(q)
        for c in ("time_s", "voltage_V", "current_A"):
            np.testing.assert_array_equal(a[c], b[c])


def test_missing_extras_refused_with_the_extra_named(tmp_path, monkeypatch):
    for mod in ("NewareNDA", "NewareNDA.NewareNDA", "NewareNDA.NewareNDAx", "access_parser"):
        monkeypatch.setitem(sys.modules, mod, None)  # import fails as if not installed
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    with pytest.raises(UnsupportedFormatError, match=r"newarenda_TestFile\.nda.*ssbscope\[neware\]"):
        echem.read(NW / "newarenda_TestFile.nda")
    with pytest.raises(UnsupportedFormatError, match=r"cellpy_20160805.*Arbin.*ssbscope\[arbin\]"):
        echem.read(RES)


@pytest.mark.parametrize("src", [NW / "newarenda_TestFile.nda",
                                 NW / "newarenda_TESTCELL0001-Test_Data_Collection_Ndc17.ndax", RES])
def test_truncated_binaries_are_refused_clearly(tmp_path, src):
    b = src.read_bytes()
    for frac in (0.01, 0.5):
        q = tmp_path / f"cut{frac}{src.suffix}"
        q.write_bytes(b[: int(frac * len(b))])
        try:
            df = echem.read(q)
        except SsbscopeError as e:
            assert str(q) in str(e)
            continue
        # a .nda cut at a record boundary reads as a shorter log, with a warning
        assert len(df) > 0 and np.isfinite(df["voltage_V"]).all()
        if src.suffix == ".nda":
            assert any("incomplete" in w for w in df.attrs.get("warnings", []))


@pytest.mark.parametrize("cut,what", [
    (1024 + 56 * 3000, "without the end-of-data block"),          # at a record boundary
    (1024 + 56 * 3000 + 20, "last 20 byte(s) are a partial record"),  # inside a record
    (1024 + 56 * 6670, "without the end-of-data block"),          # every record, no trailer
    (393760 - 1, "header lists sections up to byte 393760, the file has 393759 bytes"),
])
def test_nda_cut_short_is_flagged(tmp_path, cut, what):
    """issue 14 item 2: NewareNDA reads a .nda cut at (or inside) a record as a shorter valid
    log; the reader records a warning naming the file, what is missing and what to do. The
    intact file (6670 records of 56 bytes from byte 1024, end-of-data block at 374544, header
    sections to 393760 = its size) carries none."""
    src = NW / "newarenda_TestFile.nda"
    assert not any("incomplete" in w for w in echem.read(src).attrs.get("warnings", []))
    q = tmp_path / "cut.nda"
    q.write_bytes(src.read_bytes()[:cut])
    df = echem.read(q)
    w = [x for x in df.attrs["warnings"] if "incomplete" in x]
    assert len(w) == 1 and str(q) in w[0] and what in w[0] and "copy the file again" in w[0]
    assert len(df) <= min(6670, (cut - 1024) // 56)


@needs_real
@pytest.mark.parametrize("records,extra,what", [
    (222, 0, "its header records 123655 bytes, the file has 104563"),   # at a record boundary
    (222, 40, "the last 40 byte(s) are part of a Neware record"),        # inside a record
    (443, 0, "its header records 123655 bytes, the file has 123569"),   # only the last record
])
def test_nda_v29_cut_short_is_flagged(tmp_path, records, extra, what):
    """A BTS 7 .nda (version 29: 86-byte records from byte 85471, the file size in its header
    at bytes 72 and 80) cut short reads as a shorter log with a warning; intact, none."""
    src = REAL / "navani_test.nda"
    assert not any("incomplete" in w or "part of a Neware record" in w
                   for w in echem.read(src).attrs.get("warnings", []))
    q = tmp_path / "cut.nda"
    q.write_bytes(src.read_bytes()[:85471 + 86 * records + extra])
    ws = echem.read(q).attrs["warnings"]
    assert any(what in w and str(q) in w and "copy the file again" in w for w in ws)


def test_column_mapping_is_refused_for_binaries():
    from ssbscope.errors import ParameterError

    with pytest.raises(ParameterError, match="column mapping"):
        echem.read(NW / "newarenda_TestFile.nda", time_s="Time")


# ------------------------------------------------------------------------------- Arbin

def test_arbin_res_read_and_faraday_per_step():
    """cellpy's Arbin .res (MITS Pro 4.32, Si half cell, 18 cycles): every charge/discharge
    step's counter change equals ∫I dt within 1 % (counters in Ah, cumulative per cycle)."""
    assert sniff_format(RES) == "arbin-res"
    df = echem.read(RES)
    a = df.attrs
    assert a["format"] == "arbin-res" and a["instrument"] == "Arbin"
    assert a["software_version"].startswith("4.32")
    assert a["start_time"] == "2016-08-05T16:16:23" and a["test_name"].startswith("20160805")
    assert len(df) == 10261
    assert df["cycle"].nunique() == 18 and df["cycle"].min() == 1
    assert 0.04 < df["voltage_V"].min() < 0.06 and 3.0 < df["voltage_V"].max() < 3.2  # vs Li
    assert np.abs(df["current_A"]).max() < 4e-4                                         # ~0.3 mA
    q = _faraday(df, "charge_capacity_Ah", "discharge_capacity_Ah", False, 1000.0, 0.1)
    assert len(q) >= 34
    np.testing.assert_allclose(q[:, 0], q[:, 1], rtol=0.01)
    # the first discharge (lithiation of Si) ~1.75 mAh: current negative
    assert q[0, 1] == pytest.approx(-1.755, abs=0.01)


@pytest.mark.skipif(shutil.which("mdb-export") is None, reason="mdbtools (mdb-export) not installed")
@pytest.mark.parametrize("src", [RES, REAL / "navani_arbin_example.res"])
def test_arbin_res_access_parser_agrees_with_mdbtools(src):
    if not src.is_file():
        pytest.skip(f"{src} not present")
    from ssbscope.echem.io.binary_cyclers import read_arbin_res

    a = read_arbin_res(src, backend="access-parser")
    b = read_arbin_res(src, backend="mdbtools")
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for c in a.columns:  # mdb-export prints float32 columns with 8 digits
        np.testing.assert_allclose(a[c], b[c], rtol=1e-6, atol=1e-9, err_msg=c)


def test_access_database_without_arbin_table_is_refused(tmp_path, monkeypatch):
    """An Access database that is not an Arbin data file (the table lookup stubbed)."""
    from ssbscope.echem.io import binary_cyclers as bc

    monkeypatch.setattr(bc, "_res_tables", lambda p, names, backend: {"Global_Table": None})
    with pytest.raises(FileFormatError, match="without Arbin's Channel_Normal_Table"):
        echem.read(RES)


# ------------------------------------------------------------------------------- CLI

def test_validate_and_run_detect_binaries_by_content(tmp_path):
    """`ssbscope validate` and `run` on an experiment whose Neware .nda and Arbin .res carry
    no telling name: both read, the cycles' charge is the counters' (Faraday through the chain)."""
    from ssbscope.cli import main
    from ssbscope.store import Store

    shutil.copyfile(NW / "newarenda_TestFile.nda", tmp_path / "cell_a.bin")
    shutil.copyfile(RES, tmp_path / "cell_b.dat")
    y = tmp_path / "exp.yaml"
    y.write_text("name: binaries\ncell:\n  area_cm2: 50.0\ninputs:\n  echem:\n"
                 "    - {path: cell_a.bin, label: neware nda}\n"
                 "    - {path: cell_b.dat, label: arbin res}\n")
    assert main(["validate", str(y)]) == 0
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    st = Store.open(tmp_path / "out")
    assert len(st["echem/timeseries"]["time_s"]) == 6669
    assert len(st["echem/arbin_res/timeseries"]["time_s"]) == 10261
    cyc = st["echem/cycles"].to_dataframe()
    nw = cyc[cyc["log"] != "arbin_res"]
    # cycle 1 charge = CC 5655.09 + CV 155.94 mAh (the .nda's own counters)
    assert float(nw["charge_capacity_mAh"].iloc[0]) == pytest.approx(5655.09 + 155.94, rel=0.005)


def test_ndax_declaring_huge_members_is_refused_before_unpacking(tmp_path, monkeypatch):
    """A zip whose members declare far more than it can hold (a damaged or hostile .ndax)."""
    from ssbscope.echem.io import binary_cyclers as bc

    q = tmp_path / "big.ndax"
    shutil.copyfile(NW / "newarenda_TESTCELL0001-Test_Data_Collection_Ndc17.ndax", q)
    monkeypatch.setattr(bc, "_ZIP_MAX_BYTES", 1000)  # the real file's members exceed this ...
    monkeypatch.setattr(bc, "_ZIP_MAX_RATIO", 1)     # ... and expand more than 1-fold
    with pytest.raises(FileFormatError, match=r"big\.ndax: Neware \.ndax archive declares"):
        echem.read(q)
    monkeypatch.setattr(bc, "_ZIP_MAX_RATIO", 200)   # the real ratio passes
    assert len(echem.read(q)) == 80
