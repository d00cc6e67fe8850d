"""Issue 14 (second slice): readers for what instruments write, honest EIS fits.

Real files: tests/data/realdata/ (see its MANIFEST.md) and ../shared/realdata (read in place).
References: the instrument's own charge counter (Faraday), each file's declared point count,
the twin's circuit values, the high-frequency intercept of the measured spectrum.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ssbscope import echem
from ssbscope.echem.io import sniff_format
from ssbscope.errors import FileFormatError
from ssbscope.testing import realdata_dir

HERE = Path(__file__).resolve().parents[1] / "data" / "realdata"
REAL = realdata_dir("potentiostat")
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data folder {REAL} not present")


# ------------------------------------------------------------------ EIS text exports
# name -> (format, rows counted independently below, first frequency Hz, first Re Z, first Im Z)
EIS_FILES = {
    "impedancepy_exampleDataZPlot.z": ("zplot", 300000.0, 147.77, -11.335),
    "impedancepy_exampleDataZPlot_noComments.z": ("zplot", 300000.0, 642.62, -85.821),
    "impedancepy_exampleDataAutolab.txt": ("zplot", 10000.0, 0.013785863964281, 0.007191946305823),
    "impedancepy_exampleDataCHInstruments.txt": ("chi", 99610.0, 98.91, -2.748),
    "impedancepy_exampleDataParstat.txt": ("parstat", 10000.0, -0.00049816280376104, 0.0175143479976367),
    "impedancepy_exampleDataPowersuite.txt": ("powersuite", 0.1, 423929.46, -49014.063),
    "impedancepy_exampleDataVersaStudio.par": ("versastudio", 100000.0, 55.31571, 4.575431),
}


def _count_numeric_rows(path: Path, fmt: str) -> int:
    """Independent count: lines that are all numbers (comma/tab/space separated), minus the
    Parstat DC rows (frequency 0) and the ZPlot settings line ('0,2,0,1,...' before the count)."""
    n = 0
    lines = path.read_bytes().decode("utf-8-sig", errors="replace").splitlines()
    if fmt == "versastudio":  # data rows of the segments: 24 comma-separated numbers
        return sum(1 for ln in lines if ln[:1].isdigit() and ln.count(",") >= 20)
    for k, ln in enumerate(lines):
        parts = [x for x in ln.replace(",", " ").replace("\t", " ").split() if x]
        try:
            vals = [float(x) for x in parts]
        except ValueError:
            continue
        if len(vals) < 3:
            continue
        if fmt == "parstat" and vals[3] == 0:
            continue
        if fmt == "zplot" and k + 2 < len(lines) and lines[k + 1].strip().isdigit():
            continue  # the ZPlotW/Z60W sweep-settings line
        n += 1
    return n


@pytest.mark.parametrize("name", sorted(EIS_FILES))
def test_eis_text_exports_read(name):
    fmt, f0, zr0, zi0 = EIS_FILES[name]
    p = HERE / "eis" / name
    assert sniff_format(p) == fmt
    z = echem.read_eis(p)
    assert z.attrs["format"] == fmt
    assert len(z) == _count_numeric_rows(p, fmt)
    assert (z["frequency_Hz"] > 0).all()
    assert z["frequency_Hz"].iloc[0] == pytest.approx(f0)
    assert z["z_real_ohm"].iloc[0] == pytest.approx(zr0)
    assert z["z_imag_ohm"].iloc[0] == pytest.approx(zi0)
    # capacitive arcs: most points below the real axis (sign kept as the instrument writes it)
    assert (z["z_imag_ohm"] < 0).mean() > 0.5
    with pytest.raises(FileFormatError, match="impedance export"):
        echem.read(p)


def test_zplot_declared_more_points_than_written_warns():
    z = echem.read_eis(HERE / "eis" / "impedancepy_exampleDataZPlot_noComments.z")
    assert z.attrs["declared_points"] == 79 and len(z) == 31
    assert any("declares 79 points" in w for w in z.attrs["warnings"])


def test_eis_text_cut_last_row_dropped_with_warning(tmp_path):
    src = (HERE / "eis" / "impedancepy_exampleDataCHInstruments.txt").read_bytes().rstrip()
    cut = tmp_path / "chi_cut.txt"
    cut.write_bytes(src[:-12])  # mid-row, no final line break
    z = echem.read_eis(cut)
    full = echem.read_eis(HERE / "eis" / "impedancepy_exampleDataCHInstruments.txt")
    assert len(z) == len(full) - 1
    assert any("dropped the last data row" in w for w in z.attrs["warnings"])


def test_utf16_eis_export_reads_like_the_original(tmp_path):
    src = HERE / "eis" / "impedancepy_exampleDataPowersuite.txt"
    u16 = tmp_path / "powersuite_utf16.txt"
    u16.write_bytes(src.read_text().encode("utf-16"))
    a, b = echem.read_eis(src), echem.read_eis(u16)
    np.testing.assert_array_equal(a["z_real_ohm"], b["z_real_ohm"])


# ------------------------------------------------------------------ BioLogic without I/mA
@needs_real
@pytest.mark.parametrize("keep", ["(Q-Qo)/mA.h", "control/V/mA"])
def test_gcpl_current_from_q_or_control_matches_charge_counter(monkeypatch, keep):
    """A GCPL file recording neither I/mA nor dq: current from d(Q-Qo)/dt or from the
    galvanostatic set point; Coulomb counting must reproduce the instrument's charge counter."""
    from ssbscope.echem.io import biologic as B

    name = "navani_gcpl_5cycles_C09.mpr"
    p, cols, mode, meta, sha = B._load_mpr(REAL / name)
    ref_q = np.asarray(cols["(Q-Qo)/mA.h"], dtype=float)
    drop = {"dq/mA.h", "(Q-Qo)/mA.h", "Q charge/discharge/mA.h"} - {keep}
    real_load = B._load_mpr

    def fake(path, raw=None):
        p, cols, mode, meta, sha = real_load(path, raw)
        return p, {k: v for k, v in cols.items() if k not in drop}, mode, meta, sha

    monkeypatch.setattr(B, "_load_mpr", fake)
    df = echem.read(REAL / name)
    assert keep in df.attrs["current_source"]
    t = df["time_s"].to_numpy()
    q = np.cumsum(df["current_A"].to_numpy() * np.diff(t, prepend=t[0])) / 3.6
    ref = ref_q - ref_q[0]
    tol = 1e-4 if keep.startswith("(Q") else 0.02  # set point vs measured: within 2 % of the swing
    assert np.max(np.abs(q - ref)) <= tol * np.max(np.abs(ref))


