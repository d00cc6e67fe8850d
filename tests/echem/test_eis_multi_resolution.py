"""EIS files with several spectra and arcs the spectrum cannot resolve (issue 14, item 5).

* A file holding several spectra (``spectrum`` column of ``read_eis``) is fitted spectrum by
  spectrum: ``echem/eis`` gets one state per spectrum, labelled ``<label> #<k>``, with its own
  points. Reference: the real PalmSens PSTrace export
  (tests/data/realdata/palmsens/datalab_palmsens_EIS.csv, two sweeps of 41 frequencies, 50 kHz -
  5 Hz), parsed independently with the csv module, and the instrument's own ``Z / Ohm`` column.
* An arc resistance beyond what the spectrum can determine (R > 3 × max|Z|, or an apex more
  than half a decade below the lowest frequency) fails as "not resolved". References: an
  analytic Randles spectrum (exact, so nothing but the window decides) cut at two windows, and
  the file's own |Z| column.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest

from ssbscope.echem.eis import (MAX_APEX_DECADES_BELOW_FMIN, MAX_ARC_R_OVER_MAX_Z, fit_eis,
                                randles_impedance, resolution_problem)

PS = Path(__file__).resolve().parents[1] / "data" / "realdata" / "palmsens" / "datalab_palmsens_EIS.csv"


def _blocks():
    """Independent parse of the PSTrace export: per sweep the rows (freq, -phase, Idc, |Z|, Z', Z'')."""
    text = PS.read_bytes().decode("utf-16").replace("\ufeff", "")
    out = []
    for r in csv.reader(io.StringIO(text)):
        if r and r[0].startswith("Fixed at"):
            out.append([])
        elif r and out and re.match(r"^[-+\d.]", r[0]):
            out[-1].append([float(x) for x in r if x != ""])
    return [np.array(b) for b in out]


def test_constants_are_consistent():
    # an ideal RC arc half a decade above its apex has |Z| = R / sqrt(1 + 10) = R / 3.3
    assert MAX_APEX_DECADES_BELOW_FMIN == 0.5 and MAX_ARC_R_OVER_MAX_Z == 3.0
    assert 1.0 / np.sqrt(1 + 10 ** (2 * MAX_APEX_DECADES_BELOW_FMIN)) == pytest.approx(
        1 / MAX_ARC_R_OVER_MAX_Z, rel=0.1)


def test_arc_closing_below_the_window_is_not_resolved_and_passes_when_measured():
    r_s, r_ct, q, n = 20.0, 5.0e4, 2.0e-6, 0.9
    f_apex = 1.0 / (2 * np.pi * (r_ct * q) ** (1 / n))  # ~2.4 Hz
    full = np.logspace(5, np.log10(f_apex) - 1.5, 60)  # the apex well inside
    cut = np.logspace(5, np.log10(f_apex) + 1.5, 40)  # apex 1.5 decades below the lowest f
    z = randles_impedance(full, r_s, r_ct, q, n)
    ok = fit_eis(full, z.real, z.imag, circuit="randles")
    assert ok.fit_ok, ok.fit_problem
    assert ok.r_ct_ohm == pytest.approx(r_ct, rel=0.02) and ok.r_s_ohm == pytest.approx(r_s, rel=0.02)
    zc = randles_impedance(cut, r_s, r_ct, q, n)
    bad = fit_eis(cut, zc.real, zc.imag, circuit="randles")
    assert not bad.fit_ok
    assert "R_ct" in bad.fit_problem and "not resolved" in bad.fit_problem
    assert "measure to lower frequencies" in bad.fit_problem
    # the reason is the window: the cut spectrum's |Z| stays far below R_ct
    assert np.abs(zc).max() < r_ct / MAX_ARC_R_OVER_MAX_Z


def test_rule_against_the_files_own_modulus():
    b0, b1 = _blocks()
    for b in (b0, b1):
        f, zmod = b[:, 0], b[:, 3]  # the instrument's |Z| column
        negph = np.radians(b[:, 1])
        z = zmod * np.exp(-1j * negph)  # from |Z| and phase alone
        assert f.min() == 5.0 and len(f) == 41
        # R_ct = 2.9e11 Ohm (a whole-file fit's number) is not a measurement of this spectrum
        why = resolution_problem(f, z, [("ct", 2.9e11, 1e-6)])
        assert "R_ct = 2.9e+11 Ω is not resolved" in why and f"{zmod.max():.4g}" in why
        # just under 3 max|Z| with the apex in the window: resolved
        assert resolution_problem(f, z, [("ct", 2.9 * zmod.max(), 10.0)]) == ""
        # apex 0.6 decades below 5 Hz: not resolved, whatever R
        why = resolution_problem(f, z, [("gb", zmod.max(), 5.0 / 10 ** 0.6)])
        assert "R_gb" in why and "0.6 decades below the lowest measured frequency 5 Hz" in why


def test_multi_spectrum_file_is_fitted_per_spectrum(tmp_path):
    from ssbscope.echem import stages as S

    class Ctx:
        def record_input(self, p):
            return Path(p)

    rec = {"path": str(PS), "format": None, "label": "ps", "time_s": None}
    ds = S._inputs_eis_stage(Ctx(), {}, spectra=[rec], circuit="gb-ct")["echem/eis"]
    b = _blocks()
    assert ds.sizes["state"] == 2
    assert [str(v) for v in ds["label"].values] == ["ps #0", "ps #1"]
    assert ds["spectrum"].values.tolist() == [0, 1]
    for k in range(2):
        f = ds["frequency_Hz"].values[k]
        zr, zi = ds["z_real_ohm"].values[k], ds["z_imag_ohm"].values[k]
        np.testing.assert_array_equal(f, b[k][:, 0])
        np.testing.assert_allclose(np.hypot(zr, zi), b[k][:, 3], rtol=2e-3)  # file's |Z|
        np.testing.assert_allclose(-np.degrees(np.arctan2(zi, zr)), b[k][:, 1], atol=0.05)
    # sweep 0: the charge-transfer arc closes far below 5 Hz (R_ct ~6e5 Ω, 16 kΩ measured):
    # stored as failed, NaN, with the reason; sweep 1: R_ct within the measured |Z| range
    assert not bool(ds["fit_ok"].values[0]) and np.isnan(ds["r_ct_ohm"].values[0])
    why = str(ds["fit_problem"].values[0])
    assert "R_ct" in why and "not resolved" in why and f"{b[0][:, 3].max():.4g}" in why
    assert bool(ds["fit_ok"].values[1]), str(ds["fit_problem"].values[1])
    r_ct1 = float(ds["r_ct_ohm"].values[1])
    assert b[1][:, 3].max() < r_ct1 <= MAX_ARC_R_OVER_MAX_Z * b[1][:, 3].max()
    # R_gb + R_ct + R_s reaches beyond the last measured Re(Z) (the arc is still open at 5 Hz)
    assert r_ct1 > b[1][-1, 4] - b[1][0, 4]
    # the report shows one row per spectrum
    from ssbscope.report.echem import _circuit_part, _fit_cells

    labels = [str(v) for v in ds["label"].values]
    html = "".join(str(p) for p in _circuit_part(ds, labels))
    assert html.count("ps #0") >= 1 and html.count("ps #1") >= 1
    cells = _fit_cells(ds, ds["r_ct_ohm"].values)
    assert cells[0].startswith("fit failed: R_ct") and "not resolved" in cells[0]
    assert cells[1] == f"{r_ct1:.1f}"


def test_single_spectrum_file_keeps_its_label():
    from ssbscope.echem import stages as S
    import pandas as pd

    f = np.logspace(4, -1, 30)
    z = randles_impedance(f, 10.0, 100.0, 1e-4, 0.9)
    t = pd.DataFrame({"frequency_Hz": f, "z_real_ohm": z.real, "z_imag_ohm": z.imag})
    assert [(lab, k) for lab, k, _ in S._eis_parts(t, "a")] == [("a", 0)]
    t["spectrum"] = 0
    assert [(lab, k) for lab, k, _ in S._eis_parts(t, "a")] == [("a", 0)]


def test_ion_blocking_cell_has_no_resolved_charge_transfer():
    """hybriddrt_PEIS_LPSCl_IonBlocking_-25C.mpr: Li6PS5Cl between blocking electrodes at -25 °C.
    No charge transfer crosses a blocking electrode; the low-frequency branch is the blocking
    capacitance, whose 'R_ct' (1.2e8 Ω with bulk-gb-ct before this rule) is 15 × the largest
    measured |Z| and its apex more than a decade below 0.1 Hz: not resolved."""
    from ssbscope.testing import realdata_dir

    from ssbscope.echem import read_eis

    p = realdata_dir("potentiostat", "hybriddrt_PEIS_LPSCl_IonBlocking_-25C.mpr")
    if not p.exists():
        pytest.skip("shared/realdata/potentiostat not present")
    z = read_eis(p)
    f, zz = z["frequency_Hz"].to_numpy(float), z["z_real_ohm"].to_numpy(float) + 1j * z["z_imag_ohm"].to_numpy(float)
    fit = fit_eis(f, zz.real, zz.imag, circuit="bulk-gb-ct")
    assert not fit.fit_ok and "R_ct" in fit.fit_problem and "not resolved" in fit.fit_problem
    assert fit.r_ct_ohm > MAX_ARC_R_OVER_MAX_Z * np.abs(zz).max()
    # the electrolyte arcs of the same fit lie inside the window (only R_ct is unresolved)
    assert resolution_problem(f, zz, [(a["label"], a["r_ohm"], a["f_apex_Hz"])
                                      for a in fit.arcs if a["label"] != "ct"]) == ""
