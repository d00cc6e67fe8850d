"""Periodic contoured Li|electrolyte interfaces: egg-box, square pyramids, frustums.

Shapes of 003_103f2bf5a3479ade (Fig. 1c): a square periodic cell of side ``S`` (peak
separation) with peak height ``H``.  The electrolyte surface carries the features; the Li
fills them, so the Li surface height is ``h(x, y) = H - f(x, y)`` with ``f`` the feature
height of the electrolyte, Li below (``z < h``) and electrolyte above.  The cell is
mirror-symmetric about ``x = 0, S/2`` and ``y = 0, S/2``; functions here take coordinates
in the quarter cell ``[0, S/2]^2`` (a feature apex at the origin).

* ``"egg-box"``: bisinusoid ``f = H/2 (1 + cos(2 pi x / S) cos(2 pi y / S))`` (cosine-wave
  cross-sections, as in the paper);
* ``"pyramid"``: square pyramids of base ``S`` (triangle-wave cross-sections);
* ``"frustum"``: frustums of square pyramids whose flat top spans ``top_fraction * S``
  (trapezoid-wave cross-sections);
* ``"flat"``: ``h = 0``.

Edges, ridges and apices of pyramids and frustums are rounded over a physical radius
``tip_radius_um`` (default ``DEFAULT_TIP_RADIUS_UM`` = 2 um).  003_'s templates were written
by two-photon lithography (Nanoscribe Photonic Professional GT, 25x objective, Methods), whose
lateral voxel is of the order of 1 um, and imprinted into Li6PS5Cl powder of D50 ~ 1 um: a
printed-and-imprinted edge cannot be sharper than a couple of micrometres.  The value is an
assumption within that bound, not a measurement.  The rounding matters physically: a
perfectly sharp Li ridge gives an infinite primary current density and a delta-like
convergence of the creeping Li (``div U``), so the creep pressure at the Li ridge scales
as ``~ 1 / tip_radius``; with the rounding the fields are smooth and converge under grid
refinement.

The rounding uses a smooth triangle wave
``T(x) = (S / 2 pi) arccos((1 - delta) cos(2 pi x / S))`` (``= |x|`` for ``delta -> 0``,
``~ sqrt(x^2 + rho^2)`` near ``x = 0`` and ``S/2 - sqrt((x - S/2)^2 + rho^2)`` near
``S/2`` with ``rho = S sqrt(2 delta) / (2 pi)`` the rounding radius), even about both
mirror planes, combined by a smooth minimum over ``rho``; the result is rescaled so that
the peak-to-valley height is exactly ``H``.
"""

from __future__ import annotations

import numpy as np

from ssbscope.errors import ParameterError

__all__ = ["SHAPES", "DEFAULT_TIP_RADIUS_UM", "li_height_um", "area_ratio", "check_shape",
           "check_tip_radius"]

SHAPES = ("flat", "egg-box", "pyramid", "frustum")
DEFAULT_TIP_RADIUS_UM = 2.0


def check_tip_radius(tip_radius_um, separation_um=None) -> float:
    """Validate the edge/apex rounding radius (um): finite, > 0 and below S / 8."""
    try:
        r = float(tip_radius_um)
    except (TypeError, ValueError):
        raise ParameterError("tip_radius_um", tip_radius_um, "must be a number") from None
    if not np.isfinite(r) or r <= 0:
        raise ParameterError("tip_radius_um", tip_radius_um, "must be finite and > 0",
                             "give the edge rounding in um (default 2 um, printing resolution)")
    if separation_um is not None and r >= float(separation_um) / 8:
        raise ParameterError("tip_radius_um", tip_radius_um,
                             f"must be below S/8 = {float(separation_um) / 8:g} um",
                             "a rounding comparable to the feature is no longer that shape")
    return r


def check_shape(shape: str, height_um: float, separation_um: float) -> None:
    """Validate a shape name and its ``H`` and ``S``; raise ParameterError otherwise."""
    if shape not in SHAPES:
        raise ParameterError("shape", shape, f"must be one of {SHAPES}",
                             "use 'egg-box', 'pyramid', 'frustum' or 'flat'")
    if shape == "flat":
        return
    for name, v in (("height_um", height_um), ("separation_um", separation_um)):
        try:
            fv = float(v)
        except (TypeError, ValueError):
            raise ParameterError(name, v, "must be a number") from None
        if not np.isfinite(fv) or fv <= 0:
            raise ParameterError(name, v, f"must be finite and > 0 for a {shape!r} contour",
                                 "give the peak height H and separation S in micrometres")


def _smin(a, b, r):
    """Smooth minimum of a and b, rounded over r (exact min for |a - b| >> r)."""
    return 0.5 * (a + b - np.sqrt((a - b) ** 2 + r * r))


