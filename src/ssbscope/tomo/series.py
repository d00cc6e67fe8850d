"""CT of an operando series measured against the cell's declared layers.

A user's experiment declares the cell stack (``cell.layers``, bottom ``z = 0`` to top, with
materials and nominal thicknesses; a thickness of 0 marks a layer that forms during the
experiment, e.g. Li plated on the Cu of an anode-free cell).  This module turns a series of
reconstructed scans of that cell into the morphology the papers report, from the data alone:

1. :func:`phase_order`: the distinct materials of the declared layers, darkest first (linear
   attenuation at the beam energy, :mod:`ssbscope.materials`); the darkest phase also holds
   pores, cracks and void.
2. :func:`cell_region`: the cell's columns ``(y, x)`` from the data (threshold of the mean
   along z, largest component, holes filled, eroded).
3. :func:`segment_scan`: recursive Otsu thresholds (:func:`ssbscope.tomo.segment_phases`,
   ``method="hierarchical"``) inside the cell with one class more than declared phases, the
   classes mapped to the phases in attenuation order; the extra class is either material the
   YAML does not declare (a steel plunger, a casing) or a second class of a declared phase,
   whichever matches the declared stack best (:func:`locate_layers`).
4. :func:`locate_layers`: majority-phase bands of the cell's slices matched in order to the
   declared layer sequence (a thickness-0 layer may be absent); bands outside the matched
   stack are undeclared material, logged and ignored.
5. :func:`register_scan`: rigid registration of a scan to the first on the slab of a static
   layer (:func:`ssbscope.tomo.register_rigid`).
6. :func:`measure_scan`: sub-voxel interface height maps, Ra/Rq, thickness maps with
   centre/edge statistics, phase and layer volumes, pore + crack volume of the electrolyte
   (partial volume), Li-connected vs isolated low-attenuation regions (unfiltered grey
   values at the midpoint of the measured pure levels) and their volume fraction per layer
   of the electrolyte (partial volume), :mod:`ssbscope.tomo.low_attenuation`.
7. :func:`analyse_series`: all of it over a registered series, with new filaments between
   consecutive scans and the pore-vs-crack grey-value overlap; each interface's heights
   from one estimator for the whole series (median or unfiltered grey values,
   :func:`choose_height_estimator`), so that the scans stay comparable.

One implementation serves both memory models: :func:`segment_scan`, :func:`measure_scan`
and :func:`analyse_series` hold whole volumes in memory (``np.asarray`` of Dask input too)
and run the z-slab code of :mod:`ssbscope.tomo.series_chunked` on a single slab; the
pipeline's series stage runs it on z-slabs of the store's lazy volumes,
:func:`ssbscope.tomo.series_chunked.analyse_series_chunked` (equal results, memory set by
the slab size).

Volumes are ``(z, y, x)`` with ``z`` the stacking axis; heights are measured from the face of
slice 0 (µm).  Layer-fraction slabs follow Cao et al., Adv. Funct. Mater. 2023
(doi:10.1002/adfm.202307998), Fig. 3J: layer 1 at the electrolyte face away from the Li
electrode the filaments grow from, layer ``n`` at that electrode (see
:func:`electrolyte_slab_order`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ssbscope.errors import EmptyResultError, InputError, ParameterError

__all__ = [
    "DEFAULT_ENERGY_KEV", "UNDECLARED", "DeclaredLayer", "as_layers", "PhaseOrder", "phase_order",
    "CellRegion", "cell_region", "PhaseSegmentation", "segment_scan", "LayerLocation",
    "locate_layers", "register_scan", "interface_pairs", "electrolyte_layer",
    "electrolyte_slab_order", "ScanMeasurement", "measure_scan", "SeriesResult",
    "HEIGHT_ESTIMATORS", "height_estimator_errors", "choose_height_estimator",
    "height_noise_field", "height_noise_maps",
    "analyse_series",
]

log = logging.getLogger(__name__)

#: Beam energy (keV) used to order the materials when the inputs give none.
DEFAULT_ENERGY_KEV = 30.0
#: Label of voxels of material the YAML does not declare (e.g. a steel plunger).
UNDECLARED = 255


# --------------------------------------------------------------------------- layers, phases

@dataclass(frozen=True)
class DeclaredLayer:
    """One declared layer (``cell.layers[i]``): name, material, nominal thickness (µm)."""

    name: str
    material: str
    thickness_um: float


def as_layers(layers) -> tuple[DeclaredLayer, ...]:
    """Declared layers from ``config.Layer`` objects, mappings or :class:`DeclaredLayer`.

    Raises
    ------
    InputError
        Fewer than 2 layers, or repeated names.
    """
    out = []
    for la in layers:
        if isinstance(la, DeclaredLayer):
            out.append(la)
        elif isinstance(la, dict):
            out.append(DeclaredLayer(str(la["name"]), str(la["material"]),
                                     float(la.get("thickness_um", 0.0))))
        else:
            out.append(DeclaredLayer(str(la.name), str(la.material), float(la.thickness_um)))
    if len(out) < 2:
        raise InputError(f"cell.layers: {len(out)} layer(s) declared; a CT series is measured "
                         "against at least 2 layers (bottom to top), e.g. Cu, Li, LPSCl, Li")
    names = [la.name for la in out]
    if len(set(names)) != len(names):
        raise InputError(f"cell.layers: names {names} repeat; name each layer once")
    return tuple(out)


@dataclass(frozen=True)
class PhaseOrder:
    """Materials of the declared layers ordered by X-ray attenuation, darkest first.

    Attributes
    ----------
    phases : tuple of str
        Distinct material names, ascending linear attenuation.  Phase 0 also holds pores,
        cracks and void.
    mu_1_cm : tuple of float
        Linear attenuation coefficient of each (1/cm) at ``energy_kev``.
    energy_kev : float
    """

    phases: tuple[str, ...]
    mu_1_cm: tuple[float, ...]
    energy_kev: float

    def index(self, material: str) -> int:
        """Phase index of ``material``."""
        try:
            return self.phases.index(material)
        except ValueError:
            raise InputError(f"material {material!r} is not one of the declared {self.phases}") \
                from None


def phase_order(layers, energy_kev: float | None = None) -> PhaseOrder:
    """The distinct materials of the declared layers sorted by attenuation.

    Parameters
    ----------
    layers : sequence of layers
        ``cell.layers`` (objects or mappings with ``name``, ``material``, ``thickness_um``).
    energy_kev : float, optional
        Beam energy (keV); default :data:`DEFAULT_ENERGY_KEV` (30 keV) when unknown.

    Returns
    -------
    PhaseOrder

    Raises
    ------
    InputError
        A material unknown to :func:`ssbscope.materials.get`, or two materials with equal
        attenuation (not separable by grey value).
    """
    from ssbscope import materials

    lay = as_layers(layers)
    e = float(energy_kev) if energy_kev is not None else DEFAULT_ENERGY_KEV
    mats: list[str] = []
    for la in lay:
        if la.material not in mats:
            mats.append(la.material)
    mu = {}
    for m in mats:
        try:
            mu[m] = float(materials.get(m).linear_attenuation_1_cm(e))
        except Exception as exc:  # ParameterError / KeyError from the materials table
            raise InputError(f"cell.layers: material {m!r} is unknown ({exc}); use a name of "
                             "ssbscope.materials.NAMED or a chemical formula") from None
    order = sorted(mats, key=lambda m: mu[m])
    for a, b in zip(order[:-1], order[1:]):
        if math.isclose(mu[a], mu[b], rel_tol=1e-3):
            raise InputError(f"cell.layers: materials {a!r} and {b!r} attenuate alike at {e:g} keV "
                             f"({mu[a]:.4g} vs {mu[b]:.4g} 1/cm); CT cannot separate them")
    return PhaseOrder(tuple(order), tuple(mu[m] for m in order), e)


# --------------------------------------------------------------------------- cell region

@dataclass(frozen=True)
class CellRegion:
    """The cell's columns in ``(y, x)``, found from the data.

    Attributes
    ----------
    mask : (Y, X) ndarray of bool
        Columns of the cell (threshold of the volume's mean along z, largest connected
        component, holes filled).
    inner : (Y, X) ndarray of bool
        The footprint of every map, volume and statistic: ``mask`` less the wall's
        partial-volume ring (:func:`wall_ring_width`), or eroded by a given ``erode_vox``.
    threshold : float
        Grey-value threshold of the mean image.
    ring_width_vox : float
        Distance from the mask's edge (Euclidean, pixel centres, 1 on its outermost ring) at
        or below which a column is in the wall's ring (NaN with a given ``erode_vox``).
    edge_sigma_vox : float
        The wall's fitted edge spread (Gaussian sigma, voxels; NaN when not fitted).
    """

    mask: np.ndarray
    inner: np.ndarray
    threshold: float
    ring_width_vox: float = float("nan")
    edge_sigma_vox: float = float("nan")

    @property
    def area_px(self) -> int:
        """Columns in ``mask``."""
        return int(self.mask.sum())


def cell_region(volume, *, erode_vox: int | str = "edge") -> CellRegion:
    """The cell's footprint from a reconstructed volume.

    The mean along z of every column (the cell attenuates, air around it does not) is
    thresholded with Otsu's method; the largest connected component, holes filled, is the
    cell; ``inner`` is it less the wall's partial-volume ring (``erode_vox="edge"``,
    :func:`wall_ring_width`), or eroded by ``erode_vox`` voxels.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
    erode_vox : "edge" or int, default "edge"

    Returns
    -------
    CellRegion

    Raises
    ------
    EmptyResultError
        No column stands out from the background.
    """
    v = np.asarray(volume)
    if v.ndim != 3:
        raise InputError(f"volume: expected (z, y, x), got shape {v.shape}")
    return _region_from_mean(np.nanmean(v, axis=0).astype(np.float64), erode_vox)


def _region_from_mean(img: np.ndarray, erode_vox: int | str) -> CellRegion:
    """:func:`cell_region` from the mean image along z (also the chunked path's)."""
    import scipy.ndimage as ndi

    from ssbscope.tomo.filters import threshold_otsu

    raw = img
    img = ndi.median_filter(img, size=3, mode="nearest")
    t = float(threshold_otsu(img))
    fg = img > t
    lab, n = ndi.label(fg)
    if n == 0:
        raise EmptyResultError("volume: no column stands out from the background; the cell "
                               "is not found (check the reconstruction)")
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    mask = ndi.binary_fill_holes(lab == int(np.argmax(sizes)))
    width = sigma = float("nan")
    if erode_vox == "edge":
        width, sigma = wall_ring_width(raw, mask)
        # distance from the mask's edge, the field of view's border an edge too (as the
        # erosion's zero border)
        d = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        inner = mask & (d > width)
    else:
        inner = ndi.binary_erosion(mask, iterations=int(erode_vox)) if erode_vox > 0 else mask
    if not inner.any():
        inner = mask
    return CellRegion(mask=mask, inner=inner, threshold=t, ring_width_vox=width,
                      edge_sigma_vox=sigma)


#: Fraction of the wall's edge response a column outside the ring may hold: the 10-90 %
#: rise of the edge spread function (ISO 12233's edge rise distance), +-1.2816 sigma about
#: the wall.
WALL_RING_Z = 1.2816


def wall_ring_width(mean_image, mask) -> tuple[float, float]:
    """Width of the cell wall's partial-volume ring, from the wall's measured edge spread.

    The column means ``mean_image`` are fitted against the distance from the edge of
    ``mask`` (:func:`ssbscope.tomo.metrics.lateral_edge_spread`: a Gaussian point spread
    ``sigma`` on a sharp wall at distance ``d0``).  A column whose voxel (centre at distance
    ``d`` from the mask's edge, Euclidean between pixel centres, 1 on the outermost ring)
    reaches into the edge's 10-90 % rise, ``d - 0.5 <= d0 + 1.2816 sigma``, mixes the exterior
    in and is in the ring; the ring is at least the mask's outermost ring (``d = 1``: the
    Otsu edge puts the wall somewhere inside those voxels).  The footprint is the columns
    with ``d > width``.  On the demo's twins (3 µm voxels, 90 projections) sigma is
    0.48 voxel and ``d0`` ~0: width 1.1, the outermost 4-connected ring (its electrolyte
    reads 0.72 of the matrix level, the next ring's within 4 % of it: the reconstruction's
    ringing, not the exterior).  Where the fit fails (e.g. a truncated scan: no wall in the
    field of view) the width is 1.

    Parameters
    ----------
    mean_image : (Y, X) ndarray
        The volume's mean along z (unfiltered).
    mask : (Y, X) ndarray of bool
        The cell's columns.

    Returns
    -------
    width_vox : float
        Columns with a distance from the mask's edge at or below it are the ring.
    sigma_vox : float
        The fitted edge spread (NaN when the fit failed).
    """
    from ssbscope.tomo.metrics import lateral_edge_spread

    try:
        e = lateral_edge_spread(np.asarray(mean_image, np.float64)[None], mask)
    except (EmptyResultError, ParameterError) as exc:
        log.info("cell_region: no edge spread of the wall (%s); its ring is 1 voxel", exc)
        return 1.0, float("nan")
    if not (np.isfinite(e.sigma_vox) and np.isfinite(e.edge_vox)) or e.sigma_vox <= 0:
        return 1.0, float("nan")
    return max(1.0, float(e.edge_vox) + 0.5 + WALL_RING_Z * float(e.sigma_vox)), \
        float(e.sigma_vox)


# --------------------------------------------------------------------------- layer location

@dataclass(frozen=True)
class LayerLocation:
    """Where the declared layers lie along z in one scan.

    Attributes
    ----------
    names : tuple of str
        Declared layer names, bottom to top.
    present : tuple of bool
        Found in the data (a thickness-0 layer may be absent).
    z0_vox, z1_vox : tuple of int
        Slice range ``[z0, z1)`` of each layer's majority band (-1 where absent).
    stack_vox : (int, int)
        Slice range of the matched stack (bottom of the first to top of the last layer).
    ignored : tuple of (str, int, int)
        Bands outside the matched stack (phase name or ``"undeclared"``, z0, z1).
    score : float
        Mismatch of the band thicknesses against the declared ones (sum of
        ``|ln(measured / declared)|`` over layers of nominal thickness > 0); lower is better.
    """

    names: tuple[str, ...]
    present: tuple[bool, ...]
    z0_vox: tuple[int, ...]
    z1_vox: tuple[int, ...]
    stack_vox: tuple[int, int]
    ignored: tuple = ()
    score: float = 0.0

    def band(self, name: str) -> tuple[int, int] | None:
        """``(z0, z1)`` of layer ``name``, None if absent."""
        i = self.names.index(name)
        return (self.z0_vox[i], self.z1_vox[i]) if self.present[i] else None


def _runs(maj: np.ndarray, rank: np.ndarray | None = None) -> list[tuple[int, int, int]]:
    """Runs ``(class, z0, z1)`` of equal ``maj`` (and equal ``rank`` where given: two grey
    levels of undeclared material are two runs)."""
    maj = np.asarray(maj)
    if maj.size == 0:
        return []
    change = maj[1:] != maj[:-1]
    if rank is not None:
        r = np.nan_to_num(np.asarray(rank, np.float64), nan=-np.inf)
        change |= r[1:] != r[:-1]
    cuts = np.concatenate(([0], np.flatnonzero(change) + 1, [maj.size]))
    return [(int(maj[a]), int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])]


