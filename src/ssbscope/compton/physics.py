"""Compton scattering kinematics and cross-sections (Eqs. 1-2 of 000_290f30815ae66793).

Conventions
-----------
Energies are in keV, angles in degrees, electron momentum ``p_z`` in atomic units
(1 a.u. of momentum = m c alpha, so ``p_z / (m c) = alpha * p_z_au``).  Cross-sections are
in cm^2 per steradian (per keV for the double-differential one), per electron for
Klein-Nishina and per formula unit for the impulse approximation.

Examples
--------
>>> from ssbscope.compton import compton_energy_kev, momentum_au
>>> round(float(compton_energy_kev(115.0, 90.0)), 1)
93.9
>>> abs(float(momentum_au(compton_energy_kev(115.0, 90.0), 115.0, 90.0))) < 1e-12
True
"""

from __future__ import annotations

import numpy as np

from ssbscope.errors import ParameterError

__all__ = [
    "ME_C2_KEV",
    "ALPHA",
    "R_E_CM",
    "compton_energy_kev",
    "momentum_au",
    "dpz_de2_au_per_kev",
    "energy_from_momentum_kev",
    "klein_nishina_cm2_sr",
    "ddcs_cm2_sr_kev",
]

ME_C2_KEV = 510.99895000  # electron rest energy (keV), CODATA 2018
ALPHA = 7.2973525693e-3  # fine-structure constant
R_E_CM = 2.8179403262e-13  # classical electron radius (cm)


def _check_energy(name, e):
    e = np.asarray(e, dtype=float)
    if np.any(~np.isfinite(e)) or np.any(e <= 0):
        raise ParameterError(name, e if e.ndim == 0 else f"array with min {np.nanmin(e)!r}",
                             "must be finite and > 0 (keV)", "pass photon energies in keV")
    return e


def _check_angle(angle_deg):
    a = np.asarray(angle_deg, dtype=float)
    if np.any(~np.isfinite(a)) or np.any(a <= 0) or np.any(a > 180):
        raise ParameterError("angle_deg", angle_deg, "must be within (0, 180] degrees")
    return a


def compton_energy_kev(e_incident_kev, angle_deg):
    """Energy of a photon Compton-scattered by a free electron at rest.

    ``E_C = E_1 / (1 + (E_1 / m c^2)(1 - cos theta))``.

    Parameters
    ----------
    e_incident_kev : float or ndarray
        Incident photon energy E_1 (keV).
    angle_deg : float or ndarray
        Scattering angle theta (degrees), broadcast against ``e_incident_kev``.

    Returns
    -------
    float or ndarray
        E_C (keV); 93.87 keV for 115 keV at 90 degrees (000_290f30815ae66793: 93.9 keV).
    """
    e1 = _check_energy("e_incident_kev", e_incident_kev)
    th = np.deg2rad(_check_angle(angle_deg))
    out = e1 / (1.0 + (e1 / ME_C2_KEV) * (1.0 - np.cos(th)))
    return out if out.ndim else float(out)


def momentum_au(e_scattered_kev, e_incident_kev, angle_deg):
    """Projected electron momentum p_z from the scattered energy (Eq. 2 of 000_290f30815ae66793).

    Exact form ``p_z / (m c) = (E_2 - E_1 + E_1 E_2 (1 - cos theta) / m c^2) /
    sqrt(E_1^2 + E_2^2 - 2 E_1 E_2 cos theta)``, returned in atomic units
    (divided by the fine-structure constant).

    Parameters
    ----------
    e_scattered_kev : float or ndarray
        Scattered photon energy E_2 (keV), > 0.
    e_incident_kev : float or ndarray
        Incident energy E_1 (keV).
    angle_deg : float or ndarray
        Scattering angle (degrees).

    Returns
    -------
    float or ndarray
        p_z (a.u.); zero at E_2 = E_C, negative below, positive above, monotonic in E_2.
    """
    e2 = _check_energy("e_scattered_kev", e_scattered_kev)
    e1 = _check_energy("e_incident_kev", e_incident_kev)
    c = np.cos(np.deg2rad(_check_angle(angle_deg)))
    q = np.sqrt(e1 * e1 + e2 * e2 - 2.0 * e1 * e2 * c)
    pz = (e2 - e1 + e1 * e2 * (1.0 - c) / ME_C2_KEV) / q / ALPHA
    return pz if pz.ndim else float(pz)


