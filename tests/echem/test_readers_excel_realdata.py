"""A real cycler Excel export (issue 14, item 4: Excel via the optional ``excel`` extra).

tests/data/realdata/arbin/navani_bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx
(MANIFEST.md; be-smith/navani, MIT): an Arbin MITS Pro 7 (``PV7.0 Build: 180508USB``) workbook
as the Arbin software wrote it (document creator ``Arbin``): a ``Global_Info`` sheet and one data
sheet ``Channel_11_1``, 4,526 records of a graphite | Li half cell at +-50 uA between 50 mV and
1 V, October 2020.

References, none from the reader: the cells read directly with openpyxl (values, test
information); the instrument's own capacity counters (``Charge_Capacity(Ah)``,
``Discharge_Capacity(Ah)``) against the charge integrated from the current read (Faraday);
the workbook's sha256 computed here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from ssbscope import echem
from ssbscope.echem.io import sniff_format

openpyxl = pytest.importorskip("openpyxl")

XLSX = (Path(__file__).resolve().parents[1] / "data" / "realdata" / "arbin"
        / "navani_bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx")


@pytest.fixture(scope="module")
def df():
    return echem.read(XLSX)


@pytest.fixture(scope="module")
def cells():
    """Every sheet's rows as openpyxl returns them (the independent reading)."""
    wb = openpyxl.load_workbook(XLSX, read_only=True, data_only=True)
    try:
        return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    finally:
        wb.close()


def test_detected_as_excel_then_as_an_arbin_table(df):
    assert sniff_format(XLSX) == "excel"
    assert df.attrs["format"] == "arbin" and df.attrs["instrument"] == "Arbin"
    assert df.attrs["container"] == "excel" and df.attrs["sheets"] == ["Channel_11_1"]
    # provenance is the workbook's bytes, not those of the CSV the sheet was turned into
    assert df.attrs["sha256"] == hashlib.sha256(XLSX.read_bytes()).hexdigest()


def test_values_match_the_cells_read_with_openpyxl(df, cells):
    rows = cells["Channel_11_1"]
    head, data = list(rows[0]), rows[1:]
    assert len(df) == len(data) == 4526
    col = {name: np.array([r[head.index(name)] for r in data], dtype=float)
           for name in ("Test_Time(s)", "Voltage(V)", "Current(A)", "Step_Index", "Cycle_Index",
                        "Charge_Capacity(Ah)", "Discharge_Capacity(Ah)")}
    np.testing.assert_array_equal(df["time_s"].to_numpy(), col["Test_Time(s)"])
    np.testing.assert_array_equal(df["voltage_V"].to_numpy(), col["Voltage(V)"])
    # Arbin writes signed current, charge positive: kept as is (lithiation of graphite < 0)
    np.testing.assert_array_equal(df["current_A"].to_numpy(), col["Current(A)"])
    np.testing.assert_array_equal(df["step"].to_numpy(), col["Step_Index"])
    np.testing.assert_array_equal(df["cycle"].to_numpy(), col["Cycle_Index"])
    np.testing.assert_array_equal(df["charge_capacity_Ah"].to_numpy(), col["Charge_Capacity(Ah)"])
    # the first record's wall clock, as the date-time cell holds it
    first = data[0][head.index("Date_Time")]
    assert df.attrs["first_record_time"] == first.isoformat()


def test_test_information_from_the_global_info_sheet(df, cells):
    info = cells["Global_Info"]
    k = next(i for i, r in enumerate(info) if "Schedule File Name" in r)
    names, vals = info[k], info[k + 1]
    want = {"channel": "Channel", "schedule": "Schedule File Name",
            "software_version": "Software Version", "schedule_version": "Schedule Version"}
    for attr, field in want.items():
        assert df.attrs[attr] == str(vals[names.index(field)]).strip()
    assert df.attrs["channel"] == "11" and df.attrs["software_version"].startswith("PV7.0")


