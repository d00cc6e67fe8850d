"""Readers on the real instrument files in ../shared/realdata/potentiostat (read in place).

References used: the MANIFEST row counts (checked against an independent line count where the
MANIFEST is off by one), each instrument's own charge counter (Coulomb counting of our
current_A must reproduce it: checks sign and units), wall-clock columns (time units), and the
file's own |Z| / phase columns (impedance sign convention).
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import trapezoid

from ssbscope import echem
from ssbscope.echem.io import MODES
from ssbscope.errors import FileFormatError, UnsupportedFormatError
from ssbscope.testing import realdata_dir

REAL = realdata_dir("potentiostat")
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data folder {REAL} not present")


def _count_lines(name: str, start_pred) -> int:
    """Independent count of data lines (lines whose first field passes ``start_pred``)."""
    text = (REAL / name).read_bytes().decode("latin-1").splitlines()
    return sum(1 for ln in text if start_pred(ln))


# name -> (expected rows, (vmin, vmax) plausible voltage range, format)
TIMESERIES = {
    "navani_gcpl_5cycles_C09.mpr": (46102, (1.99, 3.81), "biologic-mpr"),
    "navani_00_test_01_OCV_C01.mpr": (2, (-0.38, -0.37), "biologic-mpr"),
    "navani_00_test_04_MB_C01.mpr": (1501, (-1.66, -1.64), "biologic-mpr"),
    "hybriddrt_CP_SSB.mpr": (30208, (2.9, 2.95), "biologic-mpr"),
    "hybriddrt_PEIS_SSB.mpr": (89, (2.96, 2.97), "biologic-mpr"),
    "hybriddrt_PEIS_LPSCl_IonBlocking_-25C.mpr": (79, (-0.09, -0.07), "biologic-mpr"),
    "cellpy_biol.mpr": (23561, (0.12, 1.0), "biologic-mpr"),
    # MANIFEST says 42 / 30 / 30: it misses the last row, which has no trailing newline but
    # all its fields (checked below with an independent field count).
    "impedancepy_exampleDataBioLogic.mpt": (43, (-0.001, 0.001), "biologic-mpt"),
    "ixdat_multiple_techniques_dataset_01_01_PEIS_C01.mpt": (31, (1.0, 1.002), "biologic-mpt"),
    "ixdat_multiple_techniques_dataset_01_03_CP_C01.mpt": (31, (0.82, 1.0), "biologic-mpt"),
    "impedancepy_exampleDataGamry.DTA": (387, (-0.35, -0.29), "gamry-dta"),  # its OCV curve
    "beep_arbin_2017-05-09_test-TC-contact_CH33.csv": (287, (3.29, 3.61), "arbin"),
    "beep_arbin_FastCharge_000025_CH8.csv": (248, (3.30, 3.302), "arbin"),
    "cellpy_neware_uio.csv": (9065, (0.0, 3.0), "neware"),
    "cellpy_maccor_002.txt": (7446, (0.0, 3.81), "maccor"),
    "beep_maccor_test_file_4267-66-6519.041": (13, (3.90, 3.92), "maccor-raw"),  # 74 - 61 FRA
    "beep_maccor_PredictionDiagnostics_000151_test.052": (333, (3.86, 3.87), "maccor-raw"),
    "beep_novonix_test_Nova_Form-CH01-01_short.csv": (3942, (0.13, 4.41), "novonix"),
}
# cycler binaries: read through the optional extras (in the test extra), refused without them
_HAS_NEWARE = importlib.util.find_spec("NewareNDA") is not None
_HAS_ARBIN = importlib.util.find_spec("access_parser") is not None or shutil.which("mdb-export")
BINARIES = {
    "navani_test.nda": ((439, (-0.102, -0.084), "neware-nda"), _HAS_NEWARE,
                        (UnsupportedFormatError, r"navani_test\.nda.*Neware.*ssbscope\[neware\]")),
    "navani_test.ndax": ((1464, (1.49, 4.41), "neware-ndax"), _HAS_NEWARE,
                         (UnsupportedFormatError, r"navani_test\.ndax.*Neware.*ssbscope\[neware\]")),
    "navani_arbin_example.res": ((2150, (2.99, 4.31), "arbin-res"), _HAS_ARBIN,
                                 (UnsupportedFormatError, r"navani_arbin_example\.res.*Arbin.*ssbscope\[arbin\]")),
}
TIMESERIES.update({k: v[0] for k, v in BINARIES.items() if v[1]})
REFUSED = {k: v[2] for k, v in BINARIES.items() if not v[1]}
REFUSED.update({
    "hybriddrt_EISGALV_EISTest3.DTA": (FileFormatError, r"EISGALV.*only an impedance table.*read_eis"),
    "beep_arbin_2017-05-09_test-TC-contact_CH33_Metadata.csv":
        (FileFormatError, r"Arbin metadata file.*read the data file beep_arbin_2017-05-09_test-TC-contact_CH33\.csv"),
    "beep_arbin_FastCharge_000025_CH8_Metadata.csv":
        (FileFormatError, r"metadata.*FastCharge_000025_CH8\.csv"),
})
EIS = {  # name -> number of frequencies
    "hybriddrt_PEIS_SSB.mpr": 89,
    "hybriddrt_PEIS_LPSCl_IonBlocking_-25C.mpr": 79,
    "hybriddrt_EISGALV_EISTest3.DTA": 71,
    "impedancepy_exampleDataGamry.DTA": 72,
    "impedancepy_exampleDataBioLogic.mpt": 43,
    "ixdat_multiple_techniques_dataset_01_01_PEIS_C01.mpt": 31,
}


def test_every_file_in_the_folder_is_covered():
    names = {p.name for p in REAL.iterdir() if p.is_file()}
    assert names == set(TIMESERIES) | set(REFUSED), names ^ (set(TIMESERIES) | set(REFUSED))


@pytest.mark.parametrize("name", sorted(TIMESERIES))
def test_read_real_file(name):
    rows, (vmin, vmax), fmt = TIMESERIES[name]
    path = REAL / name
    before = sorted(p.name for p in REAL.iterdir())
    df = echem.read(path)
    assert len(df) == rows
    assert list(df.columns[:3]) == ["time_s", "voltage_V", "current_A"]
    for c in ("time_s", "voltage_V", "current_A"):
        assert df[c].dtype == np.float64 and np.isfinite(df[c]).all()
    assert np.all(np.diff(df["time_s"].to_numpy()) >= 0)
    assert vmin <= df["voltage_V"].min() and df["voltage_V"].max() <= vmax
    a = df.attrs
    assert a["format"] == fmt
    assert a["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert Path(a["path"]) == path.resolve()
    if "mode" in df.columns:
        assert set(df["mode"]) <= set(MODES)
    # read-only: nothing written next to the file
    assert sorted(p.name for p in REAL.iterdir()) == before


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_cleanly(name):
    err, pattern = REFUSED[name]
    with pytest.raises(err, match=pattern):
        echem.read(REAL / name)


def test_mpt_row_counts_against_independent_field_count():
    # complete data rows: every field present (18 for impedance.py's file, 21 for ixdat PEIS)
    for name, nf in (("impedancepy_exampleDataBioLogic.mpt", 18),
                     ("ixdat_multiple_techniques_dataset_01_01_PEIS_C01.mpt", 21)):
        n = _count_lines(name, lambda ln, nf=nf: len(ln.split("\t")) == nf and ln[:1].isdigit())
        assert n == TIMESERIES[name][0]


def test_text_row_counts_against_independent_line_count():
    n052 = _count_lines("beep_maccor_PredictionDiagnostics_000151_test.052", lambda ln: ln[:1].isdigit())
    assert n052 == 333
    n041 = _count_lines("beep_maccor_test_file_4267-66-6519.041", lambda ln: ln[:1].isdigit())
    assert n041 == 74
    nfra = _count_lines("beep_maccor_test_file_4267-66-6519.041", lambda ln: "\tFRA\t" in ln)
    assert n041 - nfra == TIMESERIES["beep_maccor_test_file_4267-66-6519.041"][0]


def _coulombs_mAh(df):
    """Charge passed, left-point rule matching the instruments' per-interval counters (mAh)."""
    t = df["time_s"].to_numpy()
    i = df["current_A"].to_numpy()
    return np.cumsum(i * np.diff(t, prepend=t[0])) / 3.6