def _ramp(runs, j, prev: int, nxt: int, max_slices: int = 16, rank=None) -> int:
    """Bands ``runs[j:j+k]`` between a layer of class ``prev`` and one of class ``nxt`` (at
    ``runs[j+k]``) whose grey levels lie strictly between the two, in order (a blurred edge,
    e.g. a steel|Li edge after Paganin retrieval, passes through the intermediate grey
    levels; so does a rough interface's band of mixed slices), spanning at most
    ``max_slices``: returns ``k`` (0 if they are not such a ramp).

    ``rank`` (one per run, optional): the grey rank of each run in the phase order, a
    declared phase ``p`` at ``p``, a level of undeclared material between phases ``p`` and
    ``p + 1`` in between (e.g. ``p + 0.5``; NaN where unknown); without it a run's rank is its
    class, so an undeclared band is never part of a ramp."""
    lo, hi = min(prev, nxt), max(prev, nxt)
    sign = 1 if nxt > prev else -1
    k, last, n = 0, prev, 0
    while j + k < len(runs) and runs[j + k][0] != nxt:
        c = runs[j + k][0] if rank is None else rank[j + k]
        n += runs[j + k][2] - runs[j + k][1]
        if not (lo < c < hi) or sign * (c - last) <= 0 or n > max_slices:
            return 0
        last, k = c, k + 1
    return k if (j + k < len(runs) and k > 0) else 0


def _level_ranks(cmap, n: int) -> np.ndarray:
    """Grey rank of each level of a level -> phase map (levels ascending, phases darkest
    first): a declared level at its phase ``p``; the ``m`` undeclared levels between the
    levels of phases ``a`` and ``b`` evenly between ``a`` and ``b`` (below the first
    declared level: below ``a``; above the last: above it)."""
    cmap = list(cmap)
    r = np.full(len(cmap), np.nan)
    decl = [i for i, c in enumerate(cmap) if c != UNDECLARED]
    for i in decl:
        r[i] = cmap[i]
    if not decl:
        return r
    bounds = [(-1, cmap[decl[0]] - 1.0)] + [(i, cmap[i]) for i in decl] + \
        [(len(cmap), cmap[decl[-1]] + 1.0)]
    for (i0, a), (i1, b) in zip(bounds[:-1], bounds[1:]):
        m = i1 - i0 - 1
        for t, i in enumerate(range(i0 + 1, i1)):
            r[i] = a + (b - a) * (t + 1) / (m + 1)
    return r


def _locate_from_fractions(frac: np.ndarray, layers, order: PhaseOrder, voxel_size_um: float,
                           rank: np.ndarray | None = None) -> LayerLocation:
    """``frac``: (n_phases + 1, Z) fraction of the cell's columns per phase (last: undeclared);
    ``rank``: optional (Z,) grey rank of each slice's level (:func:`_level_ranks`; a slice of
    undeclared material between two phases' levels ranks between them), which lets a band of
    intermediate undeclared level between two layers be skipped as their interface's ramp."""
    lay = as_layers(layers)
    n = len(order.phases)
    maj = np.argmax(frac, axis=0)
    runs = _runs(maj, None if rank is None else np.asarray(rank, np.float64))
    rrank = None if rank is None else [float(rank[a]) if p == n else float(p)
                                       for p, a, _ in runs]
    want = [order.index(la.material) for la in lay]
    best = None
    for s in range(len(runs)):
        i, j = 0, s
        match: list[int | None] = []
        while i < len(lay):
            if j < len(runs) and runs[j][0] == want[i]:
                match.append(j)
                i += 1
                j += 1
            elif (match and j + 1 < len(runs) and runs[j][2] - runs[j][1] <= 1
                  and runs[j + 1][0] == want[i]):
                # a one-slice band of another class between two layers: the interface's
                # partial-volume slice (a denoised interface may be classed apart), skipped
                j += 1
            elif lay[i].thickness_um == 0:
                match.append(None)
                i += 1
            elif match and match[-1] is not None and \
                    (kr := _ramp(runs, j, runs[match[-1]][0], want[i], rank=rrank)):
                j += kr  # a blurred edge's (or rough interface's) intermediate grey levels
            else:
                break
        if i < len(lay) or all(m is None for m in match):
            continue
        score = 0.0
        for la, m in zip(lay, match):
            if la.thickness_um > 0 and m is not None:
                t = (runs[m][2] - runs[m][1]) * voxel_size_um
                score += abs(math.log(t / la.thickness_um))
        ext = sum(runs[m][2] - runs[m][1] for m in match if m is not None)
        key = (score, -ext)
        if best is None or key < best[0]:
            best = (key, match)
    if best is None:
        found = ", ".join(f"{(order.phases + ('undeclared',))[p] if p < n + 1 else p} "
                          f"z {a}..{b}" for p, a, b in runs)
        raise EmptyResultError(
            f"the declared layers {[la.name for la in lay]} (materials "
            f"{[la.material for la in lay]}) are not found in this order along z; majority "
            f"bands of the cell: {found}; check cell.layers (bottom = z 0 first) and the scan")
    match = best[1]
    used = {m for m in match if m is not None}
    z0 = tuple(runs[m][1] if m is not None else -1 for m in match)
    z1 = tuple(runs[m][2] if m is not None else -1 for m in match)
    lo = min(runs[m][1] for m in used)
    hi = max(runs[m][2] for m in used)
    names_all = order.phases + ("undeclared",)
    ignored = tuple((names_all[p], a, b) for k, (p, a, b) in enumerate(runs) if k not in used)
    return LayerLocation(names=tuple(la.name for la in lay),
                         present=tuple(m is not None for m in match), z0_vox=z0, z1_vox=z1,
                         stack_vox=(int(lo), int(hi)), ignored=ignored, score=float(best[0][0]))