def test_charge_integrated_from_the_current_matches_the_instruments_counters(df):
    """Faraday, per step: int I dt against the change of Charge_Capacity - Discharge_Capacity
    over the step (the tester's own coulomb counter). Constant-current steps logged every
    ~5 mV: the trapezoid of the logged current is exact to < 1e-3."""
    t, i, s = (df[c].to_numpy() for c in ("time_s", "current_A", "step"))
    net = (df["charge_capacity_Ah"] - df["discharge_capacity_Ah"]).to_numpy() * 3600.0  # C
    edges = np.r_[0, np.flatnonzero(np.diff(s) != 0) + 1, len(s)]
    checked = []
    for a, b in zip(edges[:-1], edges[1:]):
        if t[b - 1] - t[a] < 1000.0:
            continue
        q = np.trapezoid(i[a:b], t[a:b])
        ref = net[b - 1] - net[a]
        assert q == pytest.approx(ref, rel=1e-3)
        checked.append((int(s[a]), ref / 3.6))  # mAh
    # lithiation (step 2, negative current), delithiation (step 3), lithiation again
    assert [k for k, _ in checked] == [2, 3, 2]
    assert checked[0][1] == pytest.approx(-5.798, abs=2e-3)  # first lithiation, mAh
    assert checked[1][1] == pytest.approx(5.698, abs=2e-3)   # delithiation: CE 98.3 %
    # the check can fail: a current off by 1 % is caught
    a, b = edges[1], edges[2]
    assert np.trapezoid(1.01 * i[a:b], t[a:b]) != pytest.approx(net[b - 1] - net[a], rel=1e-3)


def test_a_test_split_over_continued_sheets_is_joined(df, cells, tmp_path):
    """Arbin splits a long test over Channel_11_1, Channel_11_2 ... with the same header:
    the first 1,500 real rows written over two such sheets (and the Global_Info sheet) read
    back as one."""
    rows = cells["Channel_11_1"][:1501]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Global_Info"
    for r in cells["Global_Info"]:
        ws.append(list(r))
    cut = 1001
    for name, part in (("Channel_11_1", rows[1:cut]), ("Channel_11_2", rows[cut:])):
        ws = wb.create_sheet(name)
        ws.append(list(rows[0]))
        for r in part:
            ws.append(list(r))
    q = tmp_path / "split.xlsx"
    wb.save(q)
    got = echem.read(q)
    assert got.attrs["sheets"] == ["Channel_11_1", "Channel_11_2"]
    # openpyxl writes the shortest repr of each float (10.3039 for Arbin's 10.303899999999999)
    assert len(got) == 1500
    np.testing.assert_allclose(got["time_s"].to_numpy(), df["time_s"].to_numpy()[:1500], rtol=1e-15)
    np.testing.assert_allclose(got["current_A"].to_numpy(), df["current_A"].to_numpy()[:1500],
                               rtol=1e-15)
    assert got.attrs["software_version"] == df.attrs["software_version"]


def test_run_stores_the_workbook_and_its_charge_through_the_chain(df, tmp_path):
    """`ssbscope run` on the workbook: the stored time series is the table read, and the
    charge of the delithiation (step 3) in the cycle table is the tester's own counter."""
    from ssbscope.cli import main
    from ssbscope.store import Store

    y = tmp_path / "exp.yaml"
    y.write_text(f"name: arbin xlsx\ninputs:\n  echem:\n    - {{path: '{XLSX}', label: gr}}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet", "--no-report"]) == 0
    st = Store.open(tmp_path / "out")
    ts = st["echem/timeseries"]
    assert ts.sizes["time_s"] == len(df)
    np.testing.assert_allclose(ts["voltage_V"].values, df["voltage_V"].to_numpy())
    s = df["step"].to_numpy()
    k = np.flatnonzero(s == 3)
    k = k[: np.flatnonzero(np.diff(k) > 1)[0] + 1] if (np.diff(k) > 1).any() else k  # first step 3
    counter_mAh = (df["charge_capacity_Ah"].iloc[k[-1]] - df["charge_capacity_Ah"].iloc[k[0] - 1]) * 1e3
    charge = st["echem/cycles"]["charge_capacity_mAh"].values
    assert charge[0] == pytest.approx(counter_mAh, rel=1e-3)