@pytest.mark.parametrize("name,rtol", [
    ("navani_gcpl_5cycles_C09.mpr", 1e-4),   # current derived from dq: near-identity
    ("hybriddrt_CP_SSB.mpr", 0.02),          # (Q-Qo)/C -> mAh
    ("navani_00_test_04_MB_C01.mpr", 0.01),
    ("cellpy_biol.mpr", 0.01),               # I/mA against (Q-Qo)/mA.h over 21 h
])
def test_biologic_current_matches_instrument_charge_counter(name, rtol):
    df = echem.read(REAL / name)
    q = _coulombs_mAh(df)
    ref = df["capacity_mAh"].to_numpy() - df["capacity_mAh"].iloc[0]
    scale = np.max(np.abs(ref))
    assert scale > 0
    assert np.max(np.abs(q - ref)) <= rtol * scale


def test_gcpl_without_current_column_uses_dq_and_agrees_with_setpoint():
    from galvani import BioLogic

    name = "navani_gcpl_5cycles_C09.mpr"
    df = echem.read(REAL / name)
    assert "derived" in df.attrs["current_source"]
    raw = BioLogic.MPRfile(str(REAL / name)).data
    ctrl_a = raw["control/V/mA"] * 1e-3
    cc = (df["mode"].to_numpy() == "CC") & (np.abs(ctrl_a) > 0)
    cc[0] = False
    rel = np.abs(df["current_A"].to_numpy()[cc] - ctrl_a[cc]) / np.abs(ctrl_a[cc])
    assert np.median(rel) < 0.01  # the measured CC current is the set point within 1 %
    # 5 cycles: charge (I > 0) raises the voltage of this NaCoO2 cell
    q = df.loc[df["current_A"] > 0, "voltage_V"].diff().dropna()
    assert (q > 0).mean() > 0.8


