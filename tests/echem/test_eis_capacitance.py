"""Capacitance check of the EIS arc labels (``ssbscope.echem.eis.check_capacitances``).

References: the analytic effective capacitance of an (R ∥ CPE) arc, C = (R Q)^(1/n) / R
(Hsu & Mansfeld 2001, doi:10.5006/1.3280607), which is 1/(2π f_c R) with f_c the frequency of
the arc's −Z'' maximum (found here numerically on a fine grid); the capacitance ranges of
Irvine, Sinclair & West 1990 (doi:10.1002/adma.19900020304, for l/A = 1 cm^-1); synthetic
spectra from known R, Q, n with 0.5 % noise (seeds 0-2); the real LPSCl ion-blocking pellet and
NCM / LPSCl / In-Li half cell of hybrid-drt (shared/realdata, BSD-3-Clause).
"""
from __future__ import annotations

import numpy as np
import pytest

from ssbscope.echem import read_eis
from ssbscope.echem.eis import (C_PHENOMENA, check_capacitances, effective_capacitance, fit_eis,
                                randles_impedance, zarc_impedance)
from ssbscope.testing import realdata_dir

F = np.logspace(7, -2, 91)  # 10 MHz .. 10 mHz, 10 per decade
SSB = realdata_dir("potentiostat", "hybriddrt_PEIS_SSB.mpr")
BLOCK = realdata_dir("potentiostat", "hybriddrt_PEIS_LPSCl_IonBlocking_-25C.mpr")


def arc_c(r, c, n):
    """(R, Q, n) of an arc of effective capacitance c: Q = c^n R^(n-1) (inverse of C_eff)."""
    return (r, c ** n * r ** (n - 1.0), n)


def noisy(z, rel, seed):
    rng = np.random.default_rng(seed)
    return z + np.abs(z) * rel * (rng.normal(size=z.size) + 1j * rng.normal(size=z.size))


def test_effective_capacitance_is_the_apex_capacitance():
    # independent: the −Z'' maximum of one arc on a fine grid, C = 1 / (2π f_max R)
    f = np.logspace(-3, 9, 120001)
    for r, q, n in ((50.0, 2e-9, 1.0), (1e3, 3e-6, 0.8), (2e4, 5e-5, 0.6), (7.0, 1e-3, 0.45)):
        z = zarc_impedance(f, 0.0, [(r, q, n)])
        f_max = f[np.argmax(-z.imag)]
        c_apex = 1.0 / (2 * np.pi * f_max * r)
        assert effective_capacitance(r, q, n) == pytest.approx(c_apex, rel=2e-4)
        assert effective_capacitance(r, q, n) == pytest.approx((r * q) ** (1 / n) / r, rel=1e-12)
    assert effective_capacitance(100.0, 3e-6, 1.0) == pytest.approx(3e-6, rel=1e-12)  # n = 1: Q


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fitted_capacitances_match_the_truth_and_agree_with_their_labels(seed):
    # a Li6PS5Cl-like pellet, A = 0.785 cm², l = 0.06 cm: bulk ε' = 25 (C l/A = 2.2e-12 F/cm,
    # apex 1.1 MHz), grain boundary C l/A = 5e-10 F/cm, double layer 20 µF/cm², R_s 50 Ω
    area, l_cm = 0.785, 0.06
    truth = {"b": (5000.0, 25 * 8.854e-14 * area / l_cm, 0.95),
             "gb": (2000.0, 5e-10 * area / l_cm, 0.85),
             "ct": (8000.0, 2e-5 * area, 0.8)}
    arcs = [arc_c(*truth[k]) for k in ("b", "gb", "ct")]
    z = noisy(zarc_impedance(F, 50.0, arcs), 0.005, seed)
    fit = check_capacitances(fit_eis(F, z.real, z.imag, circuit="bulk-gb-ct"), area, l_cm)
    assert fit.fit_ok and fit.c_inconsistent == () and fit.c_note == ""
    by = {c["label"]: c for c in fit.capacitances}
    for lab, (r, c, n) in truth.items():
        assert by[lab]["checked"] and by[lab]["consistent"], by[lab]
        assert by[lab]["c_F"] == pytest.approx(c, rel=0.06)  # 0.5 % noise: within 6 % (max 3.8 %)
        assert by[lab]["c_F_cm2"] == pytest.approx(by[lab]["c_F"] / area, rel=1e-12)
        assert by[lab]["c_F_per_cm"] == pytest.approx(by[lab]["c_F"] * l_cm / area, rel=1e-12)
    assert fit.c_b_F == pytest.approx(by["b"]["c_F"]) and fit.consistent("b")
    # the bulk arc's C l/A gives the permittivity back: ε' = C l / (ε0 A)
    assert by["b"]["c_F_per_cm"] / 8.854e-14 == pytest.approx(25.0, rel=0.05)
    assert "bulk" in by["b"]["says"] and "grain boundary" in by["gb"]["says"]


