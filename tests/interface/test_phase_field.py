"""Phase-field Li growth in porous Li6PS5Cl under stack pressure (Cao et al. 2023,
doi:10.1002/adfm.202307998, Fig. 4): the trends the paper reports, checked on the ``tiny`` crop.

What the model reproduces and what it does not is asserted as measured (no parameter is tuned
to the paper's figure): pressure suppresses growth monotonically but weakly (the elastic driving
force Omega P_m is ~1 mV at 10 MPa); no dendrite crosses the electrolyte in 500 s with
literature kinetics and conductivities (Faraday's law bounds the tip speed 4x below what a short at
~400 s needs; the widened interface's capillarity retracts the protrusions), so the 0 MPa leakage
jump is not reproduced (xfail with the numbers).
"""

from __future__ import annotations

import numpy as np
import pytest

import ssbscope.interface as iface


@pytest.fixture(scope="module")
def runs():
    return {p: iface.phase_field_growth(p, size="tiny", seed=0) for p in (0.0, 5.0, 10.0)}


def test_result_shape_and_mass_conservation(runs):
    r = runs[0.0]
    n = r.time_s.size
    assert n > 10 and r.time_s[0] == 0.0 and r.time_s[-1] == pytest.approx(500.0)
    for a in (r.li_area_fraction, r.leakage_current_a, r.peak_stress_mpa_t):
        assert a.shape == (n,) and np.all(np.isfinite(a))
    # rho's Cahn-Hilliard step is conservative: sum(rho) constant to round-off
    assert r.mass_error < 1e-6
    assert np.abs(r.rho).max() <= 1.05
    # Li grows (Faradaic plating at -0.35 V)
    assert r.li_area_fraction[-1] > r.li_area_fraction[0] + 0.01


def test_plated_li_obeys_faraday(runs):
    """Li area grown in the electrolyte region = charge through the cell / (F c_s depth)."""
    from ssbscope.interface.phase_field import DEFAULTS, F_CONST, SIZES

    r = runs[0.0]
    pre = SIZES["tiny"]
    charge_c = float(np.sum(np.diff(r.time_s) * 0.5 * (r.ionic_current_a[1:]
                                                         + r.ionic_current_a[:-1])))
    plated_um2 = charge_c / (F_CONST * DEFAULTS["li_site_density_mol_m3"]
                             * pre["height_um"] * 1e-6) * 1e12
    grown_um2 = ((r.li_area_fraction[-1] - r.li_area_fraction[0])
                 * pre["se_thickness_um"] * pre["height_um"])
    # measured 1.10: the trapezoid over 10 s saves and the protrusion tip blunting in the
    # first ~10 s (capillarity of the one-cell interface) account for the excess
    assert 0.9 < grown_um2 / plated_um2 < 1.2


def test_pressure_suppresses_growth(runs):
    frac = [runs[p].li_area_fraction[-1] for p in (0.0, 5.0, 10.0)]
    assert frac[0] > frac[1] > frac[2]
    growth = [f - runs[0.0].li_area_fraction[0] for f in frac]
    # measured: 10 MPa removes 1.4 % of the growth (Omega P_m / F ~ 1 mV against a local
    # overpotential of ~0.1-0.2 V); the paper's strong suppression is NOT reproduced
    rel = 1 - growth[2] / growth[0]
    assert 0.005 < rel < 0.05


def test_peak_hydrostatic_pressure_rises_with_stack_pressure(runs):
    peak = [runs[p].peak_stress_mpa for p in (0.0, 5.0, 10.0)]
    assert peak[0] < peak[1] < peak[2]
    # paper: ~2 -> ~12 MPa. Here the order of magnitude at 10 MPa is right; at 0 MPa the model
    # has no plating eigenstrain, so P_m in Li is zero (the paper's ~2 MPa is not reproduced)
    assert 3.0 < peak[2] < 30.0
    assert abs(peak[0]) < 0.1


def test_no_penetration_in_500_s(runs):
    for r in runs.values():
        assert not r.connected.any()
        # leakage: electronic current through the counter electrode, no jump above 1 %/save
        jumps = np.diff(r.leakage_current_a) / r.leakage_current_a[:-1]
        assert np.max(jumps) < 0.01


