"""Phase-field growth of Li into a porous solid electrolyte under stack pressure.

The model of Cao et al. 2023 (Adv. Funct. Mater., doi:10.1002/adfm.202307998), section 2.4 and
"Phase Field Simulation Method": an Allen-Cahn equation with a Butler-Volmer driving term for the
Li order parameter xi (their Eq. 3, first line), a Cahn-Hilliard equation for the solid/pore field
rho (Eq. 3, second line), the potential, Li-ion transport and linear elasticity, on their 2D
geometry (1000 x 500 um, 200 um Li, porous Li6PS5Cl with 10 um pores at 16.25 %, four Li
protrusions, -0.35 V, 0 / 5 / 10 MPa on the electrolyte side, 500 s).

Their Table S2 (parameters) and Eqs. S2-S4 are in a supplement this project does not have; every
parameter here is in :data:`PARAMETERS` with its value, unit and source (literature or stated
assumption), and nothing is tuned to their Fig. 4.

Equations as implemented (SI units, fields on a uniform cell-centred grid of spacing h)
--------------------------------------------------------------------------------------
Phases: xi = 1 Li metal, 0 otherwise; rho = +1 solid, -1 pore (air). Li electrolyte:
xi = 0, rho = 1; pore: xi = 0, rho = -1; Li-filled pore: xi = 1, rho = -1 (the paper's eta).

1. Allen-Cahn (paper Eq. 3)::

       d xi/dt = -L_xi [W g'(xi) - kappa_xi lap(xi)]
                 - L_eta h'(xi) [exp((1-a) f eta_e) - c*_Li+ exp(-a f eta_e)]

   g = xi^2 (1-xi)^2, h = xi^3 (6 xi^2 - 15 xi + 10), f = F/RT, c*_Li = 1 (pure Li).
   The overpotential includes the elastic driving force as a Monroe-Newman / Vegard shift,
   eta_e = eta + Omega_Li P_m / F (P_m the local hydrostatic pressure, compressive positive): the
   work P_m Omega_Li of inserting a mole of Li against the local pressure, i.e. the elastic
   driving force -sigma : d eps0/d xi of a plated-Li eigenstrain whose volume change is the Li
   molar volume. L_eta is tied to the exchange current so that the sharp-interface velocity is
   Faraday's, v = -i_BV / (F c_s): L_eta = i0 / (F c_s int h' dn) with int h' dn = 5 delta for
   the equilibrium profile of width delta = sqrt(kappa_xi / 2W).
2. Cahn-Hilliard (paper Eq. 3)::

       d rho/dt = div(M grad(W_rho (rho^3 - rho) - kappa_rho lap(rho)))

   with a constant mobility M small enough that the pores do not evolve over 500 s (the paper:
   "no evolution of pores"); the update is in flux form with no-flux walls, so sum(rho) is
   conserved to round-off (reported as ``mass_error``).
3. Potential and ion transport: quasi-static charge conservation div(sigma grad phi) = 0 with
   sigma = 1 / (1/sigma_bulk + R_sec |grad h(xi)|): the bulk conductivity interpolated by xi
   (electronic sigma_Li in Li) and rho (ionic + electronic conductivity of the electrolyte in the
   solid, none in the pores), in series with the charge-transfer resistance of the Li|SE
   interface smeared over the diffuse interface (int |grad h| dn = 1). R_sec = eta / i_BV(eta) is
   the secant resistance of the non-linear Butler-Volmer law at the local overpotential (damped
   Picard iterations, see Scheme), so the current across the interface and the
   potential drop across it (the local eta = -i R_sec) obey Butler-Volmer. Li6PS5Cl is a
   single-ion conductor (transference number 1, immobile anions): electroneutrality keeps
   c*_Li+ = 1 and the Nernst-Planck flux reduces to migration, carried by the potential equation.
   phi = -0.35 V at x = 0 (Li current collector), 0 V at x = L (counter electrode), no flux at
   the top and bottom.
4. Linear elasticity, plane strain, Q1 finite elements on the same grid (one element per cell):
   Young's modulus and Poisson ratio interpolated between Li, Li6PS5Cl and the (nearly void) pores;
   x = 0 fixed, the stack pressure as a normal traction on x = L, top and bottom free. The
   hydrostatic pressure P_m = -(s_xx + s_yy + s_zz)/3 with s_zz = lambda (e_xx + e_yy). By
   default no eigenstrain enters the stress (see "what is missing" in the docstring of
   :func:`phase_field_growth`). ``plating_eigenstrain=True`` adds the volume of the plated Li:
   an isotropic eigenstrain e0 = Omega_Li c_s s max(h(xi) - h(xi_0), 0) / 3 (volume change
   Omega_Li c_s = 0.99, the Li molar volume M_Li / rho_Li times the Li site density, per unit
   of new Li; s = (1 + rho)/2 the solid fraction: Li filling a pore has room, Li replacing
   solid electrolyte has to make its own), sigma = C (e - e0 I) with e_zz = 0 (plane strain;
   checked against Eshelby's cylinder, Mura 1987).  With elastic Li it gives GPa-level
   pressures (2.3-2.8 GPa at 0 MPa on the tiny crop), not the paper's ~2 MPa: see
   :func:`phase_field_growth`.

Scheme (first order, Lie splitting per step dt): (a) the elasticity every ``mech_every_s`` of
model time (sparse direct solve); (b) the potential (sparse LU), repeated with the updated secant
resistance until |log R| changes by < PICARD_TOL at the interface, at most PICARD_MAX times;
(c) xi by a linearly implicit Euler step: implicit Laplacian (Dirichlet xi = 1 at x = 0, 0 at
x = L) and one Newton linearisation of the double well (1 + dt L_xi W g'' kept > 0), explicit
Butler-Volmer term; SPD system by Jacobi-preconditioned conjugate gradients; (d) rho by a
stabilised semi-implicit Cahn-Hilliard step in flux form (one LU for the run).
A fixed stabiliser S (xi^{n+1} - xi^n) was tried first and dropped: it slows the
Butler-Volmer-driven motion by 1 + dt L_xi S, a time-step error of ~60 % at dt = 1 s.
The numerically widened interface (delta = one cell) carries a capillarity far above the
physical one (velocity L_xi kappa / R ~ 1 um/s at R = 10 um, 4 um cells), which blunts the
protrusion tips in the first ~10-20 s (the current drops ~20 %); with delta = 2 cells 40 um
protrusions lost a fifth of their area in 5 s, so delta = 1 cell. Faraday's law holds to
~10 % (test); dt 1 -> 0.5 s changes the growth by 0.8 %, 4 -> 2 um cells by 1.9 % (500 s).
Over 50-150 s at 10 MPa (benchmarks/bench_phase_field_convergence.py): growth dt 1 -> 0.5 ->
0.25 s +0.57 %, +0.03 %; cells 4 -> 2 -> 1 um -0.9 %, +5.1 % (the interface width is one cell,
so the model changes with h: grid convergence to ~5 %).  The peak P_m in Li (a maximum over
cells) is 9.3, 12.0, 16.7 MPa on 4, 2, 1 um cells: it sits at a pixelated pore corner against
Li and grows under refinement, so it is a grid-dependent figure, not a converged one; the mean
P_m over the Li cells converges (5.98, 6.01, 5.89 MPa), its 99th percentile to 5 %; dt changes
the peak by 0.03 %.

Why the 0 MPa leakage-current jump (Cao et al. 2023, Fig. 4D: a hard short at ~400 s) is not
reproduced (investigated 2026-12-07; see tests/interface/test_phase_field.py)
-----------------------------------------------------------------------------------------------
1. Faraday's law bounds the tip speed.  The paper's text states plating (Li+ + e- = Li) with
   Butler-Volmer kinetics at -0.35 V, elastic Li and no pore evolution, and nothing that adds
   Li without charge.  Crossing the 800 um electrolyte from a 60 um protrusion in ~400 s needs
   a mean tip speed of (800 - 60) / 400 = 1.85 um/s, i.e. a tip current v F c_s = 1.36 A/cm2
   held for 400 s.  The most a tip can draw through Li6PS5Cl of 2.5 mS/cm (the order of
   cold-pressed argyrodite, 1-3 mS/cm) is that of a cylinder of radius r at distance d from
   the counter electrode with all 0.35 V across the electrolyte and no kinetic loss,
   i = sigma V / (r ln(2 d / r)): 0.35 A/cm2 (0.47 um/s) for r = 5 um (a pore radius) half
   way across (d = 370 um), four times too slow; at that current an exchange current of
   1 mA/cm2 would take 0.30 V of the 0.35 V as overpotential.  A hard short in 400 s needs
   a conductivity about ten times higher with fast kinetics, or a growth rate that is not
   tied to the current (a free L_eta, as in phase-field models of liquid electrolytes whose
   Li+ concentration field supplies the ions); the paper's Table S2 is not available, and
   the project does not tune to the figure.  Pore filling does not close the gap: pores are
   16 % of the path.  The electronic conduction of the electrolyte (3.2e-9 S/cm, the paper's
   measurement) carries a leakage of ~1e-12 A, which falls slowly as Li displaces electrolyte.
2. Numerically, the one-cell diffuse interface moves by curvature at L_xi kappa / R (kappa =
   2 W delta^2): ~1.5 um/s for the 20 um protrusion tip on 4 um cells, 25 times the Faradaic
   speed there (~0.06 um/s).  The protrusions therefore retreat before they grow (tiny, 0 MPa:
   tip from x = 80 um to 44 um in 20 s on 4 um cells, to 66 um on 2 um cells; back to 50 um
   at 500 s); this non-Faradaic retreat scales with the cell size and vanishes only on
   sub-micrometre cells (the paper's "extremely fine mesh").
   ``curvature_counter_term=True`` removes that motion with the counter term of Sun and
   Beckermann (2007, J. Comput. Phys. 220, 626): ``-L_xi kappa |grad xi| div(n)`` added to
   the Allen-Cahn rate, |grad xi| that of the equilibrium profile and the curvature from the
   distance-like ``delta ln((1 - xi)/xi)`` (:func:`curvature_counter_field`).  Analytic checks
   (tests): without it a 40 um Li disc follows R^2 = R0^2 - 2 L_xi kappa t to 0.2 %; with it
   a disc keeps its radius (residual < 1 % of the curvature-flow speed, 40 and 10 um discs),
   and a driven disc / flat front moves at the driving speed.  Effect on the Fig. 4 study
   (tiny crop, 500 s, off -> on; 0 / 5 / 10 MPa): Li area fraction of the electrolyte region
   0.0763 -> 0.1600 / 0.1594 / 0.1589 off, 0.2012 / 0.2006 / 0.2000 on (growth +49 %); the
   protrusion tip ends at x = 94 um instead of retracting to 50 um (started at 80 um: it
   grows 14 um in 500 s, 0.03 um/s, by plating alone); 10 MPa removes 1.0 % of the growth
   (1.4 % off); peak P_m 9.8 -> 10.5 MPa at 10 MPa; the leakage current rises by 21 % over
   500 s (falls by 15 % off), largest rise 3.5 % between saves; no penetration.  What the
   counter term does and does not fix on coarse cells (no driving term, 100 s, Allen-Cahn
   alone; tests ``test_counter_term_holds_concave_corners_on_4um_cells`` and
   ``test_counter_term_needs_ten_cells_across_a_protrusion``):

   - concave corners as such are held: a 40 um wide rectangular protrusion (10 cells of
     4 um) on flat Li keeps its corners (+1.6 um^2 on 4 um, -0.7 um^2 on 2 um cells, against
     +184 / +231 um^2 of curvature-flow filling without the term), its area (-0.4 / +3.9
     um^2) and its tip (84 / 82 um from 80 um); the 4 um shape is the 2 um one to 80 um^2 of
     the Li set (5 coarse cells);
   - a body narrower than ~10 cells is not: 20 um wide (5 cells of 4 um) its two flanks'
     one-cell profiles overlap (xi peaks at 0.92 on its axis), neither the curvature nor
     the profile is that of an isolated interface, and with the term it loses 397 um^2 of
     its 800 um^2 in 100 s (2 um cells: 0.0 um^2); the corners there change by only
     -15 um^2.  It is an instability of the body, not of the time step: the tangential
     modes the term leaves undamped grow, the protrusion's mirror symmetry breaks (largest
     asymmetry of xi 0.28 at 100 s with dt 1 s, 0.24 with dt 0.05 s) and its middle
     empties between 20 and 50 s; cancelling 90 % of the curvature motion instead damps it
     (-6 um^2) but lets the tip retract by 24 um.  The Fig. 4 semi-elliptic protrusion
     (60 x 40 um) narrows below 10 cells towards its tip: +44 um^2 in 200 s on 4 um cells,
     +22 um^2 on 2 um;
   - the tiny crop's Li layer is 20 um thick, 5 cells between the collector (xi = 1) and
     its face: a flat 5-cell layer's face advances 0.7 um in 200 s without and 0.9 um with
     the term on 4 um cells (Allen-Cahn alone), 0.0 on 2 um cells.  In the tiny crop at
     -1e-9 V (no current), 200 s, the Li grows by +245 um^2 on 4 um cells and +65 um^2 on
     2 um cells with the term (the flat face far from the protrusion advances 1.3 um on 4 um
     cells, 0.02 um on 2 um; the rest at the protrusion and the pores beside the Li),
     and loses 85 um^2 without it (the tip retracting).

   So Faraday's law holds to 21 % instead of 11 % in the tiny Fig. 4 study (grown / plated
   1.22 vs 1.11), and on the small crop (full 800 um electrolyte, lower current; 0 MPa,
   500 s) the spurious change dominates: growth 0.0044 -> 0.0101, tip 58 -> 102 um (from
   100 um), grown / plated 0.87 -> 1.79, i.e. ~44 % of the growth with the option on
   carries no charge.  A fair test of the term in the Fig. 4 geometry needs 2 um cells (10
   across the 20 um protrusion tips; ``size="paper"``) or wider protrusions.
   With or without it no tip crosses the electrolyte in 500 s (point 1), so the jump stays
   absent; the option is off by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy import ndimage as ndi

__all__ = ["PARAMETERS", "SIZES", "PhaseFieldGrowth", "phase_field_growth",
           "parameter_table", "initial_microstructure", "AllenCahnStepper",
           "curvature_counter_field"]

F_CONST = 96485.33212  # C/mol
#: width parameter delta of the diffuse Li interface, in grid cells (numerical choice)
INTERFACE_CELLS = 1.0
#: Picard iterations of the interfacial overpotential per step: tolerance on |log R| and cap
#: (tiny, 500 s: growth 0.08347 / 0.08374 / 0.08364 with a cap of 1 / 2 / 6, runtime 1 : 1.1 : 2.1)
PICARD_TOL = 0.02
PICARD_MAX = 2
R_GAS = 8.314462618  # J/(mol K)

_CHEN = ("Chen et al., 'Modulation of dendritic patterns during electrodeposition: a nonlinear "
         "phase-field model', J. Power Sources (2015) (volume, pages and DOI not verified here)")
_HONG = ("Hong and Viswanathan, 'Phase-field simulations of lithium dendrite growth with "
         "open-source software', ACS Energy Lett. (2018) (volume, pages and DOI not verified here)")
_CAO = "Cao et al. 2023, doi:10.1002/adfm.202307998"

#: defaults of the model (SI unless the name says otherwise)
DEFAULTS = dict(
    temperature_k=298.15,
    voltage_v=-0.35,
    duration_s=500.0,
    li_thickness_um=200.0,
    se_thickness_um=800.0,
    height_um=500.0,
    pore_diameter_um=10.0,
    pore_fraction=0.1625,
    n_protrusions=4,
    protrusion_length_um=60.0,
    protrusion_width_um=40.0,
    barrier_w_j_m3=3.75e5,
    l_xi_m3_j_s=2.5e-6,
    exchange_current_a_m2=10.0,
    alpha=0.5,
    li_site_density_mol_m3=7.64e4,
    li_molar_volume_m3_mol=1.30e-5,
    sigma_li_s_m=1.1e7,
    sigma_se_ionic_s_m=0.25,
    sigma_se_electronic_s_m=3.2e-7,
    e_li_pa=7.82e9,
    nu_li=0.38,
    e_se_pa=22.0e9,
    nu_se=0.29,
    pore_stiffness_ratio=1e-4,
    m_rho_m5_j_s=1e-21,
    w_rho_j_m3=3.75e5,
)

#: (name, value, unit, source) of every parameter
PARAMETERS = (
    ("Li thickness", DEFAULTS["li_thickness_um"], "um", f"{_CAO}, sec. 2.4"),
    ("electrolyte thickness", DEFAULTS["se_thickness_um"], "um", f"{_CAO}, sec. 2.4"),
    ("domain height", DEFAULTS["height_um"], "um", f"{_CAO}, methods (1000 x 500 um)"),
    ("pore diameter", DEFAULTS["pore_diameter_um"], "um", f"{_CAO}, sec. 2.4 (average)"),
    ("pore area fraction", DEFAULTS["pore_fraction"], "1", f"{_CAO}, sec. 2.4"),
    ("number of Li protrusions", DEFAULTS["n_protrusions"], "1", f"{_CAO}, sec. 2.4"),
    ("protrusion length x width", f"{DEFAULTS['protrusion_length_um']} x "
     f"{DEFAULTS['protrusion_width_um']}", "um",
     "assumption (their Fig. S11 is not available): semi-elliptic nuclei, wide enough (5 interface widths) to be stable on a 4 um grid"),
    ("applied voltage", DEFAULTS["voltage_v"], "V", f"{_CAO}, methods (left -0.35 V, right 0 V)"),
    ("duration", DEFAULTS["duration_s"], "s", f"{_CAO}, Fig. 4"),
    ("temperature T", DEFAULTS["temperature_k"], "K", "room temperature"),
    ("double-well barrier W", DEFAULTS["barrier_w_j_m3"], "J/m3", _CHEN),
    ("interface mobility L_xi", DEFAULTS["l_xi_m3_j_s"], "m3/(J s)", f"{_CHEN}; {_HONG}"),
    ("gradient coefficient kappa_xi", "2 W delta^2", "J/m",
     "numerical: interface width delta = one grid cell (Chen 2015's 1e-10 J/m gives a "
     "nanometre interface that a um grid cannot resolve); thin-interface choice, stated"),
    ("exchange current density i0 (Li|Li6PS5Cl)", DEFAULTS["exchange_current_a_m2"], "A/m2",
     "assumption: 1 mA/cm2, the order reported for Li|argyrodite interfaces by impedance"),
    ("reaction rate coefficient L_eta", "i0 / (F c_s 5 delta)", "1/s",
     "Faraday consistency of the sharp-interface limit (derived, not free)"),
    ("charge-transfer coefficient alpha", DEFAULTS["alpha"], "1", _CHEN),
    ("Li site density c_s", DEFAULTS["li_site_density_mol_m3"], "mol/m3", _CHEN),
    ("Li molar volume Omega", DEFAULTS["li_molar_volume_m3_mol"], "m3/mol",
     "M_Li / rho_Li = 6.94 g/mol / 0.534 g/cm3"),
    ("plating eigenstrain (optional, off)", "Omega c_s s dh(xi) / 3", "1",
     "volume of the plated Li (molar volume x site density = 0.99) where it replaces solid "
     "electrolyte (s = solid fraction); none in pores"),
    ("Li electronic conductivity", DEFAULTS["sigma_li_s_m"], "S/m", "handbook value for Li, 298 K"),
    ("Li6PS5Cl ionic conductivity", DEFAULTS["sigma_se_ionic_s_m"], "S/m",
     "2.5 mS/cm, the order of cold-pressed Li6PS5Cl (reference values 1-3 mS/cm; "
     "literature source not verified here)"),
    ("Li6PS5Cl electronic conductivity", DEFAULTS["sigma_se_electronic_s_m"], "S/m",
     f"{_CAO}, sec. 2.4: 3.2e-9 S/cm measured by a direct-current method on their electrolyte"),
    ("Li Young's modulus", DEFAULTS["e_li_pa"] / 1e9, "GPa", f"{_CAO} (quoting 7.82 GPa)"),
    ("Li Poisson ratio", DEFAULTS["nu_li"], "1", "polycrystalline Li, 0.36-0.38 (handbook)"),
    ("Li6PS5Cl Young's modulus", DEFAULTS["e_se_pa"] / 1e9, "GPa",
     "DFT elastic constants of argyrodites, about 22 GPa (recalled: Deng et al. 2016; "
     "not verified here)"),
    ("Li6PS5Cl Poisson ratio", DEFAULTS["nu_se"], "1", "as above (about 0.29; not verified)"),
    ("pore stiffness / electrolyte stiffness", DEFAULTS["pore_stiffness_ratio"], "1",
     "numerical: air pores as a near-void (keeps the stiffness matrix regular)"),
    ("Cahn-Hilliard mobility M (rho)", DEFAULTS["m_rho_m5_j_s"], "m5/(J s)",
     "assumption: small enough that pores do not evolve over 500 s (paper's assumption); "
     "relaxation of a 10 um mode M W k^2 t < 0.1"),
    ("Cahn-Hilliard barrier W_rho", DEFAULTS["w_rho_j_m3"], "J/m3", f"as W ({_CHEN})"),
    ("Cahn-Hilliard gradient kappa_rho", "W_rho delta^2 / 2", "J/m",
     "numerical: pore interface width one grid cell"),
)

#: sizes: what is cropped and the grid. ``paper`` is the paper's domain.
SIZES = {
    "tiny": dict(li_thickness_um=20.0, se_thickness_um=200.0, height_um=125.0, cell_um=4.0,
                 n_protrusions=1, dt_s=1.0, mech_every_s=10.0),
    "small": dict(li_thickness_um=40.0, se_thickness_um=800.0, height_um=250.0, cell_um=4.0,
                  n_protrusions=2, dt_s=1.0, mech_every_s=25.0),
    "paper": dict(li_thickness_um=200.0, se_thickness_um=800.0, height_um=500.0, cell_um=2.0,
                  n_protrusions=4, dt_s=0.5, mech_every_s=10.0),
}
SIZE_NOTES = {
    "tiny": "cropped: Li 20 um, electrolyte 200 um (of 800: the -0.35 V acts over a 4x shorter "
            "gap), height 125 um with one protrusion; 4 um cells, dt 1 s",
    "small": "cropped: Li 40 um (of 200; the Li is an equipotential and barely strains), full "
             "800 um electrolyte, height 250 um with two of the four protrusions at the paper's "
             "spacing; 4 um cells, dt 1 s, elasticity every 25 s",
    "paper": "the paper's 1000 x 500 um domain, four protrusions; 2 um cells, dt 0.5 s",
}


def parameter_table():
    """The parameters as a :class:`pandas.DataFrame` (``parameter``, ``value``, ``unit``, ``source``)."""
    import pandas as pd

    return pd.DataFrame([(n, str(v), u, s) for n, v, u, s in PARAMETERS],
                        columns=["parameter", "value", "unit", "source"])


@dataclass(frozen=True)
class PhaseFieldGrowth:
    """Result of :func:`phase_field_growth`.

    Attributes
    ----------
    pressure_mpa : float
        Stack pressure on the electrolyte boundary.
    size : str
        Grid/crop preset (see :data:`SIZES`).
    time_s : ndarray, shape (n_t,)
        Saved times.
    li_area_fraction : ndarray, shape (n_t,)
        Li area fraction (integral of h(xi)) in the electrolyte region x > Li thickness (initial
        flat interface), over that region's area; includes the initial protrusions.
    peak_stress_mpa : float
        Final peak hydrostatic pressure P_m inside Li (cells with xi > 0.5).
    peak_stress_mpa_t : ndarray, shape (n_t,)
        The same at every saved time.
    leakage_current_a : ndarray, shape (n_t,)
        Electronic current through the counter electrode (x = L): electrons carried by Li that
        reaches it plus the electrolyte's electronic conduction, for an out-of-plane depth equal
        to the domain height (a square cross-section).
    ionic_current_a : ndarray, shape (n_t,)
        Ionic current through the counter electrode, same depth.
    connected : ndarray of bool, shape (n_t,)
        Li (xi > 0.5) percolates from the Li electrode to the counter electrode.
    mass_error : float
        max_t |sum rho(t) - sum rho(0)| / sum |rho(0)| (the conserved Cahn-Hilliard field).
    xi, rho, pressure_mpa_field : ndarray, shape (ny, nx)
        Final fields (P_m in MPa).
    x_um, y_um : ndarray
        Cell-centre coordinates.
    notes : str
        What is cropped for this size.
    """

    pressure_mpa: float
    size: str
    time_s: np.ndarray
    li_area_fraction: np.ndarray
    peak_stress_mpa: float
    peak_stress_mpa_t: np.ndarray
    leakage_current_a: np.ndarray
    ionic_current_a: np.ndarray
    connected: np.ndarray
    mass_error: float
    xi: np.ndarray = field(repr=False)
    rho: np.ndarray = field(repr=False)
    pressure_mpa_field: np.ndarray = field(repr=False)
    x_um: np.ndarray = field(repr=False)
    y_um: np.ndarray = field(repr=False)
    notes: str = ""


def _h(x):
    return x ** 3 * (6 * x ** 2 - 15 * x + 10)


def _dh(x):
    return 30 * x ** 2 * (1 - x) ** 2


def initial_microstructure(nx, ny, cell_um, li_thickness_um, *, n_protrusions, seed,
                           pore_diameter_um=DEFAULTS["pore_diameter_um"],
                           pore_fraction=DEFAULTS["pore_fraction"],
                           protrusion_length_um=DEFAULTS["protrusion_length_um"],
                           protrusion_width_um=DEFAULTS["protrusion_width_um"]):
    """Initial xi and rho on the grid, shape (ny, nx) each.

    Random non-overlapping circular pores (seeded) are placed in the electrolyte, clear of the
    Li and of a 2-cell band at the counter electrode, until the pore area fraction of the
    electrolyte region reaches ``pore_fraction``; ``n_protrusions`` semi-elliptic Li
    protrusions are spaced evenly along y. The Li profile is the equilibrium tanh of width delta = INTERFACE_CELLS cells, the pores' a one-cell tanh.
    """
    rng = np.random.default_rng(seed)
    x = (np.arange(nx) + 0.5) * cell_um
    y = (np.arange(ny) + 0.5) * cell_um
    X, Y = np.meshgrid(x, y)
    height = ny * cell_um
    length = nx * cell_um
    # Li: the flat layer and semi-elliptic protrusions; exact signed distance (um)
    li = X < li_thickness_um
    a, b = protrusion_length_um, protrusion_width_um / 2
    for k in range(n_protrusions):
        yc = (k + 0.5) * height / n_protrusions
        li |= ((X - li_thickness_um) / a) ** 2 + ((Y - yc) / b) ** 2 <= 1.0
    d_li = (ndi.distance_transform_edt(~li) - ndi.distance_transform_edt(li)) * cell_um
    xi = 0.5 * (1 - np.tanh(d_li / (2 * INTERFACE_CELLS * cell_um)))
    # pores
    r_p = pore_diameter_um / 2
    se_area = (length - li_thickness_um) * height
    target = pore_fraction * se_area
    centres = []
    area = 0.0
    x_lo = li_thickness_um + r_p + cell_um
    x_hi = length - r_p - 2 * cell_um
    tries = 0
    while area < target and tries < 200000:
        tries += 1
        cx = rng.uniform(x_lo, x_hi)
        cy = rng.uniform(0, height)
        if centres:
            c = np.asarray(centres)
            dy = np.abs(c[:, 1] - cy)
            dy = np.minimum(dy, height - dy)
            if np.any((c[:, 0] - cx) ** 2 + dy ** 2 < (2 * r_p + 0.5 * cell_um) ** 2):
                continue
        centres.append((cx, cy))
        area += np.pi * r_p ** 2
    d_pore = np.full(X.shape, np.inf)
    for cx, cy in centres:
        d_pore = np.minimum(d_pore, np.hypot(X - cx, Y - cy) - r_p)
    rho = np.tanh(d_pore / (np.sqrt(2) * cell_um))
    # keep Li where it is: the initial Li is solid
    rho = np.where(xi > 0.5, np.maximum(rho, 2 * xi - 1), rho)
    return xi, rho


def _laplacian(nx, ny, h):
    """5-point Laplacian, no-flux walls, cell-centred, row-major (ny, nx) -> flat."""
    def lap1(n):
        main = -2.0 * np.ones(n)
        main[0] = main[-1] = -1.0
        return sp.diags([np.ones(n - 1), main, np.ones(n - 1)], [-1, 0, 1])
    Ix, Iy = sp.identity(nx), sp.identity(ny)
    return (sp.kron(Iy, lap1(nx)) + sp.kron(lap1(ny), Ix)).tocsc() / h ** 2


def _conduction_matrix(sigma, h, v_left):
    """Finite-volume div(sigma grad phi) = 0; phi = v_left at x=0, 0 at x=L, no flux in y.

    Returns (A, b, face conductances) with harmonic face means.
    """
    ny, nx = sigma.shape
    n = nx * ny
    idx = np.arange(n).reshape(ny, nx)
    gx = 2 * sigma[:, :-1] * sigma[:, 1:] / (sigma[:, :-1] + sigma[:, 1:])  # (ny, nx-1)
    gy = 2 * sigma[:-1, :] * sigma[1:, :] / (sigma[:-1, :] + sigma[1:, :])  # (ny-1, nx)
    gl = 2 * sigma[:, 0]  # boundary half cell: sigma / (h/2) * h / h^2 -> 2 sigma
    gr = 2 * sigma[:, -1]
    rows = np.concatenate([idx[:, :-1].ravel(), idx[:, 1:].ravel(),
                           idx[:-1, :].ravel(), idx[1:, :].ravel()])
    cols = np.concatenate([idx[:, 1:].ravel(), idx[:, :-1].ravel(),
                           idx[1:, :].ravel(), idx[:-1, :].ravel()])
    vals = np.concatenate([gx.ravel(), gx.ravel(), gy.ravel(), gy.ravel()])
    diag = np.zeros((ny, nx))
    diag[:, :-1] += gx
    diag[:, 1:] += gx
    diag[:-1, :] += gy
    diag[1:, :] += gy
    diag[:, 0] += gl
    diag[:, -1] += gr
    A = sp.csc_matrix((np.concatenate([-vals, diag.ravel()]),
                       (np.concatenate([rows, idx.ravel()]), np.concatenate([cols, idx.ravel()]))),
                      shape=(n, n))
    b = np.zeros((ny, nx))
    b[:, 0] += gl * v_left
    return A, b.ravel(), gl, gr


def _q1_reference():
    """Plane-strain Q1 element matrices for unit Lame parameters (square element, any size)."""
    g = np.array([-1, 1]) / np.sqrt(3)
    # node order: (0,0) (1,0) (1,1) (0,1) in reference [-1,1]^2
    xn = np.array([-1, 1, 1, -1])
    yn = np.array([-1, -1, 1, 1])
    K_lam = np.zeros((8, 8))
    K_mu = np.zeros((8, 8))

    def B_at(s, t):
        dNds = xn * (1 + yn * t) / 4
        dNdt = yn * (1 + xn * s) / 4
        # physical element of size h: d/dx = (2/h) d/ds; the 2D stiffness is h-independent
        # (area h^2 / 4 per Gauss point times (2/h)^2), so use h = 2: d/dx = d/ds, weight 1
        B = np.zeros((3, 8))
        B[0, 0::2] = dNds
        B[1, 1::2] = dNdt
        B[2, 0::2] = dNdt
        B[2, 1::2] = dNds
        return B

    m = np.array([1.0, 1.0, 0.0])
    Dmu = np.diag([2.0, 2.0, 1.0])
    for s in g:
        for t in g:
            B = B_at(s, t)
            K_lam += B.T @ np.outer(m, m) @ B
            K_mu += B.T @ Dmu @ B
    # load of a unit isotropic stress m = (1, 1, 0): sum over Gauss points of B^T m (h = 2)
    f_m = sum(B_at(s, t).T @ m for s in g for t in g)
    return K_lam, K_mu, B_at(0.0, 0.0), f_m


_KLAM, _KMU, _BC, _FM = _q1_reference()


class _Elasticity:
    """Plane-strain Q1 elasticity on the cell grid (elements = cells)."""

    def __init__(self, nx, ny, h):
        self.nx, self.ny, self.h = nx, ny, h
        nid = np.arange((nx + 1) * (ny + 1)).reshape(ny + 1, nx + 1)
        n0 = nid[:-1, :-1].ravel()
        n1 = nid[:-1, 1:].ravel()
        n2 = nid[1:, 1:].ravel()
        n3 = nid[1:, :-1].ravel()
        nodes = np.stack([n0, n1, n2, n3], axis=1)  # (ne, 4)
        dofs = np.empty((nodes.shape[0], 8), dtype=np.int64)
        dofs[:, 0::2] = 2 * nodes
        dofs[:, 1::2] = 2 * nodes + 1
        self.dofs = dofs
        self.rows = np.repeat(dofs, 8, axis=1).ravel()
        self.cols = np.tile(dofs, (1, 8)).ravel()
        self.ndof = 2 * (nx + 1) * (ny + 1)
        fixed = np.concatenate([2 * nid[:, 0], 2 * nid[:, 0] + 1])
        self.free = np.setdiff1d(np.arange(self.ndof), fixed)
        right = nid[:, -1]
        self.f_unit = np.zeros(self.ndof)
        w = np.full(ny + 1, h)
        w[0] = w[-1] = h / 2
        self.f_unit[2 * right] = -w  # unit compressive traction on x = L (per unit depth)

    def solve(self, lam, mu, pressure_pa, eigenstrain=None):
        """Hydrostatic pressure P_m (Pa, compressive positive), shape (ny, nx).

        ``eigenstrain`` (ny, nx): isotropic eigenstrain e0 per cell (each normal component,
        out of plane included: plane strain holds the total e_zz at 0), stress
        ``sigma = C (e - e0 I)``; element-constant, entering as the load ``int B^T m s0``
        with ``s0 = (3 lam + 2 mu) e0``.
        """
        ke = lam.ravel()[:, None, None] * _KLAM + mu.ravel()[:, None, None] * _KMU
        K = sp.csc_matrix((ke.ravel(), (self.rows, self.cols)), shape=(self.ndof, self.ndof))
        u = np.zeros(self.ndof)
        lam_f, mu_f = lam.ravel(), mu.ravel()
        s0 = np.zeros(lam_f.shape) if eigenstrain is None else \
            (3 * lam_f + 2 * mu_f) * np.asarray(eigenstrain, float).ravel()
        load = self.f_unit * pressure_pa
        if s0.any():
            fe = (self.h / 2) * s0[:, None] * _FM[None, :]  # (ne, 8), per unit depth
            load = load + np.bincount(self.dofs.ravel(), fe.ravel(), minlength=self.ndof)
        if load.any():
            Kf = K[self.free][:, self.free]
            u[self.free] = spla.spsolve(Kf, load[self.free])
        ue = u[self.dofs]  # (ne, 8)
        eps = ue @ (_BC * (2.0 / self.h)).T  # (ne, 3): exx, eyy, gxy
        tr = eps[:, 0] + eps[:, 1]
        sxx = lam_f * tr + 2 * mu_f * eps[:, 0] - s0
        syy = lam_f * tr + 2 * mu_f * eps[:, 1] - s0
        szz = lam_f * tr - s0
        return (-(sxx + syy + szz) / 3).reshape(self.ny, self.nx)


def curvature_counter_field(xi, cell_m, delta_m):
    """The curvature part of the Laplacian of ``xi``, to be cancelled (1/m^2), shape (ny, nx).

    ``lap(xi) = d2 xi/dn2 + |grad xi| div(n)``, n the unit normal: the second term is what makes
    a diffuse interface move by its curvature at ``L_xi kappa div(n)`` (Allen-Cahn's sharp
    interface limit).  Adding ``-|grad xi| div(n)`` to the Laplacian (the counter term of Folch
    et al. 1999 as used by Sun and Beckermann 2007, J. Comput. Phys. 220, 626) keeps the
    restoring part that holds the profile and removes the curvature motion, so the interface
    moves only by the other driving terms (here Butler-Volmer).  Following Sun and Beckermann,
    ``|grad xi|`` is that of the equilibrium profile, ``xi (1 - xi) / delta``, and the curvature
    is computed from the distance-like variable ``psi = delta ln((1 - xi) / xi)`` (their
    "nonlinear preconditioning"; linear across the interface, so central differences resolve
    it where ``xi`` itself varies over one cell).  The curvature uses face normals (a compact
    stencil: x-faces take the x difference and the mean of the neighbouring y differences, and
    vice versa), no normal flux through the domain walls.

    Parameters
    ----------
    xi : ndarray, shape (ny, nx)
        Order parameter (1 Li, 0 not Li).
    cell_m, delta_m : float
        Grid spacing and the interface width parameter (m).

    Returns
    -------
    ndarray, shape (ny, nx)
        ``-|grad xi| div(grad xi / |grad xi|)`` (1/m^2): add ``L_xi kappa`` times it to
        ``d xi/dt``.  Positive at a convex Li tip (it cancels the tip's retraction).
    """
    h = float(cell_m)
    x = np.clip(xi, 1e-9, 1 - 1e-9)
    psi = delta_m * np.log((1 - x) / x)  # ~ signed distance, > 0 outside Li
    cy, cx = np.gradient(psi, h)
    tiny = 1e-12
    # x faces (ny, nx-1): normal from the face difference in x and the mean y difference
    fx_x = (psi[:, 1:] - psi[:, :-1]) / h
    fx_y = 0.5 * (cy[:, 1:] + cy[:, :-1])
    nx_f = fx_x / np.sqrt(fx_x ** 2 + fx_y ** 2 + tiny)
    fy_y = (psi[1:, :] - psi[:-1, :]) / h
    fy_x = 0.5 * (cx[1:, :] + cx[:-1, :])
    ny_f = fy_y / np.sqrt(fy_y ** 2 + fy_x ** 2 + tiny)
    div = np.zeros_like(psi)
    div[:, :-1] += nx_f / h
    div[:, 1:] -= nx_f / h
    div[:-1, :] += ny_f / h
    div[1:, :] -= ny_f / h
    # div(n_psi) = curvature of the psi level sets; n_xi = -n_psi, so
    # -|grad xi| div(n_xi) = +|grad xi| div(n_psi)
    return (x * (1 - x) / delta_m) * div


class AllenCahnStepper:
    """One linearly implicit Euler step of the Allen-Cahn equation for ``xi`` on the cell grid.

    ``d xi/dt = -L_xi [W g'(xi) - kappa lap(xi)] + L_xi kappa C(xi) + s``, ``kappa = 2 W
    delta^2``, with ``C`` the optional curvature counter term (:func:`curvature_counter_field`)
    and ``s`` an explicit source (the Butler-Volmer term).  The Laplacian is implicit
    (Dirichlet ``xi = left`` / ``right`` at x = 0 / L by half-cell ghosts, no flux at the top
    and bottom), the double well linearised once (``1 + dt L_xi W g''`` kept > 0), the counter
    term and the source explicit; the SPD system is solved by Jacobi-preconditioned conjugate
    gradients from ``xi^n`` to 1e-10 relative.  With the counter term the implicit Laplacian
    minus the explicit tangential part leaves tangential modes neutrally stable (the scheme
    neither smooths nor amplifies the interface shape by curvature).

    Parameters
    ----------
    nx, ny : int
        Grid size (cells); arrays are (ny, nx).
    cell_m, dt_s : float
        Grid spacing (m) and time step (s).
    l_xi, barrier_w : float
        Interface mobility L_xi (m3/(J s)) and double-well barrier W (J/m3).
    delta_m : float
        Interface width parameter (m).
    counter_term : bool
        Cancel the curvature motion (Sun and Beckermann 2007).
    left, right : float
        Dirichlet values of ``xi`` at x = 0 and x = L.
    """

    def __init__(self, nx, ny, cell_m, dt_s, *, L_xi, barrier_w, delta_m, counter_term=False,
                 left=1.0, right=0.0):
        h = float(cell_m)
        self.h, self.dt, self.L, self.W, self.delta = h, float(dt_s), L_xi, barrier_w, delta_m
        self.kappa = 2 * barrier_w * delta_m ** 2
        self.counter_term = bool(counter_term)
        edge = np.zeros((ny, nx))
        edge[:, 0] = edge[:, -1] = 2.0 / h ** 2
        lap_xi = _laplacian(nx, ny, h) - sp.diags(edge.ravel())
        src = np.zeros((ny, nx))
        src[:, 0] = 2.0 * left / h ** 2
        src[:, -1] = 2.0 * right / h ** 2
        self.src = src.ravel()
        self.base = (sp.identity(nx * ny, format="csc")
                     - self.dt * L_xi * self.kappa * lap_xi).tocsc()

    def step(self, xi, source=None):
        """``xi`` at the next time; ``source`` (ny, nx) in 1/s is added explicitly."""
        dt, L, W = self.dt, self.L, self.W
        gprime = 2 * xi * (1 - xi) * (1 - 2 * xi)
        c = dt * L * W * np.maximum(2 * (1 - 6 * xi + 6 * xi ** 2), -0.9 / (dt * L * W))
        rhs = xi * (1 + c) - dt * L * W * gprime
        if source is not None:
            rhs = rhs + dt * source
        if self.counter_term:
            rhs = rhs + dt * L * self.kappa * curvature_counter_field(xi, self.h, self.delta)
        b = rhs.ravel() + dt * L * self.kappa * self.src
        A = (self.base + sp.diags(c.ravel())).tocsr()
        diag_inv = 1.0 / A.diagonal()
        sol, info = spla.cg(A, b, x0=xi.ravel(), rtol=1e-10, maxiter=500,
                            M=spla.LinearOperator(A.shape, matvec=lambda v: diag_inv * v))
        if info != 0:  # pragma: no cover - fall back to a direct solve
            sol = spla.spsolve(A.tocsc(), b)
        return sol.reshape(xi.shape)


def _lame(E, nu):
    return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))


def phase_field_growth(pressure_mpa, *, size="small", seed=0, duration_s=None, cell_um=None,
                       dt_s=None, n_saves=51, voltage_v=DEFAULTS["voltage_v"],
                       plating_eigenstrain=False, curvature_counter_term=False):
    """Li growth into porous Li6PS5Cl under a stack pressure (Cao et al. 2023, Fig. 4).

    Parameters
    ----------
    pressure_mpa : float
        Stack pressure on the electrolyte boundary x = L (0, 5, 10 in the paper).
    size : {"tiny", "small", "paper"}
        Domain crop and grid (:data:`SIZES`, :data:`SIZE_NOTES`). ``small`` runs in well under
        a minute on two cores; ``paper`` is the paper's full domain on 2 um cells.
    seed : int
        Seed of the random pore placement (the run is deterministic for a seed).
    duration_s : float, optional
        Model time (default 500 s, the paper's).
    cell_um, dt_s : float, optional
        Override the preset's cell size and time step (convergence studies).
    n_saves : int
        Number of saved times (including t = 0).
    voltage_v : float
        Potential of the Li current collector against the counter electrode.
    curvature_counter_term : bool
        Cancel the curvature motion of the one-cell diffuse interface (Sun and Beckermann
        2007; module docstring, "Why the 0 MPa leakage-current jump ...", point 2), so that
        Li moves by the Butler-Volmer term only.  Off by default.
    plating_eigenstrain : bool
        Add the volumetric eigenstrain of Li plated into solid electrolyte (module docstring,
        item 4).  Off by default: with the molar-volume expansion and elastic Li (the paper's
        assumption) the peak pressure in Li at 0 MPa is 2.3-2.8 GPa on the tiny crop (between
        Eshelby's value for a Li cylinder, 2.8 GPa, and K_Li dV = 10.8 GPa), three orders above
        the paper's ~2 MPa; reaching 2 MPa would need a volume change ~1000x smaller or Li
        plasticity/creep relaxation, which the text does not give (not tuned).  The
        Omega P_m / F shift of the driving force then reaches ~0.4 V, as large as the applied
        voltage, so the growth with the option on is not a model of the paper's Fig. 4.

    Returns
    -------
    PhaseFieldGrowth

    Notes
    -----
    What this model does not contain: Li plasticity/creep (the paper also treats Li as elastic
    at this scale), fracture of the electrolyte, Li creeping into pores without deposition, and
    by default a stress-generating eigenstrain of plated Li (the pressure acts on growth through
    the driving force Omega P_m, but the stress field itself is that of the stack pressure on
    the current Li/electrolyte/pore stiffness map, so P_m in Li is zero at 0 MPa;
    ``plating_eigenstrain`` adds it, with the consequences stated above).
    """
    from ssbscope.errors import ConfigError

    if size not in SIZES:
        raise ConfigError(f"phase_field_growth: size={size!r} is not one of {sorted(SIZES)}; "
                          "pick one of them")
    preset = dict(SIZES[size])
    if cell_um is not None:
        preset["cell_um"] = float(cell_um)
    if dt_s is not None:
        preset["dt_s"] = float(dt_s)
    p = DEFAULTS
    duration = float(p["duration_s"] if duration_s is None else duration_s)
    h_um = preset["cell_um"]
    h = h_um * 1e-6
    nx = int(round((preset["li_thickness_um"] + preset["se_thickness_um"]) / h_um))
    ny = int(round(preset["height_um"] / h_um))
    xi, rho = initial_microstructure(nx, ny, h_um, preset["li_thickness_um"],
                                     n_protrusions=preset["n_protrusions"], seed=seed)
    x_um = (np.arange(nx) + 0.5) * h_um
    y_um = (np.arange(ny) + 0.5) * h_um
    se_region = np.broadcast_to(x_um > preset["li_thickness_um"], xi.shape)
    depth_m = preset["height_um"] * 1e-6

    f = F_CONST / (R_GAS * p["temperature_k"])
    alpha = p["alpha"]
    W = p["barrier_w_j_m3"]
    L_xi = p["l_xi_m3_j_s"]
    delta = INTERFACE_CELLS * h  # interface width parameter (numerical)
    i0 = p["exchange_current_a_m2"]
    c_s = p["li_site_density_mol_m3"]
    L_eta = i0 / (F_CONST * c_s * 5 * delta)
    omega = p["li_molar_volume_m3_mol"]
    p_pa = float(pressure_mpa) * 1e6

    dt = preset["dt_s"]
    n_steps = int(round(duration / dt))
    lap = _laplacian(nx, ny, h)
    Id = sp.identity(nx * ny, format="csc")
    ac = AllenCahnStepper(nx, ny, h, dt, L_xi=L_xi, barrier_w=W, delta_m=delta,
                          counter_term=curvature_counter_term)
    # Cahn-Hilliard for rho (convex splitting-like stabilised semi-implicit)
    M = p["m_rho_m5_j_s"]
    W_r = p["w_rho_j_m3"]
    kappa_r = W_r * delta ** 2 / 2
    S_r = 2 * W_r
    ch_lu = spla.splu((Id - dt * M * (S_r * lap - kappa_r * (lap @ lap))).tocsc())
    elas = _Elasticity(nx, ny, h)
    lam_li, mu_li = _lame(p["e_li_pa"], p["nu_li"])
    lam_se, mu_se = _lame(p["e_se_pa"], p["nu_se"])

    r_lin = 1.0 / (i0 * f)  # linear charge-transfer resistance (Ohm m2)
    h0 = _h(np.clip(xi, 0, 1))  # Li present at t = 0 (no eigenstrain)
    rho0_sum = rho.sum()
    rho0_abs = np.abs(rho).sum()
    save_steps = set(np.unique(np.linspace(0, n_steps, n_saves).round().astype(int)).tolist())
    out_t, out_frac, out_peak, out_leak, out_ion, out_conn = [], [], [], [], [], []
    mass_err = 0.0
    pm = np.zeros_like(xi)
    mech_every = max(1, int(round(preset["mech_every_s"] / dt)))

    def i_bv(e):
        return i0 * (np.exp((1 - alpha) * f * e) - np.exp(-alpha * f * e))

    def potential(xi_, rho_, r_sec):
        """Solve the potential with the interfacial secant resistance ``r_sec`` (Ohm m2).

        Returns the local overpotential (V) consistent with this solve, the updated (damped,
        geometric mean) secant resistance, and the electronic and ionic currents (A) through
        the counter electrode.
        """
        hx = _h(np.clip(xi_, 0, 1))
        s = np.clip((1 + rho_) / 2, 0, 1)
        sig_e = hx * p["sigma_li_s_m"] + (1 - hx) * s * p["sigma_se_electronic_s_m"]
        sig_i = (1 - hx) * s * p["sigma_se_ionic_s_m"]
        sig_bulk = sig_e + sig_i + 1e-6 * p["sigma_se_ionic_s_m"]
        gy, gx = np.gradient(hx, h)
        sigma = 1.0 / (1.0 / sig_bulk + r_sec * np.hypot(gx, gy))
        A, b, gl, gr = _conduction_matrix(sigma, h, voltage_v)
        phi = spla.spsolve(A, b, permc_spec="MMD_AT_PLUS_A").reshape(ny, nx)
        py, px = np.gradient(phi, h)
        i_mag = sigma * np.hypot(px, py)
        # the interfacial drop: only where the diffuse interface is (the support of h'(xi));
        # it cannot exceed the applied voltage
        at_interface = _dh(np.clip(xi_, 0, 1)) > 1e-3
        eta_new = np.where(at_interface, np.clip(-i_mag * r_sec, -abs(voltage_v), 0.0), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r_target = np.where(eta_new < -1e-6, eta_new / i_bv(eta_new), r_lin)
        r_next = np.exp(0.5 * np.log(r_sec) + 0.5 * np.log(r_target))
        # current through the counter electrode (x = L, phi = 0), split electronic / ionic
        flux = gr * (phi[:, -1] - 0.0)  # A per m depth, per row: 2 sigma (dphi / (h/2)) h / h
        frac_e = sig_e[:, -1] / (sig_e[:, -1] + sig_i[:, -1] + 1e-6 * p["sigma_se_ionic_s_m"])
        i_tot = -flux  # current flowing from x=L towards the Li (positive for plating)
        change = float(np.abs(np.log(r_target / r_sec))[at_interface].max()) \
            if at_interface.any() else 0.0
        return eta_new, r_next, float((i_tot * frac_e).sum() * depth_m), \
            float((i_tot * (1 - frac_e)).sum() * depth_m), change

    # initial damped Picard iterations for the interfacial overpotential (then one per step)
    r_sec = np.full(xi.shape, r_lin)
    for _ in range(200):
        eta, r_sec, _, _, change = potential(xi, rho, r_sec)
        if change < PICARD_TOL:
            break

    for step in range(n_steps + 1):
        if step % mech_every == 0:
            hx = _h(np.clip(xi, 0, 1))
            s = np.clip((1 + rho) / 2, 0, 1)
            s_eff = s + (1 - s) * p["pore_stiffness_ratio"]
            lam = hx * lam_li + (1 - hx) * s_eff * lam_se
            mu = hx * mu_li + (1 - hx) * s_eff * mu_se
            e0 = None
            if plating_eigenstrain:
                # Li plated where the electrolyte was solid must make its own room: isotropic
                # eigenstrain of volume Omega_Li c_s (= 1 for Li metal) per unit of new h(xi),
                # none where it fills a pore (the void gives the room)
                e0 = (omega * c_s / 3.0) * s * np.clip(hx - h0, 0.0, None)
            pm = elas.solve(lam, mu, p_pa, e0)
        # Picard on the secant resistance until the interfacial Butler-Volmer law holds to
        # PICARD_TOL (log of the resistance) in every interface cell, at most PICARD_MAX solves
        for _ in range(PICARD_MAX):
            eta, r_sec_new, i_leak, i_ion, change = potential(xi, rho, r_sec)
            r_sec = r_sec_new
            if change < PICARD_TOL:
                break
        if step in save_steps:
            li = xi > 0.5
            out_t.append(step * dt)
            out_frac.append(float(_h(np.clip(xi, 0, 1))[se_region].mean()))
            out_peak.append(float(pm[li].max() / 1e6) if li.any() else 0.0)
            out_leak.append(i_leak)
            out_ion.append(i_ion)
            lab, _ = ndi.label(li)
            common = np.intersect1d(lab[:, 0][lab[:, 0] > 0], lab[:, -1][lab[:, -1] > 0])
            out_conn.append(bool(common.size))
        if step == n_steps:
            break
        # Allen-Cahn step
        eta_e = eta + omega * pm / F_CONST
        bv = np.exp((1 - alpha) * f * eta_e) - np.exp(-alpha * f * eta_e)
        xi = ac.step(xi, -L_eta * _dh(np.clip(xi, 0, 1)) * bv)
        # Cahn-Hilliard step for rho (conservative)
        mu_nl = W_r * (rho ** 3 - rho) - S_r * rho
        rho = ch_lu.solve(rho.ravel() + dt * M * (lap @ mu_nl.ravel())).reshape(ny, nx)
        mass_err = max(mass_err, abs(rho.sum() - rho0_sum) / rho0_abs)

    return PhaseFieldGrowth(
        pressure_mpa=float(pressure_mpa), size=size, time_s=np.asarray(out_t),
        li_area_fraction=np.asarray(out_frac), peak_stress_mpa=float(out_peak[-1]),
        peak_stress_mpa_t=np.asarray(out_peak), leakage_current_a=np.asarray(out_leak),
        ionic_current_a=np.asarray(out_ion), connected=np.asarray(out_conn),
        mass_error=float(mass_err), xi=xi, rho=rho, pressure_mpa_field=pm / 1e6,
        x_um=x_um, y_um=y_um, notes=SIZE_NOTES[size])