def test_biologic_start_time_and_versions():
    a = echem.read(REAL / "navani_gcpl_5cycles_C09.mpr").attrs
    assert a["start_time"].startswith("2020-10-26") and a["mpr_data_module_version"] == 3
    a = echem.read(REAL / "impedancepy_exampleDataBioLogic.mpt").attrs
    assert a["software_version"] == "11.18" and a["start_time"] == "2018-02-04T10:02:46"
    assert a["device"].startswith("SP-150")
    a = echem.read(REAL / "ixdat_multiple_techniques_dataset_01_03_CP_C01.mpt").attrs
    assert a["software_version"] == "11.27" and a["technique"] == "Chronopotentiometry"


def test_mpr_speed():
    import time

    t0 = time.perf_counter()
    echem.read(REAL / "navani_gcpl_5cycles_C09.mpr")
    assert time.perf_counter() - t0 < 1.0


def test_arbin_coulombs_and_units():
    df = echem.read(REAL / "beep_arbin_2017-05-09_test-TC-contact_CH33.csv")
    q_ah = _coulombs_mAh(df)[-1] / 1000
    ref = df["charge_capacity_Ah"].iloc[-1] - df["charge_capacity_Ah"].iloc[0]
    assert q_ah == pytest.approx(ref, rel=0.005)
    assert df["current_A"].max() == pytest.approx(6.6, abs=0.01)  # "6.6 A charge"
    assert "cycle" not in df.columns  # empty counters in this export are dropped, not invented


def _segments(df):
    key = (df["step"].diff().fillna(1) != 0) | (df["cycle"].diff().fillna(1) != 0)
    return df.groupby(key.cumsum())


def test_neware_signs_and_step_capacity():
    df = echem.read(REAL / "cellpy_neware_uio.csv")
    chg = df["instrument_state"].str.contains("Chg") & ~df["instrument_state"].str.contains("DChg")
    dchg = df["instrument_state"].str.contains("DChg")
    assert (df.loc[chg, "current_A"] > 0).all() and (df.loc[dchg, "current_A"] < 0).all()
    checked = 0
    for _, g in _segments(df):
        if g["mode"].iloc[0] != "CC" or len(g) < 20:
            continue
        q_ah = abs(np.sum(g["current_A"].to_numpy()[1:] * np.diff(g["time_s"].to_numpy()))) / 3600
        assert q_ah == pytest.approx(g["capacity_Ah"].iloc[-1], rel=0.03, abs=2e-6)
        checked += 1
    assert checked >= 6


def test_maccor_text_time_unit_from_wall_clock_and_sign_from_state():
    df = echem.read(REAL / "cellpy_maccor_002.txt")
    assert df.attrs["time_unit_inferred_s"] == 60.0
    # started 5/11/2021 3:40:24 PM, last record 5/14/2021 7:10:13 AM
    assert df["time_s"].iloc[-1] == pytest.approx(63.5 * 3600, abs=120)
    st = df["instrument_state"].to_numpy()
    assert (df["current_A"].to_numpy()[st == "D"] < 0).all()
    assert (df["current_A"].to_numpy()[st == "C"] > 0).all()
    for _, g in list(_segments(df))[:6]:
        if g["instrument_state"].iloc[0] in ("C", "D"):
            q = abs(np.sum(g["current_A"].to_numpy()[1:] * np.diff(g["time_s"].to_numpy()))) / 3600
            assert q == pytest.approx(g["capacity_Ah"].iloc[-1], rel=0.01)


