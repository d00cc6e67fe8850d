"""Electrochemical impedance: the Randles circuit and its fit.

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

__all__ = ["randles_impedance", "fit_eis", "EISFit", "track_eis", "fit_quality", "rs_reference",
           "MAX_RELATIVE_RESIDUAL", "HF_CLOSED_PHASE_DEG", "MIN_CPE_EXPONENT"]

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

    def impedance(self, freq_hz) -> np.ndarray:
        """Model impedance (ohm, complex) at ``freq_hz`` with the fitted values."""
        return randles_impedance(freq_hz, self.r_s_ohm, self.r_ct_ohm, self.q_cpe, self.n_cpe,
                                 self.sigma_w_ohm_s05)

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


def fit_eis(freq_hz, z_real_ohm, z_imag_ohm, initial: dict | None = None) -> EISFit:
    """Fit R_s + ((R_ct + W) ∥ CPE) to an impedance spectrum (000_290f30815ae66793 Fig. 2A-B).

    Parameters
    ----------
    freq_hz : (N,) array_like
        Frequencies in Hz (> 0), any order, N >= 6.
    z_real_ohm, z_imag_ohm : (N,) array_like
        Real and imaginary impedance in ohm (``z_imag_ohm < 0`` on a capacitive arc).
    initial : dict, optional
        Starting values by name (``r_s_ohm``, ``r_ct_ohm``, ``q_cpe``, ``n_cpe``,
        ``sigma_w_ohm_s05``); missing ones are estimated from the arc.

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
    from scipy.optimize import least_squares

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
    ok, problem, rel = fit_quality(p, errs, f, z, success=bool(best.success),
                                   message=str(best.message), lo=lo, hi=hi)
    if not ok:
        log.warning("fit_eis: fit failed its quality test: %s", problem)
    q = 10.0 ** p[2]
    return EISFit(
        r_s_ohm=float(p[0]), r_ct_ohm=float(p[1]), q_cpe=float(q), n_cpe=float(p[3]),
        sigma_w_ohm_s05=float(p[4]),
        r_s_err_ohm=float(errs[0]), r_ct_err_ohm=float(errs[1]),
        q_cpe_err=float(q * np.log(10.0) * errs[2]), n_cpe_err=float(errs[3]),
        sigma_w_err_ohm_s05=float(errs[4]),
        chi_square=chi2, reduced_chi_square=float(s2), n_points=int(f.size),
        success=bool(best.success), message=str(best.message), fit_ok=ok, fit_problem=problem,
        relative_residual=rel)


def fit_quality(p: np.ndarray, errs: np.ndarray, f: np.ndarray, z: np.ndarray, *, success: bool,
                message: str, lo, hi,
                max_relative_residual: float = MAX_RELATIVE_RESIDUAL) -> tuple[bool, str, float]:
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
    * the standard error of R_s or R_ct is NaN/inf (singular Jacobian: undetermined).

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


def track_eis(spectra, states=None) -> pd.DataFrame:
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
        fit = fit_eis(g["frequency_Hz"], g["z_real_ohm"], g["z_imag_ohm"])
        row = {"spectrum": k, "state": states[k] if states is not None else str(k),
               "time_s": float(g["time_s"].mean()) if "time_s" in g.columns else np.nan}
        row.update(fit.to_dict())
        rows.append(row)
    return pd.DataFrame(rows)
