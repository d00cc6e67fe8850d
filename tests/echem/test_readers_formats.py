"""Readers on small files written here with known content: units, signs, modes, sniffing.

Each file is built from known arrays (time in h or s, current in mA, unsigned currents with a
state column ...) and the reader must return exactly the SI, charge-positive values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssbscope import echem
from ssbscope.errors import MissingColumnError, ParameterError

T_S = np.array([0.0, 10.0, 20.0, 30.0, 40.0, 50.0])
V = np.array([3.0, 3.1, 3.2, 3.25, 3.2, 3.1])
I_A = np.array([0.0, 1e-3, 1e-3, 1e-3, -1e-3, -1e-3])


def _write(path, text: str, encoding="utf-8", newline="\n"):
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def test_generic_csv_mapping_with_units_in_names(tmp_path):
    lines = ["t (h),E (mV),I (mA),cyc"] + [
        f"{float(t) / 3600!r},{float(v) * 1000!r},{float(i) * 1000!r},1" for t, v, i in zip(T_S, V, I_A)]
    p = _write(tmp_path / "log.csv", "\n".join(lines) + "\n")
    df = echem.read(p, time_s="t (h)", voltage_V="E (mV)", current_A="I (mA)", cycle="cyc")
    np.testing.assert_allclose(df["time_s"], T_S, rtol=1e-12)
    np.testing.assert_allclose(df["voltage_V"], V, rtol=1e-12)
    np.testing.assert_allclose(df["current_A"], I_A, rtol=1e-12)
    assert df["cycle"].tolist() == [1] * 6 and df.attrs["format"] == "csv"


def test_generic_csv_explicit_units_and_semicolon_decimal_comma(tmp_path):
    lines = ["zeit;spannung;strom"] + [
        f"{t / 60:.6f};{v:.4f};{i * 1e6:.1f}".replace(".", ",") for t, v, i in zip(T_S, V, I_A)]
    p = _write(tmp_path / "log.txt", "\n".join(lines) + "\n", encoding="latin-1")
    df = echem.read(p, time_s="zeit", voltage_V="spannung", current_A="strom",
                    time_unit="min", current_unit="uA")
    np.testing.assert_allclose(df["time_s"], T_S, atol=1e-4)
    np.testing.assert_allclose(df["current_A"], I_A, atol=1e-12)
    assert df.attrs["decimal_separator"] == "," and df.attrs["separator"] == ";"


def test_canonical_csv_needs_no_mapping_and_tsv(tmp_path):
    pd.DataFrame({"time_s": T_S, "voltage_V": V, "current_A": I_A}).to_csv(
        tmp_path / "c.tsv", sep="\t", index=False)
    df = echem.read(tmp_path / "c.tsv")
    np.testing.assert_array_equal(df["current_A"], I_A)


def test_datetime_and_duration_time_columns(tmp_path):
    stamps = pd.Timestamp("2024-03-01 12:00:00") + pd.to_timedelta(T_S, unit="s")
    pd.DataFrame({"when": stamps.astype(str), "U": V, "I": I_A}).to_csv(tmp_path / "d.csv", index=False)
    df = echem.read(tmp_path / "d.csv", time_s="when", voltage_V="U", current_A="I")
    np.testing.assert_allclose(df["time_s"], T_S)
    assert df.attrs["start_time"].startswith("2024-03-01T12:00:00")
    dur = ["1d 00:00:00", "1d 00:00:10", "24:00:20", "24:00:30.0", "1 day 00:00:40", "24:00:50"]
    pd.DataFrame({"tt": dur, "U": V, "I": I_A}).to_csv(tmp_path / "e.csv", index=False)
    df = echem.read(tmp_path / "e.csv", time_s="tt", voltage_V="U", current_A="I")
    np.testing.assert_allclose(df["time_s"], 86400 + T_S)


def test_unknown_mapping_key_and_unknown_unit(tmp_path):
    pd.DataFrame({"a": T_S, "b": V, "c": I_A}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(ParameterError, match=r"voltage_v.*unknown key"):
        echem.read(tmp_path / "x.csv", time_s="a", voltage_v="b", current_A="c")
    with pytest.raises(ParameterError, match=r"current_unit.*furlong"):
        echem.read(tmp_path / "x.csv", time_s="a", voltage_V="b", current_A="c", current_unit="furlong")


def _mpt_text(decimal=","):
    cols = ["mode", "ox/red", "error", "Ns", "time/s", "Ewe/V", "I/mA", "(Q-Qo)/mA.h",
            "Capacitance charge/µF", "Temperature/°C"]
    header = [
        "EC-Lab ASCII FILE",
        "Nb header lines : 7",
        "",
        "Galvanostatic Cycling with Potential Limitation",
        "Acquisition started on : 03/15/2024 09:30:00.000",
        "EC-Lab for windows v11.61 (software)",
        "\t".join(cols) + "\t",
    ]
    modes = [3, 1, 1, 2, 1, 1]
    rows = []
    q = 0.0
    for k, (t, v, i, m) in enumerate(zip(T_S, V, I_A, modes)):
        if k:
            q += i * 1e3 * (t - T_S[k - 1]) / 3600
        vals = [str(m), "1", "0", str(k // 3), f"{t:.4f}", f"{v:.6f}", f"{i * 1e3:.6E}", f"{q:.6E}",
                "0.0", "25.0"]
        rows.append("\t".join(x.replace(".", decimal) for x in vals))
    return "\n".join(header + rows) + "\n"


@pytest.mark.parametrize("decimal", [",", "."])
def test_mpt_decimal_comma_latin1_modes(tmp_path, decimal):
    p = _write(tmp_path / "cell.mpt", _mpt_text(decimal), encoding="latin-1", newline="\r\n")
    df = echem.read(p)
    np.testing.assert_allclose(df["time_s"], T_S)
    np.testing.assert_allclose(df["current_A"], I_A, rtol=1e-6)
    assert df["mode"].tolist() == ["rest", "CC", "CC", "CV", "CC", "CC"]
    assert df["step"].tolist() == [0, 0, 0, 1, 1, 1]
    assert "capacitance_charge_uF" in df.columns and "temperature_C" in df.columns
    assert df.attrs["start_time"] == "2024-03-15T09:30:00"
    assert df.attrs["software_version"] == "11.61"
    assert df.attrs["decimal_separator"] == decimal


def test_content_sniffing_beats_extension_and_invert_current(tmp_path):
    p = _write(tmp_path / "export.txt", _mpt_text("."), encoding="latin-1")
    df = echem.read(p)
    assert df.attrs["format"] == "biologic-mpt"
    inv = echem.read(p, invert_current=True)
    np.testing.assert_allclose(inv["current_A"], -df["current_A"])
    np.testing.assert_allclose(inv["capacity_mAh"], -df["capacity_mAh"])
    assert inv.attrs["current_inverted"] is True
    forced = echem.read(p, format="biologic-mpt")
    pd.testing.assert_frame_equal(forced, df)


def test_maccor_unsigned_current_signed_from_state(tmp_path):
    pre = "Name:\tX\nStarted\t3/15/2024 9:30:00 AM\n\n"
    head = "Rec\tCycle C\tStep\tTestTime\tStepTime\tCap. [Ah]\tCurrent [A]\tVoltage [V]\tMd\tDPT Time\n"
    states = ["R", "C", "C", "C", "D", "D"]
    rows = []
    for k, (t, v, i, s) in enumerate(zip(T_S, V, I_A, states)):
        clock = pd.Timestamp("2024-03-15 09:30:00") + pd.Timedelta(seconds=float(t))
        rows.append(f"{k + 1}\t1\t{k // 2 + 1}\t{t / 3600:.8f}\t0\t0\t{abs(i):.6f}\t{v}\t{s}\t"
                    f"{clock.strftime('%m/%d/%Y %I:%M:%S %p')}")
    p = _write(tmp_path / "m.txt", pre + head + "\n".join(rows) + "\n")
    df = echem.read(p)
    assert df.attrs["format"] == "maccor" and df.attrs["time_unit_inferred_s"] == 3600.0
    np.testing.assert_allclose(df["time_s"], T_S, atol=1e-3)
    np.testing.assert_allclose(df["current_A"], I_A)
    assert df["mode"].tolist()[0] == "rest"


def test_neware_unsigned_current_signed_from_step_type(tmp_path):
    head = "DataPoint,Cycle Index,Step Index,Step Type,Time,Total Time,Current(mA),Voltage(V)\n"
    types = ["Rest", "CC Chg", "CC Chg", "CV Chg", "CC DChg", "CC DChg"]
    rows = [f"{k + 1},1,{k},{s},0,{int(t) // 3600:02d}:{int(t) % 3600 // 60:02d}:{int(t) % 60:02d},"
            f"{abs(i) * 1e3},{v}" for k, (t, v, i, s) in enumerate(zip(T_S, V, I_A, types))]
    p = _write(tmp_path / "n.csv", head + "\n".join(rows) + "\n")
    df = echem.read(p)
    assert df.attrs["format"] == "neware"
    np.testing.assert_allclose(df["current_A"], I_A)
    np.testing.assert_allclose(df["time_s"], T_S)
    assert df["mode"].tolist() == ["rest", "CC", "CC", "CV", "CC", "CC"]


def test_mapping_overrides_preset(tmp_path):
    head = "Data_Point,Test_Time,Current,Voltage,Aux_Voltage\n"
    rows = [f"{k},{t},{i},{v},{v - 1}" for k, (t, v, i) in enumerate(zip(T_S, V, I_A))]
    p = _write(tmp_path / "a.csv", head + "\n".join(rows) + "\n")
    assert echem.read(p).attrs["format"] == "arbin"
    df = echem.read(p, voltage_V="Aux_Voltage")
    np.testing.assert_allclose(df["voltage_V"], V - 1)
    with pytest.raises(MissingColumnError, match=r"mapped column voltage_V='Vcell' not found.*Aux_Voltage"):
        echem.read(p, voltage_V="Vcell")


def _dta(curves: dict[str, list[tuple]]) -> str:
    out = ["EXPLAIN", "TAG\tCHRONOP", "TITLE\tLABEL\tChronopotentiometry\tTest &Identifier",
           "DATE\tLABEL\t3/15/2024\tDate", "TIME\tLABEL\t09:30:00\tTime",
           "FRAMEWORKVERSION\tQUANT\t7.8\tFramework Version"]
    for name, rows in curves.items():
        out += [f"{name}\tTABLE\t{len(rows)}", "\tPt\tT\tVf\tIm\tVu\tSig\tAch\tIERange\tOver\tTemp",
                "\t#\ts\tV vs. Ref.\tA\tV\tV\tV\t#\tbits\tdeg C"]
        out += ["\t" + "\t".join(str(x) for x in r) for r in rows]
    return "\n".join(out) + "\n"


def test_gamry_curve_time_series(tmp_path):
    rows1 = [(k, T_S[k], V[k], I_A[k], 0, 0, 0, 8, "...........", 25.0) for k in range(3)]
    rows2 = [(k, T_S[k + 3], V[k + 3], I_A[k + 3], 0, 0, 0, 8, "...........", 25.0) for k in range(3)]
    p = _write(tmp_path / "cp.DTA", _dta({"CURVE1": rows1, "CURVE2": rows2}), encoding="latin-1")
    df = echem.read(p)
    np.testing.assert_allclose(df["time_s"], T_S)
    np.testing.assert_allclose(df["current_A"], I_A)
    assert df["curve"].tolist() == [0, 0, 0, 1, 1, 1]
    assert df.attrs["start_time"] == "2024-03-15T09:30:00" and df.attrs["technique"] == "CHRONOP"
    with pytest.raises(Exception, match=r"cp\.DTA.*no ZCURVE"):
        echem.read_eis(p)


def test_read_eis_mpt_synthetic_sign(tmp_path):
    f = np.logspace(5, -1, 13)
    z = 10 + 100 / (1 + 1j * 2 * np.pi * f * 100 * 1e-6)
    head = ["EC-Lab ASCII FILE", "Nb header lines : 4", "Potentio Electrochemical Impedance Spectroscopy",
            "freq/Hz\tRe(Z)/Ohm\t-Im(Z)/Ohm\t|Z|/Ohm\tPhase(Z)/deg\ttime/s\t<Ewe>/V\t<I>/mA"]
    rows = [f"{fk:.7E}\t{zk.real:.7E}\t{-zk.imag:.7E}\t{abs(zk):.7E}\t{np.degrees(np.angle(zk)):.7E}"
            f"\t{k + 1.0}\t3.0\t0.0" for k, (fk, zk) in enumerate(zip(f, z))]
    p = _write(tmp_path / "peis.mpt", "\n".join(head + rows))
    e = echem.read_eis(p)
    np.testing.assert_allclose(e["z_real_ohm"] + 1j * e["z_imag_ohm"], z, rtol=1e-6)
    assert (e["z_imag_ohm"] < 0).all()


def test_utf8_bom_text_exports(tmp_path):
    p = tmp_path / "bom.mpt"
    p.write_bytes(b"\xef\xbb\xbf" + _mpt_text(".").encode("utf-8"))
    df = echem.read(p)
    assert df.attrs["format"] == "biologic-mpt" and "capacitance_charge_uF" in df.columns
    q = tmp_path / "bom.csv"
    q.write_bytes(b"\xef\xbb\xbf" + b"time_s,voltage_V,current_A\n0,3.0,0.001\n1,3.1,0.001\n")
    assert echem.read(q)["voltage_V"].tolist() == [3.0, 3.1]


def test_generic_mode_column_normalised(tmp_path):
    modes = ["Rest", "CC_Chg", "CC_Chg", "CV_Chg", "CC_DChg", "PEIS"]
    pd.DataFrame({"t": T_S, "U": V, "I": I_A, "kind": modes}).to_csv(tmp_path / "m.csv", index=False)
    df = echem.read(tmp_path / "m.csv", time_s="t", voltage_V="U", current_A="I", mode="kind")
    assert df["mode"].tolist() == ["rest", "CC", "CC", "CV", "CC", "EIS"]
    assert df["instrument_state"].tolist() == modes