def dpz_de2_au_per_kev(e_scattered_kev, e_incident_kev, angle_deg):
    """Jacobian dp_z/dE_2 (a.u. per keV) of Eq. 2 of 000_290f30815ae66793, analytic.

    With ``N = E_2 - E_1 + E_1 E_2 k``, ``k = (1 - cos theta)/m c^2`` and
    ``q = sqrt(E_1^2 + E_2^2 - 2 E_1 E_2 cos theta)``:
    ``d(p_z/mc)/dE_2 = (1 + E_1 k)/q - N (E_2 - E_1 cos theta)/q^3``.

    Returns
    -------
    float or ndarray
        Positive everywhere for 0 < theta <= 180 degrees.
    """
    e2 = _check_energy("e_scattered_kev", e_scattered_kev)
    e1 = _check_energy("e_incident_kev", e_incident_kev)
    c = np.cos(np.deg2rad(_check_angle(angle_deg)))
    k = (1.0 - c) / ME_C2_KEV
    q = np.sqrt(e1 * e1 + e2 * e2 - 2.0 * e1 * e2 * c)
    n = e2 - e1 + e1 * e2 * k
    d = ((1.0 + e1 * k) / q - n * (e2 - e1 * c) / q**3) / ALPHA
    return d if d.ndim else float(d)


def energy_from_momentum_kev(pz_au, e_incident_kev, angle_deg):
    """Inverse of :func:`momentum_au`: the scattered energy E_2 (keV) at momentum p_z (a.u.).

    Closed form: squaring Eq. 2 of 000_290f30815ae66793 with ``P = alpha p_z``,
    ``a = 1 + E_1 (1 - cos theta)/m c^2`` gives
    ``(a^2 - P^2) E_2^2 - 2 E_1 (a - P^2 cos theta) E_2 + E_1^2 (1 - P^2) = 0``, whose root
    on the side of E_C given by the sign of p_z is taken.  Broadcasts over all arguments.
    """
    pz = np.asarray(pz_au, dtype=float)
    e1 = _check_energy("e_incident_kev", e_incident_kev)
    c = np.cos(np.deg2rad(_check_angle(angle_deg)))
    if np.any(~np.isfinite(pz)) or np.any(np.abs(pz) >= 1.0 / ALPHA):
        raise ParameterError("pz_au", "array" if pz.ndim else float(pz),
                             "must be finite with |p_z| < 137 a.u.")
    p2 = (pz * ALPHA) ** 2
    a = 1.0 + e1 * (1.0 - c) / ME_C2_KEV
    qa = a * a - p2
    qb = e1 * (a - p2 * c)
    disc = np.maximum(qb * qb - qa * e1 * e1 * (1.0 - p2), 0.0)
    e2 = (qb + np.sign(pz) * np.sqrt(disc)) / qa
    return e2 if np.ndim(e2) else float(e2)


def klein_nishina_cm2_sr(e_incident_kev, angle_deg):
    """Klein-Nishina differential cross-section per free electron (cm^2/sr).

    ``dsigma/dOmega = (r_e^2 / 2) (E_C/E_1)^2 (E_C/E_1 + E_1/E_C - sin^2 theta)``
    (the factor of Eq. 1 of 000_290f30815ae66793).
    """
    e1 = _check_energy("e_incident_kev", e_incident_kev)
    ang = _check_angle(angle_deg)
    ec = compton_energy_kev(e1, ang)
    r = ec / e1
    s2 = np.sin(np.deg2rad(ang)) ** 2
    out = 0.5 * R_E_CM**2 * r * r * (r + 1.0 / r - s2)
    return out if np.ndim(out) else float(out)


def ddcs_cm2_sr_kev(e_scattered_kev, e_incident_kev, angle_deg, j_per_au):
    """Double-differential Compton cross-section in the impulse approximation.

    ``d^2 sigma / dOmega dE_2 = (dsigma_KN/dOmega) (E_2 / E_C) J(p_z) dp_z/dE_2``,
    the Ribberfors form with the kinematic factor X evaluated at p_z = 0; its
    integral over E_2 is Z times Klein-Nishina for a profile normalised to Z electrons.

    Parameters
    ----------
    e_scattered_kev : ndarray
        E_2 (keV).
    e_incident_kev, angle_deg : float
        Beam energy (keV) and scattering angle (degrees).
    j_per_au : ndarray or callable
        J(p_z) per formula unit (1/a.u.) at the p_z of each E_2, or a callable
        ``J(pz_au)`` such as ``functools.partial(ssbscope.compton.profile, "Li")``.

    Returns
    -------
    ndarray
        cm^2 sr^-1 keV^-1 per formula unit.
    """
    e2 = _check_energy("e_scattered_kev", e_scattered_kev)
    ec = compton_energy_kev(e_incident_kev, angle_deg)
    pz = momentum_au(e2, e_incident_kev, angle_deg)
    j = j_per_au(pz) if callable(j_per_au) else np.asarray(j_per_au, dtype=float)
    return (klein_nishina_cm2_sr(e_incident_kev, angle_deg) * (e2 / ec) * j
            * dpz_de2_au_per_kev(e2, e_incident_kev, angle_deg))
