"""Real PalmSens PSTrace CSV exports, UTF-16 (issue 14, item 4).

tests/data/realdata/palmsens/datalab_palmsens_{EIS,chronopot}.csv (MANIFEST.md;
datalab-org/datalab, MIT, as first committed by the experimenter): PSTrace writes its CSV export
as UTF-16 LE with a byte-order mark, CRLF line ends and a last line holding only a second
byte-order mark.

* ``datalab_palmsens_EIS.csv``: two impedance measurements ("Fixed at 41 freqs" each,
  50 kHz - 5 Hz), columns ``freq / Hz, neg. Phase / °, Idc / uA, Z / Ohm, Z' / Ohm, Z'' / Ohm,
  Cs / F``; PSTrace's ``Z''`` is -Im(Z).
* ``datalab_palmsens_chronopot.csv``: three chronopotentiometry curves, E vs t only
  (``s,V`` x 3, 101 points at 0.1 s each).

References, none from the reader: the file parsed here with the csv module; the instrument's own
``Z / Ohm`` and ``neg. Phase / °`` columns (|Z| and -arg Z of the values read: they fix the sign
of the imaginary part independently of the header); the point count each block states.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest

from ssbscope import echem
from ssbscope.echem.io import sniff_format
from ssbscope.echem.io.palmsens import read_pstrace_csv
from ssbscope.errors import MissingColumnError

HERE = Path(__file__).resolve().parents[1] / "data" / "realdata" / "palmsens"
EIS = HERE / "datalab_palmsens_EIS.csv"
CP = HERE / "datalab_palmsens_chronopot.csv"


def _rows(path: Path) -> list[list[str]]:
    """The file as the csv module reads its UTF-16 text (BOMs removed, blank rows kept)."""
    text = path.read_bytes().decode("utf-16").replace("\ufeff", "")
    return list(csv.reader(io.StringIO(text)))


def _eis_blocks(path: Path):
    """Independent parse: per block, the stated point count and the numeric rows."""
    blocks = []
    for r in _rows(path):
        if r and re.match(r"Fixed at (\d+) freqs", r[0]):
            blocks.append({"declared": int(re.match(r"Fixed at (\d+)", r[0]).group(1)), "rows": []})
        elif r and blocks and re.match(r"^[-+\d.]", r[0]):
            blocks[-1]["rows"].append([float(x) for x in r if x != ""])
    return blocks


def test_file_is_what_pstrace_writes():
    raw = EIS.read_bytes()
    assert raw[:2] == b"\xff\xfe" and raw[-2:] == b"\xff\xfe" and b"\r\x00\n\x00" in raw
    assert sniff_format(EIS) == "pstrace-eis"
    assert sniff_format(CP) == "palmsens-csv"


def test_eis_spectra_match_the_file_and_its_own_modulus_and_phase():
    z = echem.read_eis(EIS)
    blocks = _eis_blocks(EIS)
    assert [b["declared"] for b in blocks] == [41, 41]
    assert z.groupby("spectrum").size().tolist() == [len(b["rows"]) for b in blocks] == [41, 41]
    assert z.attrs["declared_points"] == [41, 41] and not z.attrs.get("warnings")
    assert z.attrs["start_times"] == ["2023-06-29 17:48:50", "2023-06-29 18:08:15"]
    ref = np.array([r for b in blocks for r in b["rows"]])
    f, negph, idc, zmod, zre, zim2 = (ref[:, k] for k in range(6))
    np.testing.assert_array_equal(z["frequency_Hz"].to_numpy(), f)
    np.testing.assert_array_equal(z["z_real_ohm"].to_numpy(), zre)
    assert f[0] == 50000.0 and f[40] == 5.0
    np.testing.assert_allclose(z["current_A"].to_numpy(), idc * 1e-6)
    # the instrument's |Z| and -phase, computed by PSTrace, against the values read
    re_, im = z["z_real_ohm"].to_numpy(), z["z_imag_ohm"].to_numpy()
    np.testing.assert_allclose(np.hypot(re_, im), zmod, rtol=2e-3)
    phase_deg = np.degrees(np.arctan2(im, re_))
    np.testing.assert_allclose(-phase_deg, negph, atol=0.05)
    # capacitive: Im Z < 0 everywhere (PSTrace's Z'' column is -Im Z)
    assert (im < 0).all() and np.array_equal(im, -zim2)
    assert z.attrs["z_imag_sign_from"] == "neg. Phase column"
    # the check can fail: the header's sign taken as Im Z contradicts the phase column
    assert np.abs(-np.degrees(np.arctan2(zim2, re_)) - negph).max() > 10.0
    # the high-frequency end of the first sweep: |Z| ~ 0.77 kOhm, Re Z ~ 0.76 kOhm
    assert re_[0] == pytest.approx(759.024) and im[0] == pytest.approx(-138.177)


def test_eis_export_is_not_a_time_series():
    with pytest.raises(Exception, match=r"impedance export \(pstrace-eis\).*read_eis"):
        echem.read(EIS)


def test_eis_with_doubled_line_ends_and_a_stray_byte_reads_the_same(tmp_path):
    """What the datalab branch's later copies of these files hold after its pre-commit hooks
    ran (commit 2542e1a0): every CRLF turned into LF LF and a single LF byte appended (an odd
    length, no longer valid UTF-16). The spectra read are the same."""
    text = EIS.read_bytes().decode("utf-16")
    q = tmp_path / "mangled.csv"
    q.write_bytes(b"\xff\xfe" + text.replace("\r\n", "\n\n").encode("utf-16-le") + b"\n")
    # and rows without PSTrace's trailing comma: the last row is complete, not cut
    q2 = tmp_path / "no_trailing_comma.csv"
    q2.write_bytes(text.replace(",\r\n", "\r\n").encode("utf-16"))
    a = echem.read_eis(EIS)
    for b in (echem.read_eis(q), echem.read_eis(q2)):
        np.testing.assert_array_equal(a[["frequency_Hz", "z_real_ohm", "z_imag_ohm"]].to_numpy(),
                                      b[["frequency_Hz", "z_real_ohm", "z_imag_ohm"]].to_numpy())
        assert not b.attrs.get("warnings")


def test_eis_cut_inside_the_second_sweep_warns(tmp_path):
    """A copy cut in the middle of a row (a sweep still being written): the partial row is
    dropped and the shortfall against the stated 41 frequencies is recorded."""
    text = EIS.read_bytes().decode("utf-16")
    last = text.rstrip("\r\n\ufeff").rfind("\r\n")
    cut = text[:last + 2 + 12]  # 12 characters into the last data row
    q = tmp_path / "cut.csv"
    q.write_bytes(cut.encode("utf-16"))
    z = echem.read_eis(q)
    assert z.groupby("spectrum").size().tolist() == [41, 40]
    w = " ".join(z.attrs["warnings"])
    assert "states 41 frequencies but the file holds 40" in w


def test_chronopotentiometry_curves_match_the_file(tmp_path):
    t = read_pstrace_csv(CP)
    rows = _rows(CP)
    k = next(i for i, r in enumerate(rows) if r[:6] == ["s", "V", "s", "V", "s", "V"])
    data = np.array([[float(x) for x in r[:6]] for r in rows[k + 1:] if r and r[0].strip()])
    assert data.shape == (101, 6)
    for c in range(3):
        g = t[t["curve"] == c]
        np.testing.assert_array_equal(g["time_s"].to_numpy(), data[:, 2 * c])
        np.testing.assert_array_equal(g["voltage_V"].to_numpy(), data[:, 2 * c + 1])
    np.testing.assert_allclose(np.diff(t[t["curve"] == 0]["time_s"]), 0.1, atol=1e-9)
    assert t.attrs["titles"][0] == "Chronopotentiometry: CP E vs t"
    assert t.attrs["start_times"] == ["2023-06-29 17:44:23", "2023-06-29 17:45:32",
                                      "2023-06-29 17:46:59"]
    # the same curves from the copy with doubled line ends (blank line after every row)
    p2 = tmp_path / "cp.csv"
    p2.write_bytes(CP.read_bytes().decode("utf-16").replace("\r\n", "\n\n").encode("utf-16"))
    t2 = read_pstrace_csv(p2)
    np.testing.assert_array_equal(t2[["curve", "time_s", "voltage_V"]].to_numpy(),
                                  t[["curve", "time_s", "voltage_V"]].to_numpy())
    assert t2.attrs["titles"] == t.attrs["titles"]


def test_chronopotentiometry_export_without_current_is_not_a_time_series():
    """CP curves are E vs t: the applied current is not in the export, so read() refuses it
    naming the curves rather than inventing a current."""
    with pytest.raises(MissingColumnError, match=r"no current_A on its time axis.*"
                       r"Chronopotentiometry: CP E vs t \(s, V\)"):
        echem.read(CP)
