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
(Nyquist plots usually show ``−Z''`` upwards).
"""

from __future__ import annotations

import numpy as np

from ssbscope.errors import InputError, ParameterError

__all__ = ["randles_impedance"]


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
