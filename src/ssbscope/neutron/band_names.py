"""Names of the Li enrichment/depletion bands from the data (Cao et al. 2023,
doi:10.1002/adfm.202307998, Fig. 2D-E: P1-P4).

The paper names four bands by where they lie in the cell and by the sign of the
transmission change: P1, Li depletion in the cathode (delithiation of NMC811); P2, Li
enrichment in the SE next to the SE|Li interface (plating, Li filling SE pores); P3, Li
depletion in the Li metal on its current-collector side (Li deforming away); P4, Li
enrichment beyond the Li on the current-collector side, strongest at the cell edge (creep up
the gap between rod and tube).

:func:`name_bands` applies that description to bands found in a radiograph series
(:func:`ssbscope.neutron.analysis.detect_bands`) with only the reference transmission
profile: the Li metal foil is the darkest run of rows; its face toward the darker
neighbourhood (the Li-bearing electrolyte, not the steel rod) is the SE|Li interface.  With
``s`` the signed distance of a band from that interface (positive into the SE):

* P2: an enrichment band with ``-tol <= s <= 3 tol`` (at the interface, into the SE);
* P1: a depletion band beyond the interface zone on the SE side (``s > 3 tol``: the
  electrolyte and the cathode beyond it; in the paper only the cathode loses Li);
* P3: a depletion band inside the Li foil (between its two faces, ``tol`` margin);
* P4: an enrichment band at or beyond the foil's other face (the current-collector side).

Several candidates for one name: the strongest (largest ``|final_ratio - 1|``) wins.  Bands
that fit no rule stay unnamed (``""``).  The onset time is carried but not used: P3/P4 start
later than P1/P2 in the paper (creep), which the caller may check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssbscope.errors import InputError

__all__ = ["BandGeometry", "li_foil_rows", "name_bands"]


@dataclass(frozen=True)
class BandGeometry:
    """Where the rule found the Li foil in the reference profile (frame rows).

    Attributes
    ----------
    li_rows : (int, int)
        First and last + 1 row of the darkest run (the Li metal foil).
    se_face_px : float
        Row of the SE|Li interface (the foil face toward the darker neighbourhood).
    cc_face_px : float
        Row of the foil's other face (current-collector side).
    se_direction : int
        +1 when the SE lies at larger rows than the foil, -1 otherwise.
    """

    li_rows: tuple
    se_face_px: float
    cc_face_px: float
    se_direction: int


def li_foil_rows(profile, *, neighbourhood_px: int = 5) -> BandGeometry:
    """The Li foil in a reference transmission profile: the run of rows around the minimum
    below the midpoint between the minimum and the median; its SE side is the face whose
    ``neighbourhood_px`` rows beyond have the lower mean transmission.

    Parameters
    ----------
    profile : (n,) ndarray
        Transmission per frame row (NaN outside the region).
    neighbourhood_px : int

    Returns
    -------
    BandGeometry
    """
    p = np.asarray(profile, float)
    ok = np.isfinite(p)
    if p.ndim != 1 or ok.sum() < 5:
        raise InputError("profile: need a 1-D transmission profile with >= 5 finite rows")
    lo = float(np.nanmin(p))
    med = float(np.nanmedian(p))
    if not med > lo:
        raise InputError("profile: flat; no Li foil (darkest layer) to name the bands by")
    dark = ok & (p <= lo + 0.5 * (med - lo))
    i = int(np.nanargmin(p))
    a = i
    while a > 0 and dark[a - 1]:
        a -= 1
    b = i + 1
    while b < p.size and dark[b]:
        b += 1
    w = int(neighbourhood_px)
    above = p[max(0, a - w):a]
    below = p[b:b + w]
    m_above = float(np.nanmean(above)) if np.isfinite(above).any() else np.inf
    m_below = float(np.nanmean(below)) if np.isfinite(below).any() else np.inf
    if m_below <= m_above:
        return BandGeometry((a, b), float(b), float(a), +1)
    return BandGeometry((a, b), float(a), float(b), -1)


def name_bands(position_px, sign, final_ratio, profile, *, tol_px: float = 1.5):
    """Name bands P1-P4 by position, sign of the change and the Li foil of ``profile``.

    Parameters
    ----------
    position_px : (n,) array
        Band centroid rows (frame rows).
    sign : (n,) array of int
        +1 enrichment (Tr_t/Tr_0 < 1), -1 depletion.
    final_ratio : (n,) array
        Band-mean Tr_t/Tr_0 at the end (strength ``|final_ratio - 1|``).
    profile : (rows,) array
        Reference transmission profile of the cell's middle region (frame rows).
    tol_px : float
        Position tolerance (about the spatial resolution in pixels).

    Returns
    -------
    names : list of str
        "P1".."P4" or "" per band.
    geometry : BandGeometry
    """
    pos = np.asarray(position_px, float)
    sgn = np.asarray(sign, int)
    strength = np.abs(np.asarray(final_ratio, float) - 1.0)
    g = li_foil_rows(profile)
    d = g.se_direction
    s = (pos - g.se_face_px) * d                  # > 0: into the SE / cathode
    s_cc = (pos - g.cc_face_px) * d               # < 0: beyond the foil, collector side
    cand = {
        "P2": (sgn > 0) & (s >= -tol_px) & (s <= 3 * tol_px),
        "P1": (sgn < 0) & (s > 3 * tol_px),
        "P3": (sgn < 0) & (s_cc >= -tol_px) & (s <= tol_px),
        "P4": (sgn > 0) & (s_cc <= tol_px) & (s < -tol_px),
    }
    names = [""] * pos.size
    for name, c in cand.items():
        idx = np.flatnonzero(c & np.array([n == "" for n in names], bool))
        if idx.size == 0:
            continue
        k = int(idx[np.argmax(strength[idx])])
        names[k] = name
    return names, g
