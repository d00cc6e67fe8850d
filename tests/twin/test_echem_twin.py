"""The electrochemistry twin: ground truth against independent references, file formats, bad input.

References used here are independent of ssbscope.echem's analysis: Faraday's law by
numpy's own trapezoid integration, the circuit formula evaluated directly, pandas parsing of
the written files, the papers' numbers.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from ssbscope.errors import InputError, ParameterError
from ssbscope.twin import echem as E
from ssbscope.twin import formats as F


def _mah(df, mask=None):
    """Charge (mAh) by numpy's trapezoid over the rows in ``mask`` (independent of ssbscope)."""
    d = df if mask is None else df[mask]
    return float(np.trapezoid(d["current_A"].to_numpy(), d["time_s"].to_numpy()) / 3.6)


def _sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def cycle():
    return E.nmc622_first_cycle(dt_s=30.0)


# --------------------------------------------------------------------------------------
# (1) 000_ first cycle
# --------------------------------------------------------------------------------------
def test_first_cycle_cell_numbers_from_paper(cycle):
    # 14 mm cathode disc; 3.29 mAh cm-2 / 170.3 mAh g-1 loading (000_ text)
    assert cycle.area_cm2 == pytest.approx(math.pi * 0.7 ** 2, rel=1e-12)
    assert cycle.active_mass_mg / cycle.area_cm2 == pytest.approx(3.29 / 170.3 * 1e3, rel=1e-12)
    assert cycle.current_density_ma_cm2 == 0.3
    # discharge specific capacity close to the paper's 170.3 mAh g-1
    assert cycle.discharge_capacity_mah / (cycle.active_mass_mg * 1e-3) == pytest.approx(170.3, abs=1.0)


def test_first_cycle_capacities_obey_faraday(cycle):
    df = cycle.data
    ch = _mah(df, df["current_A"] > 0)
    dis = -_mah(df, df["current_A"] < 0)
    # trapezoid of the logged (noisy) current vs the exact model: < 0.05 %
    assert ch == pytest.approx(cycle.charge_capacity_mah, rel=5e-4)
    assert dis == pytest.approx(cycle.discharge_capacity_mah, rel=5e-4)
    assert dis / ch == pytest.approx(cycle.coulombic_efficiency, abs=5e-4)
    # constant current = 0.3 mA cm-2 on the CC steps
    cc = df[(df["mode"] == "CC")]
    assert np.median(np.abs(cc["current_A"])) * 1e3 / cycle.area_cm2 == pytest.approx(0.3, rel=1e-3)


def test_first_cycle_voltage_window_and_hold(cycle):
    df = cycle.data
    v = df["voltage_V"].to_numpy()
    assert v.max() < 4.3 + 5 * 3e-4
    cv = df[df["mode"] == "CV"]
    assert np.allclose(cv["voltage_V"], 4.3, atol=5 * 3e-4)
    # CV current decays monotonically (noise 1e-4 relative) and ends at 10 % of the CC value
    i_cv = cv["current_A"].to_numpy()
    assert i_cv[-1] / i_cv[0] == pytest.approx(0.1, rel=0.05)
    # the CC charge ends at 4.3 V, the discharge at 3.0 V
    at = lambda ts: float(np.interp(ts, df["time_s"], df["voltage_V"]))  # noqa: E731
    assert at(cycle.cc_end_s) == pytest.approx(4.3, abs=2e-3)
    assert at(cycle.discharge_end_s) == pytest.approx(3.0, abs=2e-3)
    # realistic shape: charge plateau 3.7-4.3 V, discharge above 3.5 V for most of it
    ch = df[(df["mode"] == "CC") & (df["current_A"] > 0)]["voltage_V"].to_numpy()
    assert np.all(np.diff(ch[5:]) > -2e-3)  # rises (within noise)
    dis = df[(df["mode"] == "CC") & (df["current_A"] < 0)]["voltage_V"].to_numpy()
    assert np.median(dis) > 3.6


