"""Region spectra and component unmixing of XCS imaging (000_290f30815ae66793, Fig. 2C-D).

The sheet beam (250 um) is thicker than the cathode (65 um) and the SPE (30 um), so each
beam position ("region") sees a mixture of components.  With ``V[i, j]`` the volume of
component j illuminated in region i and ``s_j`` the spectrum of a unit volume of component
j, the region spectra are ``r_i = sum_j V[i, j] s_j``; the component spectra follow by
non-negative least squares, energy bin by energy bin.  The paper's "separator = region 2
- 0.89 x region 3", then divided by the SPE volume, is the two-region special case.

Also here: the angle correction of a pinhole camera's pixels (each pixel scatters at its
own angle, so E_C shifts across the detector; spectra are re-binned onto the energy scale
of a reference angle at equal p_z before they are summed).
"""

from __future__ import annotations

import numpy as np

from ssbscope.errors import EmptyResultError, InputError, ParameterError

__all__ = ["region_spectrum", "unmix", "subtract_region", "align_to_angle", "sheet_phase_fractions",
           "attenuated_volumes"]


def region_spectrum(cube, mask=None, *, volume_mm3: float | None = None, weights=None):
    """Sum of the spectra of the pixels in a region, optionally per unit volume.

    Parameters
    ----------
    cube : (ny, nx, n) ndarray
        Counts per pixel and bin.
    mask : (ny, nx) bool ndarray, optional
        Pixels of the region (default all).
    volume_mm3 : float, optional
        Illuminated volume of the region; the sum is divided by it (volume-normalised).
    weights : (ny, nx) ndarray, optional
        Per-pixel weights (e.g. phase fractions from CT) instead of a boolean mask.

    Returns
    -------
    (n,) ndarray
    """
    c = np.asarray(cube)
    if c.ndim != 3:
        raise InputError(f"cube: must be (ny, nx, n_bins), got shape {c.shape}")
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != c.shape[:2]:
            raise InputError(f"weights: shape {w.shape}, expected {c.shape[:2]}")
        if not np.any(w > 0):
            raise EmptyResultError("weights: no pixel has a positive weight; the region is empty")
        out = np.tensordot(w, c.astype(float), axes=([0, 1], [0, 1]))
    else:
        m = np.ones(c.shape[:2], bool) if mask is None else np.asarray(mask, bool)
        if m.shape != c.shape[:2]:
            raise InputError(f"mask: shape {m.shape}, expected {c.shape[:2]}")
        if not m.any():
            raise EmptyResultError("mask: selects no pixel; the region is empty, check the mask "
                                   "or the CT-to-detector mapping")
        out = c[m].sum(axis=0, dtype=np.float64)
    if volume_mm3 is not None:
        if not volume_mm3 > 0:
            raise ParameterError("volume_mm3", volume_mm3, "must be > 0")
        out = out / volume_mm3
    return out