def test_mislabelled_arcs_are_flagged_not_relabelled():
    # two electrode-interface arcs (2 µF and 30 µF per cm²) and a 1 mF reaction arc, fitted with
    # the bulk-gb-ct circuit: 'b' and 'gb' are labels by position only
    area, l_cm = 1.0, 0.05
    arcs = [arc_c(50.0, 2e-6, 0.9), arc_c(200.0, 3e-5, 0.85), arc_c(500.0, 1e-3, 0.8)]
    z = noisy(zarc_impedance(F[F < 1e5], 3.0, arcs), 0.005, 0)
    f = F[F < 1e5]
    raw = fit_eis(f, z.real, z.imag, circuit="bulk-gb-ct")
    fit = check_capacitances(raw, area, l_cm)
    assert raw.fit_ok and fit.c_inconsistent == ("b", "gb")
    assert not fit.consistent("b") and not fit.consistent("gb") and fit.consistent("ct")
    # the labels and values are kept; the note says what the capacitance says
    assert [a["label"] for a in fit.arcs] == ["b", "gb", "ct"]
    assert fit.r_b_ohm == raw.r_b_ohm and fit.r_gb_ohm == raw.r_gb_ohm
    lines = fit.c_note.split("; arc ")
    assert len(lines) == 2
    assert lines[0].startswith("arc 'bulk' (b) has C = 2 µF (C l/A = 1e-07 F cm^-1, C/A = 2e-06 F cm^-2)")
    assert "its capacitance says sample-electrode interface, not bulk" in lines[0]
    assert "'grain boundary' (gb) has C = 30 µF" in lines[1]
    assert ("says sample-electrode interface, electrochemical reaction, not grain boundary"
            in lines[1])
    assert fit.fit_note == fit.c_note  # no unresolved arc: the note is the capacitance lines
    # checking twice does not repeat the lines
    assert check_capacitances(fit, area, l_cm).fit_note == fit.fit_note
    # without the geometry (area 0.01-100 cm², thickness 1 µm-1 cm) 2 µF could be the bulk of a
    # 1 µm film: nothing is flagged; with the area but not the thickness, still nothing for b
    assert check_capacitances(raw).c_inconsistent == ()
    # both are flagged from the area once the thickness is bracketed (20 µm - 2 mm)
    assert check_capacitances(raw, area, (2e-3, 0.2)).c_inconsistent == ("b", "gb")


def test_randles_charge_transfer_capacitance_and_a_failed_fit_unchecked():
    f = np.logspace(5, -1, 50)
    z = randles_impedance(f, 10.0, 200.0, 2e-5, 0.9, 0.0)
    fit = check_capacitances(fit_eis(f, z.real, z.imag), 0.5)
    assert fit.fit_ok and fit.circuit == "randles"
    c = (200.0 * 2e-5) ** (1 / 0.9) / 200.0
    assert fit.c_ct_F == pytest.approx(c, rel=1e-3)
    assert fit.capacitances[0]["c_F_cm2"] == pytest.approx(c / 0.5, rel=1e-3)
    assert fit.c_inconsistent == ()
    # a 0.2 nF 'charge transfer' arc on 1 cm² is no interface: C/A is below a surface layer's,
    # and with the thickness unknown, C l/A may be a bulk's or a grain boundary's
    z = randles_impedance(f * 1e4, 10.0, 200.0, 2e-10, 1.0, 0.0)
    bad = check_capacitances(fit_eis(f * 1e4, z.real, z.imag), 1.0)
    assert bad.c_inconsistent == ("ct",) and "charge transfer" in bad.c_note
    assert "has C = 200 pF (C/A = 2e-10 F cm^-2): its capacitance says bulk, grain boundary" in bad.c_note
    # a failed fit is no measurement: not checked
    from dataclasses import replace

    failed = check_capacitances(replace(bad, fit_ok=False, c_note="", fit_note="", c_inconsistent=()), 1.0)
    assert failed.c_inconsistent == () and not failed.capacitances[0]["checked"]


