"""Digital twin of the papers' electrochemical protocols, with ground truth.

Each generator returns a frozen dataclass holding the potentiostat log as a
:class:`pandas.DataFrame` in ssbscope's canonical layout (``time_s``, ``voltage_V``,
``current_A``, ``cycle``, ``step``, ``mode``; **current positive on charge**) and the exact
values the analysis must recover (capacities, Coulombic efficiency, the times of named
states, short-circuit onsets, the critical current density ...).  The writers in
:mod:`ssbscope.twin.formats` put the logs into real file formats (BioLogic EC-Lab ``.mpt``,
CSV, Neware-style CSV) so the readers are exercised too.

Generators (papers in ``../shared/papers``):

=========================  ======================================================================
``nmc622_first_cycle``     NMC622 | PEO-LiTFSI | Li coin cell, first cycle at 0.3 mA cm⁻², 3.0–4.3 V
                           with a CV hold at 4.3 V; scan states at 20/71/100 % SoC and 22/77/100 %
                           DoD (000_290f30815ae66793, Fig. 1E and Methods).
``anode_free_cell``        anode-free Cu | Li6PS5Cl | Li: 3 mAh cm⁻² plated at 0.5 mA cm⁻², stripped
                           to a cut-off (chosen CE), rising current densities to a hard short
                           (cases A–C of 001_a2c994afa3295f29).
``sulfide_charge``         C/20 charge of an NMC811 | Li5.4PS4.6Cl1.4 | Li cell: clean, soft short
                           after ≈ 4.5 h (fluctuating below the cut-off) or hard short
                           (002_3ee4edf529433f9c, Fig. 2B and Fig. S4).
``ccd_staircase``          Li | Li6PS5Cl | Li critical-current protocol: plating current raised by
                           0.5 mA cm⁻² per cycle, stripping fixed at 0.2 mA cm⁻², 0.2 mAh cm⁻² per
                           half-cycle; polarisation drops when a dendrite penetrates
                           (003_103f2bf5a3479ade, Methods).
``symmetric_plating``      Li | Li6PS5Cl | Li: galvanostatic plating onto the bottom electrode in
                           increments with rests, a CT scan at the start of each rest.
``eis_spectrum``           one impedance spectrum of R_s + ((R_ct + W) ∥ CPE) with noise.
``first_cycle_eis``        spectra at the scan states of 000_ with R_s, R_ct following Fig. 2A–B.
=========================  ======================================================================

Determinism: every random draw comes from ``numpy.random.default_rng(seed)``; the same
arguments give the same DataFrame and, through the writers, the same file bytes.

Voltage model (all protocols): ``V = U(state) ± (I R_s + v_p)`` where ``U`` is a smooth
open-circuit function of the state, ``I R_s`` the instantaneous ohmic drop and ``v_p`` a
polarisation that relaxes towards ``I R_p`` with time constant ``tau_p_s`` (first-order RC);
Gaussian noise is added to the logged voltage and current.  The end of every step is placed
exactly at its cut-off (the logged point at the cut-off is the last point of the step), so the
ground-truth capacities are exact.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ssbscope.errors import ParameterError
from ssbscope.twin.params_001 import p as _p001

__all__ = [
    "ScanState",
    "FirstCycleTwin",
    "AnodeFreeTwin",
    "ShortTwin",
    "CCDTwin",
    "EISTwin",
    "PlatingTwin",
    "nmc622_first_cycle",
    "anode_free_cell",
    "sulfide_charge",
    "ccd_staircase",
    "symmetric_plating",
    "eis_spectrum",
    "first_cycle_eis",
    "nmc622_resistances",
    "PAPER_STATES_000",
    "AREA_000_CM2",
    "ACTIVE_MASS_000_MG",
    "AREA_001_CM2",
    "AREA_002_CM2",
    "ACTIVE_MASS_002_MG",
    "AREA_003_CM2",
]

log = logging.getLogger(__name__)

MAH_PER_AS = 1.0 / 3.6

#: 000_: cathode disc of 14 mm diameter (the Li disc is 16 mm), cm².
AREA_000_CM2 = math.pi * 0.7 ** 2
#: 000_: NMC622 loading from the paper's 170.3 mAh g⁻¹ = 3.29 mAh cm⁻² at 0.07 C
#: (3.29 / 170.3 = 19.32 mg cm⁻²) times the cathode area, mg.
ACTIVE_MASS_000_MG = 3.29 / 170.3 * 1e3 * AREA_000_CM2
#: 001_: 2 mm diameter tomography cells (its parameter table), cm².
AREA_001_CM2 = math.pi * (_p001("cell_diameter") / 20.0) ** 2
#: 002_: 1/4 inch PTFE cell for neutron imaging, cm².
AREA_002_CM2 = math.pi * (0.25 * 2.54 / 2.0) ** 2
#: 002_: 8 mg of cathode powder, NMC811 : LPSCl : VGCF = 80 : 20 : 2 by weight, mg of NMC811.
ACTIVE_MASS_002_MG = 8.0 * 80.0 / 102.0
#: 003_: 2 mm diameter Li discs, cm².
AREA_003_CM2 = math.pi * 0.1 ** 2

#: Scan states of 000_ Fig. 1E: (label, "soc" | "dod", fraction).  "pristine" is the start
#: of the charge (0 % SoC).
PAPER_STATES_000 = (
    ("pristine", "soc", 0.0),
    ("charging I", "soc", 0.20),
    ("charging II", "soc", 0.71),
    ("fully charged", "soc", 1.0),
    ("discharging I", "dod", 0.22),
    ("discharging II", "dod", 0.77),
    ("fully discharged", "dod", 1.0),
)


# ----------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScanState:
    """A named state of the cell at which an imaging scan is taken.

    Attributes
    ----------
    label : str
        Name used in the paper ("charging I", "fully discharged", ...).
    kind : {"soc", "dod"}
        Whether ``fraction`` is a state of charge (during the charge) or a depth of discharge.
    fraction : float
        SoC or DoD as a fraction 0–1 of that half-cycle's total charge.
    time_s : float
        Exact time at which the cell reaches that state, s since the start of the test.
    """

    label: str
    kind: str
    fraction: float
    time_s: float


@dataclass(frozen=True)
class FirstCycleTwin:
    """First cycle of the NMC622 | PEO-LiTFSI | Li cell of 000_290f30815ae66793.

    Attributes
    ----------
    data : pandas.DataFrame
        Log (``time_s``, ``voltage_V``, ``current_A``, ``cycle``, ``step``, ``mode``).
    area_cm2, active_mass_mg : float
        Cathode area and NMC622 mass used.
    current_density_ma_cm2 : float
        Constant-current density of charge and discharge.
    charge_capacity_mah, discharge_capacity_mah : float
        Exact charge (CC + CV) and discharge capacities.
    coulombic_efficiency : float
        ``discharge_capacity_mah / charge_capacity_mah`` (fraction).
    cc_end_s, charge_end_s, discharge_end_s : float
        End of the CC charge (4.3 V reached), of the CV hold, and of the discharge (3.0 V).
    states : tuple of ScanState
        The paper's scan states with their exact times.
    instrument_current_sign : int
        Factor from ``current_A`` to the instrument's current (BioLogic: oxidation at the
        working electrode positive; the NMC cathode is the working electrode: +1).
    """

    data: pd.DataFrame
    area_cm2: float
    active_mass_mg: float
    current_density_ma_cm2: float
    charge_capacity_mah: float
    discharge_capacity_mah: float
    coulombic_efficiency: float
    cc_end_s: float
    charge_end_s: float
    discharge_end_s: float
    states: tuple
    v_min_V: float
    v_max_V: float
    instrument_current_sign: int = 1
    technique: str = "GCPL"

    def state_time_s(self, label: str) -> float:
        """Exact time (s) of the scan state called ``label``."""
        for s in self.states:
            if s.label == label:
                return s.time_s
        raise ParameterError("label", label, f"is not a scan state; use one of "
                             f"{[s.label for s in self.states]}")


@dataclass(frozen=True)
class AnodeFreeTwin:
    """Anode-free Cu | Li6PS5Cl | Li cell of 001_a2c994afa3295f29 (cases A, B, C).

    ``voltage_V`` is E(Cu) − E(Li) as the instrument logs it (negative while Li is plated on
    Cu); ``current_A`` is positive while Li is plated on Cu (the charge of an anode-free cell).

    Attributes
    ----------
    case : {"A", "B", "C"}
    plated_mah_cm2 : float
        Areal capacity of the first deposition.
    stripped_mah_cm2 : float or None
        Areal capacity stripped before the cut-off (None: no stripping, case C).
    coulombic_efficiency : float or None
        ``stripped / plated`` of the first cycle.
    short_onset_s : float or None
        Time of the hard short (None if the cell does not short).
    short_current_density_ma_cm2 : float or None
        Plating current density when the cell shorts.
    short_capacity_mah_cm2 : float or None
        Total areal capacity deposited (all depositions, net of stripping) at the short.
    steps : tuple of (str, float, float, float)
        The protocol: (kind, current density mA cm⁻², start s, end s) per step.
    instrument_current_sign : int
        −1: the working electrode is the Cu current collector, so plating (charge) is a
        reduction, logged negative by a BioLogic potentiostat.
    """

    data: pd.DataFrame
    case: str
    area_cm2: float
    plated_mah_cm2: float
    stripped_mah_cm2: float | None
    coulombic_efficiency: float | None
    short_kind: str | None
    short_onset_s: float | None
    short_current_density_ma_cm2: float | None
    short_capacity_mah_cm2: float | None
    steps: tuple
    instrument_current_sign: int = -1
    technique: str = "GCPL"


@dataclass(frozen=True)
class ShortTwin:
    """C/20 charge of the sulfide cell of 002_3ee4edf529433f9c, clean or short-circuiting.

    Attributes
    ----------
    variant : {"clean", "soft", "hard"}
    short_kind : {"soft", "hard"} or None
        Ground truth of the short (None for the clean charge).
    short_onset_s : float or None
        Exact onset time: the soft short's first voltage dip, or the start of the collapse.
    recovery_s : float or None
        Soft short only: time at which the cell recovers and charges on (None: it does not).
    cutoff_reached_s : float or None
        Time the cut-off voltage is reached (None if never).
    """

    data: pd.DataFrame
    variant: str
    area_cm2: float
    active_mass_mg: float
    current_A: float
    v_max_V: float
    short_kind: str | None
    short_onset_s: float | None
    recovery_s: float | None
    cutoff_reached_s: float | None
    instrument_current_sign: int = 1
    technique: str = "GCPL"


@dataclass(frozen=True)
class CCDTwin:
    """Critical-current staircase on a Li | Li6PS5Cl | Li cell (003_103f2bf5a3479ade).

    Attributes
    ----------
    ccd_ma_cm2 : float
        Ground truth: plating current density of the step in which the dendrite penetrates.
    penetration_s : float
        Time of the polarisation drop.
    drop_mV : float
        Size of the drop in polarisation magnitude.
    plating_sign : {+1, -1}
        Sign of ``current_A`` (and voltage) during plating in ``data``.
    plating_ma_cm2 : tuple of float
        Plating current density of every cycle run.
    """

    data: pd.DataFrame
    area_cm2: float
    ccd_ma_cm2: float
    penetration_s: float
    drop_mV: float
    plating_sign: int
    plating_ma_cm2: tuple
    stripping_ma_cm2: float
    capacity_mah_cm2: float
    instrument_current_sign: int = 1
    technique: str = "GCPL"


@dataclass(frozen=True)
class PlatingTwin:
    """Galvanostatic plating of a symmetric Li | Li6PS5Cl | Li cell in increments with rests.

    ``current_A`` is positive while Li is plated onto the bottom electrode (stripped from
    the top one); ``voltage_V`` is E(bottom) − E(top) as the instrument logs it (negative while
    plating).  The bottom electrode is the working electrode, so a BioLogic potentiostat logs
    the plating current negative (``instrument_current_sign`` −1: read the file with
    ``invert_current=True``).

    Attributes
    ----------
    data : pandas.DataFrame
    area_cm2 : float
    current_ma_cm2 : float
        Plating current density.
    scan_labels : tuple of str
        Name of each scan state (``"pristine"``, ``"plated 1.5 mAh cm⁻²"`` ...).
    scan_times_s : tuple of float
        Start of each scan: the start of the rest after each plating increment (0 for the
        pristine scan, during the first rest).
    scan_charges_mah_cm2 : tuple of float
        Exact charge plated at each scan time (ground truth; constant through the rest).
    rest_s : float
        Length of each rest (the scans must fit in it).
    steps : tuple of (str, float, float, float)
        (kind "rest" | "plate", current density mA cm⁻², start s, end s) per step.
    """

    data: pd.DataFrame
    area_cm2: float
    current_ma_cm2: float
    scan_labels: tuple
    scan_times_s: tuple
    scan_charges_mah_cm2: tuple
    rest_s: float
    steps: tuple
    instrument_current_sign: int = -1
    technique: str = "GCPL"


@dataclass(frozen=True)
class EISTwin:
    """One impedance spectrum from known circuit values.

    Attributes
    ----------
    freq_hz : (N,) ndarray
        Frequencies, descending (as a potentiostat sweeps them).
    z_real_ohm, z_imag_ohm : (N,) ndarray
        Noisy impedance, ``Z = Z' + j Z''`` with ``Z'' < 0`` on the capacitive arc.
    r_s_ohm, r_ct_ohm, q_cpe, n_cpe, sigma_w_ohm_s05 : float
        The circuit values (ground truth) of ``ssbscope.echem.randles_impedance``.
    label : str
        State at which the spectrum was taken.
    time_s : float
        Time of the state on the cycling log (NaN when unrelated to a log).
    amplitude_mV : float
        Excitation amplitude (written to the file header).
    """

    freq_hz: np.ndarray
    z_real_ohm: np.ndarray
    z_imag_ohm: np.ndarray
    r_s_ohm: float
    r_ct_ohm: float
    q_cpe: float
    n_cpe: float
    sigma_w_ohm_s05: float
    label: str = ""
    time_s: float = float("nan")
    amplitude_mV: float = 10.0
    noise_rel: float = 0.0


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------
def _check_pos(name: str, value, fix: str = "pass a finite value > 0") -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, value, "must be a number", fix) from None
    if not math.isfinite(v) or v <= 0:
        raise ParameterError(name, value, "must be a finite number > 0", fix)
    return v


def _check_frac(name: str, value, lo: float = 0.0, hi: float = 1.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, value, "must be a number", f"pass a fraction in ({lo}, {hi}]") from None
    if not (lo < v <= hi):
        raise ParameterError(name, value, f"must be in ({lo}, {hi}]", "pass a fraction, e.g. 0.9 for 90 %")
    return v


def _seg_times(t0: float, t1: float, dt: float, first: bool) -> np.ndarray:
    """Sample times of a step from ``t0`` to ``t1``.

    The step's first point is logged ``min(1 s, dt)`` after the change (``t0`` itself for the
    very first step), then every ``dt`` from ``t0``, and a last point exactly at ``t1``.
    """
    lead = t0 if first else t0 + min(1.0, dt)
    if lead >= t1:
        return np.array([t1])
    reg = t0 + dt * np.arange(1, max(int(math.floor((t1 - t0) / dt)), 0) + 1)
    reg = reg[(reg > lead + 1e-9) & (reg < t1 - 1e-6 * dt)]
    return np.concatenate(([lead], reg, [t1]))


class _Log:
    """Accumulates the steps of a protocol (private)."""

    def __init__(self, dt_s: float):
        self.dt = float(dt_s)
        self.t: list[np.ndarray] = []
        self.i: list[np.ndarray] = []
        self.u: list[np.ndarray] = []  # open-circuit / base voltage without polarisation
        self.rp: list[np.ndarray] = []  # polarisation resistance (ohm) per sample
        self.rs: list[np.ndarray] = []  # series resistance (ohm) per sample
        self.vfix: list[np.ndarray] = []  # NaN, or a voltage the instrument holds (CV)
        self.mode: list[np.ndarray] = []
        self.step: list[np.ndarray] = []
        self.cycle: list[np.ndarray] = []
        self.end = 0.0
        self.nsteps = 0

    def times(self, t1: float) -> np.ndarray:
        return _seg_times(self.end, t1, self.dt, first=not self.t)

    def add(self, t, i, u, rs, rp, mode: str, cycle: int, vfix=None):
        n = len(t)
        self.t.append(np.asarray(t, float))
        self.i.append(np.broadcast_to(np.asarray(i, float), (n,)).copy())
        self.u.append(np.broadcast_to(np.asarray(u, float), (n,)).copy())
        self.rs.append(np.broadcast_to(np.asarray(rs, float), (n,)).copy())
        self.rp.append(np.broadcast_to(np.asarray(rp, float), (n,)).copy())
        self.vfix.append(np.full(n, np.nan) if vfix is None else
                         np.broadcast_to(np.asarray(vfix, float), (n,)).copy())
        self.mode.append(np.full(n, mode, dtype=object))
        self.step.append(np.full(n, self.nsteps, dtype=np.int64))
        self.cycle.append(np.full(n, cycle, dtype=np.int64))
        self.end = float(t[-1])
        self.nsteps += 1

    def voltage(self, tau_p_s: float, sign_v: float = 1.0) -> np.ndarray:
        """Noise-free voltage: U + sign_v (I R_s + v_p), v_p first-order towards I R_p."""
        t = np.concatenate(self.t)
        i = np.concatenate(self.i)
        rp = np.concatenate(self.rp)
        vp = _relax(t, i * rp, tau_p_s)
        v = np.concatenate(self.u) + sign_v * (i * np.concatenate(self.rs) + vp)
        fix = np.concatenate(self.vfix)
        return np.where(np.isfinite(fix), fix, v)

    def arrays(self):
        return (np.concatenate(self.t), np.concatenate(self.i), np.concatenate(self.mode),
                np.concatenate(self.step), np.concatenate(self.cycle))


def _relax(t: np.ndarray, target: np.ndarray, tau_s: float) -> np.ndarray:
    """First-order lag of ``target`` (exact for a target held constant between samples)."""
    out = np.empty_like(target)
    if target.size == 0:
        return out
    a = np.exp(-np.diff(t, prepend=t[0]) / tau_s)
    acc = 0.0
    tg = target.tolist()
    al = a.tolist()
    res = [0.0] * len(tg)
    for k in range(len(tg)):
        acc = acc * al[k] + tg[k] * (1.0 - al[k])
        res[k] = acc
    out[:] = res
    return out


def _frame(t, v, i, cycle, step, mode) -> pd.DataFrame:
    return pd.DataFrame({
        "time_s": np.asarray(t, np.float64),
        "voltage_V": np.asarray(v, np.float64),
        "current_A": np.asarray(i, np.float64),
        "cycle": np.asarray(cycle, np.int64),
        "step": np.asarray(step, np.int64),
        "mode": pd.array(np.asarray(mode, dtype=object), dtype=object),
    })


def _noisy(rng, v, i, mode, noise_v: float, noise_rel_i: float):
    """Add Gaussian voltage noise everywhere and relative current noise where current flows."""
    nv = rng.normal(0.0, noise_v, v.size) if noise_v > 0 else np.zeros(v.size)
    ni = rng.normal(0.0, noise_rel_i, i.size) if noise_rel_i > 0 else np.zeros(i.size)
    i_out = np.where(mode == "rest", 0.0, i * (1.0 + ni))
    return v + nv, i_out


# ----------------------------------------------------------------------------------------
# (1) 000_: NMC622 | PEO-LiTFSI | Li first cycle
# ----------------------------------------------------------------------------------------
def nmc622_resistances(kind: str, fraction) -> tuple[np.ndarray, np.ndarray]:
    """Series and charge-transfer resistance of the 000_ cell along the first cycle.

    000_290f30815ae66793 (Fig. 2A–B): R_ct decreases during the charge from 3.0 to 4.3 V and
    increases during the discharge; R_s changes little (±1 % uncertainty).  The paper gives the
    trend, not the values: the twin uses R_s ≈ 45 Ω and R_ct from 320 Ω (pristine) down to
    160 Ω (fully charged) and up to 400 Ω (fully discharged), smooth in the state.

    Parameters
    ----------
    kind : {"soc", "dod"}
        Charge (state of charge) or discharge (depth of discharge).
    fraction : float or array_like
        SoC or DoD, 0–1.

    Returns
    -------
    r_s_ohm, r_ct_ohm : ndarray
    """
    f = np.clip(np.asarray(fraction, dtype=float), 0.0, 1.0)
    if kind == "soc":
        r_s = 45.0 - 2.0 * f
        r_ct = 320.0 - 160.0 * (1.0 - (1.0 - f) ** 2)
    elif kind == "dod":
        r_s = 43.0 + 4.0 * f
        r_ct = 160.0 + 240.0 * f ** 1.5
    else:
        raise ParameterError("kind", kind, "must be 'soc' or 'dod'")
    return r_s, r_ct


def _u_nmc622(s):
    """Open-circuit-like voltage of NMC622 vs Li along the first charge, V (smooth in SoC).

    ``s`` is the state of charge as a fraction of the first-charge capacity.  A steep rise
    from the pristine 3.1 V over the first ≈ 2 % (surface of the pristine cathode) into a
    sloping profile 3.72 → 4.28 V.
    """
    s = np.asarray(s, dtype=float)
    return _u_nmc622_eq(s) - 0.62 * np.exp(-s / 0.012)


def _u_nmc622_eq(s):
    """Equilibrium part: 3.72 V at SoC 0 to 4.28 V at full charge (below the 4.3 V hold)."""
    s = np.asarray(s, dtype=float)
    return 3.72 + 0.40 * s - 0.09 * s ** 2 + 0.25 * s ** 3


def nmc622_first_cycle(*, seed: int = 0, dt_s: float = 10.0, area_cm2: float = AREA_000_CM2,
                       active_mass_mg: float = ACTIVE_MASS_000_MG,
                       current_density_ma_cm2: float = 0.3,
                       charge_capacity_mah_g: float = 197.0,
                       coulombic_efficiency: float = 0.865,
                       v_min_V: float = 3.0, v_max_V: float = 4.3,
                       cv_fraction: float = 0.08, cv_cutoff_ratio: float = 0.1,
                       rest_s: float = 600.0, final_rest_s: float = 600.0,
                       tau_p_s: float = 600.0,
                       noise_V: float = 3e-4, noise_rel_I: float = 1e-4) -> FirstCycleTwin:
    """First charge/discharge of the NMC622 | PEO-LiTFSI | Li cell of 000_290f30815ae66793.

    Protocol (Fig. 1E, Methods of 000_): rest at open circuit, constant-current charge at
    ``current_density_ma_cm2`` (0.3 mA cm⁻² = 0.07 C in the paper) to ``v_max_V`` (4.3 V),
    constant-voltage hold at 4.3 V until the current falls to ``cv_cutoff_ratio`` of the CC
    current (the CV hold delivers ``cv_fraction`` of the charge), constant-current discharge
    to ``v_min_V`` (3.0 V), rest.  The discharge delivers ``coulombic_efficiency`` × the
    charge (first-cycle loss).

    Cell numbers (000_): cathode disc 14 mm (``area_cm2`` = 1.539 cm²); NMC622 loading
    19.32 mg cm⁻² from the reported 170.3 mAh g⁻¹ = 3.29 mAh cm⁻² at 0.07 C, so
    ``active_mass_mg`` = 29.7 mg; the twin's first charge is 197 mAh g⁻¹ and its CE 86.5 %
    (discharge 170.4 mAh g⁻¹).  R_s and R_ct follow :func:`nmc622_resistances`, which also
    feed :func:`first_cycle_eis`.

    Parameters
    ----------
    seed : int
        Seed of the noise.
    dt_s : float
        Logging interval, s (sizes scale as 1/dt_s: 10 s gives ≈ 9,000 rows).
    area_cm2, active_mass_mg, current_density_ma_cm2, charge_capacity_mah_g : float
        Cell and protocol.
    coulombic_efficiency : float
        Ground-truth CE (fraction, 0–1].
    v_min_V, v_max_V : float
        Voltage window.
    cv_fraction : float
        Share of the charge delivered by the CV hold (0 < f < 0.3, so 71 % SoC is in CC).
    cv_cutoff_ratio : float
        CV ends when I < ratio × I_CC.
    rest_s, final_rest_s : float
        Open-circuit rests before and after the cycle, s.
    tau_p_s : float
        Polarisation relaxation time, s.
    noise_V, noise_rel_I : float
        Gaussian noise: voltage (V) and relative current.

    Returns
    -------
    FirstCycleTwin

    Examples
    --------
    >>> tw = nmc622_first_cycle(dt_s=60.0)
    >>> round(tw.coulombic_efficiency, 3), round(tw.area_cm2, 3)
    (0.865, 1.539)
    """
    dt = _check_pos("dt_s", dt_s)
    area = _check_pos("area_cm2", area_cm2, "pass the cathode area in cm^2")
    mass = _check_pos("active_mass_mg", active_mass_mg, "pass the NMC622 mass in mg")
    j = _check_pos("current_density_ma_cm2", current_density_ma_cm2)
    cap_g = _check_pos("charge_capacity_mah_g", charge_capacity_mah_g)
    ce = _check_frac("coulombic_efficiency", coulombic_efficiency)
    f_cv = _check_frac("cv_fraction", cv_fraction, 0.0, 0.28)
    r_cut = _check_frac("cv_cutoff_ratio", cv_cutoff_ratio, 0.0, 0.9)
    if not v_max_V > v_min_V:
        raise ParameterError("v_max_V", v_max_V, f"must exceed v_min_V={v_min_V}")
    rng = np.random.default_rng(seed)

    i0 = j * area * 1e-3  # A
    q_ch = cap_g * mass * 1e-3  # mAh
    q_cc = (1.0 - f_cv) * q_ch
    q_dis = ce * q_ch
    t_cc = q_cc / (i0 * 1e3) * 3600.0
    tau_cv = f_cv * q_ch / (i0 * 1e3 * (1.0 - r_cut)) * 3600.0
    t_cv = tau_cv * math.log(1.0 / r_cut)
    t_dis = q_dis / (i0 * 1e3) * 3600.0

    lg = _Log(dt)
    # rest
    t0 = 0.0
    t = lg.times(t0 + rest_s) if rest_s > 0 else np.array([0.0])
    r_s, r_ct = nmc622_resistances("soc", 0.0)
    lg.add(t, 0.0, _u_nmc622(0.0), r_s, r_ct, "rest", 0)
    t_ch0 = lg.end
    # CC charge
    t = lg.times(t_ch0 + t_cc)
    soc = (t - t_ch0) * i0 * 1e3 / 3600.0 / q_ch
    r_s, r_ct = nmc622_resistances("soc", soc)
    lg.add(t, i0, _u_nmc622(soc), r_s, r_ct, "CC", 0)
    cc_end = lg.end
    # CV hold: I = i0 exp(-(t - cc_end)/tau)
    t = lg.times(cc_end + t_cv)
    i_cv = i0 * np.exp(-(t - cc_end) / tau_cv)
    soc = (q_cc + i0 * 1e3 * tau_cv / 3600.0 * (1.0 - np.exp(-(t - cc_end) / tau_cv))) / q_ch
    r_s, r_ct = nmc622_resistances("soc", soc)
    lg.add(t, i_cv, _u_nmc622(soc), r_s, r_ct, "CV", 0, vfix=v_max_V)
    ch_end = lg.end
    # CC discharge
    t = lg.times(ch_end + t_dis)
    dod = (t - ch_end) / t_dis
    r_s, r_ct = nmc622_resistances("dod", dod)
    lg.add(t, -i0, _u_nmc622_eq(1.0 - ce * dod), r_s, r_ct, "CC", 0)
    dis_end = lg.end
    if final_rest_s > 0:
        t = lg.times(dis_end + final_rest_s)
        r_s, r_ct = nmc622_resistances("dod", 1.0)
        lg.add(t, 0.0, _u_nmc622_eq(1.0 - ce), r_s, r_ct, "rest", 0)

    tt, ii, mode, step, cyc = lg.arrays()
    v = lg.voltage(tau_p_s)
    # Pin the CC charge to reach v_max exactly at cc_end and the discharge to reach v_min
    # exactly at its end (smooth corrections, exact cut-off times).
    m_cc = (step == 1)
    u_cc = ((tt[m_cc] - t_ch0) / t_cc)
    v[m_cc] += (v_max_V - v[m_cc][-1]) * u_cc ** 2
    m_d = (step == 3)
    d = (tt[m_d] - ch_end) / t_dis
    b = v[m_d][-1] - v_min_V
    v[m_d] -= b * np.exp(-(1.0 - d) / 0.025)
    if final_rest_s > 0:
        m_r = step == 4
        # after the cut-off the voltage relaxes back up from v_min
        v[m_r] -= b * np.exp(-(tt[m_r] - dis_end) / 1800.0)
    vn, i_n = _noisy(rng, v, ii, mode, noise_V, noise_rel_I)
    # CV: voltage held (noise only); CC cut-off points exact up to noise
    df = _frame(tt, vn, i_n, cyc, step, mode)

    states = []
    for label, kind, frac in PAPER_STATES_000:
        if kind == "soc":
            if frac * q_ch <= q_cc:
                ts = t_ch0 + frac * q_ch / (i0 * 1e3) * 3600.0
            else:
                rem = (frac * q_ch - q_cc) / (i0 * 1e3 * tau_cv / 3600.0)
                ts = cc_end + (-tau_cv * math.log(1.0 - rem) if rem < 1.0 - r_cut + 1e-12 else t_cv)
                ts = min(ts, ch_end)
        else:
            ts = ch_end + frac * t_dis
        states.append(ScanState(label, kind, float(frac), float(ts)))
    log.debug("nmc622_first_cycle: %d rows, CE %.4f", len(df), ce)
    return FirstCycleTwin(
        data=df, area_cm2=area, active_mass_mg=mass, current_density_ma_cm2=j,
        charge_capacity_mah=q_ch, discharge_capacity_mah=q_dis, coulombic_efficiency=q_dis / q_ch,
        cc_end_s=cc_end, charge_end_s=ch_end, discharge_end_s=dis_end, states=tuple(states),
        v_min_V=float(v_min_V), v_max_V=float(v_max_V))


# ----------------------------------------------------------------------------------------
# (2) 001_: anode-free Cu | Li6PS5Cl | Li
# ----------------------------------------------------------------------------------------
def _cases_001():
    """Case specs of 001_ read from its parameter table (:mod:`ssbscope.twin.params_001`).

    ce: first-cycle CE (None: no stripping); asr: area-specific resistance (ohm cm2);
    feature: start of the first plating ("high" overpotential, Au "alloy" plateau, "none");
    replate: plate again after the stripping; ramp: later plating steps (j mA cm-2,
    capacity mAh cm-2), the cell shorts at the end of the last one.
    """
    from ssbscope.twin.params_001 import p

    return {
        "A": dict(ce=p("ce_A"), asr=p("asr_A"), feature="high", replate=False, ramp=()),
        "B": dict(ce=p("ce_B"), asr=p("asr_BC"), feature="none", replate=True,
                  ramp=tuple(p("ramp_B"))),
        "C": dict(ce=None, asr=p("asr_BC"), feature="alloy", replate=False,
                  ramp=tuple(p("ramp_C"))),
    }


_CASES_001 = _cases_001()


def anode_free_cell(case: str = "B", *, seed: int = 0, dt_s: float = 30.0,
                    area_cm2: float = AREA_001_CM2, plate_ma_cm2: float | None = None,
                    plate_mah_cm2: float | None = None, coulombic_efficiency: float | None = None,
                    strip_cutoff_V: float = 1.0, after_short_s: float = 600.0,
                    noise_V: float = 3e-4, noise_rel_I: float = 1e-4) -> AnodeFreeTwin:
    """Lithium plating/stripping on Cu in an anode-free Li6PS5Cl cell (001_a2c994afa3295f29).

    Protocols of Fig. 1b of 001_:

    * case A: 3 mAh cm⁻² plated at 0.5 mA cm⁻² with a high overpotential (≈ −0.45 V easing
      with deposition), stripped at 0.5 mA cm⁻² to the cut-off (dealloying step at ≈ 0.85 V),
      CE 79.9 %; no short.
    * case B: plate 3 mAh cm⁻², strip to the cut-off (CE 92.9 %), re-plate 3 mAh cm⁻², then
      1.5 mA cm⁻² for 0.75 mAh cm⁻² and 3.0 mA cm⁻²: the voltage magnitude falls and the
      cell hard-shorts after 0.81 mAh cm⁻² at 3.0 mA cm⁻².
    * case C: plate 3 mAh cm⁻² (Au alloying plateau above 0 V first), then 0.75 and
      1.0 mA cm⁻² (0.75 and 1.0 mAh cm⁻²) and 2.0 mA cm⁻² until the short at a total of
      6.37 mAh cm⁻².  No stripping, so no CE.

    After a short the galvanostat keeps the current for ``after_short_s`` while the voltage
    sits near 0 V (hard short: it does not recover).

    Parameters
    ----------
    case : {"A", "B", "C"}
    seed : int
    dt_s : float
        Logging interval, s.
    area_cm2 : float
        Electrode area (2 mm diameter cells: 0.0314 cm²).
    plate_ma_cm2, plate_mah_cm2 : float, optional
        First deposition (default from the paper's table: 0.5 mA cm⁻², 3 mAh cm⁻²).
    coulombic_efficiency : float, optional
        Ground-truth first-cycle CE (default: the paper's value for the case).
    strip_cutoff_V : float
        Stripping ends when E(Cu) − E(Li) reaches this voltage.
    after_short_s : float
        Logging after the short, s.
    noise_V, noise_rel_I : float

    Returns
    -------
    AnodeFreeTwin
    """
    key = str(case).upper()
    if key not in _CASES_001:
        raise ParameterError("case", case, "must be 'A', 'B' or 'C'", "see 001_a2c994afa3295f29 Fig. 1b")
    spec = _CASES_001[key]
    dt = _check_pos("dt_s", dt_s)
    area = _check_pos("area_cm2", area_cm2)
    jp = _check_pos("plate_ma_cm2", _p001("plate_current") if plate_ma_cm2 is None
                    else plate_ma_cm2)
    qp = _check_pos("plate_mah_cm2", _p001("plate_capacity") if plate_mah_cm2 is None
                    else plate_mah_cm2)
    ce = spec["ce"] if coulombic_efficiency is None else _check_frac("coulombic_efficiency",
                                                                     coulombic_efficiency)
    if key == "C" and coulombic_efficiency is not None:
        raise ParameterError("coulombic_efficiency", coulombic_efficiency,
                             "case C has no stripping step", "use case 'A' or 'B' for a CE")
    rng = np.random.default_rng(seed)
    asr = spec["asr"]  # ohm cm2
    rs_f, rp_f = 0.4, 0.6  # ohmic (instantaneous) and relaxing (60 s) shares of the ASR
    lg = _Log(dt)
    steps = []
    cycle = 0

    def plate_base(q_rel):
        """Base voltage (V, Cu vs Li) while plating, before polarisation: q_rel in mAh/cm2."""
        if spec["feature"] == "high":
            return -0.12 * np.exp(-q_rel / 0.8)
        if spec["feature"] == "alloy":  # Li-Au alloying plateau above 0 V, then Li on Li
            return 0.09 / (1.0 + np.exp((q_rel - 0.08) / 0.01)) - 0.005
        return np.full_like(q_rel, -0.005)

    # first plating
    t_start = lg.end
    dur = qp / jp * 3600.0
    t = lg.times(t_start + dur)
    q_rel = (t - t_start) * jp / 3600.0
    i_a = jp * area * 1e-3
    lg.add(t, i_a, plate_base(q_rel), rs_f * asr / area, rp_f * asr / area, "CC", cycle)
    steps.append(("plate", jp, t_start, lg.end))
    stripped = None
    net = qp
    if ce is not None:
        # stripping: voltage +asr*j, then dealloying feature and a rise to the cut-off
        t_start = lg.end
        qs = ce * qp
        dur = qs / jp * 3600.0
        t = lg.times(t_start + dur)
        q_rel = (t - t_start) * jp / 3600.0
        lg.add(t, -i_a, 0.005, rs_f * asr / area, rp_f * asr / area, "CC", cycle)  # shaped below
        steps.append(("strip", jp, t_start, lg.end))
        stripped = qs
        net = qp - qs
        if spec["replate"]:
            cycle += 1
            t_start = lg.end
            dur = qp / jp * 3600.0
            t = lg.times(t_start + dur)
            lg.add(t, i_a, np.full(t.size, -0.005), rs_f * asr / area, rp_f * asr / area, "CC", cycle)
            steps.append(("plate", jp, t_start, lg.end))
            net += qp
    short_onset = short_j = short_q = None
    ramp = spec["ramp"]
    for k, (jr, qr) in enumerate(ramp):
        t_start = lg.end
        dur = qr / jr * 3600.0
        t = lg.times(t_start + dur)
        last = k == len(ramp) - 1
        lg.add(t, jr * area * 1e-3, np.full(t.size, -0.005), rs_f * asr / area, rp_f * asr / area,
               "CC", cycle)
        steps.append(("plate", jr, t_start, lg.end))
        net += qr
        if last:
            short_onset, short_j, short_q = lg.end, jr, net
            t = lg.times(lg.end + after_short_s)
            lg.add(t, jr * area * 1e-3, 0.0, 0.0, 0.0, "CC", cycle)
            steps.append(("shorted", jr, short_onset, lg.end))

    tt, ii, mode, step, cyc = lg.arrays()
    # polarisation: plating (I > 0) makes Cu more negative: sign_v = -1
    v = lg.voltage(tau_p_s=60.0, sign_v=-1.0)
    # shape the features that depend on the step (pinned exactly at the step ends)
    for n, (kind, jr, a, b) in enumerate(steps):
        m = step == n
        tm = tt[m]
        if kind == "strip":
            left = (b - tm) * jr / 3600.0  # mAh/cm2 left before the cut-off
            dealloy = 0.80 if key == "A" else 0.55
            v[m] += dealloy / (1.0 + np.exp(left / 0.012))
            v[m] += (strip_cutoff_V - v[m][-1]) * np.exp(-left / 0.004)
        elif kind == "plate" and short_onset is not None and jr == short_j and b == short_onset:
            # filament approaching the counter electrode: |V| slopes towards zero
            frac = (tm - a) / (b - a)
            v[m] *= 1.0 - 0.5 * frac ** 2
        elif kind == "shorted":
            v0 = v[step == n - 1][-1]
            v[m] = v0 * np.exp(-(tm - a) / 2.0) - 2e-4
    vn, i_n = _noisy(rng, v, ii, mode, noise_V, noise_rel_I)
    if short_onset is not None:
        after = tt > short_onset
        vn[after] = v[after] + rng.normal(0.0, 0.2 * noise_V, int(after.sum()))
    df = _frame(tt, vn, i_n, cyc, step, mode)
    return AnodeFreeTwin(
        data=df, case=key, area_cm2=area, plated_mah_cm2=qp, stripped_mah_cm2=stripped,
        coulombic_efficiency=ce, short_kind="hard" if short_onset is not None else None,
        short_onset_s=short_onset, short_current_density_ma_cm2=short_j,
        short_capacity_mah_cm2=short_q, steps=tuple(steps))


# ----------------------------------------------------------------------------------------
# (3) 002_: C/20 charge, clean / soft short / hard short
# ----------------------------------------------------------------------------------------
def _u_nmc811(u):
    """NMC811 vs Li along the C/20 charge, V; ``u`` = charge / charge at the cut-off."""
    u = np.asarray(u, dtype=float)
    return 3.62 + 0.42 * u + 0.22 * u ** 3 - 0.45 * np.exp(-u / 0.01)


def sulfide_charge(variant: str = "soft", *, seed: int = 0, dt_s: float = 30.0,
                   area_cm2: float = AREA_002_CM2, active_mass_mg: float = ACTIVE_MASS_002_MG,
                   c_rate_ma_g: float = 10.0, capacity_to_cutoff_mah_g: float = 190.0,
                   v_max_V: float = 4.3, short_onset_h: float | None = None,
                   recover_after_h: float | None = None, time_limit_h: float = 20.0,
                   after_short_h: float = 1.0, onset_dip_mV: float = 40.0,
                   fluctuation_mV: float = 4.0, noise_V: float = 3e-4,
                   noise_rel_I: float = 1e-4) -> ShortTwin:
    """C/20 charge of the NMC811 | Li5.4PS4.6Cl1.4 | Li cell of 002_3ee4edf529433f9c.

    Signatures (002_ Fig. S4 and Fig. 2B):

    * ``"clean"``: the voltage rises to the cut-off ``v_max_V`` (no short).
    * ``"soft"``: from ``short_onset_h`` (default 4.5 h) the voltage stops rising and
      fluctuates a little below the level it had reached (≈ 3.8 V) while the current flows:
      a first dip (``onset_dip_mV``) at the onset, then intermittent dips of 10–60 mV and a
      slow wander (``fluctuation_mV``).
      With ``recover_after_h`` the cell recovers and charges on to the cut-off; otherwise the
      charge runs to ``time_limit_h`` (20 h in the paper) without reaching it.
    * ``"hard"``: from ``short_onset_h`` (default 6 h) the voltage collapses to ≈ 0 V within
      seconds and stays there; logging stops ``after_short_h`` later.

    Cell (002_ Experimental): 1/4 inch diameter (0.317 cm²), 8 mg cathode powder with
    NMC811 : SE : carbon = 80 : 20 : 2 (6.27 mg NMC811); C/20 with 1C = 200 mA g⁻¹ gives
    10 mA g⁻¹ (62.7 µA).  The twin reaches 4.3 V after 190 mAh g⁻¹ (19 h).

    Parameters
    ----------
    variant : {"clean", "soft", "hard"}
    seed : int
    dt_s : float
        Logging interval, s (30 s: ≈ 2,400 rows for 20 h).
    area_cm2, active_mass_mg, c_rate_ma_g, capacity_to_cutoff_mah_g, v_max_V : float
    short_onset_h : float, optional
        Onset of the short, h (soft: 4.5, hard: 6.0).
    recover_after_h : float, optional
        Soft short only: time at which the short path breaks and the charge resumes.
    time_limit_h : float
        Time limit of the charge step, h.
    after_short_h : float
        Hard short: logging after the collapse, h.
    onset_dip_mV : float
        Soft short: depth of the first dip at the onset (relaxes in 90 s), mV.
    fluctuation_mV : float
        Soft short: standard deviation of the slow wander (10 min correlation), mV.
    noise_V, noise_rel_I : float

    Returns
    -------
    ShortTwin
    """
    var = str(variant).lower()
    if var not in ("clean", "soft", "hard"):
        raise ParameterError("variant", variant, "must be 'clean', 'soft' or 'hard'")
    dt = _check_pos("dt_s", dt_s)
    area = _check_pos("area_cm2", area_cm2)
    mass = _check_pos("active_mass_mg", active_mass_mg)
    rate = _check_pos("c_rate_ma_g", c_rate_ma_g)
    cap = _check_pos("capacity_to_cutoff_mah_g", capacity_to_cutoff_mah_g)
    tlim = _check_pos("time_limit_h", time_limit_h) * 3600.0
    rng = np.random.default_rng(seed)
    i0 = rate * mass * 1e-6  # A
    t_cut = cap / rate * 3600.0
    onset = None
    if var != "clean":
        onset = (4.5 if var == "soft" else 6.0) if short_onset_h is None else _check_pos(
            "short_onset_h", short_onset_h)
        onset *= 3600.0
        if onset >= min(t_cut, tlim):
            raise ParameterError("short_onset_h", onset / 3600.0,
                                 f"must be before the cut-off ({min(t_cut, tlim) / 3600.0:.2f} h)",
                                 "pass an earlier onset")
    rec = None
    if recover_after_h is not None:
        if var != "soft":
            raise ParameterError("recover_after_h", recover_after_h, "only a soft short recovers",
                                 "use variant='soft'")
        rec = _check_pos("recover_after_h", recover_after_h) * 3600.0
        if rec <= onset:
            raise ParameterError("recover_after_h", recover_after_h, "must be after the onset")

    r_s = 0.05 / i0 * 0.4  # ohmic share of a 50 mV polarisation
    r_p = 0.05 / i0 * 0.6
    tau = 900.0
    if var == "clean":
        t_end = min(t_cut, tlim)
    elif var == "soft":
        stall = (rec - onset) if rec is not None else 0.0
        t_end = min(t_cut + stall, tlim) if rec is not None else tlim
    else:
        t_end = onset + after_short_h * 3600.0
    t = _seg_times(0.0, t_end, dt, True)
    if var == "soft" or var == "hard":
        if not np.any(np.isclose(t, onset)):
            t = np.sort(np.concatenate((t, [onset])))
    # faradaic charge clock: stops during an unrecovered soft short
    if var == "soft":
        stall_end = rec if rec is not None else np.inf
        tq = np.where(t < onset, t, np.where(t < stall_end, onset, t - (stall_end - onset)))
    else:
        tq = t
    u = tq / t_cut
    i = np.full(t.size, i0)
    vp = _relax(t, i * r_p, tau)
    v = _u_nmc811(u) + i * r_s + vp
    # pin the cut-off exactly where the clean charge (or the recovered one) reaches it
    v += (v_max_V - (_u_nmc811(1.0) + i0 * r_s + i0 * r_p)) * u ** 2
    cutoff_at = None
    if var == "clean" and t_cut <= tlim:
        cutoff_at = t_cut
    if var == "soft":
        m = (t >= onset) & (t < (rec if rec is not None else np.inf))
        ts = t[m] - onset
        level = v[np.searchsorted(t, onset)] - 0.012
        # slow wander (AR(1), 10 min correlation) + random dips + the first dip at the onset
        wander = _ar1(rng, t[m], 600.0, 1e-3 * fluctuation_mV)
        dips = -1e-3 * onset_dip_mV * np.exp(-ts / 90.0)
        n_dips = rng.poisson(max(ts[-1], 0.0) / 1500.0) if ts.size else 0
        for tc, depth in zip(np.sort(rng.uniform(600.0, max(ts[-1], 601.0), n_dips)),
                             rng.uniform(0.010, 0.060, n_dips)):
            after = ts >= tc
            dips[after] -= depth * np.exp(-(ts[after] - tc) / 120.0)
        v[m] = level + wander + dips
        if rec is not None:
            m2 = t >= rec
            # recovery: the voltage climbs back from the stalled level onto the charge curve
            v_at = level + (wander[-1] if wander.size else 0.0)
            v[m2] += (v_at - v[m2][0]) * np.exp(-(t[m2] - rec) / 300.0)
            if t_cut + (rec - onset) <= tlim:
                cutoff_at = t_cut + (rec - onset)
    if var == "hard":
        m = t >= onset
        v0 = v[np.searchsorted(t, onset)]
        v[m] = 0.004 + (v0 - 0.004) * np.exp(-(t[m] - onset) / 8.0)
    mode = np.full(t.size, "CC", dtype=object)
    vn, i_n = _noisy(rng, v, i, mode, noise_V, noise_rel_I)
    df = _frame(t, vn, i_n, np.zeros(t.size, np.int64), np.zeros(t.size, np.int64), mode)
    return ShortTwin(data=df, variant=var, area_cm2=area, active_mass_mg=mass, current_A=i0,
                     v_max_V=float(v_max_V), short_kind=None if var == "clean" else var,
                     short_onset_s=onset, recovery_s=rec, cutoff_reached_s=cutoff_at)


def _ar1(rng, t: np.ndarray, tau_s: float, sigma: float) -> np.ndarray:
    """Stationary Ornstein-Uhlenbeck samples at times ``t`` (std ``sigma``)."""
    out = np.zeros(t.size)
    if t.size == 0:
        return out
    z = rng.normal(0.0, 1.0, t.size)
    a = np.exp(-np.diff(t, prepend=t[0]) / tau_s)
    x = sigma * z[0]
    res = out.tolist()
    for k in range(t.size):
        if k:
            x = a[k] * x + sigma * math.sqrt(1.0 - a[k] ** 2) * z[k]
        res[k] = x
    return np.asarray(res)


# ----------------------------------------------------------------------------------------
# (3b) Li | Li6PS5Cl | Li: plating in increments with rests (operando CT series)
# ----------------------------------------------------------------------------------------
def symmetric_plating(charges_mah_cm2=(0.0, 1.5, 3.0), *, current_ma_cm2: float = 0.5,
                      rest_s: float = 3600.0, area_cm2: float = AREA_003_CM2,
                      asr_ohm_cm2: float = 20.0, roughening: float = 0.3, seed: int = 0,
                      dt_s: float = 30.0, noise_V: float = 2e-4,
                      noise_rel_I: float = 1e-4) -> PlatingTwin:
    """Plating onto the bottom electrode of a symmetric Li | Li6PS5Cl | Li cell, with rests.

    Protocol: rest ``rest_s`` (pristine scan at t = 0), then for every further entry of
    ``charges_mah_cm2`` plate the increment at ``current_ma_cm2`` and rest ``rest_s``; a scan
    starts at the beginning of each rest, so the charge is constant during it.  The voltage
    is ``−(I R_s + v_p)`` while plating (40 % ohmic, 60 % relaxing with 60 s) and relaxes to
    0 V in the rests; the polarisation rises by ``roughening`` (fraction) over the plated
    charge (a rougher, smaller true contact area).

    Parameters
    ----------
    charges_mah_cm2 : sequence of float
        Charge plated at each scan (mAh cm⁻²), increasing from 0.
    current_ma_cm2 : float
        Plating current density (mA cm⁻²).
    rest_s : float
        Rest after each increment (s).
    area_cm2 : float
        Electrode area (2 mm discs: 0.0314 cm²).
    asr_ohm_cm2 : float
        Area-specific resistance of the cell (Ω cm²).
    roughening : float
        Relative rise of the resistance over the plated charge.
    seed, dt_s, noise_V, noise_rel_I
        RNG seed, logging interval (s) and noise as in :func:`anode_free_cell`.

    Returns
    -------
    PlatingTwin
    """
    q = np.asarray(charges_mah_cm2, dtype=float).ravel()
    if q.size == 0 or q[0] != 0.0 or np.any(np.diff(q) <= 0) or not np.all(np.isfinite(q)):
        raise ParameterError("charges_mah_cm2", charges_mah_cm2,
                             "must start at 0 and increase strictly", "e.g. (0, 1.5, 3.0)")
    j = _check_pos("current_ma_cm2", current_ma_cm2)
    rest = _check_pos("rest_s", rest_s)
    area = _check_pos("area_cm2", area_cm2)
    asr = _check_pos("asr_ohm_cm2", asr_ohm_cm2)
    dt = _check_pos("dt_s", dt_s)
    rng = np.random.default_rng(seed)
    lg = _Log(dt)
    steps, times, labels = [], [], []
    i_a = j * area * 1e-3
    q_max = float(q[-1])
    for k, qk in enumerate(q):
        if k:
            t0 = lg.end
            t = lg.times(t0 + (qk - q[k - 1]) / j * 3600.0)
            grow = 1.0 + roughening * (q[k - 1] + (t - t0) * j / 3600.0) / q_max
            lg.add(t, i_a, 0.0, 0.4 * asr * grow / area, 0.6 * asr * grow / area, "CC", 0)
            steps.append(("plate", j, t0, lg.end))
        t0 = lg.end
        times.append(t0)
        labels.append("pristine" if k == 0 else f"plated {qk:.1f} mAh cm⁻²")
        t = lg.times(t0 + rest)
        lg.add(t, 0.0, 0.0, 0.4 * asr / area, 0.6 * asr / area, "rest", 0)
        steps.append(("rest", 0.0, t0, lg.end))
    tt, ii, mode, step, cyc = lg.arrays()
    v = lg.voltage(tau_p_s=60.0, sign_v=-1.0)
    vn, i_n = _noisy(rng, v, ii, mode, noise_V, noise_rel_I)
    df = _frame(tt, vn, i_n, cyc, step, mode)
    return PlatingTwin(data=df, area_cm2=area, current_ma_cm2=j, scan_labels=tuple(labels),
                       scan_times_s=tuple(float(x) for x in times),
                       scan_charges_mah_cm2=tuple(float(x) for x in q), rest_s=rest,
                       steps=tuple(steps))


# ----------------------------------------------------------------------------------------
# (4) 003_: critical-current staircase
# ----------------------------------------------------------------------------------------
def ccd_staircase(*, seed: int = 0, dt_s: float = 5.0, area_cm2: float = AREA_003_CM2,
                  first_plating_ma_cm2: float = 0.5, step_ma_cm2: float = 0.5,
                  stripping_ma_cm2: float = 0.2, capacity_mah_cm2: float = 0.2,
                  ccd_ma_cm2: float = 2.5, penetration_fraction: float = 0.5,
                  drop_mV: float = 6.0, asr_ohm_cm2: float = 25.0, plating_sign: int = 1,
                  noise_V: float = 1.5e-4, noise_rel_I: float = 1e-4) -> CCDTwin:
    """Stepped plating protocol for the critical current density (003_103f2bf5a3479ade, Methods).

    Cycle k plates ``capacity_mah_cm2`` at ``first_plating_ma_cm2 + k * step_ma_cm2`` and strips
    the same capacity at ``stripping_ma_cm2`` (0.5 mA cm⁻² raised by 0.5 mA cm⁻² per cycle,
    stripping 0.2 mA cm⁻², 0.2 mAh cm⁻² in the paper).  The polarisation is
    ``j × ASR`` plus a slow rise within each plating (roughening) and a relaxation at each
    current step.  In the plating step at ``ccd_ma_cm2`` a dendrite penetrates the
    electrolyte at ``penetration_fraction`` of the step: the polarisation magnitude drops by
    ``drop_mV`` within a few seconds and stays lower (larger Li/electrolyte area).  The
    protocol stops after the stripping of that cycle.

    Parameters
    ----------
    seed : int
    dt_s : float
        Logging interval, s.
    area_cm2 : float
        Electrode area (2 mm Li discs: 0.0314 cm²).
    first_plating_ma_cm2, step_ma_cm2, stripping_ma_cm2, capacity_mah_cm2 : float
    ccd_ma_cm2 : float
        Ground-truth critical current density; must be on the staircase.
    penetration_fraction : float
        Where in the critical plating step the drop happens (0–1).
    drop_mV : float
        Size of the polarisation drop (> 2 mV to be detected with the 2 mV criterion).
    asr_ohm_cm2 : float
        Area-specific resistance of the symmetric cell.
    plating_sign : {+1, -1}
        Sign of the plating current and voltage in the log (instruments differ).
    noise_V, noise_rel_I : float

    Returns
    -------
    CCDTwin
    """
    if plating_sign not in (1, -1):
        raise ParameterError("plating_sign", plating_sign, "must be +1 or -1")
    dt = _check_pos("dt_s", dt_s)
    area = _check_pos("area_cm2", area_cm2)
    j0 = _check_pos("first_plating_ma_cm2", first_plating_ma_cm2)
    dj = _check_pos("step_ma_cm2", step_ma_cm2)
    js = _check_pos("stripping_ma_cm2", stripping_ma_cm2)
    cap = _check_pos("capacity_mah_cm2", capacity_mah_cm2)
    ccd = _check_pos("ccd_ma_cm2", ccd_ma_cm2)
    pf = _check_frac("penetration_fraction", penetration_fraction, 0.0, 0.95)
    drop = _check_pos("drop_mV", drop_mV) * 1e-3
    asr = _check_pos("asr_ohm_cm2", asr_ohm_cm2)
    k_c = (ccd - j0) / dj
    if k_c < -1e-9 or abs(k_c - round(k_c)) > 1e-6:
        raise ParameterError("ccd_ma_cm2", ccd_ma_cm2,
                             f"is not on the staircase {j0} + k * {dj} mA cm^-2",
                             "choose a step of the protocol")
    k_c = int(round(k_c))
    rng = np.random.default_rng(seed)
    lg = _Log(dt)
    plating = []
    pen_t = None
    for k in range(k_c + 1):
        jp = j0 + k * dj
        plating.append(jp)
        a = lg.end
        t = lg.times(a + cap / jp * 3600.0)
        frac = (t - a) / (cap / jp * 3600.0)
        # base: +1.5 % rise in |polarisation| along each plating (roughening)
        base = plating_sign * (jp * 1e-3 * asr) * 0.015 * frac
        if k == k_c:
            pen_t = a + pf * cap / jp * 3600.0
            if not np.any(np.isclose(t, pen_t)):
                t = np.sort(np.concatenate((t, [pen_t])))
                frac = (t - a) / (cap / jp * 3600.0)
                base = plating_sign * (jp * 1e-3 * asr) * 0.015 * frac
            after = np.clip((t - pen_t) / 4.0, -50, 50)
            base = base - plating_sign * drop / (1.0 + np.exp(-after))
            base = base - plating_sign * 0.3 * drop * np.clip((t - pen_t) / (t[-1] - pen_t), 0, 1)
        lg.add(t, plating_sign * jp * area * 1e-3, base, 0.4 * asr / area, 0.6 * asr / area, "CC", k)
        a = lg.end
        t = lg.times(a + cap / js * 3600.0)
        frac = (t - a) / (cap / js * 3600.0)
        base = -plating_sign * (js * 1e-3 * asr) * 0.05 * frac  # voiding on stripping
        lg.add(t, -plating_sign * js * area * 1e-3, base, 0.4 * asr / area, 0.6 * asr / area, "CC", k)
    tt, ii, mode, step, cyc = lg.arrays()
    v = lg.voltage(tau_p_s=20.0)
    vn, i_n = _noisy(rng, v, ii, mode, noise_V, noise_rel_I)
    df = _frame(tt, vn, i_n, cyc, step, mode)
    return CCDTwin(data=df, area_cm2=area, ccd_ma_cm2=float(plating[-1]), penetration_s=float(pen_t),
                   drop_mV=drop * 1e3, plating_sign=int(plating_sign), plating_ma_cm2=tuple(plating),
                   stripping_ma_cm2=js, capacity_mah_cm2=cap,
                   instrument_current_sign=1)


# ----------------------------------------------------------------------------------------
# (5) EIS
# ----------------------------------------------------------------------------------------
def eis_spectrum(r_s_ohm: float = 45.0, r_ct_ohm: float = 250.0, q_cpe: float = 2e-6,
                 n_cpe: float = 0.85, sigma_w_ohm_s05: float = 60.0, *,
                 f_max_hz: float = 1e5, f_min_hz: float = 0.1, points_per_decade: int = 10,
                 noise_rel: float = 2e-3, seed: int = 0, label: str = "",
                 time_s: float = float("nan"), amplitude_mV: float = 10.0) -> EISTwin:
    """Impedance spectrum of R_s + ((R_ct + W) ∥ CPE) with multiplicative noise.

    The impedance comes from :func:`ssbscope.echem.randles_impedance` (one formula in the
    package); the default sweep is that of 000_290f30815ae66793 (10⁵–0.1 Hz, 10 mV).
    Noise: independent Gaussian on Z' and Z'' with standard deviation ``noise_rel × |Z|``.

    Parameters
    ----------
    r_s_ohm, r_ct_ohm, q_cpe, n_cpe, sigma_w_ohm_s05 : float
        Circuit values (see ``randles_impedance``).
    f_max_hz, f_min_hz : float
        Sweep limits, Hz.
    points_per_decade : int
    noise_rel : float
        Relative noise level (0 for exact values).
    seed : int
    label : str
    time_s : float
    amplitude_mV : float

    Returns
    -------
    EISTwin
    """
    from ssbscope.echem.eis import randles_impedance

    fmax = _check_pos("f_max_hz", f_max_hz)
    fmin = _check_pos("f_min_hz", f_min_hz)
    if fmin >= fmax:
        raise ParameterError("f_min_hz", f_min_hz, f"must be below f_max_hz={f_max_hz}")
    ppd = int(points_per_decade)
    if ppd < 1:
        raise ParameterError("points_per_decade", points_per_decade, "must be >= 1")
    if noise_rel < 0:
        raise ParameterError("noise_rel", noise_rel, "must be >= 0")
    n = int(round(math.log10(fmax / fmin) * ppd)) + 1
    f = np.logspace(math.log10(fmax), math.log10(fmin), n)
    z = randles_impedance(f, r_s_ohm, r_ct_ohm, q_cpe, n_cpe, sigma_w_ohm_s05)
    rng = np.random.default_rng(seed)
    mag = np.abs(z)
    zr = z.real + rng.normal(0.0, 1.0, n) * noise_rel * mag
    zi = z.imag + rng.normal(0.0, 1.0, n) * noise_rel * mag
    return EISTwin(freq_hz=f, z_real_ohm=zr, z_imag_ohm=zi, r_s_ohm=float(r_s_ohm),
                   r_ct_ohm=float(r_ct_ohm), q_cpe=float(q_cpe), n_cpe=float(n_cpe),
                   sigma_w_ohm_s05=float(sigma_w_ohm_s05), label=str(label),
                   time_s=float(time_s), amplitude_mV=float(amplitude_mV), noise_rel=float(noise_rel))


def first_cycle_eis(cycle: FirstCycleTwin | None = None, *, seed: int = 0,
                    noise_rel: float = 2e-3, points_per_decade: int = 10) -> tuple[EISTwin, ...]:
    """Spectra at the scan states of 000_290f30815ae66793 (Fig. 2A–B).

    R_s and R_ct at each state follow :func:`nmc622_resistances` (R_ct falls during the
    charge and rises during the discharge); CPE ``Q = 2 µF s^(n−1)``, ``n = 0.85``, Warburg
    ``σ = 60 Ω s^-½``; sweep 10⁵–0.1 Hz at 10 mV as in the paper's Methods.

    Parameters
    ----------
    cycle : FirstCycleTwin, optional
        Cycle whose state times are attached to the spectra.
    seed : int
        Base seed (spectrum k uses ``seed + k``).
    noise_rel : float
    points_per_decade : int

    Returns
    -------
    tuple of EISTwin
        One per state of ``PAPER_STATES_000``, in order.
    """
    out = []
    for k, (label, kind, frac) in enumerate(PAPER_STATES_000):
        r_s, r_ct = nmc622_resistances(kind, frac)
        ts = cycle.state_time_s(label) if cycle is not None else float("nan")
        out.append(eis_spectrum(float(r_s), float(r_ct), 2e-6, 0.85, 60.0, seed=seed + k,
                                noise_rel=noise_rel, points_per_decade=points_per_decade,
                                label=label, time_s=ts))
    return tuple(out)