def _tri(x, S: float, rho: float):
    """Smooth triangle wave: ``|x|`` on ``[-S/2, S/2]`` (period S), corners rounded over rho."""
    delta = 0.5 * (2 * np.pi * rho / S) ** 2
    return S / (2 * np.pi) * np.arccos((1 - delta) * np.cos(2 * np.pi * x / S))


def _raw_feature(shape: str, x, y, H: float, S: float, top_fraction: float, rho: float):
    # distance to the Li ridge lines (feature bases at |x| = S/2, |y| = S/2, mirror planes)
    dx = S / 2 - _tri(x, S, rho)
    dy = S / 2 - _tri(y, S, rho)
    dmin = _smin(dx, dy, rho)
    if shape == "pyramid":
        return 2 * H / S * dmin
    slope = 2 * H / (S * (1 - top_fraction))
    return _smin(slope * dmin, np.full_like(dmin, H), rho * slope)


def _feature(shape: str, x, y, H: float, S: float, top_fraction: float, rho: float):
    """Electrolyte feature height f(x, y) in um, quarter-cell coordinates."""
    if shape == "flat":
        return np.zeros(np.broadcast(x, y).shape)
    k = 2 * np.pi / S
    if shape == "egg-box":
        return 0.5 * H * (1 + np.cos(k * x) * np.cos(k * y))
    if shape not in ("pyramid", "frustum"):
        raise ParameterError("shape", shape, f"must be one of {SHAPES}")
    # extremes: Li tip (ridge crossing, f min) at (S/2, S/2), feature apex at (0, 0)
    f_lo = _raw_feature(shape, np.array(S / 2), np.array(S / 2), H, S, top_fraction, rho)
    f_hi = _raw_feature(shape, np.array(0.0), np.array(0.0), H, S, top_fraction, rho)
    f = _raw_feature(shape, x, y, H, S, top_fraction, rho)
    return H * (f - f_lo) / (f_hi - f_lo)


def li_height_um(shape: str, x_um, y_um, height_um: float, separation_um: float, *,
                 top_fraction: float = 1 / 3, tip_radius_um: float = DEFAULT_TIP_RADIUS_UM):
    """Li surface height ``h = H - f`` (um) at quarter-cell coordinates ``(x_um, y_um)``.

    Parameters
    ----------
    shape : {"flat", "egg-box", "pyramid", "frustum"}
    x_um, y_um : array_like
        Coordinates in ``[0, S/2]`` (any broadcastable shapes).
    height_um, separation_um : float
        Peak height ``H`` and separation ``S`` (003_103f2bf5a3479ade, Fig. 1).
    top_fraction : float
        Frustum top width over ``S``.
    tip_radius_um : float
        Rounding radius of pyramid/frustum edges and apices (module docstring).

    Returns
    -------
    ndarray
        Li height in um (0 for ``"flat"``).
    """
    if shape == "flat":
        return np.zeros(np.broadcast(np.asarray(x_um), np.asarray(y_um)).shape)
    H, S = float(height_um), float(separation_um)
    f = _feature(shape, np.asarray(x_um, float), np.asarray(y_um, float), H, S, top_fraction,
                 float(tip_radius_um))
    return H - f


def area_ratio(shape: str, height_um: float, separation_um: float, *, n: int = 400,
               top_fraction: float = 1 / 3,
               tip_radius_um: float = DEFAULT_TIP_RADIUS_UM) -> float:
    """True interfacial area over the projected (geometric) area.

    ``(1/A) \\int sqrt(1 + |grad h|^2) dA`` by the midpoint rule on ``n x n`` cells of the
    quarter cell with central-difference gradients (converged to < 1e-4 at n = 400 for
    the default rounding; ``n`` is raised so that a cell is at most a third of the rounding).

    Returns
    -------
    float
        1 for a flat interface.
    """
    check_shape(shape, height_um, separation_um)
    if shape == "flat":
        return 1.0
    S = float(separation_um)
    if shape in ("pyramid", "frustum"):
        n = max(int(n), min(1000, int(np.ceil(1.5 * S / check_tip_radius(tip_radius_um, S)))))
    d = S / 2 / n
    c = (np.arange(n) + 0.5) * d
    X, Y = np.meshgrid(c, c, indexing="ij")
    e = 1e-4 * S
    kw = dict(top_fraction=top_fraction, tip_radius_um=tip_radius_um)
    hx = (li_height_um(shape, X + e, Y, height_um, S, **kw)
          - li_height_um(shape, X - e, Y, height_um, S, **kw)) / (2 * e)
    hy = (li_height_um(shape, X, Y + e, height_um, S, **kw)
          - li_height_um(shape, X, Y - e, height_um, S, **kw)) / (2 * e)
    return float(np.mean(np.sqrt(1 + hx * hx + hy * hy)))
