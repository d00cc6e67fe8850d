"""Landt (LANHE, LANDdt) workbook exports: the ``landt`` column mapping (issue 14, item 4).

tests/data/realdata/landt/cellpy_custom_data_002_first5340records.xlsx (MANIFEST.md;
jepegit/cellpy, MIT): an extract of a real LANDdt export (``Cycle-Tab`` whole, ``Record-Tab``
header + first 5,340 records, values and headers unchanged, re-written with openpyxl): English
headers ``Record``, ``TestTime/Sec``, ``StepTime/Sec``, ``Current/mA`` (signed), ``Capacity/mAh``,
``SpeCap/mAh/g``, ``SOC|DOD/%``, ``Voltage/V``, ``Energy/mWh``, ``SpeEnergy/Wh/kg``,
``AuxTemp/dC.`` (all ``-``), ``AuxVolt/V``, ``SysTime``, then the ``Cycle-Index``, ``Step-Index``,
``Step-State`` (R / RateD / RateC) columns cellpy's author added. The first cycle of a half cell:
rest, discharge (two steps), rest, charge.

References, none from the reader: cells read with openpyxl; the tester's own counters
(``Capacity/mAh`` within each record, ``CapD/mAh`` / ``CapC/mAh`` of cycle 1 in ``Cycle-Tab``)
against the charge integrated from the current and time read (Faraday). Chinese headers: no real
file was found; the same records with the headers renamed to the Chinese names are read the same
(a synthetic, clearly marked input).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssbscope import echem
from ssbscope.echem.io import sniff_format

openpyxl = pytest.importorskip("openpyxl")

XLSX = (Path(__file__).resolve().parents[1] / "data" / "realdata" / "landt"
        / "cellpy_custom_data_002_first5340records.xlsx")


@pytest.fixture(scope="module")
def sheets():
    wb = openpyxl.load_workbook(XLSX, read_only=True, data_only=True)
    out = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    wb.close()
    return out


@pytest.fixture(scope="module")
def df():
    return echem.read(XLSX)


def _col(rows, name):
    j = rows[0].index(name)
    return [r[j] for r in rows[1:]]


def test_landt_workbook_is_mapped(df, sheets):
    rec = sheets["Record-Tab"]
    assert sniff_format(XLSX) == "excel"
    assert df.attrs["format"] == "landt" and df.attrs["instrument"] == "Landt"
    assert df.attrs["columns_used"] == {"time_s": "TestTime/Sec", "voltage_V": "Voltage/V",
                                       "current_A": "Current/mA", "cycle": "Cycle-Index",
                                       "step": "Step-Index", "mode": "Step-State"}
    # one exact duplicate record in the file (records 122 and 123) is dropped, with a warning
    assert len(df) == len(rec) - 1 - 1
    assert any("duplicate" in w for w in df.attrs["warnings"])
    # the reference: the records in file order less those repeating the previous record in
    # every column but the record number (Landt writes step ends and starts at one TestTime, so
    # time alone does not identify a record)
    body = rec[1:]
    dup = [k for k in range(1, len(body)) if body[k][1:] == body[k - 1][1:]]
    assert dup == [121]
    ref = [r for k, r in enumerate(body) if k not in dup]

    def col(name):
        j = head.index(name)
        return [r[j] for r in ref]

    head = rec[0]
    np.testing.assert_allclose(df["time_s"], col("TestTime/Sec"), rtol=0, atol=1e-9)
    np.testing.assert_allclose(df["voltage_V"], col("Voltage/V"), rtol=0, atol=1e-12)
    np.testing.assert_allclose(df["current_A"], 1e-3 * np.array(col("Current/mA"), float), rtol=1e-12)
    np.testing.assert_allclose(df["capacity_mAh"], col("Capacity/mAh"), rtol=1e-12)
    np.testing.assert_array_equal(df["step"], col("Step-Index"))
    modes = {"R": "rest", "RateD": "CC", "RateC": "CC"}
    assert [modes[x] for x in col("Step-State")] == list(df["mode"])
    # signs: RateD < 0 (discharge), RateC > 0 (charge), R = 0
    s = np.array(col("Step-State"))
    cur = df["current_A"].to_numpy()
    assert np.all(cur[s == "RateD"] < 0) and np.all(cur[s == "RateC"] > 0)
    assert np.all(cur[s == "R"] == 0)
    assert df.attrs["start_time"] == "2021-02-25T13:41:24"
    assert "specific_capacity_mAh_per_g" in df.columns and "step_time_s" in df.columns


def test_landt_charge_matches_the_testers_counters(df, sheets):
    """Capacity/mAh counts |charge| since the start of the half cycle (a rest keeps it); per step,
    its rise from the step's first to its last record against ∫ I dt over the step (measured:
    < 0.002 %, < 0.1 % asserted); cycle 1's CapD/CapC of Cycle-Tab against the discharge and
    charge integrated over the cycle (< 0.1 %)."""
    t, i = df["time_s"].to_numpy(), df["current_A"].to_numpy()
    step, cap = df["step"].to_numpy(), df["capacity_mAh"].to_numpy()
    worst = 0.0
    done = [k for k in np.unique(step) if k < step.max()]  # the last step is cut by the extract
    for k in done:
        m = np.flatnonzero(step == k)
        q = np.trapezoid(i[m], t[m]) / 3.6
        dq = cap[m[-1]] - cap[m[0]]
        if dq == 0:
            assert q == 0
            continue
        worst = max(worst, abs(abs(q) - dq) / dq)
    assert worst < 1e-3, worst
    cyc = sheets["Cycle-Tab"]
    cap_c, cap_d = _col(cyc, "CapC/mAh")[0], _col(cyc, "CapD/mAh")[0]
    m1 = df["cycle"].to_numpy() == 1
    qs = [np.trapezoid(i[step == k], t[step == k]) / 3.6 for k in np.unique(step[m1])]
    assert sum(q for q in qs if q > 0) == pytest.approx(cap_c, rel=1e-3)
    assert -sum(q for q in qs if q < 0) == pytest.approx(cap_d, rel=1e-3)


def test_landt_mapping_without_the_added_columns_and_with_chinese_headers(sheets, df, tmp_path):
    """The columns a LANDdt export writes itself are enough (time, voltage, signed current);
    the Chinese headers of the Chinese software map the same (synthetic: the real records with
    renamed headers; no real Chinese export was found)."""
    rec = sheets["Record-Tab"]
    head = rec[0]
    keep = [j for j, h in enumerate(head) if h not in (None, "Cycle-Index", "Step-Index", "Step-State")]
    zh = {"Record": "记录序号", "TestTime/Sec": "测试时间/Sec", "StepTime/Sec": "步骤时间/Sec",
          "Current/mA": "电流/mA", "Capacity/mAh": "容量/mAh", "SpeCap/mAh/g": "比容量/mAh/g",
          "Voltage/V": "电压/V", "Energy/mWh": "能量/mWh", "SpeEnergy/Wh/kg": "比能量/Wh/kg",
          "SysTime": "系统时间", "Cycle-Index": "循环序号", "Step-Index": "工步序号",
          "Step-State": "工步状态"}
    ref = df
    for name, cols, hdr in (("en_bare", keep, None), ("zh", [j for j, h in enumerate(head) if h], zh)):
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Record-Tab"
        for r, row in enumerate(rec[:600]):
            vals = [row[j] for j in cols]
            ws.append([hdr.get(v, v) for v in vals] if (hdr and r == 0) else vals)
        p = tmp_path / f"{name}.xlsx"
        wb.save(p)
        d = echem.read(p)
        assert d.attrs["format"] == "landt", name
        n = len(d)
        np.testing.assert_allclose(d["time_s"], ref["time_s"].iloc[:n])
        np.testing.assert_allclose(d["voltage_V"], ref["voltage_V"].iloc[:n])
        np.testing.assert_allclose(d["current_A"], ref["current_A"].iloc[:n])
        if name == "zh":
            assert list(d["mode"]) == list(ref["mode"].iloc[:n])
            np.testing.assert_allclose(d["capacity_mAh"], ref["capacity_mAh"].iloc[:n])
            assert d.attrs["columns_used"]["time_s"] == "测试时间/Sec"
        else:
            assert "cycle" not in d.columns and "mode" not in d.columns
        # the same as CSV (UTF-8): sniffed by content
        import csv

        q = tmp_path / f"{name}.csv"
        with open(q, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            for r, row in enumerate(rec[:300]):
                vals = [row[j] for j in cols]
                w.writerow([hdr.get(v, v) for v in vals] if (hdr and r == 0) else vals)
        assert sniff_format(q) == "landt"
        c = echem.read(q)
        np.testing.assert_allclose(c["current_A"], ref["current_A"].iloc[:len(c)])


def test_landt_state_vocabulary():
    from ssbscope.echem.io.tabular import _landt_mode, _landt_sign

    for s, sign, mode in (("R", 0, "rest"), ("RateC", 1, "CC"), ("RateD", -1, "CC"),
                          ("CCC", 1, "CC"), ("CCD", -1, "CC"), ("CVC", 1, "CV"), ("CVD", -1, "CV"),
                          ("静置", 0, "rest"), ("恒流充电", 1, "CC"), ("恒流放电", -1, "CC")):
        assert _landt_sign(s) == sign and _landt_mode(s) == mode, s


def test_lanhe_test_time_with_a_day_count(tmp_path):
    """LANHE writes ``TestTime`` without a unit as ``D HH:MM:SS.mmm`` (a day count, a space):
    synthetic table (documented layout, no real LANHE file found), times against the arithmetic."""
    rows = ["Record,SysTime,Cycle,TestTime,Voltage/V,Current/uA,Capacity/uAh",
            "1,2024-01-01 10:00:00,1,0 00:00:00.000,3.000,0,0",
            "2,2024-01-01 10:00:10,1,0 00:00:10.500,3.010,100,0.29",
            "3,2024-01-02 10:00:10,1,1 00:00:10.500,3.500,100,2400",
            "4,2024-01-03 12:00:10,1,2 02:00:10.500,3.900,-100,10"]
    p = tmp_path / "lanhe.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert sniff_format(p) == "landt"
    d = echem.read(p)
    np.testing.assert_allclose(d["time_s"], [0.0, 10.5, 86400 + 10.5, 2 * 86400 + 7200 + 10.5])
    np.testing.assert_allclose(d["current_A"], [0.0, 1e-4, 1e-4, -1e-4])
    np.testing.assert_allclose(d["voltage_V"], [3.0, 3.01, 3.5, 3.9])