def test_first_cycle_state_times_by_integration(cycle):
    df = cycle.data
    t = df["time_s"].to_numpy()
    i = df["current_A"].to_numpy()
    q = np.concatenate(([0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t)))) / 3.6
    q_ch_start = np.interp(cycle.state_time_s("pristine"), t, q)
    q_full = np.interp(cycle.charge_end_s, t, q)
    for s in cycle.states:
        qs = np.interp(s.time_s, t, q)
        if s.kind == "soc":
            frac = (qs - q_ch_start) / (q_full - q_ch_start)
        else:
            frac = (q_full - qs) / cycle.discharge_capacity_mah
        assert frac == pytest.approx(s.fraction, abs=2e-3), s.label
    labels = [s.label for s in cycle.states]
    assert labels == ["pristine", "charging I", "charging II", "fully charged", "discharging I",
                      "discharging II", "fully discharged"]
    assert [s.fraction for s in cycle.states] == [0.0, 0.2, 0.71, 1.0, 0.22, 0.77, 1.0]
    assert np.all(np.diff([s.time_s for s in cycle.states]) > 0)


def test_first_cycle_is_deterministic_and_seeded():
    a = E.nmc622_first_cycle(dt_s=120.0, seed=3)
    b = E.nmc622_first_cycle(dt_s=120.0, seed=3)
    c = E.nmc622_first_cycle(dt_s=120.0, seed=4)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert not np.array_equal(a.data["voltage_V"], c.data["voltage_V"])
    # the ground truth does not depend on the noise
    assert a.states == c.states and a.coulombic_efficiency == c.coulombic_efficiency


def test_first_cycle_size_scales_with_dt():
    n1 = len(E.nmc622_first_cycle(dt_s=60.0).data)
    n2 = len(E.nmc622_first_cycle(dt_s=120.0).data)
    assert n1 == pytest.approx(2 * n2, rel=0.02)


# --------------------------------------------------------------------------------------
# (2) 001_ anode-free
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("case,ce", [("A", 0.799), ("B", 0.929)])
def test_anode_free_plated_and_stripped_capacity(case, ce):
    tw = E.anode_free_cell(case)
    df = tw.data
    first_plate = df["step"] == 0
    strip = df["step"] == 1
    plated = _mah(df, first_plate) / tw.area_cm2
    stripped = -_mah(df, strip) / tw.area_cm2
    assert plated == pytest.approx(3.0, rel=5e-4)  # 001_: 3 mAh cm-2 at 0.5 mA cm-2
    assert stripped / plated == pytest.approx(ce, abs=5e-4)
    assert tw.coulombic_efficiency == ce
    # plating current density 0.5 mA cm-2; Cu is negative vs Li while Li is plated on it
    i = df.loc[first_plate, "current_A"].to_numpy()
    assert np.median(i) * 1e3 / tw.area_cm2 == pytest.approx(0.5, rel=1e-3)
    v_plate = df.loc[first_plate, "voltage_V"].to_numpy()
    assert np.median(v_plate) < 0
    # stripping ends at the cut-off
    assert df.loc[strip, "voltage_V"].iloc[-1] == pytest.approx(1.0, abs=2e-3)
    if case == "A":  # high overpotential, about -0.45 V at the start (001_ text)
        assert v_plate.min() == pytest.approx(-0.42, abs=0.05)


@pytest.mark.parametrize("case,j_short,total", [("B", 3.0, None), ("C", 2.0, 6.37)])
def test_anode_free_hard_short_ground_truth(case, j_short, total):
    tw = E.anode_free_cell(case)
    df = tw.data
    assert tw.short_kind == "hard"
    assert tw.short_current_density_ma_cm2 == j_short
    t = df["time_s"].to_numpy()
    v = df["voltage_V"].to_numpy()
    i = df["current_A"].to_numpy()
    before = (t < tw.short_onset_s) & (t > tw.short_onset_s - 600)
    after = t > tw.short_onset_s + 10
    assert np.all(np.abs(v[before]) > 0.02)
    assert np.all(np.abs(v[after]) < 2e-3)
    # the current keeps flowing at the short's current density
    assert np.median(i[after]) * 1e3 / tw.area_cm2 == pytest.approx(j_short, rel=1e-3)
    if total is not None:  # 001_ case C: short after a total of 6.37 mAh cm-2
        dep = _mah(df, t <= tw.short_onset_s) / tw.area_cm2
        assert dep == pytest.approx(total, rel=1e-3)
        assert tw.short_capacity_mah_cm2 == pytest.approx(total, rel=1e-9)


