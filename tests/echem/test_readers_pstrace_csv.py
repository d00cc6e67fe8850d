"""PalmSens PSTrace CSV exports (issue 14, Deliver 4): a header row of bare units (``V,µA``,
``s,V``, ``s,µA``), detected by content whatever the file's name and encoding, read to SI.

Format source: PSTrace 5 "Export to CSV" as parsed by the open-source PalmSens CSV readers
found in public repositories (e.g. matkrin/proespm-py3, gcarrascohuertas/
electrochemical_ECSA_processing_palmsens); the real exports there are GPL-3.0, so the files
here are written by the tests in that layout (UTF-16 LE with a byte-order mark and a last line
holding only a second mark, as PSTrace writes; tests/data/realdata/MANIFEST.md)."""

import numpy as np
import pytest

from ssbscope.echem.io import read, sniff_format
from ssbscope.echem.io.palmsens import read_pstrace_csv
from ssbscope.errors import MissingColumnError

CV = "\r\n".join([
    "Date and time:,2025-01-01 12:00:00",
    "Notes:",
    ",,,",
    "Cyclic Voltammetry: CV i vs E Scan 1,,Cyclic Voltammetry: CV i vs E Scan 2,",
    "Date and time measurement:,2025-01-01 12:00:01,Date and time measurement:,2025-01-01 12:00:30",
    "V,µA,V,µA",
    "-0.400,0.10,-0.400,0.11",
    "0.700,0.50,0.700,0.52",
    "1.100,0.20,,",
    "Measurement:,Impedance Spectroscopy",   # a further block PSTrace appends: not part of the table
    "freq / Hz,Z / Ohm",
    "1000,12.5",
]) + "\r\n"

CP = "\r\n".join([
    "Date and time:,2025-02-03 09:00:00",
    "Notes:",
    ",,,",
    "Chronopotentiometry: E vs t,,Chronopotentiometry: i vs t,",
    "Date and time measurement:,2025-02-03 09:00:01,Date and time measurement:,2025-02-03 09:00:01",
    "s,V,s,mA",
] + [f"{10.0 * k:.1f},{3.50 + 0.002 * k:.4f},{10.0 * k:.1f},{0.25 if k < 30 else -0.25}" for k in range(60)]) + "\r\n"


def _pstrace_bytes(text):
    """As PSTrace writes it: UTF-16 LE, byte-order mark, a last line holding only a second mark."""
    return b"\xff\xfe" + (text + "\ufeff").encode("utf-16-le")


@pytest.mark.parametrize("enc", ["utf-16", "utf-8"])
def test_voltammogram_curves_read_to_si(tmp_path, enc):
    p = tmp_path / "scan1-CV.dat"    # any name: detected by content
    p.write_bytes(_pstrace_bytes(CV) if enc == "utf-16" else CV.encode("utf-8"))
    assert sniff_format(p) == "palmsens-csv"
    t = read_pstrace_csv(p)
    assert t.attrs["units"] == ["V", "µA", "V", "µA"]
    assert t.attrs["titles"] == ["Cyclic Voltammetry: CV i vs E Scan 1", "Cyclic Voltammetry: CV i vs E Scan 2"]
    assert t.attrs["start_times"] == ["2025-01-01 12:00:01", "2025-01-01 12:00:30"]
    np.testing.assert_array_equal(t["curve"], [0, 0, 0, 1, 1])        # the shorter second scan
    np.testing.assert_allclose(t["voltage_V"], [-0.4, 0.7, 1.1, -0.4, 0.7])
    np.testing.assert_allclose(t["current_A"], [0.10e-6, 0.50e-6, 0.20e-6, 0.11e-6, 0.52e-6])  # µA -> A
    # a voltammogram has no time axis: not a time series, said in one clear error
    with pytest.raises(MissingColumnError, match=r"no time axis: its curves are plotted against potential"):
        read(p)


def test_bare_units_header_without_preamble(tmp_path):
    p = tmp_path / "bare.csv"
    p.write_text("V,\u03bcA\n-0.5,1.5\n0.5,-2.0\n", encoding="utf-8")   # Greek mu
    assert sniff_format(p) == "palmsens-csv"
    t = read_pstrace_csv(p)
    np.testing.assert_allclose(t["current_A"], [1.5e-6, -2.0e-6])
    # a header of names is not taken for one of units
    q = tmp_path / "named.csv"
    q.write_text("time_s,voltage_V,current_A\n0,3.5,0.001\n60,3.6,0.001\n", encoding="utf-8")
    assert sniff_format(q) == "csv"