@pytest.mark.xfail(strict=True, reason=(
    "the paper's 0 MPa hard short at ~400 s needs a mean tip speed of (800 - 60 um) / 400 s = "
    "1.85 um/s, a tip current of 1.36 A/cm2 by Faraday's law; through 2.5 mS/cm Li6PS5Cl at "
    "-0.35 V a 5 um tip draws at most sigma V / (r ln(2d/r)) = 0.35 A/cm2 (0.47 um/s) even "
    "without kinetic loss, so no Faraday-consistent run crosses the electrolyte (a free L_eta "
    "or ~10x the conductivity would; Table S2 is unavailable, not tuned).  Besides, the one-cell "
    "interface's curvature motion (~1.5 um/s at the 20 um tip on 4 um cells) retracts the "
    "protrusion from x = 80 to 44 um in 20 s, so the tiny crop's tip ends at 50 um; with the "
    "Sun-Beckermann counter term (curvature_counter_term=True) it grows instead, to 94 um at "
    "500 s, still 126 um short of the counter electrode "
    "(ssbscope.interface.phase_field module docstring)"))
def test_leakage_jump_at_0_mpa(runs):
    r = runs[0.0]
    assert r.connected[-1]
    assert np.max(r.leakage_current_a) > 100 * r.leakage_current_a[0]


def test_deterministic_for_a_seed():
    a = iface.phase_field_growth(10.0, size="tiny", seed=3, duration_s=20.0)
    b = iface.phase_field_growth(10.0, size="tiny", seed=3, duration_s=20.0)
    c = iface.phase_field_growth(10.0, size="tiny", seed=4, duration_s=20.0)
    assert np.array_equal(a.li_area_fraction, b.li_area_fraction)
    assert not np.array_equal(a.rho, c.rho)


def test_time_step_and_grid_convergence():
    """Li growth between t = 50 and 150 s and the pressure in Li at 150 s, 10 MPa: dt 1 vs 0.5 s
    and 4 vs 2 um cells (benchmarks/bench_phase_field_convergence.py adds dt 0.25 s and 1 um).

    The first ~20 s are a transient that depends on the grid: the one-cell interface's
    capillarity (L_xi kappa / R, kappa ~ h^2) blunts the protrusion tip and the current drops
    by ~20 %, so the comparison starts at 50 s. Measured (10 MPa): growth dt 1 -> 0.5 -> 0.25 s
    +0.57 %, +0.03 %; cells 4 -> 2 -> 1 um -0.9 %, +5.1 % (the interface width is one cell, so
    the diffuse-interface model itself changes with h). Peak P_m in Li: dt +0.03 %; cells
    9.3, 12.0, 16.7 MPa (+22 %, +28 %): the maximum over cells sits at a pixelated pore corner
    against Li and grows under refinement, it is not a converging quantity; the mean P_m over
    the Li cells converges (5.98, 6.01, 5.89 MPa) and the 99th percentile to 5 %.
    Tolerances: growth 3 %, peak P_m under dt 1 %, mean P_m under the grid 3 %.
    """
    def run(**kw):
        r = iface.phase_field_growth(10.0, size="tiny", duration_s=150.0, n_saves=4, **kw)
        assert r.time_s[1] == pytest.approx(50.0)
        return (r.li_area_fraction[-1] - r.li_area_fraction[1], r.peak_stress_mpa,
                float(r.pressure_mpa_field[r.xi > 0.5].mean()))

    g, pk, pm = run()
    g_dt, pk_dt, pm_dt = run(dt_s=0.5)
    g_h, pk_h, pm_h = run(cell_um=2.0)
    assert g > 0 and g_dt > 0 and g_h > 0
    rel_dt = abs(g_dt - g) / g_dt
    rel_h = abs(g_h - g) / g_h
    print(f"growth 50-150 s: base {g:.4g}, dt/2 {g_dt:.4g} ({rel_dt:.1%}), "
          f"h/2 {g_h:.4g} ({rel_h:.1%}); peak P_m {pk:.3f} / {pk_dt:.3f} / {pk_h:.3f} MPa; "
          f"mean P_m in Li {pm:.3f} / {pm_dt:.3f} / {pm_h:.3f} MPa")
    assert rel_dt < 0.03
    assert rel_h < 0.03
    assert pk_dt == pytest.approx(pk, rel=0.01)
    assert pm_h == pytest.approx(pm, rel=0.03)
    assert pk > 9.0  # the stack pressure reaches the Li


