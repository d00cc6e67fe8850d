"""Electrochemical impedance: the Randles circuit, solid-state multi-arc circuits and their fit.

Solid-state cells show more than one arc: the solid electrolyte's bulk and grain boundaries
(MHz-kHz, pF-nF), then interfacial arcs (counter electrode, interphase) and the
charge-transfer arc with the double layer (µF-mF), before a diffusion tail. Besides the
Randles circuit below, :func:`fit_eis` fits the series circuits of :data:`CIRCUITS`
(``R_s − (R_b ∥ CPE_b) − (R_gb ∥ CPE_gb) − (R_ct ∥ CPE_dl) [− W]`` and relatives, see
:func:`zarc_impedance`) and, with ``circuit="auto"``, chooses among all of them by BIC. In
every circuit the reported ``r_ct_ohm`` is the **lowest-frequency arc**: the R_ct the
interface study and the correlations take.

Circuit (the modified Randles cell)::

    R_s ──┬── R_ct ── W ──┬──
          └───── CPE ─────┘

``Z(ω) = R_s + 1 / (1 / (R_ct + Z_W) + Q (jω)^n)`` with the constant-phase element
``Z_CPE = 1 / (Q (jω)^n)`` and the semi-infinite Warburg element
``Z_W = σ (1 − j) / √ω`` **in series with R_ct inside the parallel branch** (charge transfer
and diffusion share the faradaic path; the double layer is in parallel with both).
This is the circuit used for the R_s / R_ct analysis of 000_290f30815ae66793 (Fig. 2A–B).
Impedance sign convention: ``Z = Z' + j Z''`` with ``Z'' < 0`` for capacitive behaviour
(Nyquist plots usually show ``−Z''`` upwards), as returned by ``ssbscope.echem.read_eis``.

Fit (:func:`fit_eis`): ``scipy.optimize.least_squares`` (trust-region reflective, bounds
R >= 0, Q > 0, 0 < n <= 1, σ >= 0) on the complex residual, real and imaginary parts
stacked, each **divided by |Z_data|** (modulus weighting, so the small high-frequency
impedances count as much as the large low-frequency ones).  Standard errors come from the
Jacobian at the optimum: ``cov = s² (JᵀJ)⁻¹`` with ``s² = Σr² / (2N − 5)``.  Initial values
are read off the arc (R_s: high-frequency intercept; R_ct: twice the real-axis distance to
the apex; Q from the apex frequency; σ from the low-frequency tail), and a few CPE exponents
are tried as starting points; the best fit is kept.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ssbscope.errors import ConvergenceError, InputError, MissingColumnError, ParameterError

__all__ = ["randles_impedance", "zarc_impedance", "effective_capacitance", "fit_eis", "EISFit",
           "track_eis", "fit_quality", "rs_reference", "CIRCUITS", "CIRCUIT_STRINGS",
           "MAX_RELATIVE_RESIDUAL", "MAX_RELATIVE_ERROR", "HF_CLOSED_PHASE_DEG",
           "MIN_CPE_EXPONENT", "AUTO_DELTA_BIC", "MAX_ARC_R_OVER_MAX_Z",
           "MAX_APEX_DECADES_BELOW_FMIN", "resolution_problem", "unresolved_arcs",
           "ELECTROLYTE_ARCS", "check_capacitances", "C_PHENOMENA", "ARC_PHENOMENA",
           "ARC_NAMES", "C_TOLERANCE_DECADES", "PLAUSIBLE_AREA_CM2", "PLAUSIBLE_THICKNESS_CM"]

#: A fit whose RMS relative residual |Z_model - Z|/|Z| exceeds this is failed (10 %).
MAX_RELATIVE_RESIDUAL = 0.10
#: R_s may sit below the highest-frequency Re(Z) (the arc is not closed there) but not by more
#: than this factor: a smaller R_s is not resolved by the spectrum.
RS_HF_MIN_FRACTION = 0.2
#: The spectrum reaches its high-frequency limit (the real-axis intercept) when the phase of Z
#: at a high-frequency point is within this many degrees of 0, or Z'' changes sign there
#: (an inductive tail): see :func:`rs_reference`.
HF_CLOSED_PHASE_DEG = 5.0
#: A CPE exponent below this makes the fitted arc something other than a charge-transfer
#: semicircle: n = 0.5 is a Warburg (semi-infinite diffusion) element, and a double layer's
#: dispersion gives n ~ 0.7-1 (Orazem & Tribollet, Electrochemical Impedance Spectroscopy,
#: 2nd ed., Wiley 2017, ch. 14), so R_ct from such a fit is not a charge-transfer resistance.
MIN_CPE_EXPONENT = 0.5
#: An arc resistance larger than this multiple of the largest measured |Z| is not determined by
#: the spectrum: an R/(1 + jω/ω_c) arc reaches |Z| = R/3.3 half a decade above its apex, so
#: R > 3 max|Z| means the arc's apex (and its closure on the real axis) lies beyond the
#: measured window and R is an extrapolation of the CPE shape, not a measurement.
MAX_ARC_R_OVER_MAX_Z = 3.0
#: The apex (characteristic) frequency ``1 / (2π (R Q)^(1/n))`` of an arc may lie at most this
#: many decades below the lowest measured frequency: an arc whose apex is further down shows
#: only its high-frequency flank, and its R is not resolved.
MAX_APEX_DECADES_BELOW_FMIN = 0.5

log = logging.getLogger(__name__)

_NAMES = ("r_s_ohm", "r_ct_ohm", "q_cpe", "n_cpe", "sigma_w_ohm_s05")


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ParameterError(name, value, "must be a finite number " + (">= 0" if allow_zero else "> 0"),
                             "pass a physical circuit value")
    return v


def randles_impedance(freq_hz, r_s_ohm: float, r_ct_ohm: float, q_cpe: float, n_cpe: float,
                      sigma_w_ohm_s05: float = 0.0) -> np.ndarray:
    """Complex impedance of R_s + ((R_ct + W) ∥ CPE).

    Parameters
    ----------
    freq_hz : (N,) array_like
        Frequencies in Hz, > 0.
    r_s_ohm : float
        Series (bulk/ohmic) resistance in ohm, >= 0.
    r_ct_ohm : float
        Charge-transfer (interfacial) resistance in ohm, >= 0.
    q_cpe : float
        CPE magnitude Q in F s^(n-1) (S s^n), > 0.
    n_cpe : float
        CPE exponent, 0 < n <= 1 (n = 1 is an ideal capacitor).
    sigma_w_ohm_s05 : float, default 0
        Warburg coefficient σ in ohm s^-0.5 (0: no diffusion tail).

    Returns
    -------
    (N,) complex ndarray
        Impedance in ohm, ``Z' + j Z''`` (``Z'' < 0`` on the arc).

    Notes
    -----
    ``Z = R_s + 1 / (1 / (R_ct + σ(1 − j)ω^-½) + Q (jω)^n)``, ω = 2πf. The Warburg element
    sits in series with R_ct inside the parallel branch (classic Randles topology).

    Examples
    --------
    >>> z = randles_impedance([1e6, 1e-3], 10.0, 100.0, 1e-6, 1.0)
    >>> round(float(z[0].real), 1), round(float(z[1].real), 1)
    (10.0, 110.0)
    """
    f = np.asarray(freq_hz, dtype=float)
    if f.size == 0 or not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise InputError("freq_hz: frequencies must be finite and > 0; drop zero/negative rows")
    r_s = _positive("r_s_ohm", r_s_ohm, allow_zero=True)
    r_ct = _positive("r_ct_ohm", r_ct_ohm, allow_zero=True)
    q = _positive("q_cpe", q_cpe)
    n = float(n_cpe)
    if not (0.0 < n <= 1.0):
        raise ParameterError("n_cpe", n_cpe, "must be in (0, 1]", "use 1 for an ideal capacitor")
    sigma = _positive("sigma_w_ohm_s05", sigma_w_ohm_s05, allow_zero=True)
    return _z_model(f, r_s, r_ct, q, n, sigma)


def _z_model(f: np.ndarray, r_s: float, r_ct: float, q: float, n: float, sigma: float) -> np.ndarray:
    w = 2.0 * np.pi * f
    z_far = r_ct + sigma * (1.0 - 1.0j) / np.sqrt(w)
    y = q * (1.0j * w) ** n
    return r_s + z_far / (1.0 + z_far * y)


@dataclass(frozen=True)
class EISFit:
    """Result of :func:`fit_eis`: circuit values, their standard errors and fit quality.

    Attributes
    ----------
    r_s_ohm, r_ct_ohm : float
        Series and charge-transfer resistances (ohm).
    q_cpe : float
        CPE magnitude (F s^(n-1)).
    n_cpe : float
        CPE exponent.
    sigma_w_ohm_s05 : float
        Warburg coefficient (ohm s^-0.5).
    r_s_err_ohm, r_ct_err_ohm, q_cpe_err, n_cpe_err, sigma_w_err_ohm_s05 : float
        One-sigma standard errors from the Jacobian covariance (NaN if singular).
    chi_square : float
        Sum of squared |Z|-weighted residuals (dimensionless).
    reduced_chi_square : float
        ``chi_square / (2N − 5)``.
    n_points : int
        Frequencies used.
    success : bool
        The optimiser converged.
    message : str
        The optimiser's message.
    fit_ok : bool
        The fit passes its own quality test (:func:`fit_quality`); when False the values are
        not a measurement and must not be reported as one.
    fit_problem : str
        Why the fit failed its quality test ("" when ``fit_ok``).
    relative_residual : float
        RMS of ``|Z_model − Z_data| / |Z_data|`` over the frequencies (0.01 = 1 %).
    circuit : str
        The fitted circuit, a key of :data:`CIRCUITS` (``randles``, ``gb-ct``, ``gb-ct-w``,
        ``bulk-gb-ct``, ``bulk-gb-ct-w``). In every circuit ``r_ct_ohm``, ``q_cpe``, ``n_cpe``
        belong to the **lowest-frequency arc** (charge transfer ∥ double layer): that is the
        R_ct downstream users take (``analysis.interface.r_ct_ohm_cm2: eis``).
    r_b_ohm, q_b, n_b, r_gb_ohm, q_gb, n_gb : float
        Bulk and grain-boundary arcs of the solid electrolyte (ohm, F s^(n-1), 1); NaN when
        the circuit has no such arc. ``r_b_err_ohm`` ... ``n_gb_err``: their standard errors.
    r_int_ohm, r_int_err_ohm : float
        ``el-2int-ct``: the sum of the two interfacial arcs between the electrolyte and the
        charge-transfer arc (counter electrode, interphase) and its error; NaN otherwise.
    r_electrolyte_ohm, r_electrolyte_err_ohm : float
        Arc circuits: R_s + the electrolyte arcs (bulk, grain boundary), the real-axis
        resistance before the first interfacial arc: an upper bound of the solid
        electrolyte's resistance (it includes leads and contacts), for its conductivity
        ``thickness / (R A)``; NaN for the Randles circuit.
    r_s_fixed : bool
        The fit put R_s at its bound 0, so the circuit was refitted without it (R_s = 0 fixed,
        one parameter less; ``r_s_err_ohm`` NaN): no series resistance beyond the first arc is
        resolved.
    arcs : tuple of dict
        Arc circuits: every arc from high to low frequency, with ``label``, ``r_ohm``,
        ``r_err_ohm``, ``q``, ``q_err``, ``n``, ``n_err``, ``c_F`` (effective capacitance)
        and ``f_apex_Hz`` (characteristic frequency); () for the Randles circuit.
    c_b_F, c_gb_F, c_ct_F : float
        Effective capacitance of each arc, :func:`effective_capacitance` (F): ~pF for a
        bulk, ~nF for a grain boundary, ~µF for a double layer (Irvine, Sinclair & West 1990,
        Adv. Mater. 2, 132, doi:10.1002/adma.19900020304); NaN when the circuit has no such arc
        or its R is not resolved (the Randles circuit has ``c_ct_F``).
    n_params : int
        Fitted parameters.
    aic, bic : float
        Akaike and Bayesian information criteria of the weighted residual:
        ``M ln(χ²/M) + 2k`` and ``M ln(χ²/M) + k ln M`` with ``M = 2 n_points``.
    selection : str
        With ``circuit="auto"``: every candidate circuit with its BIC, AIC and verdict, and
        why the chosen one won; "" otherwise.
    unresolved : tuple of str
        Labels of the arcs whose R the spectrum does not resolve (:func:`unresolved_arcs`:
        R > :data:`MAX_ARC_R_OVER_MAX_Z` × max|Z| or apex more than
        :data:`MAX_APEX_DECADES_BELOW_FMIN` decades below the lowest frequency), e.g.
        ``("ct",)`` for a charge-transfer (or blocking-electrode) arc that closes below the
        measured window. Their R, its error (and the effective capacitance, which needs R) are
        NaN here and in ``arcs`` (``resolved`` False; ``r_fit_ohm`` keeps the optimiser's
        value, which only draws the fitted curve); the other arcs keep their values. Only an
        unresolved **electrolyte** arc (``b``, ``gb``, ``el``: :data:`ELECTROLYTE_ARCS`)
        fails the whole fit.
    r_ct_fit_ohm : float
        The optimiser's R_ct of the lowest-frequency arc, kept for drawing the fitted curve
        even when R_ct is not resolved (then ``r_ct_ohm`` is NaN): not a measurement.
    fit_note : str
        Why an arc is flagged as not resolved ("" when every arc is resolved): one reason per
        unresolved arc, naming it (``R_ct = 1.2e+08 Ω is not resolved: ...``); after
        :func:`check_capacitances`, also one line per arc whose capacitance contradicts its
        label (``c_note``), joined by "; ".
    capacitances : tuple of dict
        Filled by :func:`check_capacitances` (() before): per arc ``label``, ``name``,
        ``c_F`` (F), ``c_F_cm2`` (C/A, F cm^-2), ``c_F_per_cm`` (C l/A, F cm^-1; NaN unless
        the area and thickness are known), ``checked``, ``consistent``, ``says``, ``expected``.
    c_inconsistent : tuple of str
        Labels of the arcs whose capacitance contradicts their label (:func:`check_capacitances`).
    c_note : str
        One line per such arc ("" when none), e.g. ``arc 'bulk' (b) has C = 3 µF ...: its
        capacitance says sample-electrode interface``.
    """

    r_s_ohm: float
    r_ct_ohm: float
    q_cpe: float
    n_cpe: float
    sigma_w_ohm_s05: float
    r_s_err_ohm: float
    r_ct_err_ohm: float
    q_cpe_err: float
    n_cpe_err: float
    sigma_w_err_ohm_s05: float
    chi_square: float
    reduced_chi_square: float
    n_points: int
    success: bool
    message: str
    fit_ok: bool = True
    fit_problem: str = ""
    relative_residual: float = float("nan")
    circuit: str = "randles"
    r_b_ohm: float = float("nan")
    q_b: float = float("nan")
    n_b: float = float("nan")
    r_b_err_ohm: float = float("nan")
    q_b_err: float = float("nan")
    n_b_err: float = float("nan")
    r_gb_ohm: float = float("nan")
    q_gb: float = float("nan")
    n_gb: float = float("nan")
    r_gb_err_ohm: float = float("nan")
    q_gb_err: float = float("nan")
    n_gb_err: float = float("nan")
    c_b_F: float = float("nan")
    c_gb_F: float = float("nan")
    c_ct_F: float = float("nan")
    r_int_ohm: float = float("nan")
    r_int_err_ohm: float = float("nan")
    r_electrolyte_ohm: float = float("nan")
    r_electrolyte_err_ohm: float = float("nan")
    r_s_fixed: bool = False
    arcs: tuple = ()
    n_params: int = 5
    aic: float = float("nan")
    bic: float = float("nan")
    selection: str = ""
    unresolved: tuple = ()
    fit_note: str = ""
    r_ct_fit_ohm: float = float("nan")
    capacitances: tuple = ()
    c_inconsistent: tuple = ()
    c_note: str = ""

    def resolved(self, label: str) -> bool:
        """False when the circuit has the arc ``label`` (``ct``, ``b``, ``gb``, ``el``, ``i1``,
        ``i2``; ``int`` for either interfacial arc) and its R is not resolved."""
        if label == "int":
            return not ({"i1", "i2"} & set(self.unresolved))
        return label not in self.unresolved

    def consistent(self, label: str) -> bool:
        """False when :func:`check_capacitances` found the capacitance of arc ``label`` (``int``
        for either interfacial arc) contradicting its label; True otherwise (also unchecked)."""
        if label == "int":
            return not ({"i1", "i2"} & set(self.c_inconsistent))
        return label not in self.c_inconsistent

    def impedance(self, freq_hz) -> np.ndarray:
        """Model impedance (ohm, complex) at ``freq_hz`` with the fitted values."""
        if self.circuit == "randles":
            r_ct = self.r_ct_ohm if np.isfinite(self.r_ct_ohm) else self.r_ct_fit_ohm
            return randles_impedance(freq_hz, self.r_s_ohm, r_ct, self.q_cpe,
                                     self.n_cpe, self.sigma_w_ohm_s05)
        r_s = 0.0 if self.r_s_fixed or not np.isfinite(self.r_s_ohm) else self.r_s_ohm
        return zarc_impedance(freq_hz, r_s, [(a.get("r_fit_ohm", a["r_ohm"]), a["q"], a["n"])
                                             for a in self.arcs],
                              self.sigma_w_ohm_s05 if np.isfinite(self.sigma_w_ohm_s05) else 0.0)

    def to_dict(self) -> dict:
        return asdict(self)


def _initial(f, z):
    """Initial circuit values read off the Nyquist arc."""
    order = np.argsort(f)[::-1]  # high -> low frequency
    f, z = f[order], z[order]
    zr, mzi = z.real, -z.imag
    n_hi = max(3, f.size // 10)
    r_s = float(max(np.min(zr[:n_hi]), 0.0))
    # apex of the arc: the first local maximum of -Z'' scanning from high frequency
    k = int(np.argmax(mzi))
    for j in range(1, f.size - 1):
        if mzi[j] > 0 and mzi[j] >= mzi[j - 1] and mzi[j] >= mzi[j + 1]:
            k = j
            break
    r_ct = float(max(2.0 * (zr[k] - r_s), 1e-3 * max(abs(zr).max(), 1e-12)))
    w_apex = 2 * np.pi * f[k]
    q = 1.0 / (r_ct * w_apex)
    w_low = 2 * np.pi * f[-1]
    sigma = float(max((zr[-1] - r_s - r_ct) * np.sqrt(w_low), 0.0))
    return r_s, r_ct, q, sigma


def fit_eis(freq_hz, z_real_ohm, z_imag_ohm, initial: dict | None = None,
            circuit: str = "randles") -> EISFit:
    """Fit an equivalent circuit to an impedance spectrum (000_290f30815ae66793 Fig. 2A-B).

    Circuits (``circuit``, :data:`CIRCUITS`):

    * ``randles``: R_s + ((R_ct + W) ∥ CPE), one arc (a liquid or polymer cell);
    * ``gb-ct`` / ``gb-ct-w``: R_s − (R_gb ∥ CPE_gb) − (R_ct ∥ CPE_dl) [− W]: a solid
      electrolyte whose bulk arc lies above the measured range (Li6PS5Cl at 25 °C: ~10^8 Hz),
      so R_s holds the bulk resistance, then the grain-boundary and the interfacial arcs;
    * ``bulk-gb-ct`` / ``bulk-gb-ct-w``: R_s − (R_b ∥ CPE_b) − (R_gb ∥ CPE_gb) −
      (R_ct ∥ CPE_dl) [− W]: bulk, grain boundary and interface resolved (low temperature or
      a slow electrolyte);
    * ``el-2int-ct``: R_s − (R_el ∥ CPE_el) − (R_i1 ∥ CPE_i1) − (R_i2 ∥ CPE_i2) −
      (R_ct ∥ CPE_dl): a solid-state half cell, the electrolyte (bulk and grain boundary in one
      arc), two interfacial arcs (e.g. the In-Li counter electrode and a cathode interphase;
      their sum is ``r_int_ohm``) and the charge transfer;
    * ``auto``: every circuit above is fitted; among those that pass the quality test the one
      with the lowest BIC is chosen, but a circuit with more parameters replaces a simpler
      passing one only when its BIC is lower by more than :data:`AUTO_DELTA_BIC` (10).
      A circuit with an unresolved, NaN-reported arc (``EISFit.unresolved``) passes and
      competes like the others (its arc's parameters count in its BIC). When
      none passes, the lowest-BIC fit is returned as failed with every candidate's reason.
      The candidates' BIC, AIC and verdicts are kept in ``EISFit.selection``.

    The arcs are ordered by time constant, ``τ_k = (R_k Q_k)^(1/n_k)``, fastest (bulk)
    first: the fit varies ``lg τ`` of the first arc and ``lg(τ_k / τ_{k−1}) >= 0`` of the
    others, so the order holds by construction and two arcs that merge sit at that bound (and
    fail). Starting values come from the spectrum: the arc apices are the maxima of
    ``dZ'/d ln(1/f)`` (an arc above the measured range starts at the highest frequency), each
    arc's R from the rise of Z' between the midpoints of neighbouring apices. Bounds:
    R_s >= 0, R_k within 10^-6 .. 10^2 × max|Z|, τ within two decades of the measured window,
    0.3 <= n <= 1, σ >= 0. **R_ct is always the lowest-frequency arc** (interface).
    When R_s ends at its bound 0 (no series resistance resolved beyond the first arc, whose
    left foot then starts at the origin), the nested circuit without R_s is fitted instead
    (one parameter less, ``r_s_fixed`` True, ``r_s_err_ohm`` NaN; stores keep R_s as NaN, not
    as a number); it needs the first arc's apex above a tenth of the highest frequency.

    Quality test of the arc circuits (the first failing rule is ``fit_problem``): the optimiser
    converged; RMS relative residual <= :data:`MAX_RELATIVE_RESIDUAL`; no fitted parameter at
    a bound (n = 1 allowed); the charge-transfer arc's n >= :data:`MIN_CPE_EXPONENT`; R_s at
    least ``RS_HF_MIN_FRACTION`` × the high-frequency Re(Z) and not above the smallest
    measured Re(Z) (every arc adds to it); every reported parameter's standard error finite and
    < :data:`MAX_RELATIVE_ERROR` (100 %) of its value. Every circuit (Randles included), per
    arc: an arc R above :data:`MAX_ARC_R_OVER_MAX_Z` × max|Z| or an arc apex more than
    :data:`MAX_APEX_DECADES_BELOW_FMIN` decades below the lowest measured frequency is "not
    resolved" (:func:`unresolved_arcs`): that arc's R (its error, its effective capacitance)
    is NaN, its label is in ``EISFit.unresolved`` and the reason in ``EISFit.fit_note``, its R
    and τ are exempt from the bound and error rules, and the other arcs keep their values; the
    fit fails only when an electrolyte arc (``b``, ``gb``, ``el``) is not resolved. The Randles
    circuit keeps the rules of :func:`fit_quality` and also needs R_s, (a resolved) R_ct, Q, n
    within 100 %.

    Parameters
    ----------
    freq_hz : (N,) array_like
        Frequencies in Hz (> 0), any order, N >= 6.
    z_real_ohm, z_imag_ohm : (N,) array_like
        Real and imaginary impedance in ohm (``z_imag_ohm < 0`` on a capacitive arc).
    initial : dict, optional
        Randles circuit only: starting values by name (``r_s_ohm``, ``r_ct_ohm``, ``q_cpe``,
        ``n_cpe``, ``sigma_w_ohm_s05``); missing ones are estimated from the arc.
    circuit : str, default "randles"
        A key of :data:`CIRCUITS` or ``"auto"``.

    Returns
    -------
    EISFit
        Values, standard errors, chi-square, convergence flag, and the verdict of the fit's own
        quality test (``fit_ok``, ``fit_problem``; see :func:`fit_quality`). A failed fit keeps
        the optimiser's values for diagnosis; callers storing results store NaN instead.

    Raises
    ------
    InputError
        Mismatched lengths, fewer than 6 points, non-finite values or frequencies <= 0.
    ConvergenceError
        No start converged to a finite fit.
    """
    f = np.asarray(freq_hz, dtype=float).ravel()
    zr = np.asarray(z_real_ohm, dtype=float).ravel()
    zi = np.asarray(z_imag_ohm, dtype=float).ravel()
    if not (f.size == zr.size == zi.size):
        raise InputError(f"fit_eis: freq_hz, z_real_ohm, z_imag_ohm have lengths {f.size}, "
                         f"{zr.size}, {zi.size}; pass one value per frequency")
    if f.size < 6:
        raise InputError(f"fit_eis: {f.size} frequencies cannot fit 5 parameters; "
                         "measure at least 6 frequencies (e.g. 1e5-0.1 Hz, 10 per decade)")
    for name, a in (("freq_hz", f), ("z_real_ohm", zr), ("z_imag_ohm", zi)):
        if not np.all(np.isfinite(a)):
            raise InputError(f"fit_eis: {name} holds NaN/inf; drop those frequencies")
    if np.any(f <= 0):
        raise InputError("fit_eis: freq_hz must be > 0; drop zero/negative rows (DC points)")
    z = zr + 1j * zi
    mod = np.abs(z)
    if np.any(mod == 0):
        raise InputError("fit_eis: |Z| = 0 at some frequency; drop those points")
    if circuit != "auto" and circuit not in CIRCUITS:
        raise ParameterError("circuit", circuit, "is not a known circuit",
                             f"use 'auto' or one of {list(CIRCUITS)}")
    if initial and circuit != "randles":
        raise ParameterError("initial", sorted(initial), "applies to the randles circuit only",
                             "drop initial, or fit circuit='randles'")
    if circuit == "auto":
        return _fit_auto(f, z)
    if circuit != "randles":
        n_par = _n_params(circuit)
        if 2 * f.size <= n_par:
            raise InputError(f"fit_eis: {f.size} frequencies cannot fit the {n_par} parameters "
                             f"of {circuit}; measure more frequencies")
        return _fit_arcs(f, z, circuit)
    return _fit_randles(f, z, initial)


def _fit_randles(f, z, initial):
    from scipy.optimize import least_squares

    mod = np.abs(z)
    r_s0, r_ct0, q0, s0 = _initial(f, z)
    init = dict(initial or {})
    unknown = set(init) - set(_NAMES)
    if unknown:
        raise ParameterError("initial", sorted(unknown), "has unknown keys",
                             f"use some of {list(_NAMES)}")

    def resid(p):
        zm = _z_model(f, p[0], p[1], 10.0 ** p[2], p[3], p[4])
        d = (zm - z) / mod
        return np.concatenate((d.real, d.imag))

    lo = [0.0, 0.0, -15.0, 0.3, 0.0]
    hi = [np.inf, np.inf, 3.0, 1.0, np.inf]
    starts = []
    for n0 in ((init["n_cpe"],) if "n_cpe" in init else (0.9, 0.75, 1.0)):
        for s_start in ((init["sigma_w_ohm_s05"],) if "sigma_w_ohm_s05" in init else (s0, 0.0)):
            w_apex = (1.0 / (r_ct0 * q0)) if q0 > 0 else 1.0
            q_n = init.get("q_cpe", 1.0 / (r_ct0 * w_apex ** n0))
            p = np.array([init.get("r_s_ohm", r_s0), init.get("r_ct_ohm", r_ct0),
                          np.log10(q_n), min(max(n0, 0.31), 1.0), s_start], dtype=float)
            p = np.clip(p, np.array(lo) + [0, 0, 0, 1e-9, 0], np.array(hi) - [0, 0, 0, 0, 0])
            starts.append(p)
    best = None
    for p0 in starts:
        try:
            r = least_squares(resid, p0, bounds=(lo, hi), method="trf", x_scale="jac",
                              xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=2000)
        except (ValueError, FloatingPointError) as exc:  # pragma: no cover - defensive
            log.debug("EIS start %s failed: %s", p0, exc)
            continue
        if np.isfinite(r.cost) and (best is None or r.cost < best.cost):
            best = r
    if best is None:
        raise ConvergenceError("fit_eis: no starting point gave a finite fit; check the "
                               "spectrum's sign convention (z_imag_ohm < 0 on the arc) and units")
    p = best.x
    dof = max(2 * f.size - 5, 1)
    chi2 = float(2.0 * best.cost)
    s2 = chi2 / dof
    errs = np.full(5, np.nan)
    try:
        jtj = best.jac.T @ best.jac
        cov = np.linalg.inv(jtj) * s2
        d = np.diag(cov)
        errs = np.where(d >= 0, np.sqrt(np.abs(d)), np.nan)
    except np.linalg.LinAlgError:
        log.warning("fit_eis: singular Jacobian, standard errors unavailable")
    q = 10.0 ** p[2]
    tau = (p[1] * q) ** (1.0 / p[3]) if p[1] > 0 else 0.0
    notes = unresolved_arcs(f, z, [("ct", p[1], 1.0 / (2 * np.pi * tau) if tau > 0 else np.inf)])
    ok, problem, rel = fit_quality(p, errs, f, z, success=bool(best.success),
                                   message=str(best.message), lo=lo, hi=hi,
                                   r_ct_resolved=not notes)
    if ok:  # every circuit value determined by the spectrum (σ may vanish: no tail)
        phys = (p[0], p[1], q, p[3])
        perr = (errs[0], errs[1], q * np.log(10.0) * errs[2], errs[3])
        for nm, v, e in zip(("R_s", "R_ct", "Q", "n"), phys, perr):
            if nm == "R_ct" and notes:
                continue  # not resolved: no number, so no error to test
            if not np.isfinite(e) or abs(e) >= MAX_RELATIVE_ERROR * abs(v):
                ok, problem = False, (f"{nm} = {v:.3g} ± {e:.2g}: relative error >= "
                                      f"{100 * MAX_RELATIVE_ERROR:.0f} %, not determined by the "
                                      "spectrum")
                break
    r_ct, r_ct_err = (float("nan"), float("nan")) if notes else (float(p[1]), float(errs[1]))
    aic, bic = _information(chi2, f.size, 5)
    return EISFit(
        r_s_ohm=float(p[0]), r_ct_ohm=r_ct, q_cpe=float(q), n_cpe=float(p[3]),
        sigma_w_ohm_s05=float(p[4]),
        r_s_err_ohm=float(errs[0]), r_ct_err_ohm=r_ct_err,
        q_cpe_err=float(q * np.log(10.0) * errs[2]), n_cpe_err=float(errs[3]),
        sigma_w_err_ohm_s05=float(errs[4]),
        chi_square=chi2, reduced_chi_square=float(s2), n_points=int(f.size),
        success=bool(best.success), message=str(best.message), fit_ok=ok, fit_problem=problem,
        relative_residual=rel, circuit="randles", n_params=5, aic=aic, bic=bic,
        c_ct_F=float("nan") if notes else effective_capacitance(float(p[1]), float(q), float(p[3])),
        unresolved=tuple(notes), fit_note="; ".join(notes.values()), r_ct_fit_ohm=float(p[1]))


def _fit_auto(f, z) -> EISFit:
    """``circuit="auto"`` of :func:`fit_eis`: every circuit, chosen by BIC among those that pass."""
    from dataclasses import replace

    fits = []
    for name in CIRCUITS:
        if 2 * f.size <= _n_params(name) + 1:
            continue
        try:
            fits.append(_fit_randles(f, z, None) if name == "randles" else _fit_arcs(f, z, name))
        except ConvergenceError as exc:
            log.debug("fit_eis auto: %s: %s", name, exc)
    if not fits:
        raise ConvergenceError("fit_eis: no circuit gave a finite fit; check the spectrum's sign "
                               "convention (z_imag_ohm < 0 on the arc) and units")
    # a circuit with an unresolved (NaN-reported) arc competes like any other: the arc's
    # parameters still count in its BIC, so it is chosen only when it describes the spectrum
    # better by more than AUTO_DELTA_BIC (a clean fit with a flagged arc beats a poor one)
    passing = sorted((x for x in fits if x.fit_ok), key=lambda x: (x.n_params, x.bic))
    chosen = None
    for x in passing:
        if chosen is None or x.bic < chosen.bic - AUTO_DELTA_BIC:
            chosen = x

    def verdict(x):
        if not x.fit_ok:
            return f"fails ({x.fit_problem})"
        if x.unresolved:
            return "passes, " + ", ".join(f"R_{a}" for a in x.unresolved) + " not resolved"
        return "passes"

    lines = [f"{x.circuit}: k={x.n_params}, BIC={x.bic:.1f}, AIC={x.aic:.1f}, residual "
             f"{100 * x.relative_residual:.2f} %, " + verdict(x) for x in fits]
    if chosen is None:
        chosen = min(fits, key=lambda x: x.bic)
        why = (f"auto: no circuit passes its quality test; kept {chosen.circuit} (lowest BIC) as "
               "failed")
        problem = "auto: no circuit passes: " + "; ".join(f"{x.circuit}: {x.fit_problem}" for x in fits)
        return replace(chosen, fit_problem=problem, selection=why + ". " + "; ".join(lines))
    why = (f"auto: chose {chosen.circuit} (BIC {chosen.bic:.1f}): lowest BIC among the passing "
           f"circuits{' (its ' + ', '.join('R_' + a for a in chosen.unresolved) + ' not resolved: NaN)' if chosen.unresolved else ''}, "
           f"a circuit with more parameters taken only when its BIC is lower by more "
           f"than {AUTO_DELTA_BIC:g}")
    return replace(chosen, selection=why + ". " + "; ".join(lines))


def fit_quality(p: np.ndarray, errs: np.ndarray, f: np.ndarray, z: np.ndarray, *, success: bool,
                message: str, lo, hi,
                max_relative_residual: float = MAX_RELATIVE_RESIDUAL,
                r_ct_resolved: bool = True) -> tuple[bool, str, float]:
    """Quality test of a Randles fit: ``(fit_ok, fit_problem, relative_residual)``.

    A fit fails (with the first reason found) when
    * the optimiser did not converge;
    * the RMS relative residual ``|Z_model − Z| / |Z|`` exceeds ``max_relative_residual``
      (the circuit does not describe the spectrum);
    * R_s or R_ct (or the CPE's Q, n) sits at a bound of the fit (R = 0, n = 0.3, Q at 1e-15 or
      1e3): the optimum was pushed outside the physical range;
    * the CPE exponent n lies below ``MIN_CPE_EXPONENT`` (0.5): the arc is diffusion-like,
      not a charge-transfer semicircle;
    * R_s lies below ``RS_HF_MIN_FRACTION`` × the high-frequency Re(Z) (R_s ≈ 1e-16 Ω for a
      spectrum starting at 826 Ω: the series resistance is not resolved), or above the
      reference Re(Z) of :func:`rs_reference` by more than 5 % (+ the residual): the
      high-frequency intercept when the spectrum reaches it, else the valley between an
      unclosed high-frequency arc and the fitted arc (see there for the physics);
    * the standard error of R_s or R_ct is NaN/inf (singular Jacobian: undetermined); R_ct's
      only when ``r_ct_resolved`` (an unresolved R_ct is reported as NaN, see
      :func:`unresolved_arcs`, so its error is not tested).

    Parameters
    ----------
    p : (5,) array
        ``r_s, r_ct, log10 q, n, sigma`` at the optimum.
    errs : (5,) array
        Their standard errors.
    f, z : (N,) arrays
        Frequencies (Hz) and measured complex impedance (ohm).
    """
    zm = _z_model(f, p[0], p[1], 10.0 ** p[2], p[3], p[4])
    rel = float(np.sqrt(np.mean(np.abs(zm - z) ** 2 / np.abs(z) ** 2)))
    if not success:
        return False, f"the optimiser did not converge ({message})", rel
    if not np.isfinite(rel) or rel > max_relative_residual:
        return False, (f"relative residual {100 * rel:.1f} % > {100 * max_relative_residual:.0f} %: "
                       "the circuit does not describe this spectrum"), rel
    scale = float(np.max(np.abs(z)))
    names = ("R_s", "R_ct", "log10 Q", "n")
    for k in range(4):
        lo_k, hi_k = lo[k], hi[k]
        tol = 1e-9 * scale if k < 2 else 1e-6
        if p[k] - lo_k <= tol or (np.isfinite(hi_k) and hi_k - p[k] <= tol and k != 3):
            at = lo_k if p[k] - lo_k <= tol else hi_k
            return False, f"{names[k]} = {p[k]:.3g} is at the bound {at:g} of the fit", rel
    if p[3] < MIN_CPE_EXPONENT:
        return False, (f"CPE exponent n = {p[3]:.2f} < {MIN_CPE_EXPONENT:g}: the fitted arc is "
                       "diffusion-like (n = 0.5 is a Warburg element), not a charge-transfer "
                       "semicircle, so R_ct is not a charge-transfer resistance"), rel
    hf = np.argsort(f)[::-1][: max(1, f.size // 20)]
    re_hf = float(np.min(z.real[hf]))
    if re_hf > 0 and p[0] < RS_HF_MIN_FRACTION * re_hf:
        return False, (f"R_s = {p[0]:.3g} Ω is far below the high-frequency Re(Z) = {re_hf:.4g} Ω: "
                       "the series resistance is not resolved"), rel
    ref, closed = rs_reference(f, z)
    if ref > 0 and p[0] > ref * (1.05 + rel) + 1e-12:
        where = ("the high-frequency intercept (the spectrum reaches the real axis)" if closed else
                 "the valley between the unclosed high-frequency arc and the fitted arc")
        return False, (f"R_s = {p[0]:.3g} Ω lies above Re(Z) = {ref:.4g} Ω at {where}: the fitted arc "
                       "does not start where the spectrum does"), rel
    for k, nm in ((0, "R_s"), (1, "R_ct")):
        if k == 1 and not r_ct_resolved:
            continue
        if not np.isfinite(errs[k]):
            return False, f"the standard error of {nm} is undefined (singular Jacobian)", rel
    return True, "", rel


def rs_reference(freq_hz, z) -> tuple[float, bool]:
    """The Re(Z) a fitted series resistance R_s may not exceed: ``(re_ohm, hf_closed)``.

    Physics.  In the Randles circuit Re(Z) >= R_s at every frequency and Re(Z) -> R_s as
    f -> infinity, so R_s *is* the high-frequency real-axis intercept - when the spectrum
    reaches it.  Solid-state cells often do not: the bulk and grain-boundary responses of the
    solid electrolyte (and a solid-electrolyte interphase) give an arc at MHz-100 kHz, in front
    of the cathode's charge-transfer arc, which the Randles circuit does not model.  The fitted
    R_s then stands for bulk + grain boundary (the left foot of the fitted arc), which lies
    *above* the Re(Z) at the highest measured frequency, since there the spectrum is still on
    the grain-boundary arc, below the bulk + grain-boundary sum.  Comparing R_s with that
    Re(Z) would fail every such fit (the real NCM/LPSCl half cell of hybrid-drt, 7 MHz-10 mHz:
    R_s = 58.7 Ω against Re(Z) = 49.0 Ω at 7 MHz, where the phase is still -18°).

    Rule.  The spectrum reaches its high-frequency limit when, among the highest 5 % of the
    frequencies, the phase of Z comes within :data:`HF_CLOSED_PHASE_DEG` of 0 or Z'' changes
    sign (an inductive tail of the leads): the intercept is the Re(Z) of the point closest to
    the real axis there, and R_s must match it.  Otherwise the reference is the *valley*: the
    point closest to the real axis (smallest |phase|) on the high-frequency side of the main
    arc (frequencies above that of the largest -Z''), i.e. where the unclosed high-frequency
    arc meets the fitted one (68 kHz, 93 Ω for the spectrum above); an R_s beyond it would put
    the series resistance inside the fitted arc.  The lower limit (``RS_HF_MIN_FRACTION``) is
    checked separately against the highest-frequency Re(Z) in both cases.

    Parameters
    ----------
    freq_hz : (N,) ndarray
        Frequencies (Hz).
    z : (N,) complex ndarray
        Measured impedance (ohm).

    Returns
    -------
    re_ohm : float
        The reference Re(Z) (ohm).
    hf_closed : bool
        Whether the spectrum reaches its high-frequency limit.
    """
    f = np.asarray(freq_hz, float)
    z = np.asarray(z, complex)
    order = np.argsort(f)[::-1]
    f, z = f[order], z[order]
    ph = np.abs(np.degrees(np.angle(z)))
    n_hf = max(1, f.size // 20)
    hf_ph = ph[:n_hf]
    crosses = bool(np.any(np.sign(z.imag[:n_hf + 1][1:]) != np.sign(z.imag[:n_hf + 1][:-1])))
    if hf_ph.min() <= HF_CLOSED_PHASE_DEG or crosses or np.any(z.imag[:n_hf] >= 0):
        k = int(np.argmin(np.abs(z.imag[:n_hf + 1]) / np.maximum(np.abs(z[:n_hf + 1]), 1e-300)))
        return float(z.real[k]), True
    apex = int(np.argmax(-z.imag))
    side = slice(0, max(apex, 1))
    k = int(np.argmin(ph[side]))
    return float(z.real[side][k]), False


# --------------------------------------------------------------------------------------
# solid-state circuits: R_s - (R_b ∥ CPE_b) - (R_gb ∥ CPE_gb) - (R_ct ∥ CPE_dl) [- W]
# --------------------------------------------------------------------------------------
#: The circuits :func:`fit_eis` knows: name -> (arc labels from high to low frequency, tail).
#: ``randles`` is the one-arc circuit above; the others are R_s in series with (R ∥ CPE) arcs
#: ("ZARC" elements), optionally ending in a semi-infinite Warburg ``W``.  Arc labels:
#: ``b`` bulk and ``gb`` grain boundary of the solid electrolyte; ``el`` the electrolyte's
#: bulk and grain boundary in one arc; ``i1``, ``i2`` interfacial arcs at higher frequency
#: than the charge transfer (counter electrode, e.g. In-Li | Li6PS5Cl, and a cathode
#: interphase); ``ct`` the charge-transfer arc with the double layer, always the
#: lowest-frequency arc: **its R is the R_ct taken downstream**.
CIRCUITS = {
    "randles": (("ct",), "randles"),
    "gb-ct": (("gb", "ct"), "none"),
    "gb-ct-w": (("gb", "ct"), "warburg"),
    "bulk-gb-ct": (("b", "gb", "ct"), "none"),
    "bulk-gb-ct-w": (("b", "gb", "ct"), "warburg"),
    "el-2int-ct": (("el", "i1", "i2", "ct"), "none"),
}
#: The circuit strings (impedance.py notation) of :data:`CIRCUITS` (R0 is dropped when the
#: fit fixes R_s at 0, see :func:`fit_eis`).
CIRCUIT_STRINGS = {
    "randles": "R0-p(R1-W1,CPE1)",
    "gb-ct": "R0-p(R1,CPE1)-p(R2,CPE2)",
    "gb-ct-w": "R0-p(R1,CPE1)-p(R2,CPE2)-W1",
    "bulk-gb-ct": "R0-p(R1,CPE1)-p(R2,CPE2)-p(R3,CPE3)",
    "bulk-gb-ct-w": "R0-p(R1,CPE1)-p(R2,CPE2)-p(R3,CPE3)-W1",
    "el-2int-ct": "R0-p(R1,CPE1)-p(R2,CPE2)-p(R3,CPE3)-p(R4,CPE4)",
}
_ELECTROLYTE = ("b", "gb", "el")
#: Arcs of the solid electrolyte (bulk, grain boundary, both in one): an unresolved one fails
#: the whole fit (the electrolyte resistance is then not measured); any other arc that is not
#: resolved is reported as NaN and flagged, the rest of the fit kept.
ELECTROLYTE_ARCS = _ELECTROLYTE
#: ``circuit="auto"`` moves from a circuit to one with more parameters only when its BIC is
#: lower by more than this (Kass & Raftery 1995, J. Am. Stat. Assoc. 90, 773: ΔBIC > 10 is
#: "very strong" evidence).
AUTO_DELTA_BIC = 10.0
#: A parameter whose standard error reaches this fraction of its value (100 %) is not
#: determined by the spectrum: a fit with one fails its quality test.
MAX_RELATIVE_ERROR = 1.0
#: Bounds of the arc fit: CPE exponents, and how many decades beyond the measured frequency
#: window an arc's characteristic frequency may lie.
ARC_N_BOUNDS = (0.3, 1.0)
TAU_MARGIN_DECADES = 2.0


def _n_params(circuit: str, series: bool = True) -> int:
    labels, tail = CIRCUITS[circuit]
    if tail == "randles":
        return 5
    return int(series) + 3 * len(labels) + (tail == "warburg")


def zarc_impedance(freq_hz, r_s_ohm: float, arcs, sigma_w_ohm_s05: float = 0.0) -> np.ndarray:
    """Complex impedance of R_s - (R_1 ∥ CPE_1) - (R_2 ∥ CPE_2) - ... [- W].

    Parameters
    ----------
    freq_hz : (N,) array_like
        Frequencies in Hz, > 0.
    r_s_ohm : float
        Series resistance (ohm), >= 0.
    arcs : sequence of (r_ohm, q, n)
        Each arc's resistance (ohm, > 0), CPE magnitude Q (F s^(n-1), > 0) and exponent
        (0 < n <= 1).
    sigma_w_ohm_s05 : float, default 0
        Coefficient of a semi-infinite Warburg element in series (ohm s^-0.5), >= 0.

    Returns
    -------
    (N,) complex ndarray
        ``R_s + Σ_k R_k / (1 + R_k Q_k (jω)^n_k) + σ(1 − j)/√ω`` (ohm), ω = 2πf.

    Examples
    --------
    >>> z = zarc_impedance([1e9, 1e-9], 10.0, [(100.0, 1e-9, 1.0), (50.0, 1e-6, 1.0)])
    >>> round(float(z[0].real), 3), round(float(z[1].real), 3)
    (10.0, 160.0)
    """
    f = np.asarray(freq_hz, dtype=float)
    if f.size == 0 or not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise InputError("freq_hz: frequencies must be finite and > 0; drop zero/negative rows")
    r_s = _positive("r_s_ohm", r_s_ohm, allow_zero=True)
    clean = []
    for k, a in enumerate(arcs):
        r, q, n = (float(v) for v in a)
        _positive(f"arcs[{k}] r_ohm", r)
        _positive(f"arcs[{k}] q", q)
        if not (0.0 < n <= 1.0):
            raise ParameterError(f"arcs[{k}] n", n, "must be in (0, 1]", "use 1 for a capacitor")
        clean.append((r, q, n))
    sigma = _positive("sigma_w_ohm_s05", sigma_w_ohm_s05, allow_zero=True)
    return _z_arcs(f, r_s, clean, sigma)


def _z_arcs(f, r_s, arcs, sigma):
    w = 2.0 * np.pi * f
    z = np.full(f.shape, r_s, dtype=complex)
    for r, q, n in arcs:
        z = z + r / (1.0 + r * q * (1.0j * w) ** n)
    if sigma:
        z = z + sigma * (1.0 - 1.0j) / np.sqrt(w)
    return z


def effective_capacitance(r_ohm: float, q: float, n: float) -> float:
    """Effective capacitance of one (R ∥ CPE) arc (F).

    ``C_eff = (R Q)^(1/n) / R = Q^(1/n) R^((1−n)/n)``: the capacitance of the ideal R ∥ C with
    the same resistance and characteristic frequency ``f_c = 1 / (2π (R Q)^(1/n))``, i.e.
    ``C_eff = 1 / (2π f_c R)``; it equals Q for n = 1. This is the formula of Hsu & Mansfeld
    (2001), Corrosion 57, 747, doi:10.5006/1.3280607, for a parallel R–CPE with the arc's own
    R (not the formula of Brug et al. (1984), J. Electroanal. Chem. 176, 275,
    doi:10.1016/S0022-0728(84)80324-1, for a surface distribution, which also involves R_s).

    Parameters
    ----------
    r_ohm : float
        The arc's resistance (ohm), > 0.
    q : float
        CPE magnitude Q (F s^(n−1)), > 0.
    n : float
        CPE exponent, 0 < n <= 1.

    Returns
    -------
    float
        C_eff (F).

    Examples
    --------
    >>> round(effective_capacitance(1000.0, 1e-6, 1.0), 12)
    1e-06
    """
    return float((r_ohm ** (1.0 - n) * q) ** (1.0 / n))


def _arc_peaks(f, z):
    """Characteristic frequencies of the arcs read off the spectrum (Hz), strongest first.

    An (R ∥ CPE) arc's apex lies at its characteristic frequency, where the slope
    ``dZ'/d ln(1/f)`` peaks: the local maxima of that slope (3-point smoothed), then those of
    ``−Z''``. When the slope falls from the highest frequency on, an arc lies above the measured
    range: its apex is put at the highest frequency.
    """
    order = np.argsort(f)[::-1]
    f, z = f[order], z[order]
    g = np.gradient(z.real, -np.log(f))
    if g.size >= 5:
        g = np.convolve(np.pad(g, 1, mode="edge"), np.ones(3) / 3.0, mode="valid")
    peaks = [j for j in range(1, g.size - 1) if g[j] > 0 and g[j] >= g[j - 1] and g[j] >= g[j + 1]]
    peaks.sort(key=lambda j: -g[j])
    out = [float(f[j]) for j in peaks]
    if g.size > 2 and g[0] > g[1]:
        out.append(float(f[0]))
    h = -z.imag
    out += [float(f[j]) for j in range(1, h.size - 1) if h[j] > 0 and h[j] >= h[j - 1] and h[j] >= h[j + 1]]
    seen = []
    for v in out:
        if all(abs(np.log10(v / s)) > 0.3 for s in seen):
            seen.append(v)
    return seen


def _arc_starts(f, z, n_arcs, tail, series):
    """Starting vectors ``[(R_s), (lg R, lg τ | lg τ-step, n) per arc, (σ)]`` for the arc fit."""
    from itertools import combinations

    order = np.argsort(f)[::-1]
    fs, zs = f[order], z[order]
    peaks = _arc_peaks(f, z)
    fmax, fmin = float(fs[0]), float(fs[-1])
    # every choice of n_arcs among the n_arcs + 1 strongest apices, then evenly spread ones
    cands = [list(c) for c in combinations(peaks[:n_arcs + 1], n_arcs)]
    cands.append(list(np.logspace(np.log10(fmax), np.log10(fmin), n_arcs + 2)[1:-1]))
    cands.append([fmax] + list(np.logspace(np.log10(fmax), np.log10(fmin), n_arcs + 1)[1:-1]))
    uniq = []
    for c in cands:
        c = sorted(c, reverse=True)
        if len(c) == n_arcs and not any(np.allclose(c, u, rtol=1e-6) for u in uniq):
            uniq.append(c)
    starts = []
    r_hf = float(max(zs.real[0], 0.0))
    floor = 1e-3 * max(float(np.max(np.abs(zs))), 1e-12)
    for fc in uniq:
        # an arc spans the rise of Z' between the geometric midpoints of neighbouring apices
        edges = [np.sqrt(a * b) for a, b in zip(fc[:-1], fc[1:])] + [fmin]
        re_at = np.interp(np.log(edges), np.log(fs[::-1]), zs.real[::-1])
        r_s0 = (0.5 * r_hf if fc[0] >= fmax else r_hf) if series else 0.0
        rk = np.maximum(np.diff(np.concatenate(([r_s0], re_at))), floor)
        if tail == "none":  # the last arc closes on the real axis beyond the data
            rk[-1] = max(rk[-1], 2.0 * (zs.real[-1] - (re_at[-2] if n_arcs > 1 else r_s0)))
        lt = np.log10(1.0 / (2 * np.pi * np.asarray(fc)))
        for n0 in (0.9, 0.65):
            p = [r_s0] if series else []
            for k in range(n_arcs):
                p += [np.log10(rk[k]), lt[0] if k == 0 else max(lt[k] - lt[k - 1], 0.05), n0]
            if tail == "warburg":
                p.append(max(0.2 * rk[-1] * np.sqrt(2 * np.pi * fmin), 1e-6 * r_hf + 1e-9))
            starts.append(np.array(p, dtype=float))
    return starts


def _arc_unpack(p, n_arcs, tail, series):
    """Internal vector -> (r_s, [(R, Q, n, τ)], σ)."""
    r_s = p[0] if series else 0.0
    o = int(series)
    arcs = []
    lt = 0.0
    for k in range(n_arcs):
        lr, t, n = p[o + 3 * k: o + 3 * k + 3]
        lt = t if k == 0 else lt + t
        r, tau = 10.0 ** lr, 10.0 ** lt
        arcs.append((r, tau ** n / r, n, tau))
    sigma = p[o + 3 * n_arcs] if tail == "warburg" else 0.0
    return r_s, arcs, sigma


def _arc_physical(p, labels, tail, series):
    """Reported values of an internal vector: ``[R_s, (R, Q, n) per arc, (σ), R_electrolyte]``
    with ``R_electrolyte = R_s + Σ R of the electrolyte arcs`` (the last entry)."""
    r_s, arcs, sigma = _arc_unpack(p, len(labels), tail, series)
    out = [r_s]
    for r, q, n, _ in arcs:
        out += [r, q, n]
    if tail == "warburg":
        out.append(sigma)
    out.append(r_s + sum(a[0] for a, lab in zip(arcs, labels) if lab in _ELECTROLYTE))
    return np.array(out)


def _information(chi2: float, n_points: int, k: int) -> tuple[float, float]:
    """(AIC, BIC) of a least-squares fit with ``M = 2 n_points`` weighted residuals (real and
    imaginary parts) and ``k`` parameters: ``M ln(χ²/M) + 2k`` and ``M ln(χ²/M) + k ln M``."""
    m = 2 * n_points
    ll = m * np.log(max(chi2, 1e-300) / m)
    return float(ll + 2 * k), float(ll + k * np.log(m))


def _fit_arcs(f, z, circuit, series=True):
    """Fit one arc circuit of :data:`CIRCUITS`; with R_s at its bound 0, refit without it."""
    from scipy.optimize import least_squares

    labels, tail = CIRCUITS[circuit]
    n_arcs = len(labels)
    mod = np.abs(z)
    fmax, fmin = float(np.max(f)), float(np.min(f))
    scale = float(np.max(mod))
    lt_lo = np.log10(1.0 / (2 * np.pi * fmax)) - TAU_MARGIN_DECADES
    lt_hi = np.log10(1.0 / (2 * np.pi * fmin)) + TAU_MARGIN_DECADES
    lr_lo, lr_hi = np.log10(scale) - 6.0, np.log10(scale) + 2.0
    lo, hi = ([0.0], [np.inf]) if series else ([], [])
    for k in range(n_arcs):
        lo += [lr_lo, lt_lo if k == 0 else 0.0, ARC_N_BOUNDS[0]]
        hi += [lr_hi, lt_hi if k == 0 else lt_hi - lt_lo, ARC_N_BOUNDS[1]]
    if tail == "warburg":
        lo.append(0.0)
        hi.append(np.inf)
    lo, hi = np.array(lo), np.array(hi)

    def model(p):
        r_s, arcs, sigma = _arc_unpack(p, n_arcs, tail, series)
        return _z_arcs(f, r_s, [(r, q, n) for r, q, n, _ in arcs], sigma)

    def resid(p):
        d = (model(p) - z) / mod
        return np.concatenate((d.real, d.imag))

    w = 2.0 * np.pi * f
    o = int(series)

    def jac(p):
        # Z_k = R_k / (1 + u_k), u_k = (jω τ_k)^n_k, lg τ_k = p[lg τ_1] + Σ steps up to k
        cols = [np.ones_like(w, dtype=complex)] if series else []
        dz_dlt = []
        lt = 0.0
        for k in range(n_arcs):
            lr, t, n = p[o + 3 * k: o + 3 * k + 3]
            lt = t if k == 0 else lt + t
            r = 10.0 ** lr
            jwt = 1.0j * w * 10.0 ** lt
            u = jwt ** n
            zk = r / (1.0 + u)
            dz_du = -r / (1.0 + u) ** 2
            dz_dlt.append(dz_du * u * n * np.log(10.0))
            cols += [np.log(10.0) * zk, None, dz_du * u * np.log(jwt)]
        for k in range(n_arcs):  # a step moves every slower arc's τ
            cols[o + 3 * k + 1] = sum(dz_dlt[k:])
        if tail == "warburg":
            cols.append((1.0 - 1.0j) / np.sqrt(w))
        jm = np.stack(cols, axis=1) / mod[:, None]
        return np.concatenate((jm.real, jm.imag))

    top = np.where(np.isfinite(hi), hi - 1e-6 * (np.abs(np.nan_to_num(hi, posinf=0.0)) + 1), np.inf)
    def solve(p0, nfev):
        try:
            return least_squares(resid, p0, jac=jac, bounds=(lo, hi), method="trf",
                                 x_scale="jac", xtol=1e-10, ftol=1e-10, gtol=1e-10,
                                 max_nfev=nfev)
        except (ValueError, FloatingPointError) as exc:  # pragma: no cover - defensive
            log.debug("EIS %s start failed: %s", circuit, exc)
            return None

    # every start a short run (finds the basin), then the best one to convergence
    best = None
    for p0 in _arc_starts(f, z, n_arcs, tail, series):
        r = solve(np.clip(p0, lo + 1e-6 * (np.abs(lo) + 1), top), 80)
        if r is not None and np.isfinite(r.cost) and (best is None or r.cost < best.cost):
            best = r
    if best is not None and best.status == 0:  # stopped at the evaluation limit
        r = solve(best.x, 2000)
        if r is not None and np.isfinite(r.cost) and r.cost <= best.cost:
            best = r
    if best is None:
        raise ConvergenceError(f"fit_eis: no starting point gave a finite {circuit} fit; check "
                               "the spectrum's sign convention (z_imag_ohm < 0 on the arc)")
    p = best.x
    if series and p[0] <= 1e-9 * scale:
        # R_s at its bound: the circuit without it (nested, one parameter less) is the model
        return _fit_arcs(f, z, circuit, series=False)
    k = p.size
    chi2 = float(2.0 * best.cost)
    dof = 2 * f.size - k
    phys = _arc_physical(p, labels, tail, series)
    errs = np.full(phys.size, np.nan)
    r_s, arcs, sigma = _arc_unpack(p, n_arcs, tail, series)
    notes = unresolved_arcs(f, z, [(lab, a[0], 1.0 / (2 * np.pi * a[3]))
                                   for lab, a in zip(labels, arcs)])
    try:
        cov = np.linalg.inv(best.jac.T @ best.jac) * (chi2 / max(dof, 1))
    except np.linalg.LinAlgError:
        # an unresolved arc's R (and τ) can leave a flat direction: the pseudo-inverse keeps
        # the errors of the determined parameters
        cov = (np.linalg.pinv(best.jac.T @ best.jac) * (chi2 / max(dof, 1))) if notes else None
    if cov is not None:  # propagate to the reported values (numerical Jacobian of the map)
        g = np.empty((phys.size, k))
        for j in range(k):
            h = 1e-6 * max(abs(p[j]), 1.0)
            dp = np.zeros(k)
            dp[j] = h
            g[:, j] = (_arc_physical(p + dp, labels, tail, series)
                       - _arc_physical(p - dp, labels, tail, series)) / (2 * h)
        d = np.diag(g @ cov @ g.T)
        errs = np.where(d >= 0, np.sqrt(np.abs(d)), np.nan)
    if not series:
        errs[0] = 0.0  # fixed, not fitted
    rel = float(np.sqrt(np.mean(np.abs(model(p) - z) ** 2 / mod ** 2)))
    ok, problem = _arc_quality(p, lo, hi, phys, errs, f, z, rel, labels, tail, series, arcs,
                               success=bool(best.success), message=str(best.message),
                               unresolved=notes)
    aic, bic = _information(chi2, f.size, k)
    vals = {"r_s_ohm": float(r_s), "r_s_err_ohm": float(errs[0]) if series else float("nan"),
            "sigma_w_ohm_s05": float(sigma),
            "sigma_w_err_ohm_s05": float(errs[-2]) if tail == "warburg" else float("nan"),
            "r_electrolyte_ohm": float(phys[-1]), "r_electrolyte_err_ohm": float(errs[-1])}
    table = []
    r_int, r_int_var = 0.0, 0.0
    for j, lab in enumerate(labels):
        r_fit, q, n, tau = arcs[j]
        e = errs[1 + 3 * j: 4 + 3 * j]
        resolved = lab not in notes
        # an unresolved arc: R (its error, and C_eff, which needs R) is no measurement -> NaN
        r = float(r_fit) if resolved else float("nan")
        r_e = float(e[0]) if resolved else float("nan")
        c = effective_capacitance(r_fit, q, n) if resolved else float("nan")
        table.append({"label": lab, "r_ohm": r, "r_err_ohm": r_e, "q": float(q),
                      "q_err": float(e[1]), "n": float(n), "n_err": float(e[2]), "c_F": c,
                      "f_apex_Hz": float(1.0 / (2 * np.pi * tau)), "resolved": resolved,
                      "r_fit_ohm": float(r_fit)})
        if lab == "ct":
            vals["r_ct_fit_ohm"] = float(r_fit)
        if lab in ("i1", "i2"):
            r_int += r
            r_int_var += r_e ** 2
            continue
        if lab == "el":
            continue
        key = {"b": ("r_b_ohm", "q_b", "n_b"), "gb": ("r_gb_ohm", "q_gb", "n_gb"),
               "ct": ("r_ct_ohm", "q_cpe", "n_cpe")}[lab]
        vals.update({key[0]: r, key[1]: float(q), key[2]: float(n),
                     key[0].replace("_ohm", "_err_ohm"): r_e,
                     key[1] + "_err": float(e[1]), key[2] + "_err": float(e[2]),
                     f"c_{lab}_F": c})
    return EISFit(**vals, chi_square=chi2, reduced_chi_square=float(chi2 / max(dof, 1)),
                  n_points=int(f.size), success=bool(best.success), message=str(best.message),
                  fit_ok=ok, fit_problem=problem, relative_residual=rel, circuit=circuit,
                  n_params=int(k), aic=aic, bic=bic, r_s_fixed=not series,
                  r_int_ohm=float(r_int) if "i1" in labels else float("nan"),
                  r_int_err_ohm=float(np.sqrt(r_int_var)) if "i1" in labels else float("nan"),
                  arcs=tuple(table), unresolved=tuple(notes),
                  fit_note="; ".join(notes.values()))


def _arc_quality(p, lo, hi, phys, errs, f, z, rel, labels, tail, series, arcs, *, success,
                 message, unresolved=None):
    """Quality test of an arc-circuit fit: ``(fit_ok, fit_problem)``; rules in :func:`fit_eis`.

    ``unresolved`` ({label: reason}, :func:`unresolved_arcs`): those arcs' R and τ are not
    tested against their bounds nor R's error against its value (they are reported as NaN);
    an unresolved electrolyte arc (:data:`ELECTROLYTE_ARCS`) fails the fit."""
    unresolved = dict(unresolved or {})
    if not success:
        return False, f"the optimiser did not converge ({message})"
    if not np.isfinite(rel) or rel > MAX_RELATIVE_RESIDUAL:
        return False, (f"relative residual {100 * rel:.1f} % > {100 * MAX_RELATIVE_RESIDUAL:.0f} %: "
                       "the circuit does not describe this spectrum")
    names = ["R_s"] if series else []
    skip = set()
    for j, lab in enumerate(labels):
        names += [f"lg R_{lab}", f"lg tau_{lab}" if j == 0 else f"lg(tau_{lab}/tau_{labels[j - 1]})",
                  f"n_{lab}"]
        if lab in unresolved:  # R -> its bound and τ beyond the window is what unresolved means
            skip |= {names[-3], names[-2]}
    if tail == "warburg":
        names.append("sigma_W")
    scale = float(np.max(np.abs(z)))
    for j, nm in enumerate(names):
        if nm in skip:
            continue
        tol = 1e-9 * scale if nm in ("R_s", "sigma_W") else 1e-6
        at_lo = p[j] - lo[j] <= tol
        at_hi = bool(np.isfinite(hi[j]) and hi[j] - p[j] <= tol and not nm.startswith("n_"))
        if at_lo and nm.startswith("lg(tau"):
            return False, (f"two arcs share one time constant ({nm} = 0): the spectrum does not "
                           "resolve them")
        if at_lo or at_hi:
            return False, f"{nm} = {p[j]:.3g} is at the bound {lo[j] if at_lo else hi[j]:g} of the fit"
    n_ct = arcs[labels.index("ct")][2]
    if n_ct < MIN_CPE_EXPONENT:
        return False, (f"CPE exponent of the charge-transfer arc n = {n_ct:.2f} < "
                       f"{MIN_CPE_EXPONENT:g}: the arc is diffusion-like, not a charge-transfer "
                       "semicircle")
    hf = np.argsort(f)[::-1][: max(1, f.size // 20)]
    re_hf = float(np.min(z.real[hf]))
    if series and re_hf > 0 and phys[0] < RS_HF_MIN_FRACTION * re_hf:
        return False, (f"R_s = {phys[0]:.3g} Ω is far below the high-frequency Re(Z) = "
                       f"{re_hf:.4g} Ω: the series resistance is not resolved")
    if not series and arcs[0][3] > 10.0 / (2 * np.pi * float(np.max(f))):
        return False, ("R_s = 0 (at its bound) needs the first arc's apex within a decade of the "
                       f"highest frequency or above it; it lies at {1 / (2 * np.pi * arcs[0][3]):.3g} Hz")
    re_min = float(np.min(z.real))
    if phys[0] > re_min * (1.05 + rel) + 1e-12:
        return False, (f"R_s = {phys[0]:.3g} Ω lies above the smallest measured Re(Z) = "
                       f"{re_min:.4g} Ω: every arc adds to R_s, so the fit does not start "
                       "where the spectrum does")
    pnames = ["R_s"]
    for lab in labels:
        pnames += [f"R_{lab}", f"Q_{lab}", f"n_{lab}"]
    if tail == "warburg":
        pnames.append("sigma_W")
    for j, (nm, v, e) in enumerate(zip(pnames, phys, errs)):
        if (j == 0 and not series) or (nm.startswith("R_") and nm[2:] in unresolved):
            continue
        if not np.isfinite(e):
            return False, f"the standard error of {nm} is undefined (singular Jacobian)"
        if abs(e) >= MAX_RELATIVE_ERROR * abs(v):
            return False, (f"{nm} = {v:.3g} ± {e:.2g}: relative error "
                           f"{100 * abs(e) / max(abs(v), 1e-300):.0f} % >= "
                           f"{100 * MAX_RELATIVE_ERROR:.0f} %, not determined by the spectrum")
    for lab in labels:
        if lab in ELECTROLYTE_ARCS and lab in unresolved:
            return False, (f"{unresolved[lab]} (an electrolyte arc: the electrolyte resistance is "
                           "not resolved)")
    return True, ""


def resolution_problem(freq_hz, z, arcs) -> str:
    """Why an arc resistance is beyond what the spectrum can determine ("" when none is): the
    reason for the first arc :func:`unresolved_arcs` flags.

    An arc is **not resolved** when

    * its resistance exceeds :data:`MAX_ARC_R_OVER_MAX_Z` × the largest measured ``|Z|``, or
    * its apex frequency ``f_c = 1 / (2π τ)`` lies more than
      :data:`MAX_APEX_DECADES_BELOW_FMIN` decades below the lowest measured frequency.

    Either way the spectrum shows only the arc's high-frequency flank and R (and the arc's
    closure on the real axis) is an extrapolation of the assumed CPE shape: an R_ct of 1e11 Ω
    on a spectrum whose |Z| stays below 2e4 Ω is not a measurement.

    Parameters
    ----------
    freq_hz : (N,) array
        Measured frequencies (Hz).
    z : (N,) complex array
        Measured impedance (ohm).
    arcs : sequence of (label, r_ohm, f_apex_Hz)
        The fitted arcs.

    Returns
    -------
    str
        The reason for the first unresolved arc, or "".
    """
    notes = unresolved_arcs(freq_hz, z, arcs)
    return next(iter(notes.values()), "")


def unresolved_arcs(freq_hz, z, arcs) -> dict:
    """The arcs whose resistance the spectrum does not resolve, each with its reason.

    Same rules as :func:`resolution_problem` (R > :data:`MAX_ARC_R_OVER_MAX_Z` × max|Z|, or
    the apex more than :data:`MAX_APEX_DECADES_BELOW_FMIN` decades below the lowest measured
    frequency), applied to **every** arc: :func:`fit_eis` stores such an arc's R as NaN and
    flags it (``EISFit.unresolved``) while the resolved arcs keep their values; only an
    unresolved electrolyte arc (:data:`ELECTROLYTE_ARCS`) fails the fit.

    Parameters
    ----------
    freq_hz : (N,) array
        Measured frequencies (Hz).
    z : (N,) complex array
        Measured impedance (ohm).
    arcs : sequence of (label, r_ohm, f_apex_Hz)
        The fitted arcs.

    Returns
    -------
    dict
        ``{label: reason}`` in the order of ``arcs`` (empty when every arc is resolved).
    """
    f = np.asarray(freq_hz, dtype=float)
    zmax = float(np.max(np.abs(z)))
    fmin = float(np.min(f))
    out = {}
    for lab, r, fc in arcs:
        if not (np.isfinite(r) and r > 0):
            continue
        if r > MAX_ARC_R_OVER_MAX_Z * zmax:
            out[lab] = (f"R_{lab} = {r:.3g} Ω is not resolved: it exceeds {MAX_ARC_R_OVER_MAX_Z:g} × the "
                        f"largest measured |Z| = {zmax:.4g} Ω, so the arc closes beyond the measured "
                        f"frequencies (apex at {fc:.3g} Hz, lowest measured {fmin:.3g} Hz); measure "
                        "to lower frequencies")
        elif np.isfinite(fc) and np.log10(fmin / fc) > MAX_APEX_DECADES_BELOW_FMIN:
            out[lab] = (f"R_{lab} = {r:.3g} Ω is not resolved: the arc's apex at {fc:.3g} Hz lies "
                        f"{np.log10(fmin / fc):.1f} decades below the lowest measured frequency "
                        f"{fmin:.3g} Hz (> {MAX_APEX_DECADES_BELOW_FMIN:g}); measure to lower "
                        "frequencies")
    return out


def track_eis(spectra, states=None, circuit: str = "randles") -> pd.DataFrame:
    """Fit a series of spectra and tabulate R_s and R_ct against the cell state.

    000_290f30815ae66793 Fig. 2A-B: R_s and R_ct at successive SoC/DoD in the first cycle.

    Parameters
    ----------
    spectra : pandas.DataFrame or sequence of pandas.DataFrame
        Either one table with ``frequency_Hz``, ``z_real_ohm``, ``z_imag_ohm`` and a
        ``spectrum`` column (as ``ssbscope.echem.read_eis`` returns for multi-sweep files),
        or a list of such tables, one per spectrum.
    states : sequence of str, optional
        A label per spectrum (e.g. ``"charging (20 % SoC)"`` from
        :func:`ssbscope.echem.state_at`); default: the spectrum number.
    circuit : str, default "randles"
        The circuit of :func:`fit_eis` (a key of :data:`CIRCUITS` or ``"auto"``).

    Returns
    -------
    pandas.DataFrame
        One row per spectrum: ``spectrum``, ``state``, ``time_s`` (mean time if recorded, else
        NaN), every :class:`EISFit` field.
    """
    if isinstance(spectra, pd.DataFrame):
        if "spectrum" in spectra.columns:
            parts = [g for _, g in spectra.groupby("spectrum", sort=True)]
        else:
            parts = [spectra]
    else:
        parts = list(spectra)
    if not parts:
        raise InputError("track_eis: no spectra given; pass read_eis() output or a list of tables")
    if states is not None and len(states) != len(parts):
        raise ParameterError("states", len(states), f"must give one label per spectrum ({len(parts)})",
                             "pass as many labels as spectra")
    rows = []
    for k, g in enumerate(parts):
        if not isinstance(g, pd.DataFrame):
            raise InputError(f"track_eis: spectrum {k} is a {type(g).__name__}, not a DataFrame")
        miss = [c for c in ("frequency_Hz", "z_real_ohm", "z_imag_ohm") if c not in g.columns]
        if miss:
            raise MissingColumnError(f"spectrum {k}", f"missing column(s) {miss}",
                                     "pass tables as returned by ssbscope.echem.read_eis")
        fit = fit_eis(g["frequency_Hz"], g["z_real_ohm"], g["z_imag_ohm"], circuit=circuit)
        row = {"spectrum": k, "state": states[k] if states is not None else str(k),
               "time_s": float(g["time_s"].mean()) if "time_s" in g.columns else np.nan}
        row.update(fit.to_dict())
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# capacitance check of the arc labels
# --------------------------------------------------------------------------------------
#: Capacitance ranges of the phenomena an impedance arc can stand for, from Irvine, Sinclair &
#: West (1990), Adv. Mater. 2, 132, doi:10.1002/adma.19900020304 (their table of capacitance
#: values and their interpretation): bulk ~1e-12 F, grain boundary 1e-11–1e-8 F, surface layer
#: 1e-9–1e-7 F, sample–electrode interface 1e-7–1e-5 F, electrochemical reactions ~1e-4 F.
#: The table's values are for a sample of cell constant l/A = 1 cm^-1 (bulk: ε0 ε' A/l with
#: ε' ~ 10 gives 1e-12 F). Normalised here as each phenomenon scales:
#: ``"cm"`` - a volume property of the electrolyte (bulk, grain boundaries in the brick-layer
#: model), ``C l/A`` in F cm^-1, l the electrolyte thickness; ``"cm2"`` - a layer or interface,
#: whose C scales with its area only, ``C/A`` in F cm^-2 (the table's value read as that of a
#: 1 cm² electrode). Single values of the table become a band: bulk 1e-13–1e-11 F cm^-1
#: (ε' from ~1 to ~110), electrochemical reaction >= 1e-5 F cm^-2 (no upper end: a composite
#: or porous electrode's internal area and chemical capacitances lie above the table).
C_PHENOMENA = {
    "bulk": (1e-13, 1e-11, "cm"),
    "grain boundary": (1e-11, 1e-8, "cm"),
    "surface layer": (1e-9, 1e-7, "cm2"),
    "sample-electrode interface": (1e-7, 1e-5, "cm2"),
    "electrochemical reaction": (1e-5, np.inf, "cm2"),
}
#: The phenomena each arc label of :data:`CIRCUITS` stands for (``el``: bulk and grain boundary
#: in one arc; ``i1``, ``i2``: the interfacial arcs, a counter electrode or an interphase/SEI).
ARC_PHENOMENA = {
    "b": ("bulk",),
    "gb": ("grain boundary",),
    "el": ("bulk", "grain boundary"),
    "i1": ("surface layer", "sample-electrode interface", "electrochemical reaction"),
    "i2": ("surface layer", "sample-electrode interface", "electrochemical reaction"),
    "ct": ("sample-electrode interface", "electrochemical reaction"),
}
#: Names of the arc labels in notes and the report.
ARC_NAMES = {"b": "bulk", "gb": "grain boundary", "el": "electrolyte", "i1": "interface 1",
             "i2": "interface 2", "ct": "charge transfer"}
#: The ranges are orders of magnitude, and C_eff of a depressed arc (n < 1) depends on the
#: formula: a capacitance contradicts a label only beyond this many decades outside its range.
C_TOLERANCE_DECADES = 0.5
#: Geometry assumed when the cell does not declare it: electrode area from a ~1 mm disc to a
#: 100 cm² pouch, electrolyte thickness from a 1 µm film to a 1 cm pellet. The check is then
#: conservative: a label is contradicted only when no geometry in these ranges agrees with it.
PLAUSIBLE_AREA_CM2 = (0.01, 100.0)
PLAUSIBLE_THICKNESS_CM = (1e-4, 1.0)


def _interval(v, default, name):
    """(lo, hi) of a known value, a (lo, hi) pair, or the default range for None."""
    if v is None:
        return tuple(default), False
    if np.ndim(v) == 0:
        x = _positive(name, float(v))
        return (x, x), True
    lo, hi = (float(a) for a in v)
    _positive(name, lo)
    _positive(name, hi)
    if hi < lo:
        raise ParameterError(name, (lo, hi), "must be (low, high) with low <= high")
    return (lo, hi), lo == hi


def _si_farad(c: float) -> str:
    for scale, prefix in ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"),
                          (1e-15, "f")):
        if abs(c) >= scale:
            return f"{c / scale:.3g} {prefix}F"
    return f"{c:.2g} F"


def _range_text(p: str) -> str:
    lo, hi, unit = C_PHENOMENA[p]
    u = "F cm^-1" if unit == "cm" else "F cm^-2"
    return f"{p} {lo:.0e}–{hi:.0e} {u}" if np.isfinite(hi) else f"{p} >= {lo:.0e} {u}"


def check_capacitances(fit: EISFit, area_cm2=None, thickness_cm=None) -> EISFit:
    """Check each fitted arc's effective capacitance against what its label stands for.

    For every arc of the fit (the Randles circuit: its charge-transfer arc) with a resolved R,
    ``C = C_eff`` (:func:`effective_capacitance`, Hsu & Mansfeld 2001) is normalised as each
    phenomenon of :data:`C_PHENOMENA` scales - ``C l/A`` (F cm^-1) for the electrolyte's bulk
    and grain boundaries, ``C/A`` (F cm^-2) for layers and interfaces - and compared with the
    ranges of Irvine, Sinclair & West (1990), doi:10.1002/adma.19900020304. An unknown area or
    thickness spans :data:`PLAUSIBLE_AREA_CM2` / :data:`PLAUSIBLE_THICKNESS_CM`, and the
    normalised value becomes an interval. An arc's label is **contradicted** when for none of
    its phenomena (:data:`ARC_PHENOMENA`) the interval meets the phenomenon's range widened by
    :data:`C_TOLERANCE_DECADES`; the arc is then flagged (``c_inconsistent``) and described in
    ``c_note`` and ``fit_note`` with the phenomena its capacitance does fit - it is not
    relabelled. A failed fit (``fit_ok`` False) is not checked.

    Parameters
    ----------
    fit : EISFit
        A result of :func:`fit_eis`.
    area_cm2 : float or (float, float), optional
        Electrode area (cm²), or a (low, high) range; default :data:`PLAUSIBLE_AREA_CM2`.
    thickness_cm : float or (float, float), optional
        Solid-electrolyte thickness (cm), or a (low, high) range; default
        :data:`PLAUSIBLE_THICKNESS_CM`.

    Returns
    -------
    EISFit
        A copy with ``capacitances`` (one dict per arc: ``label``, ``name``, ``c_F`` (F),
        ``c_F_cm2`` (F cm^-2, NaN unless the area is one value), ``c_F_per_cm`` (F cm^-1,
        NaN unless area and thickness are single values), ``checked`` (False when R is not
        resolved), ``consistent``, ``says`` (phenomena the capacitance fits), ``expected``),
        ``c_inconsistent``, ``c_note``, ``c_ct_F`` for the Randles circuit and ``fit_note``
        with the ``c_note`` lines appended.

    Examples
    --------
    >>> f = np.logspace(6, -2, 60)
    >>> z = zarc_impedance(f, 5.0, [(100.0, 3e-6, 1.0), (500.0, 1e-5, 0.9)])
    >>> fit = check_capacitances(fit_eis(f, z.real, z.imag, circuit="gb-ct"), 1.0, 0.05)
    >>> fit.c_inconsistent
    ('gb',)
    """
    (a_lo, a_hi), a_known = _interval(area_cm2, PLAUSIBLE_AREA_CM2, "area_cm2")
    (l_lo, l_hi), l_known = _interval(thickness_cm, PLAUSIBLE_THICKNESS_CM, "thickness_cm")
    base = fit.fit_note  # a second check replaces the first one's lines
    if fit.c_note and base.endswith(fit.c_note):
        base = base[: -len(fit.c_note)].rstrip("; ")
    if fit.circuit == "randles":
        arcs = [{"label": "ct", "c_F": fit.c_ct_F if np.isfinite(fit.r_ct_ohm) else np.nan}]
    else:
        arcs = list(fit.arcs)
    widen = 10.0 ** C_TOLERANCE_DECADES
    out, bad, notes = [], [], []
    for a in arcs:
        lab = a["label"]
        c = float(a.get("c_F", np.nan))
        row = {"label": lab, "name": ARC_NAMES.get(lab, lab), "c_F": c,
               "c_F_cm2": c / a_lo if a_known and np.isfinite(c) else float("nan"),
               "c_F_per_cm": (c * l_lo / a_lo if a_known and l_known and np.isfinite(c)
                              else float("nan")),
               "expected": "; ".join(_range_text(p) for p in ARC_PHENOMENA.get(lab, ())),
               "checked": bool(fit.fit_ok and np.isfinite(c) and c > 0 and lab in ARC_PHENOMENA),
               "consistent": True, "says": ""}
        if row["checked"]:
            fits = []
            for p, (lo, hi, unit) in C_PHENOMENA.items():
                v_lo, v_hi = ((c * l_lo / a_hi, c * l_hi / a_lo) if unit == "cm"
                              else (c / a_hi, c / a_lo))
                if v_hi >= lo / widen and v_lo <= hi * widen:
                    fits.append(p)
            row["says"] = ", ".join(fits)
            row["consistent"] = bool(set(fits) & set(ARC_PHENOMENA[lab]))
            if not row["consistent"]:
                bad.append(lab)
                norm = []
                if np.isfinite(row["c_F_per_cm"]):
                    norm.append(f"C l/A = {row['c_F_per_cm']:.2g} F cm^-1")
                if np.isfinite(row["c_F_cm2"]):
                    norm.append(f"C/A = {row['c_F_cm2']:.2g} F cm^-2")
                notes.append(
                    f"arc '{row['name']}' ({lab}) has C = {_si_farad(c)}"
                    + (f" ({', '.join(norm)})" if norm else "")
                    + f": its capacitance says {row['says'] or 'none of the phenomena'}, not "
                    f"{' or '.join(ARC_PHENOMENA[lab])} (Irvine et al. 1990: {row['expected']}); "
                    "the label is kept")
        out.append(row)
    from dataclasses import replace

    c_note = "; ".join(notes)
    extra = {"c_ct_F": arcs[0]["c_F"]} if fit.circuit == "randles" else {}
    return replace(fit, capacitances=tuple(out), c_inconsistent=tuple(bad), c_note=c_note,
                   fit_note="; ".join(t for t in (base, c_note) if t), **extra)
