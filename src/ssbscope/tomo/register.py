"""Rigid registration of successive CT scans (sub-voxel drift) before any difference.

Translation by phase correlation with upsampled refinement of the peak
(``skimage.registration.phase_cross_correlation``, Guizar-Sicairos et al. 2008); an optional
small rotation about the stacking axis z (the tomographic rotation axis, where sample-stage
drift shows) is found by a bounded 1-D search maximising the normalised cross-correlation.
Volumes are ``(z, y, x)``; shifts in voxels ``(dz, dy, dx)``; angles in degrees,
counter-clockwise in the (y, x) plane seen from +z.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ssbscope.errors import InputError, ParameterError

__all__ = ["RigidTransform", "register_rigid", "apply_rigid"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RigidTransform:
    """Rigid transform mapping ``moving`` onto ``fixed``.

    ``apply_rigid(moving, t)`` resamples ``moving`` on the fixed grid.

    Attributes
    ----------
    shift_vox : (dz, dy, dx)
        Translation (voxels) to apply to ``moving`` (after the rotation).
    rotation_deg : float
        Rotation about z to apply to ``moving`` (degrees).
    error : float
        Residual ``1 - NCC`` of the overlapping region after alignment (0 = perfect).
    """

    shift_vox: tuple[float, float, float]
    rotation_deg: float
    error: float


def _check_pair(fixed, moving):
    from ssbscope.tomo.filters import _as_volume, check_finite

    f = _as_volume(fixed, "fixed")
    m = _as_volume(moving, "moving")
    if f.shape != m.shape:
        raise InputError(f"moving: shape {m.shape} differs from fixed {f.shape}; crop or pad "
                         "both scans to the same grid first")
    check_finite(f, "fixed")
    check_finite(m, "moving")
    return f.astype(np.float64, copy=False), m.astype(np.float64, copy=False)


def _matrix(angle_deg: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _resample(coeffs: np.ndarray, shift, angle_deg: float, order: int,
              prefiltered: bool) -> np.ndarray:
    """``out(p) = moving(c + R(angle) (p - c - shift))`` (c the volume centre)."""
    import scipy.ndimage as ndi

    rot = _matrix(angle_deg)
    c = (np.array(coeffs.shape, float) - 1) / 2
    offset = c - rot @ (c + np.asarray(shift, float))
    return ndi.affine_transform(coeffs, rot, offset=offset, order=order, mode="nearest",
                                prefilter=not prefiltered)


def _ncc(a: np.ndarray, b: np.ndarray, margin) -> float:
    # crop the margin, but keep at least a quarter of each axis
    sl = tuple(slice(min(int(np.ceil(m)), s // 4), s - min(int(np.ceil(m)), s // 4))
               for m, s in zip(margin, a.shape))
    x = a[sl].ravel() - a[sl].mean()
    y = b[sl].ravel() - b[sl].mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else 0.0


def _translation(f, m, upsample):
    from skimage.registration import phase_cross_correlation

    shift, _, _ = phase_cross_correlation(f, m, upsample_factor=upsample, normalization=None)
    return tuple(float(s) for s in shift)


def _gauss_newton(f, m, shift, angle, rotation, max_rot, radius, max_iter=30, tol=1e-4):
    """Refine (shift, angle) by Gauss-Newton on ``f - (g w + o)``, w the resampled moving.

    With ``w(p) = m(c + R (p - c - s))``: ``dw/ds = -grad w`` and
    ``dw/dtheta = grad w . J (p - c - s)`` with ``J (dy, dx) = (-dx, dy)`` (theta in rad).
    """
    import scipy.ndimage as ndi

    coeffs = ndi.spline_filter(m, order=3, mode="nearest")
    shift = np.asarray(shift, float).copy()
    margin = np.abs(shift) + 3 + np.array([0.0, 1.0, 1.0]) * np.deg2rad(max_rot) * radius
    sl = tuple(slice(int(np.ceil(mg)), n - int(np.ceil(mg))) for mg, n in zip(margin, f.shape))
    if any(x.stop - x.start < 4 for x in sl):
        return shift, angle
    # least squares on at most ~2 million voxels of the crop (a fixed stride: deterministic)
    n_crop = int(np.prod([x.stop - x.start for x in sl]))
    pick = slice(None, None, max(1, n_crop // 2_000_000))
    fc = f[sl].ravel()[pick]
    cen = (np.array(f.shape, float) - 1) / 2
    zz, yy, xx = np.meshgrid(*[np.arange(x.start, x.stop, dtype=float) for x in sl],
                             indexing="ij")
    yy = yy.ravel()[pick]
    xx = xx.ravel()[pick]
    del zz

    def residual(sh, an):
        w = _resample(coeffs, sh, an, 3, True)
        wc = w[sl].ravel()[pick]
        a2 = np.column_stack([wc, np.ones_like(wc)])
        go, *_ = np.linalg.lstsq(a2, fc, rcond=None)
        r = fc - a2 @ go
        return w, wc, go, r, float(r @ r)

    w, wc, go, r, cost = residual(shift, angle)
    for _ in range(max_iter):
        gz, gy, gx = np.gradient(w)
        gz, gy, gx = (g[sl].ravel()[pick] for g in (gz, gy, gx))
        cols = [-gz, -gy, -gx]
        if rotation:
            dy = yy - cen[1] - shift[1]
            dx = xx - cen[2] - shift[2]
            cols.append(gy * (-dx) + gx * dy)
        a = np.column_stack([c * go[0] for c in cols] + [wc, np.ones_like(wc)])
        step, *_ = np.linalg.lstsq(a, r, rcond=None)
        step = step[: len(cols)]
        # trust region: at most 1 voxel (and 0.5 degree) per iteration
        scale = min(1.0, 1.0 / max(np.abs(step[:3]).max(), 1e-300))
        if rotation:
            scale = min(scale, np.deg2rad(0.5) / max(abs(step[3]), 1e-300))
        step = step * scale
        accepted = False
        for _half in range(8):  # backtracking: never accept a step that raises the residual
            new_shift = shift + step[:3]
            new_angle = angle + (float(np.rad2deg(step[3])) if rotation else 0.0)
            trial = residual(new_shift, new_angle)
            if trial[-1] <= cost:
                shift, angle = new_shift, new_angle
                w, wc, go, r, cost = trial
                accepted = True
                break
            step = step / 2
        if not accepted or (np.all(np.abs(step[:3]) < tol)
                            and (not rotation or abs(np.rad2deg(step[3])) < tol)):
            break
    return shift, angle


def register_rigid(fixed, moving, *, upsample_factor: int = 20, rotation: bool = False,
                   max_rotation_deg: float = 2.0, refine: bool = True) -> RigidTransform:
    """Rigid transform that aligns ``moving`` to ``fixed`` with sub-voxel precision.

    1. Translation by phase correlation, peak refined on a grid upsampled
       ``upsample_factor`` times.
    2. With ``rotation``: a 9-point scan of the angle about z in ``± max_rotation_deg``,
       each with its own phase-correlation shift.
    3. With ``refine`` (default): Gauss-Newton least squares of ``fixed - (g aligned + o)``
       over the shift (and angle), gain g and offset o, with cubic-spline resampling, which
       removes the bias phase correlation has on non-periodic volumes (edges).

    The transform maps ``moving`` onto ``fixed`` as
    ``aligned(p) = moving(c + R(rotation_deg) (p - c - shift_vox))`` with ``c`` the volume
    centre and R the rotation in the (y, x) plane.

    Parameters
    ----------
    fixed, moving : (Z, Y, X) ndarray
        Two scans of the same sample on grids of the same shape; NaN/inf rejected.
    upsample_factor : int, default 20
        Phase-correlation peak refinement (``1 / upsample_factor`` voxel).
    rotation : bool, default False
        Also estimate a small rotation about z.
    max_rotation_deg : float
        Search range ``± max_rotation_deg`` for the rotation.
    refine : bool, default True
        Real-space refinement (step 3).

    Returns
    -------
    RigidTransform

    Raises
    ------
    InputError
        Shapes differ or the arrays are not 3-D.
    DataQualityError
        NaN/inf voxels.

    Notes
    -----
    Memory grows with the volume (complex FFTs, spline coefficients, gradients): register
    a static sub-volume (e.g. the current collector) or a binned copy of a large scan and
    apply the transform (shift scaled by the binning) to the full volume.  The least-squares
    refinement uses at most ~2 million voxels (a fixed stride).
    """
    f, m = _check_pair(fixed, moving)
    if int(upsample_factor) != upsample_factor or upsample_factor < 1:
        raise ParameterError("upsample_factor", upsample_factor, "must be an integer >= 1")
    if rotation and not 0 < max_rotation_deg <= 20:
        raise ParameterError("max_rotation_deg", max_rotation_deg, "must be in (0, 20]",
                             "only small drifts are searched; pre-align larger rotations")
    angle = 0.0
    radius = 0.5 * float(np.hypot(*f.shape[1:]))
    if rotation:
        best = None
        for a in np.linspace(-max_rotation_deg, max_rotation_deg, 9):
            mr = _resample(m, (0, 0, 0), a, 1, False)
            s = _translation(f, mr, 4)
            margin = np.abs(s) + np.array([0.0, 1.0, 1.0]) * np.deg2rad(abs(a)) * radius + 1
            c = 1.0 - _ncc(f, _resample(mr, s, 0.0, 1, False), margin)
            if best is None or c < best[0]:
                best = (c, a)
        angle = float(best[1])
        m0 = _resample(m, (0, 0, 0), angle, 3, False)
    else:
        m0 = m
    shift = np.array(_translation(f, m0, int(upsample_factor)))
    if refine:
        shift, angle = _gauss_newton(f, m, shift, angle, rotation,
                                     max_rotation_deg if rotation else 0.0, radius)
    margin = np.abs(shift) + 2 + np.array([0.0, 1.0, 1.0]) * np.deg2rad(abs(angle)) * radius
    err = 1.0 - _ncc(f, _resample(m, shift, angle, 3, False), margin)
    shift_t = tuple(float(x) for x in shift)
    log.info("register_rigid: shift %s vox, rotation %.4f deg, 1-NCC %.3g", shift_t, angle, err)
    return RigidTransform(shift_vox=shift_t, rotation_deg=angle, error=float(err))


def apply_rigid(volume, transform: RigidTransform, *, order: int = 3) -> np.ndarray:
    """Resample ``volume`` (a moving scan) onto the fixed grid.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
        Greyscale (spline order ``order``) or boolean (nearest neighbour) volume.
    transform : RigidTransform
        From :func:`register_rigid`.
    order : int
        Spline order for greyscale data.

    Returns
    -------
    (Z, Y, X) ndarray
        float64 for greyscale input, bool for boolean input; edges replicated.
    """
    from ssbscope.tomo.filters import _as_volume, check_finite

    v = _as_volume(volume)
    check_finite(v)
    if v.dtype == np.bool_:
        out = _resample(v.astype(np.float32), transform.shift_vox, transform.rotation_deg, 1,
                        False)
        return out >= 0.5
    return _resample(v.astype(np.float64), transform.shift_vox, transform.rotation_deg, order,
                     False)
