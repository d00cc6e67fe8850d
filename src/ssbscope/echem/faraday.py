"""Faraday's law for lithium metal: charge ↔ plated Li thickness ↔ Li volume.

``n = Q / F`` (one electron per Li), ``V = n M / ρ``, ``h = V / A``.  With M = 6.941 g mol^-1
and ρ = 0.534 g cm^-3 (``ssbscope.materials``), 3.0 mAh cm^-2 of Li is 14.5 µm thick
(001_a2c994afa3295f29: the theoretically expected thickness for 3.0 mAh cm^-2).
"""

from __future__ import annotations

import numpy as np

from ssbscope.errors import ParameterError
from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3

__all__ = ["lithium_thickness_um", "thickness_to_capacity_mah_cm2", "lithium_volume_um3"]

_C_PER_MAH = 3.6
_CM3_PER_MAH = _C_PER_MAH / FARADAY_C_MOL * M_LI_G_MOL / RHO_LI_G_CM3  # Li volume per mAh
_UM_PER_CM = 1e4
_UM3_PER_CM3 = 1e12


def _check(name: str, value, density_g_cm3: float):
    a = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ParameterError(name, value, "must be finite", "drop NaN/inf values first")
    if not (np.isfinite(density_g_cm3) and density_g_cm3 > 0):
        raise ParameterError("density_g_cm3", density_g_cm3, "must be > 0",
                             "use 0.534 g cm^-3 for Li metal")
    return a


def _ret(a: np.ndarray, like):
    return float(a) if np.ndim(like) == 0 else a


def lithium_thickness_um(areal_capacity_mah_cm2, density_g_cm3: float = RHO_LI_G_CM3):
    """Thickness of dense Li metal holding an areal capacity (Faraday's law).

    Parameters
    ----------
    areal_capacity_mah_cm2 : float or array_like
        Areal capacity in mAh cm^-2 (negative values give negative thickness, i.e. stripped).
    density_g_cm3 : float, default 0.534
        Li density in g cm^-3.

    Returns
    -------
    float or ndarray
        Thickness in µm: ``h = 3.6 Q M / (F ρ) · 10^4``.

    Examples
    --------
    >>> round(lithium_thickness_um(3.0), 1)
    14.5
    """
    a = _check("areal_capacity_mah_cm2", areal_capacity_mah_cm2, density_g_cm3)
    scale = _CM3_PER_MAH * RHO_LI_G_CM3 / density_g_cm3 * _UM_PER_CM
    return _ret(a * scale, areal_capacity_mah_cm2)


def thickness_to_capacity_mah_cm2(thickness_um, density_g_cm3: float = RHO_LI_G_CM3):
    """Areal capacity (mAh cm^-2) of a dense Li layer of given thickness (µm); inverse of
    :func:`lithium_thickness_um`.

    Examples
    --------
    >>> round(thickness_to_capacity_mah_cm2(14.55), 2)
    3.0
    """
    a = _check("thickness_um", thickness_um, density_g_cm3)
    scale = _CM3_PER_MAH * RHO_LI_G_CM3 / density_g_cm3 * _UM_PER_CM
    return _ret(a / scale, thickness_um)


def lithium_volume_um3(charge_mAh, density_g_cm3: float = RHO_LI_G_CM3):
    """Volume (µm^3) of dense Li metal corresponding to a charge (mAh).

    Parameters
    ----------
    charge_mAh : float or array_like
        Charge in mAh.
    density_g_cm3 : float, default 0.534
        Li density in g cm^-3.

    Returns
    -------
    float or ndarray
        ``V = 3.6 Q M / (F ρ)`` in µm^3 (1 mAh ≈ 4.85e8 µm^3).
    """
    a = _check("charge_mAh", charge_mAh, density_g_cm3)
    scale = _CM3_PER_MAH * RHO_LI_G_CM3 / density_g_cm3 * _UM3_PER_CM3
    return _ret(a * scale, charge_mAh)
