"""A real cycler Excel 97-2003 ``.xls`` export (issue 14, item 4: old Excel via the optional ``xls``
extra, xlrd).

tests/data/realdata/neware/cellpy_custom_data_003.xls (MANIFEST.md; jepegit/cellpy, MIT): a Neware
BTS 7 Excel export (BIFF8): an ``Info`` sheet (test name, ``Equipment / Unit / Channel`` 14 / 1 /
3, start time, remark "1.04497215 mg active"), ``Cycle_14_1_3`` (per-cycle capacities),
``Statis_14_1_3`` (one row per step with its capacity) and the record sheet ``Detail_14_1_3``
(2,943 records: ``Cur(mA)``, ``Voltage(V)``, ``CapaCity(mAh)`` counting up within each step,
``Absolute Time`` as Excel date cells), a coin half cell cycled between 50 mV and 1 V, May 2021.

References, none from the reader: the cells read directly with xlrd; the tester's own counters
(``CapaCity(mAh)`` at the end of each step on the record sheet and in the step table
``Statis``) against the charge integrated from the current and time read (Faraday).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from ssbscope import echem
from ssbscope.echem.io import sniff_format

XLS = Path(__file__).resolve().parents[1] / "data" / "realdata" / "neware" / "cellpy_custom_data_003.xls"


def test_xls_signature_is_sniffed_without_xlrd():
    assert XLS.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    assert sniff_format(XLS) == "excel"


def test_missing_xlrd_gives_a_clear_input_error(monkeypatch):
    import builtins

    from ssbscope.errors import InputError

    real = builtins.__import__

    def no_xlrd(name, *a, **k):
        if name == "xlrd" or name.startswith("xlrd."):
            raise ImportError("No module named 'xlrd'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_xlrd)
    with pytest.raises(InputError) as e:
        echem.read(XLS)
    msg = str(e.value)
    assert XLS.name in msg and "xlrd" in msg and "ssbscope[xls]" in msg


xlrd = pytest.importorskip("xlrd")


@pytest.fixture(scope="module")
def df():
    return echem.read(XLS)


@pytest.fixture(scope="module")
def book():
    return xlrd.open_workbook(str(XLS))


def _col(sh, name):
    head = [str(sh.cell_value(0, c)) for c in range(sh.ncols)]
    j = head.index(name)
    return [sh.cell_value(r, j) for r in range(1, sh.nrows)]


def test_reads_the_record_sheet_with_its_provenance(df, book):
    sh = book.sheet_by_name("Detail_14_1_3")
    assert len(df) == sh.nrows - 1 == 2943
    assert df.attrs["format"] == "neware" and df.attrs["container"] == "excel"
    assert df.attrs["sheets"] == ["Detail_14_1_3"]
    assert df.attrs["sha256"] == hashlib.sha256(XLS.read_bytes()).hexdigest()
    # Info sheet: Equipment / Unit / Channel and the remark
    assert (df.attrs["equipment"], df.attrs["unit"], df.attrs["channel"]) == ("14", "1", "3")
    assert "1.04497215 mg active" in df.attrs["remark"]
    # values against the cells: voltage, current (mA -> A, discharge < 0), step counter
    np.testing.assert_allclose(df["voltage_V"], _col(sh, "Voltage(V)"), rtol=0, atol=1e-12)
    np.testing.assert_allclose(df["current_A"], np.array(_col(sh, "Cur(mA)")) * 1e-3, rtol=1e-12)
    np.testing.assert_array_equal(df["step"], _col(sh, "Step"))
    # time: the Absolute Time date cells, seconds since the first record
    dates = [xlrd.xldate_as_datetime(v, book.datemode) for v in _col(sh, "Absolute Time")]
    ref = np.array([(d - dates[0]).total_seconds() for d in dates])
    np.testing.assert_allclose(df["time_s"], ref, atol=1e-3)
    assert df.attrs["start_time"].startswith("2021-05-20T23:36:1")
    states = set(_col(sh, "Status"))
    assert states == {"Rest", "CCCV_DChg", "CC_Chg", "CC_DChg"}
    dchg = np.array(["DChg" in s for s in _col(sh, "Status")])
    assert np.all(df["current_A"].to_numpy()[dchg] <= 0) and np.all(df["current_A"].to_numpy()[~dchg] >= 0)


def test_charge_matches_the_testers_own_counters(df, book):
    """Faraday per step: ∫ I dt over the records of the step (the tester writes a record at the
    start, relative time 0, and at the end of every step) against ``CapaCity(mAh)`` at the
    step's last record and the step table's ``CapaCity(mAh)``. Measured: within 0.06 %
    (1-s rounding of the wall-clock cells), < 0.3 % asserted."""
    sh = book.sheet_by_name("Detail_14_1_3")
    st = book.sheet_by_name("Statis_14_1_3")
    cap = np.array(_col(sh, "CapaCity(mAh)"))
    stat = dict(zip(_col(st, "Step"), _col(st, "CapaCity(mAh)")))
    status = dict(zip(_col(st, "Step"), _col(st, "Status")))
    t, i, step = df["time_s"].to_numpy(), df["current_A"].to_numpy(), df["step"].to_numpy()
    worst = 0.0
    n_checked = 0
    for k in np.unique(step):
        m = np.flatnonzero(step == k)
        q_mah = np.trapezoid(i[m], t[m]) / 3.6
        assert cap[m[-1]] == pytest.approx(stat[k], rel=1e-9)
        if stat[k] == 0:
            assert abs(q_mah) < 1e-9 and status[k] == "Rest"
            continue
        assert np.sign(q_mah) == (-1 if "DChg" in status[k] else 1)
        worst = max(worst, abs(abs(q_mah) - stat[k]) / stat[k])
        n_checked += 1
    assert n_checked >= 25
    assert worst < 3e-3, worst
    # per cycle: the Cycle sheet's charge and discharge capacities are the sums of its steps
    cy = book.sheet_by_name("Cycle_14_1_3")
    cyc = df["cycle"].to_numpy()
    for c, qc, qd in zip(_col(cy, "ToTal of Cycle"), _col(cy, "Capacity of charge(mAh)"),
                         _col(cy, "Capacity of discharge(mAh)")):
        m = cyc == c
        qs = [np.trapezoid(i[(step == k)], t[(step == k)]) / 3.6 for k in np.unique(step[m])]
        assert sum(x for x in qs if x > 0) == pytest.approx(qc, rel=3e-3, abs=1e-6)
        assert -sum(x for x in qs if x < 0) == pytest.approx(qd, rel=3e-3, abs=1e-6)


@pytest.mark.parametrize("cut", [8, 4096, 400_000])
def test_damaged_xls_is_a_clear_error(tmp_path, cut):
    """A truncated workbook (a copy cut short) and one with random bytes after the signature
    are refused with a FileFormatError naming the file, never a raw xlrd/struct exception."""
    from ssbscope.errors import FileFormatError

    rng = np.random.default_rng(cut)
    for name, data in (("cut.xls", XLS.read_bytes()[:cut]),
                       ("noise.xls", XLS.read_bytes()[:8] + rng.bytes(cut))):
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(FileFormatError) as e:
            echem.read(p)
        assert name in str(e.value)