def test_real_gcpl_without_i_column_current_from_control_matches_charge_counter():
    """A native EC-Lab GCPL .mpr that records no I/mA (nor <I>/mA): datalab's in-situ SQUID
    cell file (MIT; MANIFEST.md). Its current exists as the galvanostatic set point
    control/V/mA (+-0.01 mA) and as the measured dq/mA.h. References: the instrument's own
    charge counter (Q-Qo)/mA.h (Faraday) and the measured dq/dt of each galvanostatic point."""
    from ssbscope.echem.io import biologic as B

    p = HERE / "biologic" / "datalab_jdb11-1_e1_s3_squidTest_data_C15.mpr"
    _, cols, mode, _, _ = B._load_mpr(p)
    assert not {"I/mA", "<I>/mA"} & set(cols) and "control/V/mA" in cols
    t = np.asarray(cols["time/s"], dtype=float)
    q = np.asarray(cols["(Q-Qo)/mA.h"], dtype=float)
    ref = q - q[0]
    swing = np.max(np.abs(ref))
    assert 0.12 < swing < 0.14  # mA.h

    df = echem.read(p)  # the reader: measured dq/dt first
    assert len(df) == len(t) == 32917 and df.attrs["current_source"].startswith("derived: dq/mA.h")
    assert 1.99 < df["voltage_V"].min() and df["voltage_V"].max() < 3.81
    dt = np.diff(t, prepend=t[0])
    q_read = np.cumsum(df["current_A"].to_numpy() * dt) / 3.6
    assert np.max(np.abs(q_read - ref)) <= 1e-4 * swing

    # the set-point path (what a file without dq and (Q-Qo) gets), on the native columns
    i_a, src = B._current_without_i(cols, mode, t)
    assert src.startswith("control/V/mA")
    gal = (np.asarray(mode) == 1) & (dt > 0)
    assert gal.sum() > 30000 and np.all(i_a[np.asarray(mode) == 3] == 0)
    i_meas = np.asarray(cols["dq/mA.h"], dtype=float)[gal] / (dt[gal] / 3600.0) * 1e-3
    ratio = i_meas / i_a[gal]
    assert np.percentile(ratio, 1) > 0.995 and np.percentile(ratio, 99) < 1.005  # sign and mA
    q_set = np.cumsum(i_a * dt) / 3.6
    assert np.max(np.abs(q_set - ref)) <= 0.01 * swing  # set point vs measured: 1 % of swing