def test_anode_free_case_a_does_not_short():
    tw = E.anode_free_cell("A")
    assert tw.short_onset_s is None and tw.short_kind is None


# --------------------------------------------------------------------------------------
# (3) 002_ soft / hard / clean
# --------------------------------------------------------------------------------------
def test_sulfide_clean_reaches_cutoff():
    tw = E.sulfide_charge("clean")
    df = tw.data
    # C/20 with 1C = 200 mA g-1 on 6.27 mg NMC811 (002_ Experimental)
    assert tw.current_A == pytest.approx(10e-3 * 8 * 80 / 102 * 1e-3, rel=1e-12)
    assert tw.short_kind is None and tw.cutoff_reached_s == pytest.approx(19 * 3600.0)
    assert df["voltage_V"].iloc[-1] == pytest.approx(4.3, abs=2e-3)
    v_s = pd.Series(df["voltage_V"].to_numpy()).rolling(11, center=True).median().dropna()
    assert np.all(np.diff(v_s.to_numpy()[5:]) > -1e-3)


@pytest.mark.parametrize("seed", [0, 1])
def test_sulfide_soft_short_signature(seed):
    tw = E.sulfide_charge("soft", seed=seed)
    df = tw.data
    t = df["time_s"].to_numpy()
    v = df["voltage_V"].to_numpy()
    assert tw.short_kind == "soft" and tw.short_onset_s == 4.5 * 3600.0
    pre = v[(t < tw.short_onset_s) & (t > tw.short_onset_s - 300)]
    post = v[t >= tw.short_onset_s]
    # voltage stops rising: never above the level reached, always well below the cut-off
    assert post.max() < pre.max() + 0.02
    assert post.max() < tw.v_max_V - 0.3
    assert 3.6 < np.median(post) < 3.9  # ~3.8 V in 002_ Fig. 2B
    # it fluctuates: more than the instrument noise
    assert np.std(np.diff(post)) > 5 * 3e-4
    # a dip at the onset itself
    assert v[np.searchsorted(t, tw.short_onset_s)] < pre[-1] - 0.02
    # current keeps flowing
    assert np.all(df["current_A"].to_numpy() > 0)
    assert t[-1] == pytest.approx(20 * 3600.0)  # charged for 20 h


def test_sulfide_soft_short_can_recover():
    tw = E.sulfide_charge("soft", recover_after_h=8.0, time_limit_h=24.0)
    df = tw.data
    assert tw.recovery_s == 8 * 3600.0
    # stalled from 4.5 h to 8 h: the cut-off comes 3.5 h later than in the clean charge
    assert tw.cutoff_reached_s == pytest.approx((19 + 3.5) * 3600.0)
    assert df["voltage_V"].iloc[-1] == pytest.approx(4.3, abs=2e-3)


def test_sulfide_hard_short_collapses():
    tw = E.sulfide_charge("hard")
    df = tw.data
    t = df["time_s"].to_numpy()
    v = df["voltage_V"].to_numpy()
    assert tw.short_kind == "hard"
    assert np.all(v[t < tw.short_onset_s] > 3.0)
    assert np.all(v[t > tw.short_onset_s + 60] < 0.01)


# --------------------------------------------------------------------------------------
# (4) 003_ CCD staircase
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("sign", [1, -1])
def test_ccd_staircase_protocol_and_drop(sign):
    tw = E.ccd_staircase(plating_sign=sign, ccd_ma_cm2=2.0)
    df = tw.data
    assert tw.plating_ma_cm2 == (0.5, 1.0, 1.5, 2.0)  # 003_ Methods: 0.5 steps of 0.5
    assert tw.ccd_ma_cm2 == 2.0
    j = df["current_A"].to_numpy() * 1e3 / tw.area_cm2
    plating = sign * j > 0
    # each half-cycle moves 0.2 mAh cm-2
    for step, g in df.groupby("step"):
        q = abs(_mah(g)) / tw.area_cm2
        assert q == pytest.approx(0.2, rel=0.02), step
    strip_j = -sign * j[~plating]
    assert np.allclose(strip_j, 0.2, rtol=1e-3)
    # the drop: plating polarisation before vs after penetration
    t = df["time_s"].to_numpy()
    v = sign * df["voltage_V"].to_numpy()
    before = v[(t > tw.penetration_s - 60) & (t < tw.penetration_s - 15) & plating]
    after = v[(t > tw.penetration_s + 20) & (t < tw.penetration_s + 60) & plating]
    assert np.mean(before) - np.mean(after) > 0.9 * tw.drop_mV * 1e-3
    # no comparable drop in the earlier plating steps
    for step, g in df[plating & (t < tw.penetration_s - 300)].groupby("step"):
        vv = sign * g["voltage_V"].to_numpy()
        assert np.max(np.maximum.accumulate(vv) - vv) < 2e-3, step