def _phase_fractions(labels: np.ndarray, n_phases: int, footprint: np.ndarray) -> np.ndarray:
    cols = labels[:, footprint]
    frac = np.empty((n_phases + 1, labels.shape[0]))
    for p in range(n_phases):
        frac[p] = (cols == p).mean(axis=1)
    frac[n_phases] = (cols == UNDECLARED).mean(axis=1)
    return frac


def _slice_grey_medians(lab, vol, fp, n: int) -> np.ndarray:
    """(n + 1, Z) median grey value of each phase's voxels of the footprint ``fp`` in every
    slice of ``lab`` / ``vol`` (last row: undeclared voxels), NaN where a slice has none.
    Slice by slice, so a chunked series computes it slab by slab with the same result."""
    cols_lab = np.asarray(lab)[:, fp]
    cols_v = np.asarray(vol)[:, fp]
    out = np.full((n + 1, cols_lab.shape[0]), np.nan)
    codes = list(range(n)) + [UNDECLARED]
    for z in range(cols_lab.shape[0]):
        for i, c in enumerate(codes):
            m = cols_lab[z] == c
            if m.any():
                out[i, z] = float(np.median(cols_v[z][m]))
    return out


def _weighted_median(v: np.ndarray, w: np.ndarray) -> float:
    """Median of ``v`` weighted by ``w`` (entries with NaN value or zero weight dropped;
    NaN when none is left)."""
    ok = np.isfinite(v) & (w > 0)
    if not ok.any():
        return float("nan")
    o = np.argsort(v[ok], kind="stable")
    vs, cw = v[ok][o], np.cumsum(w[ok][o])
    return float(vs[np.searchsorted(cw, 0.5 * cw[-1])])


def _undeclared_band_ranks(frac, n: int, class_phase=None, slice_medians=None,
                           max_slices: int = 16):
    """(Z,) grey rank of each slice for :func:`_locate_from_fractions` from the per-slice
    phase fractions ``frac`` ((n + 1, Z), last: undeclared) of a label volume: a slice whose
    majority is a declared phase ``p`` ranks ``p``; a band (run of consecutive slices) whose
    majority is undeclared ranks where its grey level lies among the phases' levels
    (:func:`_level_ranks`), NaN where that is unknown.  Only bands of at most
    ``max_slices`` slices (the longest ramp :func:`_ramp` skips) are ranked; a longer one is
    NaN (never a ramp either way).

    The level of an undeclared band comes from ``class_phase`` (the segmentation's level ->
    phase map, levels ascending) when it holds a single undeclared level, else from
    ``slice_medians``: a callable returning :func:`_slice_grey_medians` of the label volume
    and its grey values (called only when a short undeclared band needs a level; a chunked
    series computes it slab by slab).  Each phase's level is the median of its slices'
    medians weighted by its fraction of the slice; the band's level likewise over the band;
    it is interpolated linearly between the two phases' levels it falls between (phases
    darkest first; their levels must rise with the phase index), half a rank outside the
    first or last.  None without either (no band is a ramp).

    A forest segmentation's class map is in the training's class order, not grey order: it
    passes ``slice_medians`` only."""
    if class_phase is None and slice_medians is None:
        return None
    frac = np.asarray(frac, np.float64)
    maj = np.argmax(frac, axis=0)
    rank = maj.astype(np.float64)
    und = maj == n
    if not und.any():
        return rank
    rank[und] = np.nan
    fixed = None
    if class_phase is not None:
        cmap = [int(c) for c in class_phase]
        ur = [r for r, c in zip(_level_ranks(cmap, n), cmap) if c == UNDECLARED]
        if len(ur) == 1:
            fixed = float(ur[0])
    if fixed is not None:
        rank[und] = fixed
        return rank
    short = [(a, b) for p, a, b in _runs(maj) if p == n and b - a <= max_slices]
    if slice_medians is None or not short:
        return rank
    med = np.asarray(slice_medians(), np.float64)
    lev = np.array([_weighted_median(med[p], frac[p]) for p in range(n)])
    ok = np.isfinite(lev)
    if ok.sum() < 1 or np.any(np.diff(lev[ok]) <= 0):
        return rank  # levels not ordered like the phases: unknown
    idx = np.flatnonzero(ok).astype(float)
    lv = lev[ok]
    for a, b in short:
        g = _weighted_median(med[n, a:b], frac[n, a:b])
        if not np.isfinite(g):
            continue
        if g < lv[0]:
            r = idx[0] - 0.5
        elif g > lv[-1]:
            r = idx[-1] + 0.5
        else:
            r = float(np.interp(g, lv, idx))
            if r in idx:  # exactly a phase's level: not between two
                r = np.nan
        rank[a:b] = r
    return rank


def locate_layers(labels, layers, order: PhaseOrder, footprint, voxel_size_um: float, *,
                  class_phase=None, volume=None) -> LayerLocation:
    """Locate the declared layers along z from a phase-label volume.

    Every slice gets the phase holding most of the cell's columns (``footprint``); runs of
    equal majority phase are bands.  The declared layer sequence (materials, bottom to top)
    is matched in order to consecutive bands; a layer of nominal thickness 0 may be absent
    (e.g. no plated Li at the pristine scan of an anode-free cell).  Where several windows of
    bands match, the one whose band thicknesses are closest to the declared ones wins
    (``|ln(measured / declared)|`` summed over layers of nominal thickness > 0).  Bands
    outside the window (a steel plunger, air, a casing) are reported in ``ignored``.

    Parameters
    ----------
    labels : (Z, Y, X) ndarray of uint8
        Phase index into ``order.phases``, :data:`UNDECLARED` for other material.
    layers : sequence of layers
    order : PhaseOrder
    footprint : (Y, X) ndarray of bool
        The cell's columns (e.g. :attr:`CellRegion.inner`).
    voxel_size_um : float
    class_phase : sequence of int, optional
        The segmentation's level -> phase map (grey levels ascending, :data:`UNDECLARED`
        for a level of undeclared material; :attr:`PhaseSegmentation.class_phase`, the
        ``classes`` attribute of ``tomo/<series>/labels``).  With a single undeclared
        level, an undeclared band ranks at that level (:func:`_level_ranks`).
    volume : (Z, Y, X) array_like, optional
        The grey values the labels were segmented from (registered frame); gives an
        undeclared band's level where ``class_phase`` does not (several undeclared levels).

    Short undeclared bands: with the level of an undeclared band known (``class_phase`` or
    ``volume``), a band of at most 16 slices between two layers whose level lies strictly
    between the two layers' levels is their interface's grey ramp (a rough or blurred
    interface's mixed slices) and is skipped, as the grey-level location does
    (:func:`_choose_levels`); without them only a one-slice band is skipped.  An undeclared
    band outside the two levels (a steel plunger between layers) is never skipped.

    Returns
    -------
    LayerLocation

    Raises
    ------
    EmptyResultError
        The declared sequence is found nowhere along z.
    """
    lab = np.asarray(labels)
    fp = np.asarray(footprint, bool)
    if lab.ndim != 3 or fp.shape != lab.shape[1:]:
        raise InputError(f"labels {lab.shape} / footprint {fp.shape}: expected (z, y, x) and "
                         "(y, x)")
    if not fp.any():
        raise EmptyResultError("footprint: selects no column")
    if volume is not None and tuple(np.shape(volume)) != lab.shape:
        raise InputError(f"volume {tuple(np.shape(volume))} / labels {lab.shape}: the grey "
                         "volume must be on the labels' (z, y, x) grid")
    n = len(order.phases)
    frac = _phase_fractions(lab, n, fp)
    med = None if volume is None else (lambda: _slice_grey_medians(lab, volume, fp, n))
    rank = _undeclared_band_ranks(frac, n, class_phase=class_phase, slice_medians=med)
    return _locate_from_fractions(frac, layers, order, float(voxel_size_um), rank=rank)


# --------------------------------------------------------------------------- segmentation

@dataclass(frozen=True)
class PhaseSegmentation:
    """Phase labels of one scan against the declared materials.

    Attributes
    ----------
    labels : (Z, Y, X) ndarray of uint8
        Index into ``phases`` (darkest first), :data:`UNDECLARED` for material the YAML does
        not declare.
    phases : tuple of str
    class_thresholds : tuple of float
        Grey-value boundaries of the grey classes (recursive Otsu, refined to class
        midpoints), one fewer than classes.
    class_phase : tuple of int
        Phase index of each grey class (:data:`UNDECLARED` for the extra class when it holds
        undeclared material; two classes share a phase when it needed two).
    location : LayerLocation
    """

    labels: np.ndarray
    phases: tuple[str, ...]
    class_thresholds: tuple[float, ...]
    class_phase: tuple[int, ...]
    location: LayerLocation

    @property
    def class_names(self) -> tuple[str, ...]:
        """Phase (or ``"undeclared"``) of every grey class."""
        return tuple(self.phases[c] if c != UNDECLARED else "undeclared"
                     for c in self.class_phase)

    def threshold_below(self, phase: int) -> float:
        """Grey boundary above the classes of ``phase`` (NaN if it is the brightest)."""
        cls = [k for k, c in enumerate(self.class_phase) if c == phase]
        k = max(cls)
        return self.class_thresholds[k] if k < len(self.class_thresholds) else float("nan")