# ------------------------------------------------------------------ honest EIS fits
def test_twin_spectrum_fit_is_ok_and_recovers_truth():
    from ssbscope.twin.echem import eis_spectrum

    sp = eis_spectrum(r_s_ohm=45.0, r_ct_ohm=250.0)
    fit = echem.fit_eis(sp.freq_hz, sp.z_real_ohm, sp.z_imag_ohm)
    assert fit.fit_ok and fit.fit_problem == ""
    assert fit.r_s_ohm == pytest.approx(45.0, rel=0.02)
    assert fit.r_ct_ohm == pytest.approx(250.0, rel=0.02)


@needs_real
def test_real_gamry_fit_with_rs_at_zero_is_failed():
    """impedance.py's Gamry spectrum: the Randles fit drives R_s to ~1e-16 Ω although the
    high-frequency Re(Z) is hundreds of ohm: failed, with the reason."""
    z = echem.read_eis(REAL / "impedancepy_exampleDataGamry.DTA")
    hf = float(z.loc[z["frequency_Hz"].idxmax(), "z_real_ohm"])
    assert hf > 100
    fit = echem.fit_eis(z["frequency_Hz"], z["z_real_ohm"], z["z_imag_ohm"])
    assert not fit.fit_ok
    assert "R_s" in fit.fit_problem


def test_fit_of_a_spectrum_the_circuit_cannot_describe_fails_on_residual():
    rng = np.random.default_rng(3)
    f = np.logspace(5, -1, 40)
    z = (100 + rng.normal(0, 60, f.size)) + 1j * rng.normal(0, 60, f.size)
    fit = echem.fit_eis(f, z.real, z.imag)
    assert not fit.fit_ok
    assert fit.fit_problem


@needs_real
def test_stage_stores_failed_fit_as_failed_and_report_says_so(tmp_path):
    import shutil

    from ssbscope.config import Analysis, Cell, EchemAnalysis, EchemInput, Experiment, Inputs
    from ssbscope.echem import stages as S
    from ssbscope.pipeline import run
    from ssbscope.report.echem import _eis_figures
    from ssbscope.store import Store
    from ssbscope.twin import echem as E
    from ssbscope.twin import formats as F

    cyc = E.nmc622_first_cycle(dt_s=600.0)
    F.write_twin(cyc, tmp_path / "cycle1.mpt")
    F.write_twin(E.first_cycle_eis(cyc)[3], tmp_path / "good.mpt")
    shutil.copy(REAL / "impedancepy_exampleDataGamry.DTA", tmp_path / "bad.DTA")
    exp = Experiment(
        cell=Cell(area_cm2=cyc.area_cm2, active_mass_mg=cyc.active_mass_mg),
        inputs=Inputs(echem=[EchemInput(path="cycle1.mpt"),
                             EchemInput(path="good.mpt", kind="eis", time_s=cyc.charge_end_s),
                             EchemInput(path="bad.DTA", kind="eis", time_s=10.0)]),
        # the one-arc circuit: "auto" fits bad.DTA with two arcs (tests/echem/test_eis_solid_state.py)
        analysis=Analysis(echem=EchemAnalysis(eis_circuit="randles")),
        base_dir=str(tmp_path))
    st = Store.create(tmp_path / "store.zarr")
    run(S.input_stages(exp), st, raw_dir=tmp_path, quiet=True)
    eis = st["echem/eis"].load()
    ok = eis["fit_ok"].values.astype(bool)
    assert ok.tolist() == [True, False]
    assert np.isfinite(eis["r_s_ohm"].values[0]) and np.isnan(eis["r_s_ohm"].values[1])
    assert np.isnan(eis["r_ct_ohm"].values[1])
    assert "R_s" in str(eis["fit_problem"].values[1])
    html, summary = _eis_figures(eis)
    assert "fit failed: R_s" in html
    assert ("EIS fits failed", "1 of 2") in summary