def test_phenomena_ranges_are_irvine_s_table():
    # Irvine, Sinclair & West 1990 (l/A = 1 cm^-1): bulk 1e-12, grain boundary 1e-11..1e-8,
    # surface layer 1e-9..1e-7, sample-electrode interface 1e-7..1e-5, reactions ~1e-4 F
    lo, hi, _ = C_PHENOMENA["bulk"]
    assert lo < 1e-12 < hi
    assert C_PHENOMENA["grain boundary"][:2] == (1e-11, 1e-8)
    assert C_PHENOMENA["surface layer"][:2] == (1e-9, 1e-7)
    assert C_PHENOMENA["sample-electrode interface"][:2] == (1e-7, 1e-5)
    assert C_PHENOMENA["electrochemical reaction"][0] < 1e-4


@pytest.mark.skipif(not BLOCK.exists(), reason="shared/realdata/potentiostat not present")
def test_real_ion_blocking_pellet_second_arc_is_an_electrode_interface():
    """hybrid-drt's LPSCl pellet between blocking steel electrodes at −25 °C (100 mg pellet in a
    press cell, sample_info.txt). Geometry bracketed: 8-13 mm die (0.5-1.33 cm²), 0.4-1.5 mm
    thick. The first arc (apex 1.5 MHz) has C = 8.4e-11 F: C l/A 2.5e-12..2.5e-11 F/cm, bulk
    (ε' ~ 30-280 at the extremes). The second arc, labelled grain boundary by position, has
    C = 1.4 µF (n = 1.0): per area 1-3 µF/cm², a blocking electrode's interface - flagged."""
    e = read_eis(BLOCK)
    fit = check_capacitances(fit_eis(e["frequency_Hz"], e["z_real_ohm"], e["z_imag_ohm"],
                                     circuit="bulk-gb-ct"), (0.5, 1.33), (0.04, 0.15))
    assert fit.fit_ok
    by = {c["label"]: c for c in fit.capacitances}
    assert 3e-11 < by["b"]["c_F"] < 3e-10 and by["b"]["consistent"]
    assert 5e-7 < by["gb"]["c_F"] < 5e-6 and not by["gb"]["consistent"]
    assert by["gb"]["says"] == "sample-electrode interface"
    assert fit.c_inconsistent == ("gb",)
    assert "arc 'grain boundary' (gb) has C = 1.3" in fit.c_note or \
        "arc 'grain boundary' (gb) has C = 1.4" in fit.c_note


@pytest.mark.skipif(not SSB.exists(), reason="shared/realdata/potentiostat not present")
def test_real_half_cell_arcs_agree_with_their_labels():
    """hybrid-drt's NCM-LPSCl | LPSCl | In-Li half cell, 10 mm press cell (0.785 cm²), separator
    0.4-1.0 mm: electrolyte C = 1.4e-10 F (C l/A 7e-12..1.8e-11 F/cm: bulk or grain boundary),
    interfaces 3.4 µF and 53 µF, R_ct 1.6 mF (2 mF/cm², a composite cathode): all consistent."""
    e = read_eis(SSB)
    fit = check_capacitances(fit_eis(e["frequency_Hz"], e["z_real_ohm"], e["z_imag_ohm"],
                                     circuit="el-2int-ct"), 0.785, (0.04, 0.1))
    assert fit.fit_ok and fit.c_inconsistent == ()
    by = {c["label"]: c for c in fit.capacitances}
    assert 5e-11 < by["el"]["c_F"] < 5e-10
    assert 1e-6 < by["i1"]["c_F"] < 1e-5 and 1e-5 < by["i2"]["c_F"] < 2e-4
    assert 5e-4 < by["ct"]["c_F"] < 5e-3
    assert all(c["checked"] and c["consistent"] for c in fit.capacitances)


