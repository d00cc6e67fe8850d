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

__all__ = ["CTDifference", "ct_difference"]

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
                  upsample_factor: int = 20) -> CTDifference:
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
    inc = aligned - b
    med = np.median(inc)
    noise = float(1.4826 * np.median(np.abs(inc - med)))
    thr = threshold_sigma * max(noise, 1e-12)
    log.info("ct_difference: shift %s vox by %s, noise %.3g", shift, method, noise)
    return CTDifference(increment=inc.astype(np.float32), shift_zyx_vox=shift, noise=noise,
                        increase_mask=inc > thr, decrease_mask=inc < -thr, method=method)