def kmeans_1d(values, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact 1-D k-means (least squares) of ``values`` by dynamic programming.

    Parameters
    ----------
    values : (N,) array_like
        Finite values (e.g. the median grey value of every slice).
    k : int
        Number of clusters, ``1 <= k <= N``.

    Returns
    -------
    centers : (k,) ndarray
        Cluster means, ascending.
    edges : (k - 1,) ndarray
        Boundaries between consecutive clusters (midpoints of their centres).
    """
    x = np.sort(np.asarray(values, np.float64).ravel())
    n = x.size
    if not (1 <= k <= n):
        raise ParameterError("k", k, f"must be within 1..{n} (number of values)")
    s1 = np.concatenate(([0.0], np.cumsum(x)))
    s2 = np.concatenate(([0.0], np.cumsum(x * x)))

    def sse(i, j):  # cost of x[i:j] as one cluster (vectorised over i)
        m = j - i
        return s2[j] - s2[i] - (s1[j] - s1[i]) ** 2 / np.maximum(m, 1)

    cost = np.full((k + 1, n + 1), np.inf)
    arg = np.zeros((k + 1, n + 1), np.int64)
    cost[0, 0] = 0.0
    for c in range(1, k + 1):
        for j in range(c, n + 1):
            i = np.arange(c - 1, j)
            tot = cost[c - 1, i] + sse(i, j)
            b = int(np.argmin(tot))
            cost[c, j] = tot[b]
            arg[c, j] = i[b]
    bounds = [n]
    for c in range(k, 0, -1):
        bounds.append(int(arg[c, bounds[-1]]))
    bounds = bounds[::-1]
    centers = np.array([x[bounds[c]:bounds[c + 1]].mean() for c in range(k)])
    return centers, 0.5 * (centers[1:] + centers[:-1])


def _cluster_maps(k: int, n: int) -> list[tuple[int, ...]]:
    """Every monotone map of ``k`` grey clusters (ascending) onto ``n`` phases (darkest first):
    each cluster is a phase or undeclared material, declared clusters ascend with every phase
    used at least once."""
    out = []

    def rec(c, last, acc):
        if c == k:
            if last == n - 1:
                out.append(tuple(acc))
            return
        rec(c + 1, last, acc + [UNDECLARED])
        for p in (last, last + 1):
            if 0 <= p < n and not (p == last and (not acc or acc[-1] == UNDECLARED or acc[-1] != p)):
                rec(c + 1, p, acc + [p])

    rec(0, -1, [])
    return out


def _slice_fractions(cls_of_slice: np.ndarray, cmap, n: int) -> np.ndarray:
    frac = np.zeros((n + 1, cls_of_slice.size))
    for z, c in enumerate(cls_of_slice):
        p = cmap[c]
        frac[n if p == UNDECLARED else p, z] = 1.0
    return frac


def _choose_levels(prof, layers, order: PhaseOrder, voxel_size_um: float, class_phase=None):
    """Grey levels from the slices' median profile and the best level -> phase map
    (:func:`segment_scan`); returns ``(location, cmap, centers, edges)``."""
    n = len(order.phases)
    good = np.isfinite(prof)
    if good.sum() < n:
        raise EmptyResultError(f"segment_scan: {good.sum()} slice(s) with finite grey values "
                               f"for {n} declared phases")
    ks = [len(class_phase)] if class_phase is not None else \
        [k for k in range(n, n + 3) if k <= good.sum()]
    best = None
    errors = []
    for k in ks:
        centers, edges = kmeans_1d(prof[good], k)
        cls_slice = np.digitize(np.where(good, prof, centers[0]), edges)
        maps = [tuple(class_phase)] if class_phase is not None else _cluster_maps(k, n)
        for cmap in maps:
            try:
                loc = _locate_from_fractions(_slice_fractions(cls_slice, cmap, n), layers,
                                             order, voxel_size_um,
                                             rank=_level_ranks(cmap, n)[cls_slice])
            except EmptyResultError as exc:
                errors.append(str(exc))
                continue
            if best is None or loc.score < best[0].score - 1e-9:
                best = (loc, cmap, centers, edges)
    if best is None:
        raise EmptyResultError(errors[-1] if errors else "segment_scan: no map of grey levels")
    return best


def segment_scan(volume, layers, order: PhaseOrder, region: CellRegion, voxel_size_um: float, *,
                 median: bool = True, opening_radius_vox: int = 0,
                 class_phase: Sequence[int] | None = None) -> PhaseSegmentation:
    """Segment one scan into the declared phases inside the cell and locate the layers.

    The grey level of every phase comes from the stack itself, not from a histogram of all
    voxels (where a Cu collector and a steel plunger dominate the spread and a thin, faint
    electrolyte hides): the median grey value of each slice over the cell's columns is
    clustered (exact 1-D k-means, :func:`kmeans_1d`) into ``n`` to ``n + 2`` levels for the
    ``n`` declared phases.  The levels map onto the phases in attenuation order, a level
    either a declared phase or material the YAML does not declare (steel plunger, casing,
    air), and every map is scored by how well the slices' phases match the declared layer
    sequence and thicknesses (:func:`locate_layers`); the best map wins (ties: fewer levels).
    Voxels take the level nearest to their (median-filtered) grey value, i.e. thresholds at
    the midpoints between adjacent levels, so a voxel cut by a boundary goes to the phase
    holding most of it.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
        Reconstructed grey values (already median-filtered when ``median`` is False).
    layers : sequence of layers
    order : PhaseOrder
    region : CellRegion
    voxel_size_um : float
    median : bool
        3x3x3 median first.
    opening_radius_vox : int
        Morphological opening of every phase (0: none).
    class_phase : sequence of int, optional
        Level -> phase map to use (e.g. the first scan's, so a series keeps one map); its
        length fixes the number of levels.

    Returns
    -------
    PhaseSegmentation

    Raises
    ------
    EmptyResultError
        No map of levels lets the declared layers be found.
    """
    import dataclasses

    from ssbscope.tomo.filters import median3
    from ssbscope.tomo.series_chunked import _Scan, _segment

    v = np.asarray(volume, np.float32)
    med = median3(v) if median else v
    labels = np.zeros(v.shape, np.uint8)  # one slab of the chunked path's segmentation
    seg, _ = _segment(_Scan(v, med, labels, v.shape[0]), layers, order, region,
                      float(voxel_size_um), int(opening_radius_vox), class_phase)
    return dataclasses.replace(seg, labels=labels)


def register_scan(reference, moving, z_slab: tuple[int, int], *, upsample_factor: int = 10):
    """Register ``moving`` to ``reference`` on a static slab and resample it.

    Parameters
    ----------
    reference, moving : (Z, Y, X) ndarray
        Two scans on the same grid.
    z_slab : (int, int)
        Slice range ``[z0, z1)`` of the static layer (plus a few voxels) in ``reference``.
    upsample_factor : int

    Returns
    -------
    aligned : (Z, Y, X) ndarray of float32
    shift_vox : (dz, dy, dx)
    """
    import ssbscope.tomo as tomo
    from ssbscope.tomo.register import apply_rigid

    a, b = int(z_slab[0]), int(z_slab[1])
    if b - a < 2:
        raise InputError(f"z_slab {z_slab}: the registration slab needs >= 2 slices")
    t = tomo.register_rigid(np.asarray(reference)[a:b], np.asarray(moving)[a:b],
                            upsample_factor=upsample_factor)
    return apply_rigid(moving, t, order=1).astype(np.float32), tuple(float(s) for s in t.shift_vox)


# --------------------------------------------------------------------------- measurement

def interface_pairs(layers, requested=None) -> tuple[tuple[str, str], ...]:
    """Interfaces ``(lower, upper)`` to map: ``requested`` names "lower|upper" or, by default,
    every pair of adjacent declared layers of different materials.

    Raises
    ------
    InputError
        A name that is not "lower|upper" of declared layers, lower below upper with only
        thickness-0 layers between them.
    """
    lay = as_layers(layers)
    names = [la.name for la in lay]
    if requested is None:
        return tuple((a.name, b.name) for a, b in zip(lay[:-1], lay[1:])
                     if a.material != b.material)
    out = []
    for r in requested:
        parts = str(r).split("|")
        if len(parts) != 2 or parts[0] not in names or parts[1] not in names:
            raise InputError(f"analysis.tomo.interfaces: {r!r} is not 'lower|upper' of declared "
                             f"layer names {names}")
        i, j = names.index(parts[0]), names.index(parts[1])
        if not (i < j and all(lay[k].thickness_um == 0 for k in range(i + 1, j))):
            raise InputError(f"analysis.tomo.interfaces: {r!r}: {parts[0]} must lie directly "
                             f"below {parts[1]} in cell.layers (bottom first: {names})")
        out.append((parts[0], parts[1]))
    return tuple(out)


def electrolyte_layer(layers, order: PhaseOrder, name: str | None = None) -> str:
    """The electrolyte: ``name`` if given, else the thickest declared layer whose material is
    not the darkest phase."""
    lay = as_layers(layers)
    if name is not None:
        if name not in [la.name for la in lay]:
            raise InputError(f"analysis.tomo.electrolyte: {name!r} is not a declared layer "
                             f"({[la.name for la in lay]})")
        return name
    cands = [la for la in lay if la.material != order.phases[0]]
    if not cands:
        raise InputError("cell.layers: every layer is of the darkest material; no electrolyte")
    return max(cands, key=lambda la: la.thickness_um).name


def electrolyte_slab_order(layers, order: PhaseOrder, electrolyte: str) -> str:
    """Which face of the electrolyte holds slab ``n`` of the layer fractions: ``"bottom"`` or
    ``"top"``.

    Cao et al. 2023 (Fig. 3J) number the slabs from the cathode side (layer 1) to the Li anode
    (layer 10).  Here slab ``n`` lies at the declared layer of the darkest material (Li)
    adjacent to the electrolyte: a thickness-0 one (Li that forms by plating) first, else the
    lower one; with no such neighbour, at the bottom.
    """
    lay = as_layers(layers)
    i = [la.name for la in lay].index(electrolyte)
    cands = []
    for side, j in (("bottom", i - 1), ("top", i + 1)):
        if 0 <= j < len(lay) and lay[j].material == order.phases[0]:
            cands.append((0 if lay[j].thickness_um == 0 else 1, 0 if side == "bottom" else 1,
                          side))
    return min(cands)[2] if cands else "bottom"


@dataclass(frozen=True)
class ScanMeasurement:
    """Morphology of one scan against the declared layers (µm, µm^3).

    Attributes
    ----------
    location : LayerLocation
    interfaces : tuple of str
        Requested interfaces ``"lower|upper"``.
    height_um : dict
        Interface -> (Y, X) height above the face of slice 0 (µm); NaN outside the inner
        cell, where no crossing, or for an interface with an absent layer.
    ra_um, rq_um : dict
        Interface -> roughness (plane detrended, Eqs. 6-7 of Huang et al. 2024,
        doi:10.1016/j.xcrp.2024.101995), NaN when undefined.
    layers : tuple of str
        Requested thickness layers.
    thickness_um : dict
        Layer -> (Y, X) thickness map (µm): difference of the bounding interfaces when both
        exist, else the voxel count of the layer's phase in its band; 0 for an absent layer.
    thickness_center_um, thickness_center_std_um, thickness_edge_um, thickness_edge_std_um,
    thickness_mean_um : dict
        Layer -> statistics (central disk of ``central_fraction`` of the cell area, edge ring,
        mean over the inner cell).  Centre and edge are the layer's: mean and std over the
        columns that :func:`ssbscope.tomo.metrics.thickness_outliers` does not flag (columns
        whose residual from the median of the 7 x 7 columns around, averaged over 3 x 3,
        exceeds 3 robust sigmas: the layer's material running on into a filament root or a
        filled crack); the mean (and the layer volumes, the Faraday balance) over every
        column.
    phase_volume_um3 : dict
        Material -> volume in the declared stack's z range: its voxels on the footprint
        ``region.inner`` (the cell less the wall's partial-volume ring, the maps' and the
        pore + crack volume's footprint) times the cell's area over the footprint's, as
        ``layer_volume_um3``.
    layer_volume_um3 : dict
        Declared layer -> mean thickness x cell area.
    electrolyte : str
    pore_crack_volume_um3 : float
        Partial-volume estimate of the darkest phase inside the electrolyte (2 slices inside
        its measured mean faces, on the footprint ``region.inner``), summed over the
        neighbourhood of its matched-filter detections against each column ring's matrix
        level (:func:`ssbscope.tomo.series_chunked._local_pore_crack_volume`).
    low_attenuation_connected_um3, low_attenuation_isolated_um3 : float
        Low-attenuation regions of the electrolyte (26-connected, inside the cell region)
        touching a declared layer of the darkest material vs not; voxels whose unfiltered
        grey value lies at or below the midpoint of the pure levels (a 3x3x3 median would
        erase 1-2-voxel filaments; the cell's outer ring with its own matrix level); the
        connected count less the matrix voxels that noise joined to it (their mirror above
        the matrix level), :mod:`ssbscope.tomo.low_attenuation`.
    layer_fraction : (n_layers,) ndarray
        Low-attenuation volume fraction per layer of the electrolyte, partial-volume
        estimate from the mean grey value and the pure levels (voxel counts when no Li
        electrode gives the low level); layer 1 at the face away from the Li electrode (the
        cathode side), layer ``n_layers`` at the Li (Cao et al. 2023 Fig. 3J numbering, see
        :func:`electrolyte_slab_order`); NaN when the electrolyte is too thin.
    electrolyte_low : (Z, Y, X) ndarray of bool
        Darkest-phase voxels inside the electrolyte (2 slices from its faces; filaments).
    electrolyte_raw_low : (Z, Y, X) ndarray of bool
        The same from the unfiltered grey values (grey-value overlap of pores vs cracks).
    low_attenuation_levels : (float, float, float)
        Grey level of the Li electrode's interior, of the electrolyte matrix, and the
        threshold of the low-attenuation regions
        (:func:`ssbscope.tomo.low_attenuation.measure_levels`); NaN levels when they could
        not be measured (the threshold is then the darkest class's).
    phase_levels : ssbscope.tomo.levels.PhaseLevels
        Grey level of every phase's pure material (mode of its eroded interior, or the
        user's), the partial volume's levels.
    """

    location: LayerLocation
    interfaces: tuple
    height_um: dict
    ra_um: dict
    rq_um: dict
    layers: tuple
    thickness_um: dict
    thickness_center_um: dict
    thickness_center_std_um: dict
    thickness_edge_um: dict
    thickness_edge_std_um: dict
    thickness_mean_um: dict
    phase_volume_um3: dict
    layer_volume_um3: dict
    electrolyte: str
    pore_crack_volume_um3: float
    low_attenuation_connected_um3: float
    low_attenuation_isolated_um3: float
    layer_fraction: np.ndarray
    electrolyte_low: np.ndarray = field(repr=False)
    electrolyte_raw_low: np.ndarray = field(repr=False)
    low_attenuation_levels: tuple = (float("nan"),) * 3
    #: Pure-phase grey levels of the partial volume (:mod:`ssbscope.tomo.levels`).
    phase_levels: object = None
    #: Interface -> (contrast measured from the data, contrast from the materials) of the
    #: truncated-scan height maps (:func:`ssbscope.tomo.metrics.interface_height_map_truncated`;
    #: grey units per voxel, lower minus upper layer); empty for other scans.
    interface_contrast: dict = field(default_factory=dict)
    #: Voids (vacuum) inside the layers below the truncated-scan interfaces (µm³), measured
    #: from the local contrast (:func:`ssbscope.tomo.series_chunked._truncated_subsurface_voids`;
    #: the labels keep those layers' envelope); NaN for other scans.
    subsurface_void_volume_um3: float = float("nan")
    #: Parts of the pore + crack volume's estimate (``region_um3``: the low-attenuation
    #: neighbourhood it sums over, ``noise_um3``: 1 sigma of that sum from the voxels' noise;
    #: :func:`ssbscope.tomo.series_chunked._local_pore_crack_volume`); empty when not measured.
    pore_crack_parts: dict = field(default_factory=dict)
    #: Layers not found as a band but measured from the partial-volume deficit against the
    #: series' first scan (:func:`ssbscope.tomo.series_chunked.missing_layer_thickness`):
    #: per-column 1-sigma noise of the thickness map (µm), standard error of its mean (µm)
    #: and the mean's significance (mean / standard error; below 3: not detected).
    thickness_noise_um: dict = field(default_factory=dict)
    thickness_mean_se_um: dict = field(default_factory=dict)
    thickness_significance: dict = field(default_factory=dict)
    #: Pores and isolated (dead) Li by persistence against the series' first (registered)
    #: scan (:data:`ssbscope.tomo.low_attenuation.PERSISTENCE_RULE`: matched-filter objects
    #: of the electrolyte present in the first scan / new since, partial volume, µm³); NaN
    #: for the first scan and a series of one scan.
    pore_volume_um3: float = float("nan")
    isolated_li_um3: float = float("nan")
    #: The scan's low-attenuation regions (lazy labels and levels) for that split; not stored.
    low_attenuation_regions: object = field(default=None, repr=False, compare=False)
    #: Layer -> fraction of the analysed columns left out of the centre/edge statistics
    #: (:func:`ssbscope.tomo.metrics.thickness_outliers`); empty when not measured.
    thickness_outlier_fraction: dict = field(default_factory=dict)
    #: Interface -> the estimator of ``height_um`` (:data:`HEIGHT_ESTIMATORS`): one per
    #: interface for a whole series (:func:`choose_height_estimator`; ``"truncated"``: the
    #: local contrast of a truncated scan).
    height_estimator: dict = field(default_factory=dict)
    #: Interface -> ``(e_u, e_m)``: the unfiltered heights' noise and the median heights'
    #: error (µm) that the choice weighs (:func:`height_estimator_errors`).
    height_estimator_errors_um: dict = field(default_factory=dict)
    #: ``(lower, upper)`` layer pair -> ``(median, unfiltered)`` height maps (µm) of every
    #: interface between adjacent found layers, kept until the series' choice; empty after.
    height_candidates_um: dict = field(default_factory=dict, repr=False, compare=False)
    #: Lateral Gaussian PSF std (voxels) of the scan's reconstruction, fitted to the edge
    #: spread at the cell wall (:func:`ssbscope.tomo.metrics.lateral_edge_spread`) on at most
    #: :data:`ssbscope.tomo.series_chunked.PSF_SLICES` slices at the middle of the
    #: electrolyte's band (less 2 at each face); NaN when the band holds < 9 slices or the
    #: fit fails.  Measured with the scan, so the series' write reads no volume.
    psf_sigma_vox: float = float("nan")
    #: Interface -> one realisation of the height map's own noise (µm, (Y, X); the series'
    #: estimator's, :func:`height_noise_maps`): its variance is the map's noise variance, its
    #: spatial correlation the noise's; absent where unknown.  Not stored.
    height_noise_map_um: dict = field(default_factory=dict, repr=False, compare=False)
    #: ``(lower, upper)`` -> ``(median, unfiltered)`` noise maps (:func:`height_noise_maps`),
    #: kept until the series' choice; empty after.
    height_noise_candidates_um: dict = field(default_factory=dict, repr=False, compare=False)


#: The two estimators of an interface's height map (:func:`choose_height_estimator`): the
#: partial-volume window sum (:func:`ssbscope.tomo.metrics.interface_height_map`) of the
#: series' denoised grey values (the 3x3x3 median by default), or of the unfiltered ones.
HEIGHT_ESTIMATORS = ("median", "unfiltered")

#: Contrast-to-noise ratio (per voxel) from which the *seed* heights of a truncated scan (the
#: centre and spread of the window in which its heights are then taken from the local
#: contrast, :func:`ssbscope.tomo.series_chunked._truncated_heights`) come from the
#: unfiltered grey values rather than the 3x3x3 median.  Only that seed: every other scan's
#: estimator is chosen once per series from the height maps themselves
#: (:func:`choose_height_estimator`); the crop's class levels this ratio reads are mixed by
#: partial volume in a layer of 2-3 voxels (issue 17), so it is no measure of the heights'
#: noise.
HEIGHT_RAW_CNR = 3.0


def _contrast_to_noise(raw, med, inner) -> float:
    """Per-voxel contrast-to-noise ratio of a two-phase crop: distance between the two
    classes' median levels (Otsu split of the filtered values) over the robust noise std of
    the unfiltered values (MAD of raw - median); the truncated scans' seed only
    (:data:`HEIGHT_RAW_CNR`)."""
    from ssbscope.tomo.filters import threshold_otsu

    m = med[:, inner]
    try:
        t = threshold_otsu(m)
    except Exception:  # constant crop
        return 0.0
    hi, lo = m[m > t], m[m <= t]
    if hi.size == 0 or lo.size == 0:
        return 0.0
    d = np.asarray(raw[:, inner], np.float64) - m
    sigma = 1.4826 * float(np.median(np.abs(d - np.median(d))))
    return float(abs(np.median(hi) - np.median(lo)) / sigma) if sigma > 0 else float("inf")


def _height_candidates(med, lo, hi, vs, inner, what, raw=None, lower_level=None,
                       upper_level=None):
    """Both height maps of one interface's crop ``[lo, hi)``: ``(median, unfiltered)``
    (µm above the face of slice 0, NaN outside ``inner``; ``unfiltered`` None without
    ``raw``), each the partial-volume window sum of
    :func:`ssbscope.tomo.metrics.interface_height_map` with the same levels."""
    import ssbscope.tomo as tomo

    nan = np.full(inner.shape, np.nan)
    if hi - lo < 2:
        log.warning("measure_scan: %s: crop %d..%d too thin for an interface", what, lo, hi)
        return nan, (None if raw is None else nan)
    out = []
    for src in (med, raw):
        if src is None:
            out.append(None)
            continue
        try:
            h = tomo.interface_height_map(src[lo:hi], vs, footprint=inner,
                                          lower_level=lower_level, upper_level=upper_level)
        except EmptyResultError as exc:
            log.warning("measure_scan: %s: no interface in slices %d..%d (%s)", what, lo, hi,
                        exc)
            out.append(nan)
            continue
        out.append(np.where(inner, h + lo * vs, np.nan))
    return out[0], out[1]


#: Seed of the white-noise realisation :func:`_median_noise_response` falls back to.
HEIGHT_NOISE_SEED = 0

#: Gaussian std (voxels) of the local mean removed from the homogeneous slab whose
#: fluctuations are the noise field of :func:`height_noise_field` (wider than the
#: reconstruction's noise correlation of ~1 voxel, narrower than the slab).
NOISE_FIELD_MEAN_VOX = 2.0


def height_noise_field(volume, z_range, inner, n_slices: int):
    """The scan's own voxel noise, with its spatial correlation, from a homogeneous slab.

    ``n_slices`` slices at the centre of ``z_range`` (the interior of a thick layer, e.g.
    the electrolyte away from its faces) less their local mean (Gaussian of
    :data:`NOISE_FIELD_MEAN_VOX` voxels), clipped at 4 robust sigmas (pores, filaments) and
    zero outside ``inner``.  The reconstruction's noise is correlated between neighbouring
    voxels (filtered back-projection), which a white-noise model of the heights misses;
    this field keeps it.

    Parameters
    ----------
    volume : (Z, Y, X) array_like
        Unfiltered grey values (read in ``z_range`` only).
    z_range : (int, int)
        Slices of the homogeneous layer.
    inner : (Y, X) ndarray of bool
    n_slices : int
        Slices wanted (fewer when the layer holds fewer than ``n_slices + 4``).

    Returns
    -------
    (n, Y, X) ndarray or None
        None when the layer holds fewer than 8 slices.
    """
    from scipy import ndimage

    z0, z1 = int(z_range[0]), int(z_range[1])
    n_slices = min(int(n_slices), z1 - z0 - 4)
    if n_slices < 4:
        return None
    a = z0 + (z1 - z0 - n_slices) // 2
    slab = np.asarray(volume[a:a + n_slices], np.float64)
    w = inner[None].astype(float) * np.ones_like(slab)
    s = NOISE_FIELD_MEAN_VOX
    mean = ndimage.gaussian_filter(slab * w, s) / np.maximum(ndimage.gaussian_filter(w, s),
                                                             1e-12)
    n = np.where(inner[None], slab - mean, 0.0)
    v = n[:, inner]
    sig = 1.4826 * float(np.median(np.abs(v - np.median(v))))
    if not sig > 0:
        return None
    return np.clip(n, -4 * sig, 4 * sig)


def _median_noise_response(raw, lo, hi, vs, inner, lower_level=None, upper_level=None,
                           noise=None):
    """How the two height estimators respond to the voxels' noise: a noise field added to a
    noise-free surrogate of the crop ``[lo, hi)`` (its 3x3x3 median), both estimators
    measured on it and on the surrogate; returns the maps ``(r, m)`` of the differences
    (µm; unfiltered, median) or None when the crop holds no interface.  ``noise``: the
    scan's own noise (:func:`height_noise_field`, at least ``hi - lo`` slices), else white
    noise of the crop's robust voxel std (1.4826 MAD of raw - its 3x3x3 median).  Their
    covariance is what :func:`height_estimator_errors` needs and the maps cannot give: the
    median's noise is in part the unfiltered noise of the same voxels."""
    import ssbscope.tomo as tomo
    from ssbscope.tomo.filters import median3

    if hi - lo < 2:
        return None
    crop = np.asarray(raw[lo:hi], np.float64)
    model = median3(crop)
    if noise is not None and len(noise) >= hi - lo:
        field = np.asarray(noise[:hi - lo], np.float64)
    else:
        dev = (crop - model)[:, inner]
        sigma = 1.4826 * float(np.median(np.abs(dev - np.median(dev))))
        if not sigma > 0:
            return None
        field = np.random.default_rng(HEIGHT_NOISE_SEED).normal(0.0, sigma, model.shape)
    noisy = model + field
    try:
        maps = [tomo.interface_height_map(v, vs, footprint=inner, lower_level=lower_level,
                                          upper_level=upper_level)
                for v in (noisy, model, median3(noisy), median3(model))]
    except (EmptyResultError, ParameterError) as exc:
        log.info("measure_scan: noise response of the heights not measured (%s)", exc)
        return None
    return maps[0] - maps[1], maps[2] - maps[3]


def _height(med, lo, hi, vs, inner, what, raw=None, lower_level=None, upper_level=None):
    """Seed heights of a truncated scan's interface (:data:`HEIGHT_RAW_CNR`)."""
    h_med, h_raw = _height_candidates(med, lo, hi, vs, inner, what, raw=raw,
                                      lower_level=lower_level, upper_level=upper_level)
    if h_raw is None or hi - lo < 2 or not np.isfinite(h_med).any():
        return h_med
    cnr = _contrast_to_noise(raw[lo:hi], med[lo:hi], inner)
    return h_raw if cnr >= HEIGHT_RAW_CNR else h_med


def height_estimator_errors(h_median, h_unfiltered, noise_response=None) -> tuple[float, float]:
    """Expected rms errors of the two height estimators of one interface in one scan,
    from the maps themselves (no truth, and no grey-level class of the crop, whose level a
    thin layer's partial volume mixes).

    Model: ``h_u = s + r`` (unfiltered: the surface ``s`` plus the window sum's noise ``r``,
    independent between columns as the voxels' noise is at the pixel scale) and
    ``h_m = s - f + m`` (median: the surface less what the 3x3x3 median flattens, ``f``,
    plus the median's own noise ``m``, which is in part ``r``: the same voxels).

    * ``e_u = sigma_r``.  With ``noise_response`` (:func:`_median_noise_response`: the two
      estimators on one realisation of the scan's own voxel noise, spatial correlation
      included, :func:`height_noise_field`): ``k std(r)``, the response's noise scaled by
      ``k = w(h_u) / w(r)`` with ``w`` the std of a map's pixel-independent part
      (:func:`ssbscope.interface.topography.white_noise_std`, the second-difference
      estimate of Immerkaer 1996, doi:10.1006/cviu.1996.0060, which cancels a surface
      smooth over a few pixels): the noise's level from the map itself, its correlation
      between columns from the noise field (the reconstruction's noise is correlated
      between neighbouring voxels, and ``w`` alone read 1.3 um where the unfiltered
      heights' actual error was 2.1 um, model-plated twin).  Without it ``w(h_u)``.
    * ``e_m**2 = f**2 + var(m)`` with the flattening from the maps' difference
      ``d = h_u - h_m = f + r - m``: ``f**2 = var(d) - var(r - m)`` (the flattening
      uncorrelated with the noise), ``var(m)`` and ``var(r - m)`` from ``noise_response``
      scaled by ``k**2``.  ``var`` is about the mean: the two maps' mean offset is left out,
      as neither is unbiased in the mean for a thin layer (the unfiltered window of a
      2.6-voxel layer reaches into the next face's blur: synthetic stack, offset 1.2 um,
      the median's thickness within 0.5 um of the truth).  Without ``noise_response`` ``m`` is
      taken as 0: ``e_m**2 = var(d) - e_u**2``, a lower bound of the median's error (on a
      synthetic stack with 2 um of unfiltered height noise it read 0 where the median's
      actual error was 0.7-0.8 um).
    * The in-plane blur of the reconstruction flattens both maps alike; that common part
      is in neither error, so on a rough surface, where the median's flattening adds to the
      blur's, ``e_m`` is low (synthetic stacks of Ra 2-3 um: 0.8-1.2 against an actual
      1.1-1.7 um, ``tests/tomo/test_height_estimator.py``).

    Against the twins' true surfaces (small, seed 0, 3 um voxels, 90 angles): model-plated
    anode-free Li | Li6PS5Cl ``e_u`` 1.87-2.25 / ``e_m`` 0.64-0.77 um against the actual
    1.88-2.30 / 0.68-1.18; symmetric Li | Li6PS5Cl (Ra 3.8-7.9 um) 1.97-2.29 / 0.66-1.33
    against 2.11-2.50 / 1.12-1.67: the median is the better height map on both, and the
    ranking is the truth's.

    Parameters
    ----------
    h_median, h_unfiltered : (Y, X) ndarray
        Heights (µm) of one interface from the two estimators; NaN: not measured.
    noise_response : ((Y, X) ndarray, (Y, X) ndarray), optional
        The estimators' response ``(r, m)`` to one realisation of the voxels' noise (µm).

    Returns
    -------
    (float, float)
        ``(e_u, e_m)`` in µm; NaN when fewer than 10 complete 3 x 3 windows are common to
        both maps.
    """
    hu = np.asarray(h_unfiltered, float)
    hm = np.asarray(h_median, float)
    ok = np.isfinite(hu) & np.isfinite(hm)
    e_u, scaled = _scaled_noise_response(hu, hm, noise_response)
    if not math.isfinite(e_u):
        return float("nan"), float("nan")
    var_d = float(np.var(hu[ok] - hm[ok]))
    var_rm, var_m = e_u * e_u, 0.0
    if scaled is not None:
        r, m, okn = scaled
        e_u = math.sqrt(float(np.var(r[okn])))
        var_rm = float(np.var(r[okn] - m[okn]))
        var_m = float(np.var(m[okn]))
    return float(e_u), float(math.sqrt(max(var_d - var_rm, 0.0) + var_m))


def _scaled_noise_response(hu, hm, noise_response):
    """``(w(h_u), (k r, k m, ok))`` of :func:`height_estimator_errors`: the unfiltered map's
    white-noise std and the noise response scaled to the map's noise level (None without a
    usable response); ``(nan, None)`` when fewer than 10 columns are common."""
    from ssbscope.interface.topography import white_noise_std

    ok = np.isfinite(hu) & np.isfinite(hm)
    if ok.sum() < 10 or min(hu.shape) < 3:
        return float("nan"), None
    e_u = white_noise_std(np.where(ok, hu, np.nan))
    if not math.isfinite(e_u) or noise_response is None:
        return float(e_u), None
    r, m = (np.asarray(a, float) for a in noise_response)
    okn = ok & np.isfinite(r) & np.isfinite(m)
    wr = white_noise_std(np.where(okn, r, np.nan)) if okn.sum() >= 10 else float("nan")
    if not wr > 0:
        return float(e_u), None
    k = e_u / wr
    return float(e_u), (k * r, k * m, okn)


def height_noise_maps(h_median, h_unfiltered, noise_response=None):
    """One realisation of each height estimator's own noise, at the maps' noise level.

    The noise response ``(r, m)`` of :func:`_median_noise_response` (both estimators on one
    realisation of the scan's voxel noise, spatial correlation included) scaled by
    ``k = w(h_u) / w(r)`` as in :func:`height_estimator_errors`: ``(k m, k r)``, the median's
    and the unfiltered heights' noise maps (µm, NaN where either map or the response is
    NaN).  Their variances are ``var(m) k^2`` (the median's own noise, without its
    flattening) and ``e_u^2``; their spatial correlation is what the measurement's transfer
    passes of them (:func:`ssbscope.tomo.metrics.roughness_resolution_corrected`).  Without
    a usable response: the unfiltered map's noise is white at the pixel scale (Immerkaer
    estimate ``w(h_u)``), returned as a white realisation of that std
    (:data:`HEIGHT_NOISE_SEED`), and the median's is unknown (None).

    Parameters
    ----------
    h_median, h_unfiltered : (Y, X) ndarray
        Heights (µm) of one interface from the two estimators.
    noise_response : ((Y, X) ndarray, (Y, X) ndarray), optional

    Returns
    -------
    (ndarray or None, ndarray or None)
        ``(median noise, unfiltered noise)`` maps (µm), each None when unknown.
    """
    hu = np.asarray(h_unfiltered, float)
    hm = np.asarray(h_median, float)
    e_u, scaled = _scaled_noise_response(hu, hm, noise_response)
    if scaled is not None:
        r, m, okn = scaled
        return np.where(okn, m, np.nan), np.where(okn, r, np.nan)
    if not math.isfinite(e_u):
        return None, None
    ok = np.isfinite(hu) & np.isfinite(hm)
    white = np.random.default_rng(HEIGHT_NOISE_SEED).normal(0.0, e_u, hu.shape)
    return None, np.where(ok, white, np.nan)


def choose_height_estimator(errors, n_columns=None, voxel_size_um=None) -> str:
    """One height estimator for an interface over a whole series.

    Rule: the estimator of the smaller summed squared error over the series' scans,
    ``sum_k e_u,k**2`` against ``sum_k e_m,k**2`` (:func:`height_estimator_errors`, each
    scan's maps alone): the least total mean squared height error that one estimator for
    every scan gives, the median only where it is the smaller beyond the estimates' sampling
    uncertainty: ``sum e_m**2 < sum e_u**2 - 2 SE`` with ``SE**2 = sum_k 2 (e_u,k**4 +
    e_m,k**4) / n_k`` (the variance of a variance estimated from ``n_k`` independent values,
    the two taken independent), ``n_k`` the scan's measured columns over 9 (the median's
    3 x 3 columns share voxels).  Otherwise the unfiltered heights: the linear window sum,
    unbiased in the mean (exact for a symmetric blur), while the median is a nonlinear
    estimator whose bias the model above only approximates (on the anode-free twin's Cu | Li
    face the two read 0.14-0.24 um each, and the median's heights moved the thickness maps'
    outlier columns and the centre thickness by +0.35 um, +3.6 %).  One estimator for the
    series, not per scan, so that the scans stay
    comparable: what the series derives from differences of scans (thickness changes,
    current-density maps between scans, the interval heights of
    :func:`ssbscope.interface.topography.interval_height`) then carries no step between two
    estimators' errors (the median's flattening, its offset), and a scan's choice does not
    hang on how its crop's grey classes mix (issue 17: a per-scan switch at a crop
    contrast-to-noise of 3 gave the 2-voxel Li layers of the model-plated twin the median
    and the thicker ones the unfiltered heights, 0.56 against 2.07 um of height noise).  A
    series without a finite estimate takes the unfiltered heights, and so does a series whose
    unfiltered heights' rms noise is below ``voxel_size_um / sqrt(12)``, the rms error of a
    whole-voxel (segmented) height: they are then sub-voxel already, and the median could
    only trade noise below that scale for an offset the maps cannot show (the anode-free
    twin's Cu | Li face, 0.14-0.24 um of noise: the median's heights read 0.11-0.15 um of
    error but moved the plated layer's centre thickness by +0.35 um through the thickness
    maps' outlier columns).

    The criterion is the height map's error per column, what thickness maps, current-density
    maps between scans and the interface models use.  A statistic of the map can favour the
    other estimator: on the symmetric twin the median's Ra reads 15-16 % low, the unfiltered
    heights' 3-8 % low only because their noise (+2-3 um in quadrature) offsets the
    reconstruction's resolution loss (their noise-corrected Ra reads 13-15 % low, like the
    median's); ``analysis.tomo.height_estimator`` forces one estimator.

    Parameters
    ----------
    errors : iterable of (float, float)
        ``(e_u, e_m)`` per scan (µm); non-finite pairs are left out.
    n_columns : sequence of int, optional
        Columns each scan's errors were measured on (None: no sampling margin).
    voxel_size_um : float, optional
        Voxel edge (µm; None: no sub-voxel floor).

    Returns
    -------
    str
        ``"unfiltered"`` or ``"median"`` (:data:`HEIGHT_ESTIMATORS`).

    Examples
    --------
    >>> choose_height_estimator([(2.0, 0.7), (0.5, 0.7)])
    'median'
    >>> choose_height_estimator([(0.5, 1.2), (0.6, 1.0)])
    'unfiltered'
    """
    su = sm = var_diff = 0.0
    n = 0
    errors = list(errors)
    cols = [None] * len(errors) if n_columns is None else list(n_columns)
    for (e_u, e_m), nc in zip(errors, cols):
        if math.isfinite(e_u) and math.isfinite(e_m):
            su += e_u * e_u
            sm += e_m * e_m
            n += 1
            if nc:
                var_diff += 2.0 * (e_u ** 4 + e_m ** 4) / max(nc / 9.0, 1.0)
    if n and voxel_size_um and su / n < float(voxel_size_um) ** 2 / 12.0:
        return "unfiltered"
    return "median" if n and sm < su - 2.0 * math.sqrt(var_diff) else "unfiltered"


def measure_scan(volume, seg: PhaseSegmentation, region: CellRegion, layers, voxel_size_um: float,
                 *, interfaces=None, thickness=None, central_fraction: float = 0.75,
                 electrolyte: str | None = None, n_layers: int = 10,
                 min_volume_um3: float = 0.0, median: bool = True,
                 filtered=None, phase_levels=None, level_erode_vox: int = 2,
                 level_denoise=None, truncated=None,
                 subvoxel_heights: bool = False) -> ScanMeasurement:
    """Measure one (registered, segmented) scan against the declared layers.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
        Unfiltered grey values (partial-volume estimates).
    seg : PhaseSegmentation
        From :func:`segment_scan` on this volume.
    region : CellRegion
    layers : sequence of layers
    voxel_size_um : float
    interfaces : sequence of str, optional
        "lower|upper" layer names (default every adjacent pair of different materials).
    thickness : sequence of str, optional
        Layers to map (default all).
    central_fraction : float
        Centre/edge split of the thickness statistics.
    electrolyte : str, optional
        Electrolyte layer (default :func:`electrolyte_layer`).
    n_layers : int
        Slabs of the electrolyte's layer fractions.
    min_volume_um3 : float
        Smallest isolated low-attenuation region counted.
    median : bool
        Denoise with the 3x3x3 median of ``volume`` (else none).  Each interface's heights
        come from the median or the unfiltered values, whichever has the smaller expected
        error on this scan (:func:`height_estimator_errors`,
        :func:`choose_height_estimator`; a series chooses once for all its scans).
    filtered : ndarray, optional
        The median-filtered volume when already computed.
    phase_levels : mapping, optional
        User levels ``{material: grey value | {z_vox, y_vox, x_vox}}`` (YAML
        ``analysis.tomo.phase_levels``, :func:`ssbscope.tomo.levels.pure_phase_levels`).
    level_erode_vox : int, default 2
        Erosion of each phase's label before the mode of its interior.
    level_denoise : mapping, optional
        Denoising whose thresholded labels (the segmentation's grey classes) define the
        interiors (:func:`ssbscope.tomo.levels.interior_labels`); None: the segmentation's
        labels.
    truncated : mapping, optional
        The scan was reconstructed from truncated projections: the interfaces' heights from
        the local contrast (see
        :func:`ssbscope.tomo.series_chunked.analyse_series_chunked`).
    subvoxel_heights : bool, default False
        With ``truncated``: each column's edge refined to a fraction of a voxel
        (:func:`ssbscope.tomo.metrics.refine_edges`; YAML
        ``analysis.tomo.subvoxel_heights``), else whole voxels; no effect otherwise.

    Returns
    -------
    ScanMeasurement
        The pore + crack volume is the partial volume of the electrolyte between the pure
        levels of the darkest phase and the electrolyte's (not the class medians, which the
        blurred rims of the other phase bias by 1-2 % on noisy scans).
    """
    import dataclasses

    from ssbscope.tomo.filters import median3
    from ssbscope.tomo.levels import interior_labels
    from ssbscope.tomo.series_chunked import _measure, _Scan

    raw = np.asarray(volume)
    med = filtered if filtered is not None else (median3(raw) if median else raw)
    lab = np.asarray(seg.labels)
    lv_lab = None if level_denoise is None else interior_labels(
        raw, seg.class_thresholds, seg.class_phase, level_denoise)
    # one slab of the chunked path's measurement
    m, _, _ = _measure(_Scan(raw, np.asarray(med), lab, raw.shape[0],
                             med_is_median3=filtered is None and median), seg, region, layers,
                       float(voxel_size_um), interfaces=interfaces, thickness=thickness,
                       central_fraction=central_fraction, electrolyte=electrolyte,
                       n_layers=n_layers, min_volume_um3=min_volume_um3,
                       frac_inner=_phase_fractions(lab, len(seg.phases), region.inner),
                       phase_levels=phase_levels, level_erode_vox=level_erode_vox,
                       level_labels=lv_lab, truncated=truncated,
                       subvoxel=subvoxel_heights)
    # a scan alone is a series of one: its own estimator (the candidate maps dropped)
    return dataclasses.replace(m, electrolyte_low=np.asarray(m.electrolyte_low),
                               electrolyte_raw_low=np.asarray(m.electrolyte_raw_low),
                               height_candidates_um={})


# --------------------------------------------------------------------------- series

def _level_denoise(level_denoise, dn):
    """Settings of the levels' interior labels (None: the segmentation's labels)."""
    from ssbscope.tomo.denoise import as_settings
    from ssbscope.tomo.levels import DEFAULT_LEVEL_DENOISE

    if level_denoise is None:
        return None
    if isinstance(level_denoise, str) and level_denoise == "default":
        level_denoise = DEFAULT_LEVEL_DENOISE
    ld = as_settings(level_denoise)
    return None if ld == dn else ld


@dataclass(frozen=True)
class SeriesResult:
    """A registered, segmented and measured CT series (scans sorted by time).

    Attributes
    ----------
    volumes : (T, Z, Y, X) ndarray of float32
        Registered grey values.
    labels : (T, Z, Y, X) ndarray of uint8
    class_thresholds : (T, n_classes - 1) ndarray
    class_names : tuple of str
        Phase (or "undeclared") of each grey class.
    shift_vox : (T, 3) ndarray
    region : CellRegion
    order : PhaseOrder
    scans : tuple of ScanMeasurement
    new_filaments, new_filaments_center, new_filaments_edge : (T,) ndarray
        Regions of the electrolyte's darkest phase new since the previous scan (NaN first).
    new_filament_volume_um3 : (T,) ndarray
    new_crack_volume_um3 : (T,) ndarray
        Pore + crack volume minus the first scan's.
    pore_crack_grey_overlap : (T,) ndarray
        Overlap coefficient of the grey values of the first scan's pores and of the voxels
        that turned dark since (NaN first).
    register_on : str
    slab_order : str
        Face of the electrolyte holding slab ``n`` ("bottom" or "top").
    segmentation : str
        "threshold" (grey levels, :func:`segment_scan`) or "random_forest"
        (:func:`ssbscope.tomo.trainable.forest_segment_scan`).
    uncertainty : tuple of SegmentationUncertainty
        Per scan, from the forest's probabilities (empty for thresholds):
        :class:`ssbscope.tomo.trainable.SegmentationUncertainty`.
    """

    volumes: np.ndarray
    labels: np.ndarray
    class_thresholds: np.ndarray
    class_names: tuple
    shift_vox: np.ndarray
    region: CellRegion
    order: PhaseOrder
    scans: tuple
    new_filaments: np.ndarray
    new_filaments_center: np.ndarray
    new_filaments_edge: np.ndarray
    new_filament_volume_um3: np.ndarray
    new_crack_volume_um3: np.ndarray
    pore_crack_grey_overlap: np.ndarray
    register_on: str
    slab_order: str
    segmentation: str = "threshold"
    uncertainty: tuple = ()


def analyse_series(volumes, layers, voxel_size_um: float, *, energy_kev: float | None = None,
                   interfaces=None, thickness=None, central_fraction: float = 0.75,
                   register_on: str | None = None, median: bool = True,
                   opening_radius_vox: int = 0, min_filament_volume_um3: float = 0.0,
                   n_layers: int = 10, electrolyte: str | None = None,
                   progress=None, segmenter=None, denoise=None, phase_levels=None,
                   level_erode_vox: int = 2, level_denoise="default", truncated=None,
                   subvoxel_heights: bool = False,
                   height_estimator: str = "auto") -> SeriesResult:
    """Register, segment and measure a time-ordered series of scans of one cell.

    1. Phases from the declared layers (:func:`phase_order`), the cell's columns from the
       first scan (:func:`cell_region`).
    2. The first scan is segmented (:func:`segment_scan`, the class map chosen there is kept
       for the series) and its layers located; every later scan is registered to it on the
       slab of ``register_on`` (default the bottom layer) plus 3 slices each side
       (:func:`register_scan`), then segmented.
    3. Each scan is measured (:func:`measure_scan`); between consecutive scans, new
       filaments in the electrolyte (:func:`ssbscope.tomo.metrics.new_filaments`); against
       the first, the new crack volume and the grey-value overlap of pores vs new dark voxels
       (:func:`ssbscope.tomo.metrics.gaussian_overlap`).

    Parameters
    ----------
    volumes : sequence of (Z, Y, X) ndarray
        Reconstructed scans, in time order, on one grid.
    layers : sequence of layers
    voxel_size_um : float
    energy_kev : float, optional
    interfaces, thickness, central_fraction, electrolyte, n_layers : see :func:`measure_scan`
    register_on : str, optional
    median : bool
    opening_radius_vox : int
    min_filament_volume_um3 : float
        Smallest new region counted as a filament, and smallest isolated region.
    progress : callable, optional
        Wraps the loop over scans (e.g. ``ctx.progress``).
    segmenter : ssbscope.tomo.trainable.TrainedSegmenter, optional
        Segment with this random forest (on the registered, unfiltered grey values) instead
        of grey thresholds; the result then carries the probability's uncertainties.
    denoise : mapping or ssbscope.tomo.denoise.DenoiseSettings, optional
        Denoising before segmentation (``method`` none/median/tv/nlm and its parameters,
        :func:`ssbscope.tomo.denoise.denoise_volume`); default: the 3x3x3 median when
        ``median`` is True, else none.
    phase_levels, level_erode_vox
        Pure-phase levels of the partial volume (see :func:`measure_scan`).
    level_denoise : mapping or None, default ``"default"``
        Denoising whose labels define the interiors of the levels;
        ``"default"``: :data:`ssbscope.tomo.levels.DEFAULT_LEVEL_DENOISE`; None or the same
        settings as ``denoise``: the segmentation's labels.
    truncated, subvoxel_heights
        Scans reconstructed from truncated projections and their sub-voxel edges (see
        :func:`measure_scan`; as
        :func:`ssbscope.tomo.series_chunked.analyse_series_chunked`).
    height_estimator : {"auto", "median", "unfiltered"}
        Grey values of every scan's interface heights: "auto" one per interface for the
        series (:func:`choose_height_estimator`), else the one named.

    Returns
    -------
    SeriesResult
    """
    from ssbscope.tomo.series_chunked import _analyse

    # the chunked path's analysis on one slab, the intermediates NumPy arrays
    return _analyse(volumes, layers, voxel_size_um, False, None, None, energy_kev=energy_kev,
                    interfaces=interfaces, thickness=thickness,
                    central_fraction=central_fraction, register_on=register_on, median=median,
                    opening_radius_vox=opening_radius_vox,
                    min_filament_volume_um3=min_filament_volume_um3, n_layers=n_layers,
                    electrolyte=electrolyte, progress=progress, segmenter=segmenter,
                    denoise=denoise, phase_levels=phase_levels,
                    level_erode_vox=level_erode_vox, level_denoise=level_denoise,
                    truncated=truncated, subvoxel_heights=subvoxel_heights,
                    height_estimator=height_estimator)