def test_maccor_raw_signed_discharge_and_fra_dropped():
    df = echem.read(REAL / "beep_maccor_PredictionDiagnostics_000151_test.052")
    assert (df["current_A"] < -4.8).all() and (df["instrument_state"] == "D").all()
    assert df["time_s"].iloc[0] == pytest.approx(769267.24)
    df = echem.read(REAL / "beep_maccor_test_file_4267-66-6519.041")
    assert "61 impedance (FRA)" in df.attrs["dropped_records"]
    assert df["time_s"].iloc[-1] == pytest.approx(10.0)  # "0d 00:00:10.0000"


def test_novonix_hours_to_seconds_and_capacity():
    df = echem.read(REAL / "beep_novonix_test_Nova_Form-CH01-01_short.csv")
    assert df.attrs["start_time"] == "2022-04-11T10:58:07"
    assert set(df["mode"]) == {"rest", "CC", "CV"}
    # CC-CV steps logged sparsely: trapezoid rule, 3 % (an h/s mix-up would be a factor 3600)
    for _, g in list(_segments(df))[:4]:
        q = trapezoid(g["current_A"].to_numpy(), g["time_s"].to_numpy()) / 3600
        ref = g["capacity_Ah"].iloc[-1] - g["capacity_Ah"].iloc[0]
        assert q == pytest.approx(ref, rel=0.03, abs=1e-7)


@pytest.mark.parametrize("name", sorted(EIS))
def test_read_eis_real(name):
    z = echem.read_eis(REAL / name)
    assert len(z) == EIS[name]
    assert list(z.columns[:3]) == ["frequency_Hz", "z_real_ohm", "z_imag_ohm"]
    f = z["frequency_Hz"].to_numpy()
    assert (f > 0).all() and np.all(np.diff(f) < 0)  # one sweep, high to low
    assert np.all(np.diff(z["time_s"].to_numpy()) > 0)
    # the file's own |Z| and phase columns fix the sign convention of z_imag_ohm
    zc = z["z_real_ohm"].to_numpy() + 1j * z["z_imag_ohm"].to_numpy()
    np.testing.assert_allclose(np.abs(zc), z["z_mod_ohm"], rtol=1e-4)
    np.testing.assert_allclose(np.degrees(np.angle(zc)), z["z_phase_deg"], atol=0.01)
    # solid-state / thin-film cells: capacitive (Z'' < 0) at the low-frequency end
    assert z["z_imag_ohm"].iloc[-5:].mean() < 0


def test_read_eis_multi_spectrum_from_modulo_bat_file():
    z = echem.read_eis(REAL / "cellpy_biol.mpr")
    assert len(z) == 310
    assert z["spectrum"].nunique() == 5
    assert z.attrs["impedance_source"].startswith("|Z| and Phase(Z)")
    for _, g in z.groupby("spectrum"):
        assert np.all(np.diff(g["frequency_Hz"].to_numpy()) < 0)


def test_read_eis_refuses_time_series_file():
    with pytest.raises(FileFormatError, match=r"hybriddrt_CP_SSB\.mpr.*no impedance"):
        echem.read_eis(REAL / "hybriddrt_CP_SSB.mpr")
    with pytest.raises(FileFormatError, match=r"arbin.*no impedance"):
        echem.read_eis(REAL / "beep_arbin_FastCharge_000025_CH8.csv")


def test_text_start_times():
    a = echem.read(REAL / "beep_arbin_FastCharge_000025_CH8.csv").attrs
    # First_Start_DateTime 1494645214 in the companion metadata file (epoch s, UTC)
    assert a["start_time"] == "2017-05-13T03:13:34+00:00" and a["schedule"].endswith("4_4C.SDU")
    a = echem.read(REAL / "cellpy_neware_uio.csv").attrs
    assert a["start_time"] == "2022-05-18T16:27:52"
    a = echem.read(REAL / "beep_maccor_PredictionDiagnostics_000151_test.052").attrs
    # an excerpt starting at test time 769267 s: the start is not known, the first record is
    assert "start_time" not in a and a["first_record_time"] == "2019-10-21T23:59:59"
    assert a["procedure"] == "PredictionDiagnostics_000151.000"
