"""Finite-slope creeping flow of plated Li behind a contoured interface (003_ Figs. 3g, 4).

Checks of :mod:`ssbscope.interface.stokes` against independent references: the analytic
small-slope solution ``p_max = 2 eta V k^2 H`` (Newtonian, uniform current on an egg-box) and
the spectral small-slope model of :mod:`ssbscope.interface.creep` with kinetics, a flat
interface (rigid translation, zero excess), Li flux balance and divergence, grid convergence
of the site pressure, and the finite-slope confinement (pressure rising faster than the
small-slope value as H/S grows).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ssbscope.errors import ParameterError
from ssbscope.interface import creep_pressure, current_distribution
from ssbscope.interface.creep import CreepLaw
from ssbscope.interface.stokes import (
    solve_interface_stokes,
    stokes_creep_pressure,
    stokes_critical_current,
)
from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3

# These checks compare the Li mean stress (``stress="mean"``) with its analytic and spectral
# references; the normal traction (the default) has its own tests at the end of this file.
_creep_pressure, _solve, _critical = creep_pressure, solve_interface_stokes, stokes_critical_current


def creep_pressure(*a, **k):  # noqa: F811
    return _creep_pressure(*a, **{"stress": "mean", **k})


def solve_interface_stokes(*a, **k):  # noqa: F811
    return _solve(*a, **{"stress": "mean", **k})


def stokes_critical_current(*a, **k):  # noqa: F811
    return _critical(*a, **{"stress": "mean", **k})


V1 = 1e-3 * (M_LI_G_MOL / RHO_LI_G_CM3) / FARADAY_C_MOL * 1e4  # um/s at 1 mA/cm2
NEWTON = CreepLaw(stress_exponent=1.0, grain_size_um=None)
ETA_NEWTON = 0.8 / (3 * 5e-4)  # MPa s: the reference point of the law with n = 1


def _dist(H, S=150.0, rct=10.0, n=12, shape="egg-box"):
    return current_distribution(shape, H, S, r_ct_ohm_cm2=rct, conductivity_s_cm=2e-3,
                                thickness_um=1000.0, geometric_current_ma_cm2=1.0,
                                n_xy=n, n_zeta=n)


def test_small_slope_limit_matches_analytic_newtonian_egg_box():
    # uniform current (huge R_ct), n = 1, H/S = 1/300: p_max = 2 eta V k^2 H at the Li tip
    H, S = 0.5, 150.0
    d = _dist(H, S, rct=1e6, n=16)
    expected = 2 * ETA_NEWTON * V1 * (2 * np.pi / S) ** 2 * H
    for n in (4, 6):
        s = solve_interface_stokes(d, law=NEWTON, n_xy=n)
        # the maximum sits at the Li tip (x, y) = (0, S/2) or (S/2, 0) of the quarter cell
        assert s.max_compressive_excess_pressure_mpa == pytest.approx(expected, rel=0.015)
        assert s.excess_pressure_mpa[0, -1] == pytest.approx(expected, rel=0.015)
        # and the feature apices of the electrolyte (Li troughs) are in tension by as much
        assert s.excess_pressure_mpa[0, 0] == pytest.approx(-expected, rel=0.03)


def test_small_slope_limit_with_kinetics_matches_spectral_model():
    # non-uniform plating (W term) and lateral flow together, n = 1, small H
    d = _dist(0.5, 150.0, rct=10.0, n=12)
    ss = creep_pressure(d, law=NEWTON)
    fs = solve_interface_stokes(d, law=NEWTON, n_xy=4)
    assert fs.site_xy_um == pytest.approx(ss.site_xy_um, abs=1e-9)
    assert fs.site_excess_pressure_mpa == pytest.approx(ss.site_excess_pressure_mpa, rel=0.015)
    assert fs.picard_iterations <= 2  # Newtonian: the local viscosity is uniform


def test_flat_interface_translates_rigidly_without_excess_pressure():
    d = _dist(0.5, 150.0, rct=1e6, n=8)
    flat = dataclasses.replace(d, height_um=0.0,
                               local_current_ma_cm2=np.ones_like(d.local_current_ma_cm2))
    s = solve_interface_stokes(flat, law=CreepLaw(), n_xy=4)
    ref = 2 * ETA_NEWTON * V1 * (2 * np.pi / 150.0) ** 2 * 0.5  # scale of a 0.5 um contour
    assert np.abs(s.excess_pressure_mpa).max() < 1e-6 * ref  # round-off
    assert s.plating_rate_um_s == pytest.approx(V1, rel=1e-9)
    assert s.flux_balance < 1e-9


def test_flux_balance_and_divergence():
    d = _dist(50.0, 150.0, n=12)
    s4 = solve_interface_stokes(d, law=CreepLaw(), n_xy=4, viscosity="global")
    s6 = solve_interface_stokes(d, law=CreepLaw(), n_xy=6, viscosity="global")
    for s in (s4, s6):
        # Li plated through the contoured interface leaves through the far boundary
        assert s.flux_balance < 1e-6
        # inflow per projected area = mean plating rate <q> = i Omega / F (current solve
        # conserves charge to its flux balance; spline of the current: < 1 %)
        assert s.plating_rate_um_s == pytest.approx(V1, rel=0.01)
    # Q2-Q1 is divergence-free only weakly: the L2 divergence falls under refinement
    assert s6.divergence_ratio < 0.7 * s4.divergence_ratio
    assert s6.divergence_ratio < 0.05


def test_site_pressure_grid_convergence_local_viscosity():
    d = _dist(25.0, 150.0, n=12)
    p = {n: solve_interface_stokes(d, law=CreepLaw(), n_xy=n).site_excess_pressure_mpa
         for n in (4, 6, 8)}
    assert p[8] > 0
    # the local viscosity converges more slowly than one global viscosity (the minimum
    # viscosity near the Li tip keeps falling under refinement): the pressure falls
    # monotonically, the default grid (n_xy = 6) within 4 % of n_xy = 8 (5 % of n_xy = 10,
    # measured), the coarse demo grid (n_xy = 4) within 15 %
    assert p[4] > p[6] > p[8]
    assert abs(p[6] - p[8]) / p[8] < 0.04
    assert abs(p[4] - p[8]) / p[8] < 0.15


def test_ridge_graded_site_pressure_converges_for_pyramid_and_frustum():
    # the dendrite site of pyramids and frustums is the Li ridge crossing, rounded over
    # 2 um: the ridge grading puts elements of about the tip radius there, and the
    # one-viscosity site pressure converges (measured 1.226, 1.249, 1.226 MPa pyramid and
    # 1.518, 1.543, 1.514 MPa frustum on 6, 7, 8 elements; the mirror grading gave 0.05 to
    # 1.24 MPa on 4 to 8 elements)
    law = CreepLaw()
    for shape in ("pyramid", "frustum"):
        d = _dist(25.0, 150.0, n=16, shape=shape)
        assert d.tip_radius_um == 2.0
        s6, s8 = (solve_interface_stokes(d, law=law, n_xy=n, viscosity="global")
                  for n in (6, 8))
        assert s8.grading == "ridge" and s8.grid == (8, 8)
        assert s8.site_xy_um == pytest.approx((75.0, 75.0))  # ridge crossing
        assert s8.x_um[-1] - s8.x_um[-2] <= 0.5 * d.tip_radius_um + 1e-9
        p6, p8 = s6.site_excess_pressure_mpa, s8.site_excess_pressure_mpa
        assert abs(p6 - p8) / p8 < 0.05
        assert s8.flux_balance < 1e-6
        # the confined flow into the Li ridge pressurises the site above the small-slope
        # half-space value (0.91 MPa pyramid, 1.01 MPa frustum)
        assert p8 > 1.1 * creep_pressure(d, law=law).site_excess_pressure_mpa


def test_local_viscosity_ridge_pressure_converges_with_layers():
    # with the local viscosity the pressure under the rounded pyramid ridge needs layers much
    # thinner than the tip radius; the default first layer (an eighth of it) converges the
    # layers (measured with 6 lateral elements: 0.753, 0.761, 0.767 MPa on 6, 8, 12 layers,
    # 0.768 MPa with 24 layers of the coarser fixed map)
    d = _dist(25.0, 150.0, n=16, shape="pyramid")
    law = CreepLaw()
    s6, s12 = (solve_interface_stokes(d, law=law, n_xy=4, n_z=nz, viscosity="local")
               for nz in (6, 12))
    assert s6.interface_layer_um == pytest.approx(d.tip_radius_um / 8, rel=1e-6)
    p6, p12 = s6.site_excess_pressure_mpa, s12.site_excess_pressure_mpa
    assert abs(p6 - p12) / p12 < 0.03


def test_finite_slope_confinement_raises_pressure_faster_than_small_slope():
    # 003_: steep troughs concentrate and pressurise the creeping Li; the small-slope
    # model saturates with H/S, the finite-slope one keeps rising
    law = CreepLaw()
    ratio = []
    for H in (5.0, 50.0):
        d = _dist(H, 150.0, n=12)
        fs = solve_interface_stokes(d, law=law, n_xy=4, viscosity="global")
        ss = creep_pressure(d, law=law)
        ratio.append(fs.site_excess_pressure_mpa / ss.site_excess_pressure_mpa)
    assert ratio[0] == pytest.approx(1.0, abs=0.25)
    assert ratio[1] > 2.0 * ratio[0]


def test_critical_current_rescaling_reproduces_second_solve():
    d = _dist(50.0, 150.0, n=12)
    r = stokes_critical_current(d, law=CreepLaw(), n_xy=4)
    assert r.at_critical is not None
    i2 = r.at_critical.geometric_current_ma_cm2
    assert r.pressure.site_pressure_at(i2) == pytest.approx(
        r.at_critical.site_excess_pressure_mpa, rel=1e-3)
    assert r.pressure.site_pressure_at(1.0) == pytest.approx(
        r.at_reference.site_excess_pressure_mpa, rel=1e-9)
    cc = r.critical
    # the criterion holds at the critical current: r i = i_g0 (1 - dp / p_c)^n
    lhs = cc.max_over_geometric * cc.critical_current_ma_cm2
    rhs = (1 - cc.site_excess_pressure_mpa_at_critical / cc.critical_pressure_mpa) ** 6.56
    assert lhs == pytest.approx(rhs, rel=1e-6)
    # the pressure is the same field as the solve
    pr = stokes_creep_pressure(d, r.at_reference, law=CreepLaw())
    assert pr.site_excess_pressure_mpa == r.at_reference.site_excess_pressure_mpa


def test_rejects_flat_shape_and_bad_options():
    with pytest.raises(ParameterError):
        solve_interface_stokes(_dist(0.0, 0.0, shape="flat", n=4))
    d = _dist(5.0, 150.0, n=8)
    with pytest.raises(ParameterError):
        solve_interface_stokes(d, viscosity="median")
    with pytest.raises(ParameterError):
        solve_interface_stokes(d, depth_over_s=0.1)
    with pytest.raises(ParameterError):
        solve_interface_stokes(d, grading="radial")
    with pytest.raises(ParameterError, match="interface_layer_um"):
        solve_interface_stokes(d, interface_layer_um=0.5)  # egg-box: mirror grading
    dp = _dist(25.0, 150.0, n=8, shape="pyramid")
    with pytest.raises(ParameterError, match="interface_layer_um"):
        solve_interface_stokes(dp, interface_layer_um=-1.0)
    thin = solve_interface_stokes(dp, n_xy=3, n_z=4, viscosity="global", interface_layer_um=0.3)
    assert thin.interface_layer_um == pytest.approx(0.3, rel=1e-6)
    assert solve_interface_stokes(dp, n_xy=3, n_z=4, viscosity="global").interface_layer_um > 1.0


def test_contour_sweep_pressure_model_option():
    from ssbscope.interface import contour_sweep as sweep

    def contour_sweep(*a, **k):  # the mean-stress variant; the normal one is in its columns
        return sweep(*a, **{"stress": "mean", **k})

    fs = contour_sweep([(50, 150)], n_xy=8, pressure_model="finite-slope", stokes_n_xy=4)
    row = fs.iloc[0]
    assert row["pressure_model"] == "finite-slope"
    assert row["stokes_flux_balance"] < 1e-6
    # finite slope at H/S = 1/3: the confined trough flow pressurises the Li tip well above
    # the small-slope value, and the critical current falls below the small-slope one
    assert row["site_excess_pressure_mpa"] > 2 * row["site_excess_pressure_small_slope_mpa"]
    ss = contour_sweep([(50, 150)], n_xy=8)
    assert ss.iloc[0]["pressure_model"] == "small-slope"
    assert row["critical_current_ma_cm2"] < ss.iloc[0]["critical_current_ma_cm2"]
    # shapes at H25S150 (003_ Figs. 1d, 4d): "auto" takes the finite-slope model with the
    # local viscosity for all shapes (pyramid/frustum: ridge-graded mesh, thin interface
    # layer); the egg-box keeps the highest critical current, as measured in the paper
    # (measured 0.915, 0.893, 0.891 mA/cm2), also with one secant viscosity (0.913, 0.829,
    # 0.806)
    mixed = contour_sweep([(25, 150)], shapes=("egg-box", "pyramid", "frustum"), n_xy=12,
                          pressure_model="auto").set_index("shape")
    assert set(mixed["pressure_model"]) == {"finite-slope"}
    assert set(mixed["stokes_viscosity"]) == {"local"}
    icrit = mixed["critical_current_ma_cm2"]
    assert icrit.idxmax() == "egg-box"
    assert icrit["egg-box"] > 1.01 * max(icrit["pyramid"], icrit["frustum"])
    # the normal traction (same solves) keeps the egg-box first: 0.964 vs 0.958, 0.958
    assert mixed["gain_over_flat_normal"].idxmax() == "egg-box"
    assert (mixed["site_normal_traction_mpa"] < mixed["site_mean_stress_mpa"]).all()
    # the measured grid drift is of the normal traction: no extrapolation of the mean stress
    assert "site_excess_pressure_extrapolated_mpa" not in mixed
    glob = contour_sweep([(25, 150)], shapes=("egg-box", "pyramid", "frustum"), n_xy=12,
                         pressure_model="auto", stokes_viscosity="global").set_index("shape")
    ig = glob["critical_current_ma_cm2"]
    assert ig.idxmax() == "egg-box" and ig["egg-box"] > 1.05 * max(ig["pyramid"], ig["frustum"])
    gn = glob["gain_over_flat_normal"]  # 0.967, 0.944, 0.938
    assert gn.idxmax() == "egg-box" and gn["egg-box"] > 1.015 * max(gn["pyramid"], gn["frustum"])
    with pytest.raises(ParameterError):
        contour_sweep([(5, 150)], n_xy=8, pressure_model="auto", stokes_viscosity="median")
    with pytest.raises(ParameterError):
        contour_sweep([(5, 150)], n_xy=8, pressure_model="exact")


def _kinetic(H, S, n=12):
    return current_distribution("egg-box", H, S, r_ct_ohm_cm2=10.0, conductivity_s_cm=2e-3,
                                thickness_um=1000.0, geometric_current_ma_cm2=1.0, n_xy=n,
                                n_zeta=n)


def test_normal_traction_grid_converged_and_below_the_mean_stress_at_the_site():
    # egg-box H25S150, one secant viscosity: site normal traction 0.2139, 0.2144, 0.2123 MPa on
    # 6, 8, 10 elements; the mean stress there is 0.583 MPa: the lateral convergence of the
    # plated Li raises the Li pressure but is not a push on the electrolyte (issue 17)
    d = _kinetic(25.0, 150.0)
    s6 = _solve(d, law=CreepLaw(), viscosity="global", n_xy=6)
    s8 = _solve(d, law=CreepLaw(), viscosity="global", n_xy=8)
    assert s6.stress == "normal"
    assert s8.site_excess_pressure_mpa == pytest.approx(s6.site_excess_pressure_mpa, rel=0.02)
    assert 0.2 < s8.site_excess_pressure_mpa / s8.site_mean_stress_mpa < 0.6
    np.testing.assert_array_equal(s8.excess_pressure_mpa, s8.normal_traction_mpa)


def test_normal_traction_at_the_site_rises_with_height_and_falls_with_separation():
    # 003_ Fig. 3c,f trends survive with the normal traction (finite slope)
    law = CreepLaw()
    pH = [_solve(_kinetic(H, 150.0), law=law, viscosity="global").site_excess_pressure_mpa
          for H in (5.0, 25.0, 50.0)]
    assert np.all(np.diff(pH) > 0) and pH[0] > 0, pH
    pS = [_solve(_kinetic(25.0, S), law=law, viscosity="global").site_excess_pressure_mpa
          for S in (150.0, 75.0)]
    assert pS[1] > pS[0], pS


def test_grid_extrapolation_of_pyramid_pressure_matches_the_measured_table():
    # the pyramid/frustum site normal traction drifts down under lateral refinement (0.306,
    # 0.283, 0.263, 0.256 MPa on 6-12 elements, benchmarks/bench_stokes_convergence.py); the
    # study keeps 6 elements (12 cost about 9x the CPU) and extrapolates with the measured
    # ratio.  The table must describe this solver: its 6-element value is recomputed here
    from ssbscope.interface.stokes import GRID_CONVERGENCE, grid_extrapolation

    tab = GRID_CONVERGENCE["pyramid"]
    d = _dist(25.0, 150.0, n=12, shape="pyramid")
    s = _solve(d, law=CreepLaw(), n_xy=6, n_z=8)
    assert s.stress == "normal" and s.viscosity == "local"
    assert s.site_excess_pressure_mpa == pytest.approx(tab["site_mpa"][0], rel=5e-3)
    # the Richardson limit of each table's last three grids (p = p0 + C n^-r), recomputed
    for t in GRID_CONVERGENCE.values():
        (n1, n2, n3), (p1, p2, p3) = t["n_xy"][1:], t["site_mpa"][1:]
        r = t["order"]
        C = (p2 - p3) / (n2 ** -r - n3 ** -r)
        assert p3 - C * n3 ** -r == pytest.approx(t["richardson_mpa"], abs=5e-4)
        assert p1 - C * n1 ** -r == pytest.approx(t["richardson_mpa"], abs=5e-4)
        assert t["site_mpa"][0] > t["aitken_mpa"] > t["richardson_mpa"] > 0
    ext = grid_extrapolation("pyramid", 6)
    assert 0.2 < ext.drift < 0.26 and ext.spread < 0.02
    assert grid_extrapolation("pyramid", 12).drift < 0.04
    assert grid_extrapolation("egg-box", 6) is None
    assert grid_extrapolation("pyramid", 6, stress="mean") is None
    assert grid_extrapolation("pyramid", 7) is None
    # the contour table's extrapolated columns and the criterion with them are checked on the
    # demo study (tests/interface/test_interface_stages.py::test_contour_study_tables)
