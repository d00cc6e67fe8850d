"""Centre-of-rotation search by matching opposite (180 deg apart) projections.

For parallel-beam data the projection at ``theta + pi`` is the mirror image, about the
rotation axis ``c``, of the projection at ``theta``: ``p(theta + pi, t) = p(theta, 2c - t)``.
Candidates ``m = 2c`` on the integer grid (``c`` every half pixel) are scored all at once with
FFT convolutions (``sum_t a(t) b(m - t)`` is a convolution); the minimum is refined with a
parabola through its neighbours (sub-pixel).

* 180 deg scans (:func:`junction_cost`): the ``n_fit`` projections at the end of the half-turn
  and the ``n_fit`` first ones, mirrored about ``c`` and placed at their angle + pi, must lie on
  one smooth curve in angle for every detector coordinate; the score is the residual of a
  least-squares polynomial in angle through them.  This uses 2 x ``n_fit`` projections (noise
  averaging) and needs no projection at exactly 180 deg.
* 360 deg scans (``scan="360-offset"``, :func:`mirror_cost`): up to 64 pairs of opposite
  projections are compared directly (squared difference over their overlap, normalised by
  the energy there so that an overlap of empty background does not match), which also
  works when the axis is near a detector edge (extended field of view).

This is the "180 deg image registration" idea (e.g. Vo et al., Opt. Express 22, 19078 (2014),
sec. 2.1) in a form that scores every candidate at once.  Zingers are replaced by their 3 x 3
median before scoring (they would dominate a squared difference; 180 deg scans: only in the
2 x ``n_fit`` projections scored, so the search costs little beside the reconstruction); run
:func:`ssbscope.tomo.remove_rings` only *after* the search: stripe removal perturbs the
sub-pixel symmetry of sharp edges and biased the result by 0.3-0.7 px on the twins.
"""

from __future__ import annotations

import logging

import numpy as np

from ssbscope.errors import DataQualityError, EmptyResultError, InputError, ParameterError

__all__ = ["find_center", "mirror_cost", "junction_cost"]

log = logging.getLogger(__name__)


def _pairs(ang):
    """Index pairs/weights giving p(theta + pi) for some rows: list of (a, [(b, w), ...])."""
    n = ang.size
    order = np.argsort(ang)
    sa = ang[order]
    step = float(np.median(np.diff(sa))) if n > 1 else 0.0
    pairs = []
    for i in range(n):
        target = sa[i] + np.pi
        if target > sa[-1] + 1.01 * step:
            continue
        j = int(np.searchsorted(sa, target))
        if j < n and abs(sa[j] - target) < 1e-6 * max(1.0, step):
            pairs.append((order[i], [(order[j], 1.0)]))
            continue
        if 1 <= j < n:
            lo, hi = j - 1, j
        elif j >= n and n >= 2:
            lo, hi = n - 2, n - 1  # linear extrapolation past the last angle
        else:
            continue
        x0, x1 = sa[lo], sa[hi]
        w1 = (target - x0) / (x1 - x0)
        pairs.append((order[i], [(order[lo], 1.0 - w1), (order[hi], w1)]))
    # mirror the extrapolation at the start (p(theta_last - pi) from the first two rows)
    if pairs and n >= 2 and sa[-1] - sa[0] < np.pi + 0.5 * step:
        target = sa[-1] - np.pi
        x0, x1 = sa[0], sa[1]
        w1 = (target - x0) / (x1 - x0)
        pairs.append((order[-1], [(order[0], 1.0 - w1), (order[1], w1)]))
    return pairs, step


def mirror_cost(a, b, *, min_overlap: int = 8):
    """Mean squared mismatch of ``a(t)`` and ``b(m - t)`` for every integer ``m``.

    Parameters
    ----------
    a, b : (n_rows, n_detector) arrays
        Projection and opposite projection (rows summed).
    min_overlap : int
        Overlaps shorter than this (px) get cost +inf.

    Returns
    -------
    m : (2 n_detector - 1,) ndarray of int
        Candidate ``2 c`` values (so ``c = m / 2``).
    cost : ndarray
        Squared difference over the overlap divided by the two projections' energy there
        (0: perfect match; about 1: unrelated or featureless overlap).
    """
    from scipy.signal import fftconvolve

    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    ones = np.ones_like(a)
    ab = fftconvolve(a, b, axes=1).sum(axis=0)
    aa = fftconvolve(a * a, ones, axes=1).sum(axis=0)
    bb = fftconvolve(ones, b * b, axes=1).sum(axis=0)
    cnt = fftconvolve(ones[:1], ones[:1], axes=1)[0] * a.shape[0]
    cnt = np.rint(cnt)
    ssd = np.maximum(aa + bb - 2 * ab, 0.0)
    # normalised by the energy in the overlap: 0 for a perfect match, ~1 for an overlap of
    # featureless background (which would otherwise look like a perfect match)
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = np.where(cnt >= min_overlap * a.shape[0], ssd / np.maximum(aa + bb, 1e-30), np.inf)
    return np.arange(cost.size), cost


