"""Compton profiles J(p_z) of materials from xraylib's atomic profiles.

The profile of a compound in the impulse approximation is the composition-weighted sum of
the atomic (Hartree-Fock, Biggs et al.) profiles tabulated by xraylib
(``xraylib.ComptonProfile(Z, p_z)``), each normalised to its Z electrons, so the profile of
one formula unit integrates to the number of its electrons.  This is the reference every
extracted profile of 000_290f30815ae66793 (Fig. 2E) is compared with.

Examples
--------
>>> import numpy as np
>>> from ssbscope.compton import profile
>>> pz = np.linspace(-100, 100, 40001)
>>> round(float(np.trapezoid(profile("Li", pz), pz)), 2)
3.0
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ssbscope.errors import ParameterError

__all__ = ["profile", "composition_of", "window_ratio", "PZ_MAX_AU"]

PZ_MAX_AU = 100.0  # xraylib tabulates atomic profiles for 0 <= p_z <= 100 a.u.

# dense table on which atomic profiles are linearly interpolated (error < 1e-5 relative)
_GRID = np.unique(np.concatenate([np.arange(0.0, 20.0, 0.0025), np.arange(20.0, 100.0, 0.02),
                                  [PZ_MAX_AU]]))


@lru_cache(maxsize=None)
def _atomic_table(z: int) -> np.ndarray:
    import xraylib_np

    j = xraylib_np.ComptonProfile(np.array([z], dtype=int), _GRID)[0]
    j = np.asarray(j, dtype=float)
    j.setflags(write=False)
    return j


def composition_of(material) -> dict[str, float]:
    """Atoms per formula unit of a material given by name, formula or object.

    Parameters
    ----------
    material : str or ssbscope.materials.Material or dict
        A named material of :mod:`ssbscope.materials` (``"NMC622"``, ``"PEO-LiTFSI"``,
        ``"Li"``, ``"Li6PS5Cl"``, ``"Al"``, ``"Cu"``, ``"steel"`` ...), a chemical formula
        (``"LiNi0.6Mn0.2Co0.2O2"``), a :class:`~ssbscope.materials.Material`, or a mapping
        element -> atoms.
    """
    from ssbscope import materials

    if isinstance(material, materials.Material):
        comp = dict(material.composition)
    elif isinstance(material, dict):
        comp = {str(k): float(v) for k, v in material.items()}
        for el in comp:
            materials.parse_formula(el)  # validates the symbol
    elif isinstance(material, str):
        table = materials._named_cached()
        hit = [m for k, m in table.items() if k.lower() == material.lower()]
        if hit:
            comp = dict(hit[0].composition)
        else:
            try:
                comp = materials.parse_formula(material)
            except ParameterError:
                raise
            except ValueError as err:  # xraylib rejects an unknown symbol
                raise ParameterError("formula", material, f"is not a known material or formula ({err})",
                                     "use a name from ssbscope.materials.NAMED or a formula "
                                     "like 'LiNi0.6Mn0.2Co0.2O2'") from None
    else:
        raise ParameterError("material", material, "must be a name, a formula, a Material or a dict",
                             "pass e.g. 'NMC622' or 'LiNi0.6Mn0.2Co0.2O2'")
    if not comp or any((not np.isfinite(v)) or v < 0 for v in comp.values()):
        raise ParameterError("material", material, "has an empty or negative composition")
    return comp


def profile(material, pz_au):
    """Compton profile J(p_z) of one formula unit (1/a.u.).

    ``J(p_z) = sum_i n_i J_Zi(|p_z|)`` with ``J_Z`` from xraylib; symmetric in p_z and zero
    for ``|p_z| > 100`` a.u. (beyond xraylib's table, where J < 1e-4 of J(0)).

    Parameters
    ----------
    material : str or Material or dict
        See :func:`composition_of`; e.g. ``"NMC622"``, ``"LiNi0.6Mn0.2Co0.2O2"``,
        ``ssbscope.materials.nmc(0.5)``.
    pz_au : float or ndarray
        Projected electron momentum (a.u.).

    Returns
    -------
    float or ndarray
        J(p_z), same shape as ``pz_au``; integrates to the electrons per formula unit.
    """
    import xraylib

    comp = composition_of(material)
    p = np.abs(np.asarray(pz_au, dtype=float))
    if np.any(~np.isfinite(p)):
        raise ParameterError("pz_au", "array with NaN/inf", "must be finite")
    out = np.zeros(p.shape, dtype=float)
    inside = p <= PZ_MAX_AU
    pin = p[inside]
    acc = np.zeros(pin.shape, dtype=float)
    for el, n in comp.items():
        z = xraylib.SymbolToAtomicNumber(el)
        acc += n * np.interp(pin, _GRID, _atomic_table(int(z)))
    out[inside] = acc
    return out if out.ndim else float(out)


def window_ratio(material_or_pz, j=None, *, low_au=(0.0, 1.0), high_au=(1.0, 5.0), n=4001):
    """EMF of a known profile: Eqs. 3-5 of 000_290f30815ae66793 evaluated by quadrature.

    ``EMF = int_{|p|<1} J dp / int_{1<|p|<5} J dp`` for the default windows.

    Parameters
    ----------
    material_or_pz : str or Material or ndarray
        A material (its xraylib profile is integrated with Simpson's rule on ``n`` points
        per window) or a p_z grid (a.u.) with ``j`` given on it (trapezoid rule).
    j : ndarray, optional
        J on the grid.
    low_au, high_au : (float, float)
        |p_z| limits of the low (valence) and high (core) windows (a.u.).

    Returns
    -------
    float
    """
    from scipy.integrate import simpson

    lo0, lo1 = map(float, low_au)
    hi0, hi1 = map(float, high_au)
    if not (0 <= lo0 < lo1) or not (0 <= hi0 < hi1):
        raise ParameterError("low_au/high_au", (low_au, high_au), "each window needs 0 <= a < b")
    if j is None:
        def integ(a, b):
            g = np.linspace(a, b, n)
            return 2.0 * simpson(profile(material_or_pz, g), x=g)  # symmetric profile
        return integ(lo0, lo1) / integ(hi0, hi1)
    pz = np.asarray(material_or_pz, dtype=float)
    jj = np.asarray(j, dtype=float)

    def band(a, b):
        tot = 0.0
        for sgn in (1.0, -1.0):
            g = np.linspace(a, b, n) * sgn
            tot += abs(np.trapezoid(np.interp(g, pz, jj), g))
        return tot
    return band(lo0, lo1) / band(hi0, hi1)