# ------------------------------------------------------------------ cycler text exports
def _counter_check(df, counter, sign, scale, key="step"):
    """Charge integrated from current_A over each same-sign run of a step, against the
    increase of the instrument's own charge counter over that run (mAh, Faraday)."""
    t, i = df["time_s"].to_numpy(), df["current_A"].to_numpy()
    q = df[counter].to_numpy() * scale
    s = np.sign(np.where(np.abs(i) < 1e-9, 0, i))
    k = df[key].to_numpy()
    tot_i = tot_q = 0.0
    start = 0
    for j in range(1, len(t) + 1):
        if j == len(t) or k[j] != k[j - 1] or s[j] != s[j - 1]:
            if s[start] == sign and j - start > 2:
                seg = slice(start, j)
                tot_i += abs(np.sum(i[seg][1:] * np.diff(t[seg]))) / 3.6
                tot_q += q[j - 1] - q[start]
            start = j
    return tot_i, tot_q


def test_neware_regular_export_auto_detected_and_charge_matches_step_counter():
    p = HERE / "neware" / "cellpy_nw_regular_export_first2900lines.csv"
    assert sniff_format(p) == "neware-regular"
    df = echem.read(p)
    assert df.attrs["format"] == "neware-regular"
    # record rows only: lines starting with two commas (independent count)
    n_rec = sum(1 for ln in p.read_text(encoding="latin-1").splitlines() if ln.startswith(",,")) - 1
    assert len(df) == n_rec
    assert set(df["mode"]) >= {"CC", "rest"}
    q_i, q_c = _counter_check(df, "capacity_Ah", +1, 1000.0, key="cycle")
    assert q_c > 100 and q_i == pytest.approx(q_c, rel=1e-3)
    # discharge steps (CC DChg) carry negative current
    assert (df.loc[df["instrument_state"] == "CC DChg", "current_A"] < 0).all()


@pytest.mark.parametrize("name,preamble", [("cellpy_pec_first3000lines.csv", 32),
                                           ("cellpy_pec_Test25209.csv", 45)])
def test_pec_export_with_preamble_auto_detected(name, preamble):
    p = HERE / "pec" / name
    assert sniff_format(p) == "pec"
    df = echem.read(p)
    assert df.attrs["format"] == "pec" and df.attrs["preamble_lines"] == preamble
    n = sum(1 for ln in p.read_text(encoding="latin-1").splitlines()[preamble + 1:] if ln.strip())
    assert len(df) == n
    assert 2.4 < df["voltage_V"].min() and df["voltage_V"].max() < 4.3  # mV column -> V
    if name.startswith("cellpy_pec_first"):
        for counter, sign in (("charge_capacity_mAh", +1), ("discharge_capacity_mAh", -1)):
            q_i, q_c = _counter_check(df, counter, sign, 1.0)
            assert q_c > 1000 and q_i == pytest.approx(q_c, rel=1e-3)


def test_landt_export_with_preamble_and_its_bdf_conversion_agree():
    """The same Landt measurement as exported (6-line preamble) and converted to the Battery
    Data Format by its authors: both auto-detected, identical samples."""
    raw = HERE / "landt" / "bdfrepo_SINTEF_LiGrR2032_Landt_first4000lines.csv"
    bdf = HERE / "bdf" / "bdfrepo_SINTEF_LiGrR2032_Landt_first8000lines.bdf.csv"
    assert sniff_format(bdf) == "bdf"
    a, b = echem.read(bdf), echem.read(raw)
    assert b.attrs["preamble_lines"] == 6
    assert len(b) == 4000 - 7 and len(a) == 8000 - 1
    n = len(b)
    for c in ("time_s", "voltage_V", "current_A"):
        np.testing.assert_array_equal(a[c].to_numpy()[:n], b[c].to_numpy())
    # Faraday: the Landt discharge counter (0.1 mAh resolution) against the integrated current
    t, i = b["time_s"].to_numpy(), b["current_A"].to_numpy()
    q = np.concatenate(([0.0], np.cumsum(-i[1:] * np.diff(t)))) / 3.6
    cnt = b["discharge_capacity_ah"].to_numpy() * 1000
    k = int(np.argmax(cnt))
    assert abs(q[k] - cnt[k]) <= 0.1 + 0.02 * cnt[k]


def test_bdf_human_headers():
    df = echem.read(HERE / "bdf" / "bdfrepo_sample.bdf.csv")
    assert df.attrs["format"] == "bdf"
    assert df["time_s"].tolist() == [0.0, 1.0, 2.0]
    assert df["voltage_V"].tolist() == [3.7, 3.6, 3.5]
    assert df["current_A"].tolist() == [0.1, 0.1, 0.1]