def test_ccd_sign_conventions_mirror():
    a = E.ccd_staircase(plating_sign=1, seed=2).data
    b = E.ccd_staircase(plating_sign=-1, seed=2).data
    np.testing.assert_allclose(a["current_A"], -b["current_A"], rtol=1e-3)
    np.testing.assert_allclose(a["voltage_V"], -b["voltage_V"], atol=2e-3)


# --------------------------------------------------------------------------------------
# (5) EIS
# --------------------------------------------------------------------------------------
def test_eis_noise_free_matches_the_circuit_formula():
    tw = E.eis_spectrum(40.0, 300.0, 1e-6, 0.9, 50.0, noise_rel=0.0)
    w = 2 * np.pi * tw.freq_hz
    zw = 50.0 * (1 - 1j) / np.sqrt(w)
    z = 40.0 + 1.0 / (1.0 / (300.0 + zw) + 1e-6 * (1j * w) ** 0.9)
    np.testing.assert_allclose(tw.z_real_ohm, z.real, rtol=1e-12)
    np.testing.assert_allclose(tw.z_imag_ohm, z.imag, rtol=1e-12)
    assert tw.freq_hz[0] == pytest.approx(1e5) and tw.freq_hz[-1] == pytest.approx(0.1)
    assert tw.freq_hz.size == 61 and np.all(np.diff(tw.freq_hz) < 0)


def test_eis_noise_level():
    clean = E.eis_spectrum(noise_rel=0.0, points_per_decade=50)
    noisy = E.eis_spectrum(noise_rel=0.01, points_per_decade=50, seed=5)
    mag = np.hypot(clean.z_real_ohm, clean.z_imag_ohm)
    res = np.concatenate(((noisy.z_real_ohm - clean.z_real_ohm) / mag,
                          (noisy.z_imag_ohm - clean.z_imag_ohm) / mag))
    assert np.std(res) == pytest.approx(0.01, rel=0.15)


def test_first_cycle_eis_follows_paper_trend(cycle):
    spectra = E.first_cycle_eis(cycle)
    r_ct = [s.r_ct_ohm for s in spectra]
    r_s = [s.r_s_ohm for s in spectra]
    # 000_ Fig. 2A-B: R_ct decreases on charge, increases on discharge; R_s nearly constant
    assert np.all(np.diff(r_ct[:4]) < 0) and np.all(np.diff(r_ct[3:]) > 0)
    assert max(r_s) / min(r_s) < 1.1
    assert [s.label for s in spectra] == [s.label for s in cycle.states]
    assert [s.time_s for s in spectra] == [s.time_s for s in cycle.states]


# --------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------
def _parse_mpt(path):
    raw = path.read_bytes()
    assert raw.startswith(b"EC-Lab ASCII FILE\r\n")
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    n = int(lines[1].split(":")[1])
    df = pd.read_csv(path, sep="\t", skiprows=n - 1, encoding="latin-1", index_col=False)
    return lines, n, df