def junction_cost(top, bottom, theta, *, degree: int = 2, min_overlap: int = 8):
    """Cost of joining a sinogram's end to its mirrored start, for every ``m = 2c``.

    The rows near 180 deg (``top``, angles ``theta[:K]``) and the first rows mirrored about
    the axis (``bottom``, angles ``theta[K:]`` = their angles + pi) must lie on one smooth
    curve in angle for every detector coordinate.  The cost is the residual of a
    least-squares polynomial fit (``degree``) in angle through the ``2K`` values, summed over
    the overlap and divided by its length; it is a quadratic form ``y^T (I - H) y`` whose
    cross terms are convolutions, so all ``m`` come from a few FFTs.

    Parameters
    ----------
    top, bottom : (K, n_rows, n_detector) arrays
    theta : (2K,) array
        Angles of the ``top`` rows then of the mirrored ``bottom`` rows (rad).
    """
    from scipy.signal import fftconvolve

    k = top.shape[0]
    th = np.asarray(theta, dtype=np.float64)
    th = th - th.mean()
    V = np.vander(th, degree + 1)
    H = V @ np.linalg.pinv(V)
    A = np.eye(2 * k) - H
    A11, A22, A12 = A[:k, :k], A[k:, k:], A[:k, k:]
    a = np.moveaxis(np.asarray(top, dtype=np.float64), 0, -2)  # (rows, K, n_d)
    b = np.moveaxis(np.asarray(bottom, dtype=np.float64), 0, -2)
    qa = np.einsum("rit,ij,rjt->rt", a, A11, a)
    qb = np.einsum("rit,ij,rjt->rt", b, A22, b)
    bmix = np.einsum("ij,rjt->rit", A12, b)
    ones = np.ones_like(qa)
    cross = fftconvolve(a, bmix, axes=2).sum(axis=(0, 1))
    sa = fftconvolve(qa, ones, axes=1).sum(axis=0)
    sb = fftconvolve(ones, qb, axes=1).sum(axis=0)
    cnt = np.rint(fftconvolve(ones[:1], ones[:1], axes=1)[0])
    res = np.maximum(sa + sb + 2 * cross, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = np.where(cnt >= min_overlap, res / np.maximum(cnt, 1) / a.shape[0], np.inf)
    return np.arange(cost.size), cost


def find_center(projections, angles_rad, *, scan: str = "180", search_range=None,
                rows=None, min_overlap: int | None = None, n_fit: int = 16,
                degree: int = 3) -> float:
    """Find the detector coordinate (px) of the rotation axis.

    Parameters
    ----------
    projections : (n_angles, n_detector) or (n_angles, n_rows, n_detector) array
        -log projections (line integrals) or one sinogram.  Using several rows makes the
        estimate more robust; ``rows`` picks them.
    angles_rad : (n_angles,) array
        Rotation angles (rad); the scan must cover at least 180 deg minus one step.
    scan : {"180", "360-offset"}
        For ``"360-offset"`` (axis near a detector edge) the whole detector is searched with a
        minimum overlap of ``min_overlap`` px; for ``"180"`` the central half by default.
    search_range : (float, float), optional
        Limits (px) for the centre.
    rows : slice or sequence of int, optional
        Detector rows used (3-D input).
    min_overlap : int, optional
        Minimum overlap (px) of opposite projections (default: n_detector // 2 for 180 deg
        scans, 8 for 360-offset).
    n_fit : int
        For 180 deg scans: projections taken at each end of the half-turn (>= 4).
    degree : int
        Degree of the polynomial in angle fitted across the junction (180 deg scans).

    Returns
    -------
    float
        Centre of rotation in detector pixels (pixel ``j`` centred at ``j``), the ``center``
        argument of :func:`ssbscope.tomo.fbp`.

    Raises
    ------
    InputError
        Shapes or angle count wrong; angular range shorter than 180 deg.
    DataQualityError
        NaN/inf in the projections.
    EmptyResultError
        The projections are constant (nothing to register).
    """
    p = np.asarray(projections)
    if p.ndim == 2:
        p = p[:, None, :]
    if p.ndim != 3:
        raise InputError(f"projections: expected 2-D or 3-D, got shape {p.shape}")
    n_a, n_r, n_d = p.shape
    ang = np.asarray(angles_rad, dtype=np.float64)
    if ang.ndim != 1 or ang.size != n_a:
        raise InputError(f"angles_rad: {ang.size} angles do not match the {n_a} projections")
    if rows is not None:
        p = p[:, rows, :]
        if p.ndim == 2:
            p = p[:, None, :]
    if scan not in ("180", "360-offset"):
        raise ParameterError("scan", scan, "must be '180' or '360-offset'")
    order = np.argsort(ang, kind="stable")
    sa = ang[order]
    step = float(np.median(np.diff(sa))) if n_a > 1 else 0.0
    if sa[-1] - sa[0] + step < np.pi - 2.5 * step:
        raise InputError(f"angles_rad: cover {np.rad2deg(sa[-1] - sa[0]):.1f} deg; the "
                         "centre search needs at least 180 deg")
    if scan == "180":
        # rows within ~180 deg of the start: join the end of the half-turn to the mirrored start
        end = np.nonzero(sa <= sa[0] + np.pi + 0.5 * step)[0][-1]
        k = int(np.clip(n_fit, 4, max(4, (end + 1) // 4)))
        # only these 2k projections are scored: clean (and copy to float64) only them
        used = np.concatenate([order[end - k + 1:end + 1], order[:k]])
        p = p[used]
    p = np.asarray(p, dtype=np.float64)
    if not np.all(np.isfinite(p)):
        raise DataQualityError("projections: contains NaN/inf; correct them before the "
                               "centre search")
    if np.std(p) == 0:
        raise EmptyResultError("projections: constant values; no structure to find the centre")
    # zingers (isolated outliers) would dominate a squared-difference cost: replace pixels
    # further than 6 robust sigmas from their 3 x 3 median in each projection
    from scipy.ndimage import median_filter

    med = median_filter(p, size=(1, 3, 3), mode="nearest")
    dev = p - med
    sig = 1.4826 * np.median(np.abs(dev - np.median(dev)))
    if sig > 0:
        p = np.where(np.abs(dev) > 6 * sig, med, p)
    del med, dev
    if min_overlap is None:
        min_overlap = n_d // 2 if scan == "180" else 8
    if scan == "180":
        top = p[:k]
        bottom = p[k:]
        theta = np.concatenate([sa[end - k + 1:end + 1], sa[:k] + np.pi])
        m, total = junction_cost(top, bottom, theta, degree=degree, min_overlap=int(min_overlap))
    else:
        pairs, step = _pairs(ang)
        if not pairs:
            raise InputError("angles_rad: no pairs of opposite (180 deg apart) projections; a "
                             "360-offset scan needs a full turn")
        # subsample pairs to bound the cost (every pair is a full-detector convolution)
        if len(pairs) > 64:
            keep = np.unique(np.linspace(0, len(pairs) - 1, 64).round().astype(int))
            pairs = [pairs[kk] for kk in keep]
        total = None
        for ia, partners in pairs:
            a = p[ia]
            b = sum(w * p[ib] for ib, w in partners)
            m, cost = mirror_cost(a, b, min_overlap=int(min_overlap))
            total = cost if total is None else total + cost
    c_all = m / 2.0
    if search_range is None:
        lo, hi = (n_d / 4.0, 3 * n_d / 4.0) if scan == "180" else (0.0, n_d - 1.0)
    else:
        lo, hi = map(float, search_range)
    ok = (c_all >= lo) & (c_all <= hi) & np.isfinite(total)
    if not ok.any():
        raise ParameterError("search_range", search_range, "leaves no candidate centre with "
                             "enough overlap", "widen it or lower min_overlap")
    tot = np.where(ok, total, np.inf)
    k = int(np.argmin(tot))
    c = c_all[k]
    if 0 < k < tot.size - 1 and np.isfinite(tot[k - 1]) and np.isfinite(tot[k + 1]):
        y0, y1, y2 = tot[k - 1], tot[k], tot[k + 1]
        den = y0 - 2 * y1 + y2
        if den > 0:
            c += 0.5 * (0.5 * (y0 - y2) / den)  # half-pixel grid spacing
    log.info("centre of rotation %.2f px (detector %d px)", c, n_d)
    return float(c)