def test_bdf_units_in_names_are_applied(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("Test Time / h,Voltage / mV,Current / mA\n0,3700,100\n0.5,3710,100\n1,3720,100\n")
    df = echem.read(p)
    assert df["time_s"].tolist() == [0.0, 1800.0, 3600.0]
    assert df["voltage_V"].tolist() == pytest.approx([3.7, 3.71, 3.72])
    assert df["current_A"].tolist() == pytest.approx([0.1] * 3)


@pytest.mark.parametrize("enc", ["utf-16", "utf-16-le"])
def test_utf16_cycler_export_reads_like_the_original(tmp_path, enc):
    """UTF-16 (PalmSens and other Windows exports; here a real PEC file re-encoded, synthetic
    encoding of a real table)."""
    src = HERE / "pec" / "cellpy_pec_Test25209.csv"
    u = tmp_path / "u16.csv"
    u.write_bytes(src.read_text(encoding="latin-1").encode(enc))
    a, b = echem.read(src), echem.read(u)
    assert b.attrs["format"] == "pec"
    for c in ("time_s", "voltage_V", "current_A"):
        np.testing.assert_array_equal(a[c], b[c])


def test_generic_preamble_found_by_content(tmp_path):
    """A preamble of free text and key: value lines of any length before the header."""
    p = tmp_path / "log.csv"
    p.write_text("My cycler v2\nOperator:,someone\nNotes: a, b, c\n\n"
                 "Time (s),Voltage (V),Current (A)\n0,3.0,0.001\n10,3.1,0.001\n20,3.2,0.001\n")
    df = echem.read(p)
    assert df.attrs["preamble_lines"] == 4
    assert df["voltage_V"].tolist() == [3.0, 3.1, 3.2]


def test_real_basytec_export_preamble_found_by_content():
    """A real BaSyTec export (PyProBE's sample, BSD-3-Clause; MANIFEST.md): 12 lines of '~'
    metadata (test name, plan, channel, start/end, operators) before the '~Time[s] ...' header.
    The header is found by content; every data line becomes one point; Coulomb counting of
    current_A reproduces the instrument's own charge counter Ah[Ah] (Faraday, 1 %)."""
    from ssbscope.echem.io.tabular import header_line

    p = HERE / "basytec" / "pyprobe_sample_data_basytec.txt"
    lines = p.read_text(encoding="latin-1").splitlines()
    k = header_line(lines)
    assert k == 12 and lines[k].startswith("~Time[s]\tDataSet")
    n_data = sum(1 for ln in lines[k + 1:] if ln.strip() and not ln.startswith("~"))
    df = echem.read(p, time_s="~Time[s]", voltage_V="U[V]", current_A="I[A]")
    assert len(df) == n_data == 74
    t, i = df["time_s"].to_numpy(), df["current_A"].to_numpy()
    assert np.all(np.diff(t) > 0) and t[-1] == pytest.approx(70.2358, abs=1e-3)
    assert 3.52 < df["voltage_V"].min() and df["voltage_V"].max() < 3.54  # rest then 0.45 A
    assert 0.44 < i.max() < 0.46 and i.min() == 0.0
    # left-rectangle rule: BaSyTec counts the charge of the interval ending at each record
    q_ah = np.concatenate([[0.0], np.cumsum(np.diff(t) * i[1:])]) / 3600.0
    assert q_ah[-1] == pytest.approx(df["ah_Ah"].iloc[-1], rel=0.01)
    np.testing.assert_allclose(q_ah, df["ah_Ah"].to_numpy(), atol=5e-6)


def test_real_basytec_export_read_with_no_column_mapping(capsys):
    """Issue 14: the BaSyTec export above was read only when the user named its columns.  Its
    'Name[unit]' header ('~Time[s]', 'U[V]', 'I[A]') is now recognised: ``echem.read`` and
    ``ssbscope echem`` read it with no mapping, the '~Key: value' preamble is kept (start of
    test as start_time), and Coulomb counting of current_A reproduces the file's own charge
    counter Ah[Ah] (Faraday; 5e-6 Ah absolute, the counter's own rounding)."""
    from ssbscope.cli import main

    p = HERE / "basytec" / "pyprobe_sample_data_basytec.txt"
    df = echem.read(p)
    assert df.attrs["instrument"] == "BaSyTec" and df.attrs["preamble_lines"] == 12
    assert df.attrs["columns_used"]["time_s"] == "~Time[s]"
    assert df.attrs["start_time"] == "2023-06-19T17:56:53"
    assert df.attrs["preamble"]["Testchannel"] == "1814 CH14 XCTS_40"
    assert len(df) == 74 and set(df["mode"]) == {"rest", "other"}  # Pause / Charge
    t, i = df["time_s"].to_numpy(), df["current_A"].to_numpy()
    q_ah = np.concatenate([[0.0], np.cumsum(np.diff(t) * i[1:])]) / 3600.0
    assert df["ah_Ah"].iloc[-1] > 1e-3  # a charge is counted at all
    np.testing.assert_allclose(q_ah, df["ah_Ah"].to_numpy(), atol=5e-6)
    mapped = echem.read(p, time_s="~Time[s]", voltage_V="U[V]", current_A="I[A]")
    np.testing.assert_array_equal(mapped["current_A"].to_numpy(), i)
    assert main(["echem", str(p)]) == 0  # the CLI's summary: the file's counter, within 1 %
    m = re.search(r"charge passed: ([\d.]+) mAh", capsys.readouterr().out)
    assert m and float(m.group(1)) == pytest.approx(1000 * df["ah_Ah"].iloc[-1], rel=0.01)


def test_excel_workbook_detected_and_read_or_refused_clearly(tmp_path):
    """An .xlsx workbook (a zip with xl/workbook.xml): read through the optional openpyxl, or
    refused with an ssbscope error naming the extra (synthetic minimal workbook)."""
    import zipfile

    from ssbscope.errors import UnsupportedFormatError

    p = tmp_path / "log.xlsx"
    try:
        import openpyxl
    except ImportError:
        openpyxl = None
    if openpyxl is None:
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("xl/workbook.xml", "<workbook/>")
            z.writestr("[Content_Types].xml", "<Types/>")
        assert sniff_format(p) == "excel"
        with pytest.raises(UnsupportedFormatError, match="ssbscope\\[excel\\]"):
            echem.read(p)
        return
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Test Time / s", "Voltage / V", "Current / A"])
    for k in range(5):
        ws.append([k * 10.0, 3.0 + 0.1 * k, 0.001])
    wb.save(p)
    assert sniff_format(p) == "excel"
    df = echem.read(p)
    assert df["voltage_V"].tolist() == pytest.approx([3.0, 3.1, 3.2, 3.3, 3.4])


def test_mb_without_i_column_prefers_measured_charge_over_set_point(monkeypatch):
    """Real EC-Lab MB file (BDF test data) with no I/mA: the measured dq/dt is used (here
    ~0: the set point of 0.513 mA did not flow, which is why the set point is only the last
    resort); without dq and (Q-Qo) the set point of the galvanostatic points is used, 0 at rest."""
    from ssbscope.echem.io import biologic as B

    p = HERE / "biologic" / "bdfrepo_MB-1.mpr"
    df = echem.read(p)
    assert df.attrs["current_source"].startswith("derived: dq/mA.h")
    assert np.abs(df["current_A"]).max() < 0.1 * 0.513e-3  # far below the set point
    real_load = B._load_mpr

    def fake(path, raw=None):
        q, cols, mode, meta, sha = real_load(path, raw)
        return q, {k: v for k, v in cols.items() if k not in ("dq/mA.h", "(Q-Qo)/mA.h")}, mode, meta, sha

    monkeypatch.setattr(B, "_load_mpr", fake)
    df = echem.read(p)
    assert "control/V/mA" in df.attrs["current_source"]
    i_ma = df["current_A"].to_numpy() * 1e3
    assert i_ma[-2:] == pytest.approx([0.513, 0.513], rel=1e-6)
    assert np.all(i_ma[:-2] == 0)


@needs_real
def test_maccor_comma_separated_export_detected_without_format(tmp_path):
    """The real Maccor text export re-written with commas (synthetic re-encoding of a real
    file: some Maccor export settings write CSV): detected by content, read identically."""
    src = REAL / "cellpy_maccor_002.txt"
    text = src.read_bytes().decode("latin-1")
    p = tmp_path / "maccor_export.csv"
    p.write_bytes(text.replace("\t", ",").encode("latin-1"))
    assert sniff_format(p) == "maccor"
    a, b = echem.read(src), echem.read(p)
    for c in ("time_s", "voltage_V", "current_A"):
        np.testing.assert_array_equal(a[c], b[c])
