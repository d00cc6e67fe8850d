"""Small helpers shared by the areas that smooth 2-D maps with gaps (height, thickness and
current-density maps NaN outside the cell or where a column has no surface)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_with_gaps(a, sigma, valid=None) -> np.ndarray:
    """Gaussian smoothing of a map with gaps (normalised convolution).

    ``(G * (a m)) / (G * m)`` with ``m`` the valid pixels and ``G`` a Gaussian of standard
    deviation ``sigma`` (pixels; a scalar or one per axis), the sides reflected.  Pixels outside
    ``m`` stay NaN, so a gap neither pulls its neighbours towards zero nor gets filled.

    Parameters
    ----------
    a : (ny, nx) array_like
    sigma : float or (float, float)
        Standard deviation (pixels); 0 returns ``a`` (NaN outside ``valid``).
    valid : (ny, nx) bool array_like, optional
        Pixels to use; default the finite ones of ``a``.

    Returns
    -------
    (ny, nx) ndarray of float, NaN outside ``valid``.
    """
    a = np.asarray(a, dtype=float)
    ok = np.isfinite(a) if valid is None else np.asarray(valid, dtype=bool)
    if np.all(np.asarray(sigma, dtype=float) <= 0):
        return np.where(ok, a, np.nan)
    num = ndimage.gaussian_filter(np.where(ok, a, 0.0), sigma, mode="reflect")
    den = ndimage.gaussian_filter(ok.astype(float), sigma, mode="reflect")
    return np.where(ok, num / np.maximum(den, 1e-12), np.nan)
