"""Neutron attenuation of battery materials and lithium thickness from Beer–Lambert.

Cross-sections
--------------
Bound-atom scattering (coherent + incoherent) and absorption cross-sections per atom, in
barns, at the reference wavelength 1.798 Å (v = 2200 m/s), from V. F. Sears, "Neutron
scattering lengths and cross sections", Neutron News 3(3), 26–37 (1992) (the table NIST
publishes at https://www.ncnr.nist.gov/resources/n-lengths/).

Wavelength dependence (stated approximations):

* absorption follows the 1/v law, ``sigma_abs(λ) = sigma_abs(1.798 Å) · λ / 1.798 Å``;
  for lithium this is ⁶Li(n,α)t, which dominates natural Li (⁶Li: 940 b, ⁷Li: 0.0454 b);
* scattering is taken as wavelength independent (bound-atom value).  Bragg edges of
  polycrystalline steel and the inelastic up-scattering of light atoms are not modelled;
  they change the transmission of the steel rods, not the lithium signal, and cancel in
  the ratio Tr_t/Tr_0.

Natural lithium is a mixture of ⁶Li (atom fraction 0.0759, IUPAC 2013 representative value;
Sears used 0.075) and ⁷Li; its cross-sections are the atom-fraction-weighted isotope values
(Sears 1992, barns: ⁶Li coherent 0.51, incoherent 0.46, absorption 940; ⁷Li coherent 0.619,
incoherent 0.78, absorption 0.0454), ``sigma_abs = 0.0759·940 + 0.9241·0.0454 = 71.4 b`` and
total scattering ``0.0759·0.97 + 0.9241·1.40 = 1.37 b`` at 1.798 Å, which equals Sears' natural
Li (coherent 0.454 + incoherent 0.92, the latter including the isotope-disorder term).  With
``li6_fraction`` enriched or depleted lithium can be modelled.

Spectrum
--------
The cold beam of CG-1D (HFIR, ORNL) used in 002_3ee4edf529433f9c spans 0.8–6 Å with its peak
at 2.6 Å.  :func:`cold_spectrum` models it as a Maxwellian flux in wavelength,
``phi(λ) ∝ λ⁻⁵ exp(−(λ_T/λ)²)`` with ``λ_T = λ_peak / sqrt(2/5)`` (so that the peak lies at
2.6 Å), truncated to 0.8–6 Å.  A measured spectrum can be passed instead.  The spectrum-weighted
transmission of a path is ``T = Σ_k w_k exp(−Σ_m Σ_m(λ_k) L_m)`` (``w`` normalised weights);
for thin lithium the effective wavelength is the weighted mean ``λ_eff = Σ w_k λ_k``
(3.24 Å for the default spectrum, where natural Li metal has Σ = 6.0 cm⁻¹; 3.37 cm⁻¹ at
1.798 Å).  Behind thick lithium the transmitted spectrum hardens; :func:`li_thickness_change_um`
accounts for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssbscope.errors import DataQualityError, ParameterError
from ssbscope.materials import AVOGADRO, Material, get

__all__ = [
    "CROSS_SECTIONS_B",
    "LAMBDA_REF_A",
    "Spectrum",
    "cold_spectrum",
    "macroscopic_cross_section_1_cm",
    "li_cross_section_1_cm",
    "effective_wavelength_a",
    "spectrum_transmission",
    "li_thickness_change_um",
    "li_thickness_sigma_um",
]

#: Reference wavelength of tabulated absorption cross-sections (Å), v = 2200 m/s.
LAMBDA_REF_A = 1.798

#: element -> (total bound scattering, absorption at 1.798 Å), barns; Sears (1992).
#: Natural Li is computed from the isotopes (see :func:`_li_xs`).
CROSS_SECTIONS_B: dict[str, tuple[float, float]] = {
    "H": (82.02, 0.3326),
    "B": (5.24, 767.0),
    "C": (5.551, 0.0035),
    "N": (11.51, 1.90),
    "O": (4.232, 0.00019),
    "F": (4.018, 0.0096),
    "Al": (1.503, 0.231),
    "Si": (2.167, 0.171),
    "P": (3.312, 0.172),
    "S": (1.026, 0.53),
    "Cl": (16.8, 33.5),
    "Ar": (0.683, 0.675),
    "Cr": (3.49, 3.05),
    "Mn": (2.15, 13.3),
    "Fe": (11.62, 2.56),
    "Co": (6.0, 37.18),
    "Ni": (18.5, 4.49),
    "Cu": (8.03, 3.78),
    "Zn": (4.131, 1.11),
    "Mo": (5.71, 2.48),
    "Cd": (6.5, 2520.0),
    "Te": (4.32, 4.7),
    "Gd": (180.0, 49700.0),
    "W": (4.60, 18.3),
    "Pb": (11.118, 0.171),
}

# Li isotopes (Sears 1992): total bound scattering, absorption at 1.798 Å (barns).
_LI6 = (0.97, 940.0)
_LI7 = (1.40, 0.0454)
LI6_NATURAL = 0.0759


def _li_xs(li6_fraction: float) -> tuple[float, float]:
    if not 0.0 <= li6_fraction <= 1.0:
        raise ParameterError("li6_fraction", li6_fraction, "must be within 0-1",
                             "natural lithium is 0.0759")
    f = float(li6_fraction)
    return (f * _LI6[0] + (1 - f) * _LI7[0], f * _LI6[1] + (1 - f) * _LI7[1])


@dataclass(frozen=True)
class Spectrum:
    """A neutron spectrum on a wavelength grid.

    Parameters
    ----------
    wavelength_a : (K,) ndarray
        Wavelengths (Å), increasing.
    weight : (K,) ndarray
        Relative number of detected neutrons per grid point (normalised to sum 1 on creation).
    """

    wavelength_a: np.ndarray
    weight: np.ndarray

    def __post_init__(self):
        lam = np.asarray(self.wavelength_a, dtype=float)
        w = np.asarray(self.weight, dtype=float)
        if lam.ndim != 1 or lam.shape != w.shape or lam.size == 0:
            raise ParameterError("spectrum", (lam.shape, w.shape),
                                 "wavelength_a and weight must be 1-D arrays of one length")
        if np.any(~np.isfinite(lam)) or np.any(lam <= 0) or np.any(np.diff(lam) <= 0):
            raise ParameterError("wavelength_a", lam, "must be finite, > 0 and increasing")
        if np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ParameterError("weight", w, "must be finite, >= 0 and not all zero")
        object.__setattr__(self, "wavelength_a", lam)
        object.__setattr__(self, "weight", w / w.sum())


def cold_spectrum(*, peak_a: float = 2.6, min_a: float = 0.8, max_a: float = 6.0,
                  n: int = 64) -> Spectrum:
    """Maxwellian cold-neutron spectrum truncated to ``[min_a, max_a]`` (CG-1D, 002_...).

    Parameters
    ----------
    peak_a : float
        Wavelength of the flux maximum (Å); 2.6 Å at CG-1D (Methods of 002_3ee4edf529433f9c).
    min_a, max_a : float
        Wavelength band (Å), 0.8–6 Å at CG-1D.
    n : int
        Number of grid points (midpoint rule).

    Returns
    -------
    Spectrum
    """
    if not (0 < min_a < peak_a < max_a):
        raise ParameterError("peak_a", (min_a, peak_a, max_a), "need 0 < min_a < peak_a < max_a")
    if n < 2:
        raise ParameterError("n", n, "must be >= 2")
    edges = np.linspace(min_a, max_a, n + 1)
    lam = 0.5 * (edges[1:] + edges[:-1])
    lam_t = peak_a / np.sqrt(0.4)
    w = lam ** -5 * np.exp(-(lam_t / lam) ** 2)
    return Spectrum(lam, w)


def _number_densities_per_cm3(material: Material) -> dict[str, float]:
    if material.density_g_cm3 == 0:
        return {}
    n_fu = material.density_g_cm3 * AVOGADRO / material.molar_mass_g_mol
    return {el: n * n_fu for el, n in material.composition.items()}


def macroscopic_cross_section_1_cm(material, wavelength_a, *, li6_fraction: float = LI6_NATURAL):
    """Total macroscopic cross-section Σ(λ) (1/cm) of a material: scattering + absorption.

    ``Σ(λ) = Σ_i n_i [σ_s,i + σ_a,i λ/1.798 Å]`` with ``n_i`` atoms per cm³ from the
    composition and density (Sears 1992 cross-sections; see the module docstring).

    Parameters
    ----------
    material : Material or str
        A :class:`ssbscope.materials.Material` or a name for :func:`ssbscope.materials.get`.
    wavelength_a : float or ndarray
        Neutron wavelength(s) (Å).
    li6_fraction : float
        ⁶Li atom fraction of the material's lithium (natural 0.0759).

    Returns
    -------
    float or ndarray
        Σ (1/cm), shape of ``wavelength_a``.

    Examples
    --------
    >>> round(float(macroscopic_cross_section_1_cm("Li", 1.798)), 2)
    3.37
    """
    mat = get(material) if isinstance(material, str) else material
    lam = np.asarray(wavelength_a, dtype=float)
    if np.any(~np.isfinite(lam)) or np.any(lam <= 0):
        raise ParameterError("wavelength_a", wavelength_a, "must be finite and > 0")
    scat = 0.0
    absb = 0.0
    for el, n in _number_densities_per_cm3(mat).items():
        if el == "Li":
            s, a = _li_xs(li6_fraction)
        elif el in CROSS_SECTIONS_B:
            s, a = CROSS_SECTIONS_B[el]
        else:
            raise ParameterError("material", mat.name, f"has element {el!r} without neutron "
                                 "cross-sections", "add it to CROSS_SECTIONS_B (Sears 1992)")
        scat += n * s * 1e-24
        absb += n * a * 1e-24
    out = scat + absb * lam / LAMBDA_REF_A
    return float(out) if out.ndim == 0 else out


def li_cross_section_1_cm(wavelength_a, *, li6_fraction: float = LI6_NATURAL):
    """Σ(λ) of lithium metal (0.534 g/cm³), 1/cm; see :func:`macroscopic_cross_section_1_cm`."""
    return macroscopic_cross_section_1_cm(get("Li"), wavelength_a, li6_fraction=li6_fraction)


def effective_wavelength_a(spectrum: Spectrum | None = None) -> float:
    """Spectrum-weighted mean wavelength (Å), the effective λ for thin lithium (1/v law)."""
    sp = spectrum or cold_spectrum()
    return float(np.sum(sp.weight * sp.wavelength_a))


def spectrum_transmission(path_lengths_cm: dict, spectrum: Spectrum | None = None, *,
                          li6_fraction: float = LI6_NATURAL):
    """Spectrum-weighted transmission of paths through several materials (Beer–Lambert).

    ``T = Σ_k w_k exp(−Σ_m Σ_m(λ_k) L_m)``.

    Parameters
    ----------
    path_lengths_cm : dict
        Material (name or :class:`Material`) -> path length(s) (cm); arrays broadcast.
    spectrum : Spectrum, optional
        Default :func:`cold_spectrum`.

    Returns
    -------
    ndarray
        Transmission (0–1), broadcast shape of the path lengths.
    """
    sp = spectrum or cold_spectrum()
    mu = 0.0
    for mat, length in path_lengths_cm.items():
        sig = macroscopic_cross_section_1_cm(mat, sp.wavelength_a, li6_fraction=li6_fraction)
        length = np.asarray(length, dtype=float)
        mu = mu + length[..., None] * sig
    mu = np.asarray(mu)
    return np.sum(sp.weight * np.exp(-mu), axis=-1)


def li_thickness_change_um(ratio, reference_transmission=None, *, spectrum: Spectrum | None = None,
                           li6_fraction: float = LI6_NATURAL, mask=None):
    """Change of lithium path length per pixel from the transmission ratio (Beer–Lambert).

    For a monochromatic beam ``Δx = −ln(Tr_t/Tr_0) / Σ_Li``.  For the polychromatic cold
    beam, lithium's Σ ∝ λ hardens the spectrum, so ln T is not linear in thickness.  This
    function inverts the spectrum-weighted transmission of lithium,
    ``T_Li(x) = Σ_k w_k exp(−Σ_Li(λ_k) x)``: with ``reference_transmission`` the pixel's
    reference attenuation is treated as lithium-equivalent (``x0 = T_Li⁻¹(Tr_0)``,
    ``x1 = T_Li⁻¹(Tr_0 · ratio)``, ``Δx = x1 − x0``), which accounts for the hardening by the
    lithium already in the path; without it ``x0 = 0`` (thin-reference limit).  Lithium in
    any compound counts as lithium-metal-equivalent thickness (same atoms per area).

    Parameters
    ----------
    ratio : ndarray
        Tr_t/Tr_0 (any shape), > 0.
    reference_transmission : ndarray, optional
        Tr_0 broadcastable to ``ratio`` (0 < Tr_0 <= 1).
    spectrum : Spectrum, optional
        Default :func:`cold_spectrum` (CG-1D, 0.8–6 Å, peak 2.6 Å).
    li6_fraction : float
        ⁶Li atom fraction (natural 0.0759).
    mask : ndarray of bool, optional
        Pixels to leave out (True = invalid); they are returned masked.

    Returns
    -------
    numpy.ma.MaskedArray
        Δx (µm); positive = lithium gained (Tr_t/Tr_0 < 1).  Pixels with a non-finite or
        non-positive ratio or reference are masked (never NaN in the valid pixels).
    """
    sp = spectrum or cold_spectrum()
    r = np.asarray(np.ma.getdata(ratio), dtype=float)
    bad = ~np.isfinite(r) | (r <= 0) | np.ma.getmaskarray(ratio)
    t0 = np.ones_like(r) if reference_transmission is None else np.broadcast_to(
        np.asarray(np.ma.getdata(reference_transmission), dtype=float), r.shape)
    bad |= ~np.isfinite(t0) | (t0 <= 0) | (t0 > 1.5)
    if reference_transmission is not None:
        bad |= np.broadcast_to(np.ma.getmaskarray(reference_transmission), r.shape)
    if mask is not None:
        bad |= np.broadcast_to(np.asarray(mask, dtype=bool), r.shape)
    sig = li_cross_section_1_cm(sp.wavelength_a, li6_fraction=li6_fraction)  # 1/cm
    # table of -ln T_Li(x) on a fine grid in x (cm), monotonic increasing
    x_max = 40.0 / sig.min()
    x = np.concatenate([[0.0], np.geomspace(1e-7, x_max, 4000)])
    a = -np.log(np.maximum(np.exp(-np.outer(x, sig)) @ sp.weight, 1e-300))
    t0c = np.clip(t0, 1e-300, 1.0)
    a0 = -np.log(t0c)
    a1 = a0 - np.log(np.where(bad, 1.0, r))
    # transmissions above 1 (noise around an open pixel) -> extrapolate with the slope at 0
    slope0 = float(np.sum(sp.weight * sig))

    def inv(av):
        out = np.interp(av, a, x)
        neg = av < 0
        return np.where(neg, av / slope0, out)

    dx_um = (inv(a1) - inv(a0)) * 1e4
    if np.any(a1[~bad] > a[-1]):
        raise DataQualityError(f"ratio: {int(np.sum(a1[~bad] > a[-1]))} pixel(s) have a "
                               "transmission below the lithium inversion table (T < 1e-17); "
                               "mask them (mask=...)")
    return np.ma.MaskedArray(np.where(bad, 0.0, dx_um), mask=bad)


def li_thickness_sigma_um(ratio, ratio_sigma, reference_transmission=None, *,
                          spectrum: Spectrum | None = None, li6_fraction: float = LI6_NATURAL):
    """Standard deviation of :func:`li_thickness_change_um` from that of the ratio.

    First-order propagation through the (non-linear) inversion by a central difference,
    ``σ_Δx = |Δx(R + σ_R) − Δx(R − σ_R)| / 2``.

    Returns
    -------
    numpy.ma.MaskedArray
        σ_Δx (µm), masked where the thickness is.
    """
    r = np.asarray(np.ma.getdata(ratio), dtype=float)
    s = np.broadcast_to(np.asarray(ratio_sigma, dtype=float), r.shape)
    if np.any(s < 0) or not np.all(np.isfinite(s)):
        raise ParameterError("ratio_sigma", "array", "must be finite and >= 0")
    lo = np.maximum(r - s, r * 1e-3)
    kw = dict(spectrum=spectrum, li6_fraction=li6_fraction)
    hi_dx = li_thickness_change_um(r + s, reference_transmission, **kw)
    lo_dx = li_thickness_change_um(lo, reference_transmission, **kw)
    out = np.abs(np.ma.getdata(hi_dx) - np.ma.getdata(lo_dx)) / 2
    mask = np.ma.getmaskarray(hi_dx) | np.ma.getmaskarray(lo_dx) | np.ma.getmaskarray(ratio)
    return np.ma.MaskedArray(np.where(mask, 0.0, out), mask=mask)