def test_chronopotentiometry_time_series_through_run(tmp_path, capsys):
    """E vs t and i vs t curves on one time axis: a time series; the charge follows Faraday's
    law (0.25 mA for 300 s then -0.25 mA)."""
    from ssbscope.cli import main
    from ssbscope.store import Store

    p = tmp_path / "cp.csv"
    p.write_bytes(_pstrace_bytes(CP))
    d = read(p)
    assert d.attrs["format"] == "palmsens-csv" and d.attrs["instrument"] == "PalmSens"
    np.testing.assert_allclose(d["time_s"], 10.0 * np.arange(60))
    np.testing.assert_allclose(d["current_A"].iloc[:30], 0.25e-3)
    np.testing.assert_allclose(d["voltage_V"].iloc[59], 3.50 + 0.002 * 59)
    y = tmp_path / "exp.yaml"
    y.write_text(f"name: ps\ncell: {{area_cm2: 1.0}}\ninputs:\n  echem:\n    - {{path: '{p}', label: x}}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    q = Store.open(tmp_path / "o")["echem/timeseries"]["charge_mAh"].values
    # trapezoid charge: 0.25 mA over 295 s (the current changes sign between 290 and 300 s) ...
    assert q.max() == pytest.approx(0.25 * 295 / 3600, rel=0.02)


def test_voltammogram_refused_through_run_with_one_line(tmp_path, capsys):
    from ssbscope.cli import main

    p = tmp_path / "cv.csv"
    p.write_bytes(_pstrace_bytes(CV))
    y = tmp_path / "exp.yaml"
    y.write_text(f"name: ps\ninputs:\n  echem:\n    - {{path: '{p}', label: x}}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "cv.csv" in lines[0] and "no time axis" in lines[0] and ".pssession" in lines[0]


def test_header_lines_quoted_whole(tmp_path):
    """Some PSTrace/PStouch versions quote the header lines whole (``"V,µA"``), UTF-8 with a
    byte-order mark."""
    p = tmp_path / "pstouch.csv"
    lines = ["Date and time:", "Notes: current in µA", "Method: CV", "",
             '"Date and time measurement:,2024-04-03 12:24:51"', '"V,µA"'] + \
        [f"{k / 100:.2f},{k + 0.25:.2f}" for k in range(20)]
    p.write_bytes("\ufeff".encode() + "\n".join(lines).encode("utf-8") + b"\n")
    assert sniff_format(p) == "palmsens-csv"
    t = read_pstrace_csv(p)
    assert t.attrs["start_times"] == ["2024-04-03 12:24:51"] and len(t) == 20
    np.testing.assert_allclose(t["current_A"], (np.arange(20) + 0.25) * 1e-6)
    np.testing.assert_allclose(t["voltage_V"], np.arange(20) / 100)


@pytest.mark.parametrize("cut,why", [(2, "incomplete number"), (8, "3 of 4 fields"),
                                     (12, "2 of 4 fields")])
def test_cut_last_row_dropped_with_a_warning(tmp_path, cut, why):
    """A PSTrace CSV cut while written (no final line, no closing byte-order mark): the last
    row is dropped with a warning in attrs["warnings"], as in every table reader (audit of
    issue 14: '-0.' was read as a current of -0.0 A; a cut pair refused the file or read it
    as having no current)."""
    p = tmp_path / "cp.csv"
    p.write_bytes(b"\xff\xfe" + CP.rstrip("\r\n")[:-cut].encode("utf-16-le"))
    d = read(p)
    assert len(d) == 59
    np.testing.assert_allclose(d["current_A"].iloc[-1], -0.25e-3)
    (w,) = d.attrs["warnings"]
    assert "dropped the last data row" in w and why in w


def test_padded_last_row_of_a_shorter_curve_is_kept_without_line_end(tmp_path):
    # the second scan is shorter: the last row is padded with empty fields, not cut
    p = tmp_path / "cv.csv"
    p.write_text(CV.split("Measurement:")[0].rstrip("\r\n"), encoding="utf-8")
    t = read_pstrace_csv(p)
    assert len(t) == 5 and not t.attrs.get("warnings")
    np.testing.assert_allclose(t["voltage_V"].iloc[2], 1.1)