def unmix(region_spectra, volumes, *, uncertainties=None):
    """Per-unit-volume component spectra from region spectra by non-negative least squares.

    Solves ``r[i, :] = sum_j V[i, j] s[j, :]`` with ``s >= 0`` for every energy bin.

    Parameters
    ----------
    region_spectra : (n_regions, n) ndarray
        Spectra of the beam positions (counts).
    volumes : (n_regions, n_components) or (n_regions, n_components, n) ndarray
        Illuminated volume (or volume fraction x region volume) of each component in each
        region, from the segmented CT or the cell geometry; with a third axis, one matrix
        per energy bin, e.g. volumes weighted by the transmittances t1 t2(E) of Eq. 1 of
        000_290f30815ae66793 (:func:`attenuated_volumes`).
    uncertainties : (n_regions, n) ndarray, optional
        1-sigma of ``region_spectra``; rows are weighted by their inverse (default
        Poisson, sqrt(max(r, 1))).

    Returns
    -------
    (n_components, n) ndarray
        Spectrum per unit volume of each component.
    """
    from scipy.optimize import nnls

    r = np.asarray(region_spectra, dtype=float)
    v = np.asarray(volumes, dtype=float)
    if r.ndim != 2 or v.ndim not in (2, 3) or v.shape[0] != r.shape[0]:
        raise InputError(f"region_spectra {r.shape} and volumes {v.shape}: need (n_regions, n) "
                         "and (n_regions, n_components[, n])")
    if v.ndim == 3 and v.shape[2] != r.shape[1]:
        raise InputError(f"volumes: energy axis of {v.shape[2]} bins, spectra have {r.shape[1]}")
    if np.any(~np.isfinite(v)) or np.any(v < 0):
        raise InputError("volumes: must be finite and >= 0")
    if v.shape[1] > v.shape[0]:
        raise InputError(f"volumes: {v.shape[1]} components from {v.shape[0]} regions is "
                         "under-determined; measure more beam positions or merge components")
    v3 = v if v.ndim == 3 else v[:, :, None]
    for k in range(0, v3.shape[2], max(1, v3.shape[2] // 8)):
        if np.linalg.matrix_rank(v3[:, :, k]) < v.shape[1]:
            raise InputError("volumes: the components are not independent across the regions "
                             "(rank-deficient volume matrix)")
    if np.any(v3.sum(axis=0).min(axis=-1) == 0):
        raise EmptyResultError("volumes: a component is in no region")
    s = np.sqrt(np.maximum(r, 1.0)) if uncertainties is None else np.asarray(uncertainties, float)
    out = np.zeros((v.shape[1], r.shape[1]))
    for k in range(r.shape[1]):
        w = 1.0 / s[:, k]
        vk = v3[:, :, k if v3.shape[2] > 1 else 0]
        out[:, k], _ = nnls(vk * w[:, None], r[:, k] * w)
    return out


def subtract_region(spectrum_a, spectrum_b, fraction: float, volume_mm3: float = 1.0):
    """``(a - fraction * b) / volume``: the paper's "region 2 - 0.89 x region 3" step."""
    a = np.asarray(spectrum_a, dtype=float)
    b = np.asarray(spectrum_b, dtype=float)
    if a.shape != b.shape:
        raise InputError(f"spectra: shapes {a.shape} and {b.shape} differ")
    if not (0 <= fraction) or not volume_mm3 > 0:
        raise ParameterError("fraction/volume_mm3", (fraction, volume_mm3), "need fraction >= 0, volume > 0")
    return (a - fraction * b) / volume_mm3


def _pchip_slopes(x, y):
    """Monotone (Fritsch-Carlson) derivatives of ``y(x)`` at the knots, row by row.

    ``x``, ``y``: (m, k) with ``x`` increasing along each row.  Interior knots take the
    weighted harmonic mean of the neighbouring secant slopes (0 where they differ in sign or
    one is 0), the end knots the one-sided secant: the Hermite cubic then stays monotone
    where ``y`` is (Fritsch & Carlson 1980, SIAM J. Numer. Anal. 17, 238).
    """
    h = np.diff(x, axis=1)
    pos = h > 0  # knots merged where p_z was clipped: no slope across them
    h = np.where(pos, h, 1.0)
    d = np.where(pos, np.diff(y, axis=1) / h, 0.0)
    s = np.empty_like(y)
    s[:, 0], s[:, -1] = d[:, 0], d[:, -1]
    w1 = 2.0 * h[:, 1:] + h[:, :-1]
    w2 = h[:, 1:] + 2.0 * h[:, :-1]
    ok = (d[:, :-1] * d[:, 1:]) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        hm = (w1 + w2) / (w1 / d[:, :-1] + w2 / d[:, 1:])
    s[:, 1:-1] = np.where(ok, hm, 0.0)
    return s


def _pchip_eval(x, y, s, xq):
    """Cubic Hermite interpolant of each row (knots ``x``, values ``y``, slopes ``s``) at ``xq``.

    ``xq`` (q,) is shared by the rows; outside a row's knots the end values are returned.
    """
    m, k = x.shape
    out = np.empty((m, xq.size))
    for r in range(m):
        i = np.clip(np.searchsorted(x[r], xq, side="right") - 1, 0, k - 2)
        x0, h = x[r, i], x[r, i + 1] - x[r, i]
        t = np.clip((xq - x0) / np.where(h > 0, h, 1.0), 0.0, 1.0)
        t2, t3 = t * t, t * t * t
        out[r] = ((2 * t3 - 3 * t2 + 1) * y[r, i] + (t3 - 2 * t2 + t) * h * s[r, i]
                  + (-2 * t3 + 3 * t2) * y[r, i + 1] + (t3 - t2) * h * s[r, i + 1])
    return out


def align_to_angle(cube, edges_kev, angle_deg_map, e_incident_kev: float = 115.0,
                   reference_angle_deg: float = 90.0, *, mask=None):
    """Re-bin each pixel's spectrum onto the energy scale of a reference angle at equal p_z.

    A bin ``[E_a, E_b]`` of a pixel at angle theta holds the electrons with p_z between
    ``p_z(E_a, theta)`` and ``p_z(E_b, theta)`` (Eq. 2 of Huang et al. 2024,
    doi:10.1016/j.xcrp.2024.101995); the pixel's cumulative counts, known exactly at its
    bin edges, are placed at the energies with the same p_z at the reference angle and
    read at the reference bin edges (counts are conserved).  Between its knots the
    cumulative is the monotone cubic Hermite interpolant (Fritsch & Carlson 1980,
    doi:10.1137/0717021), so the re-binned counts stay >= 0 and a sloped density is
    followed within a bin.  A linear cumulative (the counts spread flat over each bin)
    widens every spectrum by about ``h^2 / 6`` in variance at bin width ``h`` (the EMF falls
    as its resolution widens): with 0.2 keV bins and a 1 keV FWHM resolution that lowered
    the EMF of a Li_1.75Si spectrum by 0.7-1.0 % at 87.5-92.5 degrees against the pixel's
    own fine-binned EMF, by < 0.02 % with the cubic (tests/compton/test_binning_bias.py).  Bins far from the
    Compton peak (lines, escape peaks) are moved too, so apply this to the Compton region.

    Parameters
    ----------
    cube : (ny, nx, n) ndarray
    edges_kev : (n + 1,) ndarray
    angle_deg_map : (ny, nx) ndarray
        Scattering angle of each pixel (e.g. ``XcsGeometry.angle_map_deg()`` of the twin).
    mask : (ny, nx) bool ndarray, optional
        Only these pixels are re-binned (the others are returned as zeros).

    Returns
    -------
    (ny, nx, n) float ndarray
    """
    from ssbscope.compton.physics import energy_from_momentum_kev, momentum_au

    c = np.asarray(cube, dtype=float)
    e = np.asarray(edges_kev, dtype=float)
    ang = np.asarray(angle_deg_map, dtype=float)
    if c.ndim != 3 or e.size != c.shape[2] + 1 or ang.shape != c.shape[:2]:
        raise InputError(f"cube {c.shape}, edges {e.shape}, angle map {ang.shape}: inconsistent")
    if np.any(e < 0) or np.any(np.diff(e) <= 0):
        raise InputError("edges_kev: must be increasing and >= 0 keV")
    e = np.maximum(e, 1e-3)
    out = np.zeros_like(c)
    todo = np.ones(ang.shape, bool) if mask is None else np.asarray(mask, bool)
    if todo.shape != ang.shape:
        raise InputError(f"mask: shape {todo.shape}, expected {ang.shape}")
    iy, ix = np.nonzero(todo)
    # p_z of every pixel's bin edges (Eq. 2), then the energies with that p_z at the reference
    # angle, vectorised over a block of pixels; p_z limited to where the inverse exists
    step = 256
    for b0 in range(0, iy.size, step):
        by, bx = iy[b0:b0 + step], ix[b0:b0 + step]
        pz = np.clip(momentum_au(e[None, :], e_incident_kev, ang[by, bx][:, None]), -130.0, 130.0)
        e_ref = energy_from_momentum_kev(pz, e_incident_kev, reference_angle_deg)
        cum = np.concatenate([np.zeros((by.size, 1)), np.cumsum(c[by, bx], axis=1)], axis=1)
        q = _pchip_eval(e_ref, cum, _pchip_slopes(e_ref, cum), e)
        out[by, bx] = np.maximum(np.diff(q, axis=1), 0.0)
    return out


def sheet_phase_fractions(labels, voxel_size_um: float, beam_centre_um: float, *,
                          beam_height_um: float = 250.0, n_labels: int | None = None,
                          object_pixel_mm: float = 0.25 * 160.0 / 150.0, n_pixels: int = 80,
                          centre_yx_vox=None):
    """XCS-CT correlation: phase fractions of the sheet volume seen by each detector pixel.

    The segmented CT volume is cut to the slab the sheet beam illuminates (voxel centres
    within ``beam_centre_um +- beam_height_um/2`` along z) and each (y, x) voxel column is
    assigned to the detector pixel that images it through the pinhole (object pixel
    ``object_pixel_mm`` = pitch x 160/150 mm, image inverted: object (iy, ix) -> detector
    (n-1-iy, n-1-ix), as :meth:`ssbscope.twin.xcs.XcsGeometry.object_centres_mm`).

    Parameters
    ----------
    labels : (z, y, x) integer ndarray
        Segmented CT (z the stacking axis, increasing upward, voxel 0 at z = 0).
    voxel_size_um : float
    beam_centre_um : float
        Sheet centre height above the bottom of the volume (µm).
    beam_height_um : float
        Sheet height (250 µm in 000_290f30815ae66793).
    n_labels : int, optional
        Number of label codes (default ``labels.max() + 1``).
    centre_yx_vox : (float, float), optional
        Voxel coordinates of the point on the detector axis (default the volume centre).

    Returns
    -------
    fractions : (n_labels, n_pixels, n_pixels) ndarray
        Fraction of each pixel's illuminated voxels carrying each label (0 where none).
    volume_mm3 : (n_labels, n_pixels, n_pixels) ndarray
        Illuminated volume of each label per pixel (unmixing weights).
    """
    lab = np.asarray(labels)
    if lab.ndim != 3 or lab.dtype.kind not in "iu":
        raise InputError(f"labels: need a (z, y, x) integer volume, got {lab.dtype} {lab.shape}")
    if not voxel_size_um > 0 or not beam_height_um > 0:
        raise ParameterError("voxel_size_um/beam_height_um", (voxel_size_um, beam_height_um), "must be > 0")
    nz, ny, nx = lab.shape
    zc = (np.arange(nz) + 0.5) * voxel_size_um
    inz = np.abs(zc - beam_centre_um) <= beam_height_um / 2
    if not inz.any():
        raise EmptyResultError(f"beam_centre_um={beam_centre_um}: the sheet misses the volume "
                               f"(0-{nz * voxel_size_um:g} µm)")
    nl = int(lab.max()) + 1 if n_labels is None else int(n_labels)
    slab = lab[inz]
    cy, cx = ((ny - 1) / 2, (nx - 1) / 2) if centre_yx_vox is None else centre_yx_vox
    a_um = object_pixel_mm * 1000.0
    iy = np.floor((np.arange(ny) - cy) * voxel_size_um / a_um + n_pixels / 2).astype(np.int64)
    ix = np.floor((np.arange(nx) - cx) * voxel_size_um / a_um + n_pixels / 2).astype(np.int64)
    ok_y = (iy >= 0) & (iy < n_pixels)
    ok_x = (ix >= 0) & (ix < n_pixels)
    # detector pixel of each voxel column (inverted image)
    pix = ((n_pixels - 1 - iy[:, None]) * n_pixels + (n_pixels - 1 - ix[None, :]))
    use = ok_y[:, None] & ok_x[None, :]
    counts = np.zeros((nl, n_pixels * n_pixels))
    for code in range(nl):
        col = (slab == code).sum(axis=0)  # (y, x) voxels of this label in the slab
        counts[code] = np.bincount(pix[use], weights=col[use], minlength=n_pixels * n_pixels)
    tot = counts.sum(axis=0)
    frac = np.divide(counts, tot, out=np.zeros_like(counts), where=tot > 0)
    vol = counts * (voxel_size_um * 1e-3) ** 3
    return frac.reshape(nl, n_pixels, n_pixels), vol.reshape(nl, n_pixels, n_pixels)


def _mu_mix_1_cm(components, e_kev):
    """Linear attenuation (1/cm) of a mixture of (Material, volume fraction)."""
    e = np.atleast_1d(np.asarray(e_kev, dtype=float))
    out = np.zeros_like(e)
    for mat, frac in components:
        if float(frac) > 0 and mat.density_g_cm3 > 0:
            out = out + float(frac) * np.asarray(mat.linear_attenuation_1_cm(e), float)
    return out


def attenuated_volumes(layers, beam_centre_mm: float, energy_kev, *, x_mm, y_mm,
                       pixel_area_mm2: float, e_incident_kev: float = 115.0,
                       beam_height_mm: float = 0.25, nz: int = 25) -> dict:
    """Sheet volume of each layer weighted by the transmittances of Eq. 1 of 000_290f30815ae66793.

    The photons scattered at depth z and position (x, y) of a layer are attenuated on the
    way in (``t1 = exp(-mu(E_1) s)``, s the path inside the layer from where the beam, running
    along +x, enters the layer's disc) and on the way out to the detector above
    (``t2(E) = exp(-sum mu_l(E) d_l)`` over the layers above z that cover (x, y); the 2-degree
    obliquity of a pinhole camera is neglected).  The weighted volume

    ``V_eff(E) = sum_pixels sum_z A dz t1 t2(E)``

    replaces the geometric volume in the unmixing ``r_i(E) = sum_j V_ij(E) s_j(E)``
    (:func:`unmix`), so the component spectra ``s_j`` come out corrected for both
    attenuations; t2 is energy dependent and lowers the low-energy side of the Compton
    peak.  Layers are discs stacked from z = 0 upwards; a steel side wall attenuates every
    layer alike and is left out.

    Parameters
    ----------
    layers : sequence
        Bottom-up layers, each with ``name``, ``thickness_mm``, ``radius_mm`` and
        ``components`` (sequence of (Material, volume fraction)), e.g.
        ``ssbscope.twin.xcs.CoinCell().layers()`` or a cell description of the user's build.
    beam_centre_mm : float
        Height of the sheet's centre above z = 0 (mm).
    energy_kev : (n,) ndarray
        Energies at which t2 is evaluated (keV), e.g. the bin centres.
    x_mm, y_mm : (m,) ndarray
        Object-plane positions (mm) of the pixels summed (beam along +x, cell axis at 0).
    pixel_area_mm2 : float
        Object-plane area of one pixel (mm^2).
    e_incident_kev : float
        E_1 (keV).
    beam_height_mm : float
        Sheet height (mm).
    nz : int
        Slices through the sheet.

    Returns
    -------
    dict
        layer name -> (n,) ndarray of weighted volume (mm^3); layers the sheet misses give 0.
    """
    e = np.atleast_1d(np.asarray(energy_kev, dtype=float))
    x = np.ravel(np.asarray(x_mm, dtype=float))
    y = np.ravel(np.asarray(y_mm, dtype=float))
    if x.shape != y.shape:
        raise InputError(f"x_mm/y_mm: shapes {x.shape} and {y.shape} differ")
    if not pixel_area_mm2 > 0 or not beam_height_mm > 0 or int(nz) < 1:
        raise ParameterError("pixel_area_mm2/beam_height_mm/nz", (pixel_area_mm2, beam_height_mm, nz),
                             "must be > 0")
    lay = list(layers)
    if not lay:
        raise InputError("layers: empty; describe the cell's layers bottom-up")
    tops = np.cumsum([float(lr.thickness_mm) for lr in lay])
    bots = tops - np.array([float(lr.thickness_mm) for lr in lay])
    mu1 = [float(_mu_mix_1_cm(lr.components, e_incident_kev)[0]) for lr in lay]
    mu2 = [_mu_mix_1_cm(lr.components, np.maximum(e, 1.0)) for lr in lay]
    rr = np.hypot(x, y)
    dz = beam_height_mm / int(nz)
    zs = beam_centre_mm - beam_height_mm / 2 + dz * (np.arange(int(nz)) + 0.5)
    out = {lr.name: np.zeros(e.size) for lr in lay}
    for z in zs:
        hit = np.flatnonzero((bots <= z) & (z < tops))
        if hit.size == 0:
            continue
        li = int(hit[0])
        rad = float(lay[li].radius_mm)
        inside = rr < rad
        if not inside.any():
            continue
        xi, yi, ri = x[inside], y[inside], rr[inside]
        t1 = np.exp(-mu1[li] * (xi + np.sqrt(rad * rad - yi * yi)) * 0.1)
        # layers above: thickness above z inside each, per pixel coverage
        above = [(k, min(tops[k], np.inf) - max(bots[k], z)) for k in range(li, len(lay))]
        cover = np.stack([ri < float(lay[k].radius_mm) for k, _ in above], axis=1)
        keys, inv = np.unique(cover, axis=0, return_inverse=True)
        for g in range(keys.shape[0]):
            tau = np.zeros(e.size)
            for (k, d), c in zip(above, keys[g]):
                if c and d > 0:
                    tau += mu2[k] * d * 0.1
            w = t1[np.ravel(inv) == g].sum() * pixel_area_mm2 * dz
            out[lay[li].name] += w * np.exp(-tau)
    return out