@pytest.mark.slow(seconds=7)
@pytest.mark.skipif(not BLOCK.exists(), reason="shared/realdata/potentiostat not present")
def test_stage_stores_capacitances_flags_and_the_report_shows_the_note(tmp_path):
    import shutil

    from ssbscope.config import (Analysis, Cell, EchemAnalysis, EchemInput, Experiment, Inputs,
                                 Layer)
    from ssbscope.echem import stages as S
    from ssbscope.pipeline import run
    from ssbscope.report.echem import _eis_figures
    from ssbscope.store import Store

    shutil.copy(BLOCK, tmp_path / "block.mpr")
    exp = Experiment(
        cell=Cell(area_cm2=0.785, layers=[Layer(name="steel1", material="steel", thickness_um=5000),
                                          Layer(name="LPSCl", material="Li6PS5Cl", thickness_um=800),
                                          Layer(name="steel2", material="steel", thickness_um=5000)]),
        inputs=Inputs(echem=[EchemInput(path="block.mpr", kind="eis", label="blk")]),
        analysis=Analysis(echem=EchemAnalysis(eis_circuit="bulk-gb-ct")), base_dir=str(tmp_path))
    _, eis_recs = S._input_items(exp)
    assert eis_recs[0]["thickness_cm"] == pytest.approx(0.08)
    st = Store.create(tmp_path / "s.zarr")
    from ssbscope.pipeline import Stage

    run([Stage("echem.inputs.eis", S._inputs_eis_stage, outputs=("echem/eis",),
               params={"spectra": eis_recs, "circuit": "bulk-gb-ct"})], st, raw_dir=tmp_path,
        quiet=True)
    ds = Store.open(tmp_path / "s.zarr").read("echem/eis").load()
    assert bool(ds["fit_ok"].values[0])
    assert bool(ds["c_b_consistent"].values[0]) and not bool(ds["c_gb_consistent"].values[0])
    assert bool(ds["c_ct_consistent"].values[0]) and bool(ds["c_int_consistent"].values[0])
    c_gb = float(ds["c_gb_F"].values[0])
    assert ds["c_gb_F"].attrs["units"] == "F" and ds["c_gb_F_cm2"].attrs["units"] == "F/cm^2"
    assert float(ds["c_gb_F_cm2"].values[0]) == pytest.approx(c_gb / 0.785, rel=1e-9)
    assert float(ds["c_b_F_per_cm"].values[0]) == pytest.approx(
        float(ds["c_b_F"].values[0]) * 0.08 / 0.785, rel=1e-9)
    assert np.isnan(ds["c_i1_F"].values[0])  # the circuit has no interfacial arc
    note = str(ds["c_note"].values[0])
    assert "arc 'grain boundary' (gb)" in note and note in str(ds["fit_note"].values[0])
    assert "LPSCl" in str(ds["c_check"].values[0])
    import html as H

    html = H.unescape(str(_eis_figures(ds)[0]))
    assert "Capacitance contradicts the arc label, blk: arc 'grain boundary' (gb) has C = 1." in html
    # the unresolved R_ct keeps its own note, without the capacitance line
    nr = [ln for ln in html.splitlines() if "Not resolved, blk:" in ln]
    assert len(nr) == 1 and "R_ct" in nr[0] and "grain boundary" not in nr[0]
    assert "Effective capacitance of each arc" in html and "contradicted" in html


def test_report_table_shows_the_quantity_each_label_is_judged_by():
    # before: every row showed C/A and C l/A, so a charge-transfer arc read as "C l/A = 1e-06"
    # beside its verdict, though only C/A is judged for it (issue 14 audit)
    import html as H
    import re

    import xarray as xr

    from ssbscope.report.echem import _capacitance_part

    area, thick = 0.5, 0.05
    c = {"b": 1e-11, "ct": 1e-5}
    data = {"c_note": ("state", np.array([""], dtype=object))}
    for lab, v in c.items():
        data[f"c_{lab}_F"] = ("state", np.array([v]))
        data[f"c_{lab}_F_cm2"] = ("state", np.array([v / area]))
        data[f"c_{lab}_F_per_cm"] = ("state", np.array([v * thick / area]))
        data[f"c_{lab}_consistent"] = ("state", np.array([True]))
    ds = xr.Dataset(data)
    html = H.unescape(str(_capacitance_part(ds, ["s0"], [True])[0]))
    rows = {("ct" if "(ct)" in r else "b"): r for r in re.split(r"<tr", html) if "(ct)" in r or "(b)" in r}
    assert set(rows) == {"b", "ct"}
    assert "C/A (F cm⁻²)" in rows["ct"] and "2e-05" in rows["ct"]  # C/A = 1e-5 / 0.5
    assert "1e-06" not in rows["ct"] and "C l/A" not in rows["ct"]  # C l/A is not judged
    assert "C l/A (F cm⁻¹)" in rows["b"] and "1e-12" in rows["b"]  # C l/A = 1e-11 * 0.05 / 0.5
    assert "2e-11" not in rows["b"] and "C/A" not in rows["b"].replace("C l/A", "")
    assert "electrochemical reaction ≥ 1e-05 F cm⁻²" in rows["ct"]
    assert "bulk 1e-13–1e-11 F cm⁻¹" in rows["b"]
    # geometry not declared: the judged value is said to be bracketed, not shown as a number
    ds["c_ct_F_cm2"][:] = np.nan
    html = H.unescape(str(_capacitance_part(ds, ["s0"], [True])[0]))
    assert "area not declared (bracketed)" in html
