"""Lithium gained or lost in a region of a radiograph series (002_3ee4edf529433f9c).

Geometry
--------
A radiograph integrates along the beam.  In the operando cells of Cao et al. (Adv. Funct.
Mater. 2023, doi:10.1002/adfm.202307998) the beam passes *side-on* through the cylindrical
cell: the layers (Li | solid electrolyte | cathode) lie parallel to the beam and stack along
the detector rows.  The transmission change of a pixel therefore gives the change of the
lithium **path length along the beam** through that pixel,
``Δx(y, x)`` (µm of lithium-metal-equivalent; :func:`ssbscope.neutron.attenuation.li_thickness_change_um`),
not the thickness of a layer.  Integrated over the pixel's projected area ``p²`` it is a
volume: ``Δx p²`` is the change of the Li volume in the column of the cell behind that pixel.

The quantity compared with Faraday's law is the **change of the Li volume** in a region of
the frame that spans the whole electrode width (every column through the cell) and every row
in which that electrode gains or loses lithium:

``ΔV = p² Σ_region Δx = ⟨Δx⟩_region · A_region``,

with ``⟨Δx⟩_region`` the mean over the region's valid pixels (masked pixels are counted at the
region mean) and ``A_region`` its projected area.  Faraday's law for a net charge ``ΔQ``
gives ``ΔV_F = ΔQ M_Li / (F ρ_Li)`` (dense Li); per electrode area ``A_el`` both are the
dense-Li thickness equivalent ``ΔV / A_el`` that the correlation area
(:mod:`ssbscope.correlate.stages`) compares with ``lithium_thickness_um(ΔQ / A_el)``.
Lithium moved *within* the region (e.g. creep of Li metal from the Li|steel side into a
rod–tube gap, 002_ Fig. 5) does not change ``ΔV``; lithium in a compound counts at its atom
content (⁶Li absorption per atom dominates).  Lithium that leaves the field of view, or an
electrode that extends beyond the frame, is missed.

Uncertainty
-----------
Counting noise: each bin's median has the standard error :func:`median_standard_error`
(estimated from the scatter of the bin's frames), propagated to the ratio Tr_t/Tr_0
(reference-bin noise included) and through the Li inversion, pixels taken as independent;
plus, when the frames were beam-corrected, the error of each bin's correction
(:func:`beam_factor_sigma`), common to every pixel, which dominates for large regions.  Not
included: the model error of treating the reference attenuation as lithium-equivalent when
the transmitted spectrum hardens (a few % of ΔV where Li moves behind steel rods; 1 % for
Li plated into the electrolyte in the neutron twin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssbscope.errors import ParameterError
from ssbscope.neutron.attenuation import LI6_NATURAL, Spectrum, li_thickness_change_um, li_thickness_sigma_um

__all__ = ["median_standard_error", "beam_factor_sigma", "RegionLiChange", "region_li_change",
           "monochromatic"]

#: sqrt(pi / 2): standard error of the median of normal samples over that of the mean.
_MEDIAN_EFFICIENCY = float(np.sqrt(np.pi / 2))


def monochromatic(wavelength_a: float) -> Spectrum:
    """A one-wavelength :class:`~ssbscope.neutron.attenuation.Spectrum` (Å)."""
    if not (np.isfinite(wavelength_a) and wavelength_a > 0):
        raise ParameterError("wavelength_a", wavelength_a, "must be finite and > 0 (Angstrom)")
    return Spectrum(np.array([float(wavelength_a)]), np.array([1.0]))


def median_standard_error(frames) -> np.ndarray:
    """Standard error of the pixel-wise median of a group of frames, from their scatter.

    ``σ = 1.4826 MAD(d) / √2`` with ``d`` the differences of successive frames (a slow change
    of the sample within the group cancels), and the median's standard error
    ``sqrt(π/2) σ / sqrt(n)``.

    Parameters
    ----------
    frames : (n, y, x) ndarray
        The group (e.g. the 30 frames of one median bin); NaN frames of a pixel are left out.

    Returns
    -------
    (y, x) ndarray (float32)
        Standard error (units of ``frames``); NaN where fewer than 3 finite frames.
    """
    a = np.asarray(frames, dtype=np.float64)
    if a.ndim != 3:
        raise ParameterError("frames", a.shape, "must be (n, y, x)")
    n = np.isfinite(a).sum(axis=0)
    if a.shape[0] < 3:
        return np.full(a.shape[1:], np.nan, np.float32)
    d = np.diff(a, axis=0)
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(d, axis=0)
            mad = np.nanmedian(np.abs(d - med), axis=0)
    sig = 1.4826 * mad / np.sqrt(2.0)
    out = _MEDIAN_EFFICIENCY * sig / np.sqrt(np.maximum(n, 1))
    return np.where(n >= 3, out, np.nan).astype(np.float32)


def beam_factor_sigma(frames) -> float:
    """Relative standard error of a bin's beam-intensity correction, from its open-beam region.

    Each frame was divided by the median of its open-beam region (``beam_roi``); that median
    has the relative standard error ``sqrt(π/2) σ / sqrt(N)`` (``σ``: robust spread
    1.4826 MAD of the region's ``N`` pixels in the frame, relative to their median) and the
    bin's median over ``n`` frames ``sqrt(π/2) rms / sqrt(n)`` of those.  The error is common
    to every pixel of the bin (it scales the whole frame).

    Parameters
    ----------
    frames : (n, y, x) ndarray
        The bin's normalised frames cropped to the open-beam region.

    Returns
    -------
    float
        Relative standard error of the bin's transmission scale (1 = 100 %); NaN when no
        frame has 3 finite pixels.
    """
    a = np.asarray(frames, dtype=np.float64)
    if a.ndim != 3:
        raise ParameterError("frames", a.shape, "must be (n, y, x)")
    flat = a.reshape(a.shape[0], -1)
    rel = []
    for f in flat:
        f = f[np.isfinite(f)]
        if f.size < 3:
            continue
        med = float(np.median(f))
        if med <= 0:
            continue
        mad = float(np.median(np.abs(f - med)))
        rel.append(_MEDIAN_EFFICIENCY * 1.4826 * mad / med / np.sqrt(f.size))
    if not rel:
        return float("nan")
    rel = np.asarray(rel)
    return float(_MEDIAN_EFFICIENCY * np.sqrt(np.mean(rel ** 2) / rel.size))


@dataclass(frozen=True)
class RegionLiChange:
    """Li change in a region per time bin (see the module docstring for the geometry).

    Attributes
    ----------
    mean_um : (t,) ndarray
        Mean Li path-length change over the region's valid pixels (µm): the Li volume change
        per projected area of the region; positive = Li gained.
    sigma_um : (t,) ndarray
        Its standard deviation from pixel counting noise (µm); 0 for the reference bin.
    n_pixels : int
        Pixels in the region.
    n_valid : (t,) ndarray of int
        Pixels with a finite Li change per bin.
    area_um2 : float
        Projected area of the region (µm²); NaN without a pixel size.
    volume_um3, volume_sigma_um3 : (t,) ndarray
        ``mean_um · area_um2`` and its sigma (µm³); NaN without a pixel size.
    """

    mean_um: np.ndarray
    sigma_um: np.ndarray
    n_pixels: int
    n_valid: np.ndarray
    area_um2: float
    volume_um3: np.ndarray
    volume_sigma_um3: np.ndarray


def region_li_change(ratio, reference_transmission, ratio_sigma=None, *, roi=None,
                     common_rel_sigma=None, pixel_size_um: float | None = None,
                     spectrum: Spectrum | None = None,
                     li6_fraction: float = LI6_NATURAL) -> RegionLiChange:
    """Li volume change in a region from Tr_t/Tr_0 maps (Beer–Lambert, lithium-equivalent).

    Parameters
    ----------
    ratio : (t, y, x) ndarray
        Tr_t/Tr_0 per bin (NaN = invalid pixel).
    reference_transmission : (y, x) ndarray
        Tr_0, the reference bin's transmission (hardening of the reference path).
    ratio_sigma : (t, y, x) ndarray, optional
        Standard deviation of ``ratio`` (0 for the reference bin); default: no sigma (NaN).
    roi : ROI or (y0, y1, x0, x1), optional
        The region; default the whole frame.
    common_rel_sigma : (t,) array_like, optional
        Relative standard error of each bin's ratio common to all pixels (beam-intensity
        correction of the bin and of the reference bin, :func:`beam_factor_sigma`; 0 for the
        reference bin): its effect on the region mean is added in quadrature to the pixel
        noise.
    pixel_size_um : float, optional
        Pixel size at the sample (µm) for the area and volume.
    spectrum : Spectrum, optional
        Beam spectrum; default the cold CG-1D spectrum (:func:`~ssbscope.neutron.attenuation.cold_spectrum`).
    li6_fraction : float
        ⁶Li atom fraction (natural 0.0759).

    Returns
    -------
    RegionLiChange

    Examples
    --------
    >>> import numpy as np
    >>> from ssbscope.neutron.attenuation import li_cross_section_1_cm
    >>> sp = monochromatic(3.0)
    >>> r = np.exp(-li_cross_section_1_cm(3.0) * 10e-4) * np.ones((1, 2, 2))  # 10 µm more Li
    >>> res = region_li_change(r, np.ones((2, 2)), pixel_size_um=50.0, spectrum=sp)
    >>> round(float(res.mean_um[0]), 6), round(float(res.volume_um3[0]))
    (10.0, 100000)
    """
    from ssbscope.neutron.roi import as_roi

    r = np.asarray(np.ma.filled(ratio, np.nan) if np.ma.isMaskedArray(ratio) else ratio, dtype=np.float64)
    if r.ndim != 3:
        raise ParameterError("ratio", r.shape, "must be (t, y, x)")
    t0 = np.asarray(reference_transmission, dtype=np.float64)
    if t0.shape != r.shape[1:]:
        raise ParameterError("reference_transmission", t0.shape, f"must be the frame shape {r.shape[1:]}")
    if roi is not None:
        sl = as_roi(roi, r.shape[1:], "li_roi").slices
        r, t0 = r[:, sl[0], sl[1]], t0[sl[0], sl[1]]
        if ratio_sigma is not None:
            ratio_sigma = np.asarray(ratio_sigma)[:, sl[0], sl[1]]
    bad = ~np.isfinite(r) | (r <= 0) | ~np.isfinite(t0)[None] | (t0 <= 0)[None]
    kw = dict(spectrum=spectrum, li6_fraction=li6_fraction)
    dx = li_thickness_change_um(np.where(bad, 1.0, r), np.where(np.isfinite(t0) & (t0 > 0), t0, 1.0),
                                mask=bad, **kw)
    d = np.ma.filled(dx, np.nan)
    n_pix = int(r.shape[1] * r.shape[2])
    n_valid = np.isfinite(d).reshape(d.shape[0], -1).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_valid > 0, np.nansum(d.reshape(d.shape[0], -1), axis=1) / np.maximum(n_valid, 1), np.nan)
    if ratio_sigma is not None:
        s = np.asarray(ratio_sigma, dtype=np.float64)
        if s.shape != r.shape:
            raise ParameterError("ratio_sigma", s.shape, f"must be the shape of ratio {r.shape}")
        s = np.where(bad | ~np.isfinite(s) | (s < 0), 0.0, s)
        ds = np.ma.filled(li_thickness_sigma_um(np.where(bad, 1.0, r), s,
                                                np.where(np.isfinite(t0) & (t0 > 0), t0, 1.0), **kw), 0.0)
        ds = np.where(bad, 0.0, ds)
        sig = np.sqrt(np.sum(ds.reshape(ds.shape[0], -1) ** 2, axis=1)) / np.maximum(n_valid, 1)
        sig = np.where(n_valid > 0, sig, np.nan)
        if common_rel_sigma is not None:
            eps = np.broadcast_to(np.asarray(common_rel_sigma, dtype=np.float64), mean.shape)
            eps = np.where(np.isfinite(eps) & (eps > 0), eps, 0.0)
            shifted = li_thickness_change_um(np.where(bad, 1.0, r) * (1.0 + eps)[:, None, None],
                                             np.where(np.isfinite(t0) & (t0 > 0), t0, 1.0), mask=bad, **kw)
            dc = np.ma.filled(shifted, np.nan) - d
            with np.errstate(invalid="ignore"):
                common = np.abs(np.nansum(dc.reshape(dc.shape[0], -1), axis=1)) / np.maximum(n_valid, 1)
            sig = np.sqrt(sig ** 2 + np.where(n_valid > 0, common, 0.0) ** 2)
    else:
        sig = np.full(mean.shape, np.nan)
    if pixel_size_um is not None:
        if not (np.isfinite(pixel_size_um) and pixel_size_um > 0):
            raise ParameterError("pixel_size_um", pixel_size_um, "must be finite and > 0")
        area = n_pix * float(pixel_size_um) ** 2
    else:
        area = float("nan")
    return RegionLiChange(mean_um=mean, sigma_um=sig, n_pixels=n_pix, n_valid=n_valid.astype(np.int64),
                          area_um2=area, volume_um3=mean * area, volume_sigma_um3=sig * area)
