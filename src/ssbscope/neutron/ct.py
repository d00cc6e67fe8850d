"""Neutron-CT difference volumes after rigid registration (002_3ee4edf529433f9c, Fig. 5B).

The cell is scanned before cycling and after the soft short; the two reconstructions are
aligned and subtracted, and the regions of increased attenuation (Li accumulated by creep at
the cell edge) are emphasised.  Registration is a rigid translation by phase correlation:
:func:`ssbscope.tomo.register_rigid` when available (sub-voxel, real-space refined), otherwise
``skimage.registration.phase_cross_correlation`` with spline resampling.

Volumes are ``(z, y, x)`` with z the stacking axis; values are attenuation coefficients (1/cm)
or grey values in a common scale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import DataQualityError, InputError, ParameterError

__all__ = ["CTDifference", "ct_difference", "reconstruct_ct", "li_volume_change_mm3"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CTDifference:
    """Aligned difference of two CT volumes.

    Attributes
    ----------
    increment : (z, y, x) float32
        ``after (aligned) − before``; > 0 where attenuation increased (Li gained).
    shift_zyx_vox : tuple of float
        Displacement of ``after`` relative to ``before`` (voxels); the alignment undoes it.
    noise : float
        Robust (MAD) standard deviation of the increment.
    increase_mask : (z, y, x) bool
        ``increment > threshold_sigma · noise`` (the attenuation increment of Fig. 5B).
    decrease_mask : (z, y, x) bool
        ``increment < −threshold_sigma · noise``.
    method : str
        Registration used.
    """

    increment: np.ndarray = field(repr=False)
    shift_zyx_vox: tuple
    noise: float
    increase_mask: np.ndarray = field(repr=False)
    decrease_mask: np.ndarray = field(repr=False)
    method: str


def ct_difference(before, after, *, register: bool = True, threshold_sigma: float = 4.0,
                  upsample_factor: int = 20, smooth_sigma_vox: float = 0.0) -> CTDifference:
    """Register ``after`` onto ``before`` (rigid translation) and subtract.

    Parameters
    ----------
    before, after : (z, y, x) ndarray
        Reconstructed volumes on grids of one shape and one scale.
    register : bool
        Align first (default); ``False`` subtracts as given.
    threshold_sigma : float
        Threshold of the increase/decrease masks in noise standard deviations.
    upsample_factor : int
        Sub-voxel precision of the phase-correlation peak (1/upsample_factor voxel).
    smooth_sigma_vox : float
        Gaussian low-pass (voxels) applied to both aligned volumes before the subtraction
        (0: none).  The resampled ``after`` is smoother than ``before``; without a common
        low-pass, that mismatch leaves +/- rims at every sharp edge which the masks count as
        gain and loss.  Sums of the increment are preserved.

    Returns
    -------
    CTDifference

    Raises
    ------
    InputError
        Volumes of different shapes or not 3-D.
    DataQualityError
        Non-finite voxels.
    """
    b = np.asarray(before, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    if b.ndim != 3 or a.ndim != 3:
        raise InputError(f"before/after: expected (z, y, x) volumes, got {b.shape} and {a.shape}")
    if b.shape != a.shape:
        raise InputError(f"after: shape {a.shape} differs from before {b.shape}; crop or pad both "
                         "to one grid first")
    for name, v in (("before", b), ("after", a)):
        if not np.all(np.isfinite(v)):
            raise DataQualityError(f"{name}: {int((~np.isfinite(v)).sum())} non-finite voxel(s); "
                                   "mask or fill them before the difference")
    if threshold_sigma <= 0:
        raise ParameterError("threshold_sigma", threshold_sigma, "must be > 0")
    shift = (0.0, 0.0, 0.0)
    method = "none"
    aligned = a
    if register:
        try:
            from ssbscope.tomo.register import apply_rigid, register_rigid
        except ImportError:  # the tomography area is optional here
            register_rigid = None
        if register_rigid is not None:
            tf = register_rigid(b, a, upsample_factor=upsample_factor)
            aligned = apply_rigid(a, tf)
            shift = tuple(-float(s) for s in tf.shift_vox)
            method = "ssbscope.tomo.register_rigid"
        else:
            from scipy.ndimage import shift as nd_shift
            from skimage.registration import phase_cross_correlation

            s, _, _ = phase_cross_correlation(b, a, upsample_factor=upsample_factor)
            aligned = nd_shift(a, s, order=3, mode="nearest")
            shift = tuple(-float(x) for x in s)
            method = "skimage.registration.phase_cross_correlation"
    if smooth_sigma_vox and smooth_sigma_vox > 0:
        from scipy.ndimage import gaussian_filter

        b = gaussian_filter(b, float(smooth_sigma_vox))
        aligned = gaussian_filter(aligned, float(smooth_sigma_vox))
    inc = aligned - b
    med = np.median(inc)
    noise = float(1.4826 * np.median(np.abs(inc - med)))
    thr = threshold_sigma * max(noise, 1e-12)
    log.info("ct_difference: shift %s vox by %s, noise %.3g", shift, method, noise)
    return CTDifference(increment=inc.astype(np.float32), shift_zyx_vox=shift, noise=noise,
                        increase_mask=inc > thr, decrease_mask=inc < -thr, method=method)


def reconstruct_ct(transmission, angles_rad, pixel_size_um: float, *, center_px=None,
                   block_rows: int = 8):
    """Reconstruct a neutron CT scan from normalised transmission images, lazily by row blocks.

    Parameters
    ----------
    transmission : (n_angles, n_rows, n_cols) dask or numpy array
        Dark-subtracted, open-beam-normalised frames (Eq. 1 of Cao et al. 2023,
        doi:10.1002/adfm.202307998), one per rotation angle; the rotation axis runs along the
        rows (vertical).
    angles_rad : (n_angles,) array
        Rotation angles (rad), covering at least 180 degrees.
    pixel_size_um : float
        Detector pixel size at the sample (µm); it is the voxel size.
    center_px : float, optional
        Rotation axis on the detector (px); found on the middle rows when absent
        (:func:`ssbscope.tomo.find_center`).
    block_rows : int
        Detector rows per task: each task reads its rows of every frame and filters and
        back-projects them (:func:`ssbscope.tomo.reconstruct`), so memory holds a block of
        ``n_angles × block_rows × n_cols`` values and its slices, never the whole scan.

    Returns
    -------
    volume : (n_rows, n_cols, n_cols) dask array of float32
        Attenuation coefficient µ (1/cm): the FBP line-integral inverse divided by the voxel
        size, ``−ln T = ∫ µ dl``.
    center_px : float
        The rotation axis used.
    """
    import dask.array as da

    from ssbscope.tomo import find_center
    from ssbscope.tomo.recon import reconstruct

    vs = float(pixel_size_um)
    if not (np.isfinite(vs) and vs > 0):
        raise ParameterError("pixel_size_um", pixel_size_um, "must be a finite number > 0",
                             "give inputs.neutron[].pixel_size_um")
    t = da.asarray(transmission).astype(np.float32)
    if t.ndim != 3:
        raise InputError(f"transmission: expected (n_angles, n_rows, n_cols), got {t.shape}")
    ang = np.asarray(angles_rad, dtype=np.float64)
    if ang.shape != (t.shape[0],):
        raise InputError(f"angles: {ang.size} angles for {t.shape[0]} projections; give one "
                         "angle per frame (angles: file) or the right angle_range_deg")
    span = float(np.ptp(ang)) if ang.size > 1 else 0.0
    if span < np.pi - 2 * np.pi / max(ang.size, 1) - 1e-9:
        raise InputError(f"angles: the scan covers {np.rad2deg(span):.1f} degrees; a CT needs "
                         "at least 180 degrees (check the angles file or angle_range_deg)")
    line = -da.log(da.clip(t, 1e-6, None))  # -ln T: line integral of mu in 1/px units of length
    n_a, n_r, n_c = line.shape
    if center_px is None:
        mid = slice(max(0, n_r // 2 - 4), min(n_r, n_r // 2 + 4))
        center_px = float(find_center(np.asarray(line[:, mid, :]), ang))
    b = max(1, min(int(block_rows), n_r))
    rows_first = line.transpose(1, 0, 2).rechunk((b, n_a, n_c))
    c = float(center_px)

    def block(blk):
        rec = reconstruct(np.ascontiguousarray(blk.transpose(1, 0, 2)), ang, c)
        return (rec / (vs * 1e-4)).astype(np.float32)  # 1/voxel -> 1/cm

    vol = rows_first.map_blocks(block, dtype=np.float32,
                                chunks=(rows_first.chunks[0], (n_c,), (n_c,)))
    return vol, c


def li_volume_change_mm3(diff: CTDifference, voxel_size_um: float, mu_li_1_cm: float,
                         *, min_component_vox: int = 20) -> tuple[float, float]:
    """Li volume gained and lost between two aligned neutron CT volumes.

    The attenuation increment of a voxel that gained a Li volume fraction f is f µ_Li, so the
    Li volume gained is ``Σ increment / µ_Li × voxel volume`` over the increase region, and the
    loss likewise over the decrease region. Only connected (26-neighbour) regions of at least
    ``min_component_vox`` voxels count: isolated specks of the thresholded noise would add
    their (one-signed) increments to both totals.

    Parameters
    ----------
    diff : CTDifference
    voxel_size_um : float
    mu_li_1_cm : float
        Li attenuation coefficient of the beam (1/cm; spectrum-weighted for a white beam).
    min_component_vox : int
        Smallest region counted (voxels).

    Returns
    -------
    (gained_mm3, lost_mm3) : tuple of float
        Both ≥ 0.
    """
    from scipy.ndimage import label

    if not (mu_li_1_cm > 0):
        raise ParameterError("mu_li_1_cm", mu_li_1_cm, "must be > 0")
    v_mm3 = (float(voxel_size_um) * 1e-3) ** 3
    inc = np.asarray(diff.increment, dtype=np.float64)
    out = []
    for mask, sign in ((diff.increase_mask, 1.0), (diff.decrease_mask, -1.0)):
        lab, n = label(mask, structure=np.ones((3, 3, 3), bool))
        if n == 0:
            out.append(0.0)
            continue
        size = np.bincount(lab.ravel(), minlength=n + 1)
        tot = np.bincount(lab.ravel(), weights=sign * inc.ravel(), minlength=n + 1)
        keep = size >= int(min_component_vox)
        keep[0] = False
        out.append(float(np.clip(tot[keep], 0, None).sum()) / mu_li_1_cm * v_mm3)
    return out[0], out[1]