def test_mpt_layout_and_values(tmp_path):
    tw = E.nmc622_first_cycle(dt_s=300.0)
    p = F.write_mpt(tmp_path / "cell.mpt", tw.data, area_cm2=tw.area_cm2, mass_mg=tw.active_mass_mg)
    lines, n, df = _parse_mpt(p)
    assert lines[3] == "Galvanostatic Cycling with Potential Limitation"
    assert lines[n - 1].split("\t")[:13] == [
        "mode", "ox/red", "error", "control changes", "Ns changes", "counter inc.", "Ns", "time/s",
        "control/V/mA", "Ewe/V", "I/mA", "dQ/mA.h", "(Q-Qo)/mA.h"]
    assert "cycle number" in df.columns
    assert "Electrode surface area : 1.539 cm\u00b2" in lines
    # EC-Lab number format: three-digit exponents
    first = lines[n].split("\t")
    assert first[7].endswith("E+000") and len(first[7].split("E")[0]) == 17
    assert len(df) == len(tw.data)
    np.testing.assert_allclose(df["Ewe/V"], tw.data["voltage_V"], rtol=1e-7)
    np.testing.assert_allclose(df["I/mA"], tw.data["current_A"] * 1e3, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(df["time/s"], tw.data["time_s"], rtol=1e-15)
    assert set(df["mode"]) == {1, 2, 3}  # CC, CV, rest
    # (Q-Qo) at the end of the charge = the charge capacity
    q = df["(Q-Qo)/mA.h"].to_numpy()
    assert q.max() == pytest.approx(tw.charge_capacity_mah, rel=2e-3)
    assert q[-1] == pytest.approx(tw.charge_capacity_mah - tw.discharge_capacity_mah, rel=2e-2)


def test_mpt_biologic_sign_for_cu_working_electrode(tmp_path):
    tw = E.anode_free_cell("A", dt_s=120.0)
    p = F.write_twin(tw, tmp_path / "af.mpt")
    _, _, df = _parse_mpt(p)
    plating = tw.data["current_A"].to_numpy() > 0
    # plating on the Cu working electrode is a reduction: I/mA < 0
    assert np.all(df["I/mA"].to_numpy()[plating] < 0)
    assert np.all(df["ox/red"].to_numpy()[plating] == 0)


def test_peis_mpt_layout(tmp_path):
    sp = E.eis_spectrum(noise_rel=0.0)
    p = F.write_twin(sp, tmp_path / "peis.mpt")
    lines, n, df = _parse_mpt(p)
    assert lines[3] == "Potentio Electrochemical Impedance Spectroscopy"
    assert list(df.columns[:5]) == ["freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm", "|Z|/Ohm", "Phase(Z)/deg"]
    np.testing.assert_allclose(df["-Im(Z)/Ohm"], -sp.z_imag_ohm, rtol=1e-7)
    np.testing.assert_allclose(df["|Z|/Ohm"], np.hypot(sp.z_real_ohm, sp.z_imag_ohm), rtol=1e-7)
    assert np.all(df["Phase(Z)/deg"] < 0)


def test_neware_csv_layout(tmp_path):
    tw = E.nmc622_first_cycle(dt_s=300.0)
    p = F.write_twin(tw, tmp_path / "cell_neware.csv")
    df = pd.read_csv(p)
    assert list(df.columns[:8]) == ["DataPoint", "Cycle Index", "Step Index", "Step Type", "Time",
                                    "Cumulative Time", "Current(A)", "Voltage(V)"]
    assert set(df["Step Type"]) == {"Rest", "CC Chg", "CV Chg", "CC DChg"}
    assert df["Step Index"].min() == 1 and df["Cycle Index"].min() == 1
    end = int(round(tw.data["time_s"].iloc[-1]))
    assert end > 24 * 3600
    assert df["Cumulative Time"].iloc[-1] == f"{end // 3600}:{end % 3600 // 60:02d}:{end % 60:02d}"
    np.testing.assert_allclose(df["Voltage(V)"], tw.data["voltage_V"], atol=5e-5)
    # step capacities (Faraday): CC charge = 92 % of the charge (8 % in the CV hold); discharge
    cc = df[df["Step Type"] == "CC Chg"]["Chg. Cap.(Ah)"].max() * 1e3
    assert cc == pytest.approx(0.92 * tw.charge_capacity_mah, rel=2e-3)
    dis = df[df["Step Type"] == "CC DChg"]["DChg. Cap.(Ah)"].max() * 1e3
    assert dis == pytest.approx(tw.discharge_capacity_mah, rel=2e-3)
    spec = df[df["Step Type"] == "CC DChg"]["DChg. Spec. Cap.(mAh/g)"].max()
    assert spec == pytest.approx(tw.discharge_capacity_mah / (tw.active_mass_mg * 1e-3), abs=0.3)


@pytest.mark.parametrize("name", ["a.mpt", "a.csv", "a_neware.csv"])
def test_writers_same_seed_same_bytes(tmp_path, name):
    d1, d2, d3 = tmp_path / "1", tmp_path / "2", tmp_path / "3"
    for d in (d1, d2, d3):
        d.mkdir()
    F.write_twin(E.sulfide_charge("soft", seed=7, dt_s=120.0), d1 / name)
    F.write_twin(E.sulfide_charge("soft", seed=7, dt_s=120.0), d2 / name)
    F.write_twin(E.sulfide_charge("soft", seed=8, dt_s=120.0), d3 / name)
    assert _sha(d1 / name) == _sha(d2 / name)
    assert _sha(d1 / name) != _sha(d3 / name)


def test_peis_same_seed_same_bytes(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    F.write_twin(E.eis_spectrum(seed=1), tmp_path / "1" / "z.mpt")
    F.write_twin(E.eis_spectrum(seed=1), tmp_path / "2" / "z.mpt")
    assert _sha(tmp_path / "1" / "z.mpt") == _sha(tmp_path / "2" / "z.mpt")


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,match", [
    (lambda: E.nmc622_first_cycle(dt_s=0.0), "dt_s"),
    (lambda: E.nmc622_first_cycle(coulombic_efficiency=1.2), "coulombic_efficiency"),
    (lambda: E.nmc622_first_cycle(area_cm2=-1.0), "area_cm2"),
    (lambda: E.nmc622_first_cycle(v_min_V=4.5), "v_max_V"),
    (lambda: E.anode_free_cell("D"), "case"),
    (lambda: E.anode_free_cell("C", coulombic_efficiency=0.9), "no stripping"),
    (lambda: E.sulfide_charge("medium"), "variant"),
    (lambda: E.sulfide_charge("soft", short_onset_h=30.0), "short_onset_h"),
    (lambda: E.sulfide_charge("hard", recover_after_h=8.0), "recover_after_h"),
    (lambda: E.ccd_staircase(ccd_ma_cm2=1.7), "staircase"),
    (lambda: E.ccd_staircase(plating_sign=0), "plating_sign"),
    (lambda: E.eis_spectrum(f_min_hz=1e6), "f_min_hz"),
    (lambda: E.nmc622_first_cycle(dt_s=600.0).state_time_s("charged"), "scan state"),
])
def test_bad_parameters(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


def test_writer_refuses_bad_input_and_leaves_nothing(tmp_path):
    tw = E.sulfide_charge("clean", dt_s=600.0)
    with pytest.raises(ParameterError, match="folder does not exist"):
        F.write_mpt(tmp_path / "missing" / "a.mpt", tw.data)
    bad = tw.data.copy()
    bad.loc[3, "voltage_V"] = np.nan
    with pytest.raises(InputError, match="voltage_V"):
        F.write_csv(tmp_path / "a.csv", bad)
    with pytest.raises(InputError, match="empty"):
        F.write_neware_csv(tmp_path / "b.csv", tw.data.iloc[:0])
    with pytest.raises(ParameterError, match="suffix"):
        F.write_twin(tw, tmp_path / "a.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_mpt_files_read_by_galvani(tmp_path):
    """Peer reference: galvani's EC-Lab text reader parses both twin .mpt layouts."""
    from galvani import BioLogic

    tw = E.nmc622_first_cycle(dt_s=600.0)
    arr = BioLogic.MPTfile(str(F.write_twin(tw, tmp_path / "gcpl.mpt")), encoding="latin1")[0]
    assert len(arr) == len(tw.data)
    np.testing.assert_allclose(arr["Ewe/V"], tw.data["voltage_V"], rtol=1e-7)
    np.testing.assert_allclose(arr["I/mA"], 1e3 * tw.data["current_A"], rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(arr["Ns"], tw.data["step"])
    sp = E.eis_spectrum(seed=3)
    z = BioLogic.MPTfile(str(F.write_twin(sp, tmp_path / "peis.mpt")), encoding="latin1")[0]
    np.testing.assert_allclose(z["freq/Hz"], sp.freq_hz, rtol=1e-7)
    np.testing.assert_allclose(z["-Im(Z)/Ohm"], -sp.z_imag_ohm, rtol=1e-7)