def test_elasticity_uniaxial_block_against_analytic():
    """Homogeneous plane-strain block, x = 0 clamped, pressure p on x = L, sides free: away
    from the clamped edge s_xx = -p, s_yy = 0, s_zz = -nu p, so P_m = p (1 + nu) / 3."""
    from ssbscope.interface.phase_field import _Elasticity, _lame

    nx, ny, h = 60, 20, 2e-6
    lam, mu = _lame(22e9, 0.29)
    pm = _Elasticity(nx, ny, h).solve(np.full((ny, nx), lam), np.full((ny, nx), mu), 10e6)
    interior = pm[:, nx // 2:]
    assert np.allclose(interior, 10e6 * 1.29 / 3, rtol=0.02)


def _eshelby_cylinder_pm(lam, mu, nu, e0):
    """P_m inside a circular cylinder with isotropic eigenstrain e0 in an infinite matrix of
    the same material, plane strain: in-plane eigenstrain (1 + nu) e0, inside displacement
    A r with A = (lam + mu) / (lam + 2 mu) (1 + nu) e0, s_rr = s_tt = -2 mu A,
    s_zz = 2 lam A - (3 lam + 2 mu) e0 (Mura 1987, Micromechanics of Defects in Solids, sec. 11)."""
    A = (lam + mu) / (lam + 2 * mu) * (1 + nu) * e0
    return -(2 * (-2 * mu * A) + 2 * lam * A - (3 * lam + 2 * mu) * e0) / 3


def test_eigenstrain_cylinder_against_eshelby():
    """The plating eigenstrain's load: a dilating cylinder inside a large free block has the
    uniform inside pressure of the infinite-matrix solution (FE 0.9 % low, pixelated circle)
    and ~0 pressure outside (the matrix is in pure shear)."""
    from ssbscope.interface.phase_field import _Elasticity, _lame

    n, a, e0 = 121, 8.0, 0.01
    lam, mu = _lame(7.82e9, 0.38)
    y, x = np.mgrid[:n, :n] + 0.5
    r = np.hypot(x - n / 2, y - n / 2)
    pm = _Elasticity(n, n, 1e-6).solve(np.full((n, n), lam), np.full((n, n), mu), 0.0,
                                       np.where(r < a, e0, 0.0))
    ref = _eshelby_cylinder_pm(lam, mu, 0.38, e0)
    assert pm[r < a / 2].mean() == pytest.approx(ref, rel=0.02)
    assert abs(pm[(r > 2 * a) & (r < 3 * a)].mean()) < 0.02 * ref


def test_plating_eigenstrain_gives_gpa_not_the_papers_2_mpa():
    """With the molar-volume eigenstrain of Li plated into solid electrolyte (Omega_Li c_s = 1 per
    unit of new h(xi)) and elastic Li, as the paper assumes, the peak pressure in Li at 0 MPa is
    GPa-level, between the Eshelby value of a Li cylinder in Li with the eigenstrain of the
    partly transformed interface cells (>= a third of full) and the bulk modulus of Li times the
    volume change (a rigid surrounding): the paper's 2 MPa needs a plated-volume change ~1000x
    smaller (or Li plasticity), neither of which the text gives, so the option stays off."""
    from ssbscope.interface.phase_field import DEFAULTS, _lame

    r = iface.phase_field_growth(0.0, size="tiny", duration_s=30.0, n_saves=4,
                                 plating_eigenstrain=True)
    off = iface.phase_field_growth(0.0, size="tiny", duration_s=30.0, n_saves=4)
    E, nu = DEFAULTS["e_li_pa"], DEFAULTS["nu_li"]
    lam, mu = _lame(E, nu)
    beta = DEFAULTS["li_molar_volume_m3_mol"] * DEFAULTS["li_site_density_mol_m3"]
    esh = _eshelby_cylinder_pm(lam, mu, nu, beta / 3) / 1e6
    k_li = (lam + 2 * mu / 3) * beta / 1e6
    print(f"peak P_m with eigenstrain {r.peak_stress_mpa:.0f} MPa; Eshelby {esh:.0f}, K dV {k_li:.0f}")
    assert off.peak_stress_mpa == pytest.approx(0.0, abs=1e-9)
    assert esh / 3 < r.peak_stress_mpa < k_li
    assert r.mass_error < 1e-6


def test_report_states_whether_the_eigenstrain_was_on():
    import xarray as xr

    from ssbscope.report.interface import _phase_field_part

    r = iface.phase_field_growth(10.0, size="tiny", duration_s=4.0, n_saves=3)
    ds = xr.Dataset(
        {"li_area_fraction": (("pressure_mpa", "time_s"), r.li_area_fraction[None]),
         "peak_stress_mpa": (("pressure_mpa", "time_s"), r.peak_stress_mpa_t[None]),
         "leakage_current_a": (("pressure_mpa", "time_s"), r.leakage_current_a[None]),
         "connected": (("pressure_mpa", "time_s"), r.connected[None]),
         "xi_final": (("pressure_mpa", "y_um", "x_um"), r.xi[None]),
         "rho_final": (("pressure_mpa", "y_um", "x_um"), r.rho[None])},
        coords={"pressure_mpa": [10.0], "time_s": r.time_s, "y_um": r.y_um, "x_um": r.x_um},
        attrs={"size": "tiny"})
    assert "No eigenstrain of the plated Li" in _phase_field_part(ds)[0]
    ds.attrs["plating_eigenstrain"] = True
    assert "GPa-level" in _phase_field_part(ds)[0]


# --- curvature counter term (Sun and Beckermann 2007, J. Comput. Phys. 220, 626) -------------

def _circle_stepper(counter_term, n=48, cell_m=4e-6, dt_s=1.0):
    from ssbscope.interface.phase_field import DEFAULTS, AllenCahnStepper

    st = AllenCahnStepper(n, n, cell_m, dt_s, L_xi=DEFAULTS["l_xi_m3_j_s"],
                          barrier_w=DEFAULTS["barrier_w_j_m3"], delta_m=cell_m,
                          counter_term=counter_term, left=0.0, right=0.0)
    x = (np.arange(n) + 0.5) * cell_m
    X, Y = np.meshgrid(x, x)

    def circle(r_m):
        d = np.hypot(X - n * cell_m / 2, Y - n * cell_m / 2) - r_m
        return 0.5 * (1 - np.tanh(d / (2 * cell_m)))

    def radius(xi):  # radius of the disc of equal Li area (m)
        return float(np.sqrt(xi.sum() * cell_m ** 2 / np.pi))

    return st, circle, radius


def test_circle_shrinks_by_curvature_flow_without_counter_term():
    """Allen-Cahn's sharp-interface limit v_n = L_xi kappa K: a Li disc follows
    R^2 = R0^2 - 2 L_xi kappa t (analytic).  40 um disc on 4 um cells (interface one cell),
    12 s: measured 30.59 vs 30.54 um (0.2 %)."""
    st, circle, radius = _circle_stepper(False)
    xi = circle(40e-6)
    r0 = radius(xi)
    for _ in range(12):
        xi = st.step(xi)
    expected = np.sqrt(r0 ** 2 - 2 * st.L * st.kappa * 12.0)
    assert r0 - expected > 8e-6  # the curvature flow is large: 10 um in 12 s
    assert radius(xi) == pytest.approx(expected, rel=0.01)


def test_counter_term_stops_curvature_flow():
    """With the counter term a disc keeps its radius: the residual speed is < 2 % of the
    curvature-flow speed L_xi kappa / R (measured: 40 um disc +0.06 um in 12 s against a
    10 um shrink; 10 um disc +0.02 um/s against 3 um/s).  A disc of 2.5 cells radius is the
    size of the protrusion tips of the Fig. 4 study."""
    for r_m, n_steps in ((40e-6, 12), (10e-6, 50)):
        st, circle, radius = _circle_stepper(True)
        xi = circle(r_m)
        r0 = radius(xi)
        for _ in range(n_steps):
            xi = st.step(xi)
        speed = abs(radius(xi) - r0) / n_steps
        flow_speed = st.L * st.kappa / r_m
        assert speed < 0.02 * flow_speed, (r_m, speed, flow_speed)
        assert 0.0 <= xi.min() and xi.max() <= 1.0 + 1e-6


def test_counter_term_keeps_driven_motion():
    """The counter term removes only the curvature motion: a driving term v |grad xi| (the
    form the Butler-Volmer term takes at the interface) moves a disc and a flat front at v
    (here 0.1 and 0.3 um/s; measured disc 20.35 um in 200 s against 20, flat front 29.0 um in
    100 s against 30 with and without the counter term: the one-cell profile's grid friction),
    and a flat front is unchanged by the option."""
    from ssbscope.interface.phase_field import DEFAULTS, AllenCahnStepper

    st, circle, radius = _circle_stepper(True)
    xi = circle(20e-6)
    r0 = radius(xi)
    v = 0.1e-6
    for _ in range(100):
        xc = np.clip(xi, 0, 1)
        xi = st.step(xi, v * xc * (1 - xc) / st.delta)
    assert (radius(xi) - r0) / (100 * v) == pytest.approx(1.0, abs=0.06)

    h = 4e-6
    x = (np.arange(48) + 0.5) * h
    front = []
    for ct in (False, True):
        s = AllenCahnStepper(48, 4, h, 1.0, L_xi=DEFAULTS["l_xi_m3_j_s"],
                             barrier_w=DEFAULTS["barrier_w_j_m3"], delta_m=h, counter_term=ct)
        xi = np.tile(0.5 * (1 - np.tanh((x - 60e-6) / (2 * h))), (4, 1))
        p0 = xi.sum() * h / 4
        for _ in range(50):
            xc = np.clip(xi, 0, 1)
            xi = s.step(xi, 0.3e-6 * xc * (1 - xc) / h)
        front.append(xi.sum() * h / 4 - p0)
    assert front[0] == pytest.approx(15e-6, rel=0.06)
    assert front[1] == pytest.approx(front[0], rel=1e-6)


def _tip_um(r):
    li = r.xi > 0.5
    return float(r.x_um[np.nonzero(li.any(axis=0))[0].max()])


@pytest.mark.slow(seconds=10)
def test_counter_term_in_the_fig4_study(runs):
    """Tiny crop, 0 MPa, 500 s, counter term on vs off (measured: tip 94 vs 50 um from 80 um;
    growth 0.125 vs 0.084; grown / plated 1.22 vs 1.11: on 4 um cells the 20 um protrusion
    tip and the 20 um Li layer are 5 cells across, too few for the counter term, and change
    without current; concave corners as such hold: module docstring and the two tests
    below).  The tip now grows instead of retracting, but
    nowhere near the counter electrode (x = 220 um): the 0 MPa short stays absent."""
    from ssbscope.interface.phase_field import DEFAULTS, F_CONST, SIZES

    off = runs[0.0]
    on = iface.phase_field_growth(0.0, size="tiny", seed=0, curvature_counter_term=True)
    x0 = SIZES["tiny"]["li_thickness_um"] + DEFAULTS["protrusion_length_um"]
    assert _tip_um(off) < x0 - 20.0  # retracted by the curvature motion
    assert x0 <= _tip_um(on) < x0 + 40.0  # grows, by plating only
    g_off = off.li_area_fraction[-1] - off.li_area_fraction[0]
    g_on = on.li_area_fraction[-1] - on.li_area_fraction[0]
    assert 1.2 < g_on / g_off < 1.8
    pre = SIZES["tiny"]
    charge_c = float(np.sum(np.diff(on.time_s) * 0.5 * (on.ionic_current_a[1:]
                                                         + on.ionic_current_a[:-1])))
    plated_um2 = charge_c / (F_CONST * DEFAULTS["li_site_density_mol_m3"]
                             * pre["height_um"] * 1e-6) * 1e12
    grown_um2 = g_on * pre["se_thickness_um"] * pre["height_um"]
    assert 1.0 < grown_um2 / plated_um2 < 1.3
    assert not on.connected.any() and on.mass_error < 1e-6


# --- the counter term at concave corners on coarse cells (grid convergence, no current) ------

def _protrusion_on_slab(cell_um, width_um, *, counter_term, length_um=40.0, t_s=100,
                        slab_um=40.0, lx_um=120.0, ly_um=96.0):
    """A rectangular Li protrusion (``width_um`` x ``length_um``) on a flat Li slab, with no
    driving term: every change of the Li is spurious.  Returns (x_um, y_um, xi0, xi) on the
    grid of ``cell_um``; the profile is the model's one-cell tanh of the exact signed
    distance (sub-cell accurate corners)."""
    from ssbscope.interface.phase_field import DEFAULTS, AllenCahnStepper

    nx, ny = int(round(lx_um / cell_um)), int(round(ly_um / cell_um))
    x = (np.arange(nx) + 0.5) * cell_um
    y = (np.arange(ny) + 0.5) * cell_um
    X, Y = np.meshgrid(x, y)
    qx, qy = X - (slab_um + length_um), np.abs(Y - ly_um / 2) - width_um / 2
    d_rect = (np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
              + np.minimum(np.maximum(qx, qy), 0))
    d = np.minimum(X - slab_um, d_rect)  # um, > 0 outside the Li
    xi0 = 0.5 * (1 - np.tanh(d / (2 * cell_um)))
    st = AllenCahnStepper(nx, ny, cell_um * 1e-6, 1.0, L_xi=DEFAULTS["l_xi_m3_j_s"],
                          barrier_w=DEFAULTS["barrier_w_j_m3"], delta_m=cell_um * 1e-6,
                          counter_term=counter_term)
    xi = xi0.copy()
    for _ in range(t_s):
        xi = st.step(xi)
    return x, y, xi0, xi


def _corner_boxes(x, y, width_um, slab_um=40.0, ly_um=96.0, size_um=12.0):
    X, Y = np.meshgrid(x, y)
    r = np.abs(Y - ly_um / 2)
    return (X > slab_um) & (X < slab_um + size_um) & (r > width_um / 2) & (r < width_um / 2 + size_um)


def _block_mean(a, s):
    return a.reshape(a.shape[0] // s, s, a.shape[1] // s, s).mean(axis=(1, 3))


def test_counter_term_holds_concave_corners_on_4um_cells():
    """A 40 um wide protrusion (10 cells of 4 um) on flat Li, no current, 100 s.  Without the
    counter term its concave corners fill by curvature flow (measured +184 um2 on 4 um,
    +231 um2 on 2 um cells) while its tip retracts by 24 um; with it the corners hold
    (+1.6 / -0.7 um2), the Li area changes by -0.4 / +3.9 um2, and the shape on 4 um cells is
    that on 2 um cells (block-averaged) to 80 um2 of the Li set (5 coarse cells, 5 % of the
    protrusion) and one cell at the tip (84 vs 82 um).  Tolerances: 10 um2 for the corners
    and the area (0.6 % of the protrusion), 160 um2 (10 coarse cells) for the shape."""
    w = 40.0
    res = {}
    for h in (4.0, 2.0):
        x, y, xi0, xi = _protrusion_on_slab(h, w, counter_term=True)
        corners = _corner_boxes(x, y, w)
        dc = float(((xi - xi0) * corners).sum() * h * h)
        da = float((xi - xi0).sum() * h * h)
        tip = float(x[(xi > 0.5).any(axis=0)].max() + h / 2)
        print(h, dc, da, tip)
        assert abs(dc) < 10.0 and abs(da) < 10.0, (h, dc, da)
        assert abs(tip - 80.0) <= h, (h, tip)
        res[h] = xi
    mismatch = float(((res[4.0] > 0.5) != (_block_mean(res[2.0], 2) > 0.5)).sum() * 16.0)
    assert mismatch <= 160.0, mismatch
    # without the counter term the corners fill (the motion the term removes)
    x, y, xi0, xi = _protrusion_on_slab(4.0, w, counter_term=False)
    assert float(((xi - xi0) * _corner_boxes(x, y, w)).sum() * 16.0) > 100.0


def test_counter_term_needs_ten_cells_across_a_protrusion():
    """The limit (module docstring, point 2): a 20 um wide protrusion is 5 cells on 4 um cells,
    its two flanks' one-cell profiles overlap (xi peaks at 0.92 on its axis) and neither
    the curvature nor the profile is that of an isolated interface.  With the counter term,
    no current, 100 s: 4 um cells lose 397 um2 (half the protrusion) though the tip stays,
    2 um cells (10 across) conserve the Li to 0.1 um2; the two grids' shapes differ by
    ~500 um2.  Concave corners are not where it goes wrong: they lose 15 um2."""
    w = 20.0
    x, y, xi0, xi4 = _protrusion_on_slab(4.0, w, counter_term=True)
    loss4 = -float((xi4 - xi0).sum() * 16.0)
    x2, y2, xi02, xi2 = _protrusion_on_slab(2.0, w, counter_term=True)
    loss2 = -float((xi2 - xi02).sum() * 4.0)
    print(loss4, loss2)
    assert loss4 > 0.25 * w * 40.0  # measured 397 of 800 um2
    assert abs(loss2) < 10.0  # measured 0.0
    mismatch = float(((xi4 > 0.5) != (_block_mean(xi2, 2) > 0.5)).sum() * 16.0)
    assert mismatch > 160.0  # measured 496 um2: not converged at 4 um
