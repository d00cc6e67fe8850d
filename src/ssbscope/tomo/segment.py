"""Segmentation of a reconstructed CT volume into ordered phases.

The chain of 000_290f30815ae66793 (Experimental procedures): 3 x 3 x 3 median, automatic
threshold(s), morphological opening (radius 3 voxels) of each phase, connected components.
Phases are ordered by X-ray attenuation, darkest first, e.g. for the papers' cells
``("pore", "Li", "electrolyte", "cathode", "metal")`` (air < Li metal < PEO-LiTFSI or
Li6PS5Cl < NMC < steel/Cu at the beam energies used).  Volumes are ``(z, y, x)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ssbscope.errors import EmptyResultError, InputError, ParameterError

__all__ = ["Segmentation", "segment_phases", "DEFAULT_PHASES"]

log = logging.getLogger(__name__)

DEFAULT_PHASES = ("pore", "Li", "electrolyte", "cathode", "metal")


@dataclass(frozen=True)
class Segmentation:
    """Phase labels of a volume.

    Attributes
    ----------
    labels : (Z, Y, X) ndarray of uint8
        Phase index per voxel (0 = darkest phase), into ``phase_names``.
    phase_names : tuple of str
        Names in ascending attenuation order.
    thresholds : tuple of float
        Grey-value boundaries between successive phases (``len(phase_names) - 1``); a voxel
        with value ``v`` belongs to phase ``k`` if ``thresholds[k-1] < v <= thresholds[k]``.
    """

    labels: np.ndarray
    phase_names: tuple[str, ...]
    thresholds: tuple[float, ...]

    def index(self, name: str) -> int:
        """Index of phase ``name``."""
        try:
            return self.phase_names.index(name)
        except ValueError:
            raise InputError(f"phase {name!r} not in {self.phase_names}; use one of them") \
                from None

    def mask(self, name: str, *, allow_empty: bool = False) -> np.ndarray:
        """Boolean mask of phase ``name``.

        Raises
        ------
        EmptyResultError
            The phase holds no voxel (unless ``allow_empty``), e.g. no Li was found.
        """
        m = self.labels == self.index(name)
        if not allow_empty and not m.any():
            raise EmptyResultError(
                f"phase {name!r}: no voxel segmented (thresholds {self.thresholds}); check the "
                "phase list and the grey values, or pass thresholds explicitly")
        return m

    def counts(self) -> dict[str, int]:
        """Voxel count per phase."""
        c = np.bincount(self.labels.ravel(), minlength=len(self.phase_names))
        return {n: int(c[i]) for i, n in enumerate(self.phase_names)}


def segment_phases(volume, phase_names=DEFAULT_PHASES, *, thresholds=None, median: bool = True,
                   opening_radius: int | None = None, nbins: int = 256,
                   midpoint: bool = True, method: str = "multiotsu", roi=None,
                   require: tuple[str, ...] = ()) -> Segmentation:
    """Segment a greyscale volume into phases ordered by attenuation.

    Steps (000_290f30815ae66793, Experimental procedures): optional 3 x 3 x 3 median
    (:func:`ssbscope.tomo.median3`); thresholds from multi-level Otsu on the volume's
    histogram (:func:`ssbscope.tomo.filters.threshold_multiotsu`) unless given; digitising;
    optionally an opening of radius ``opening_radius`` voxels of every phase mask, voxels
    that no opened phase keeps taking the label of the nearest kept voxel.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
        Reconstructed grey values; NaN/inf rejected.
    phase_names : sequence of str
        Phase names, darkest first (>= 2).
    thresholds : sequence of float, optional
        ``len(phase_names) - 1`` ascending grey-value boundaries; default multi-Otsu.
    median : bool, default True
        Apply the 3 x 3 x 3 median first.
    opening_radius : int, optional
        If given, each phase mask is opened with a ball of this radius (voxels) and voxels
        no phase keeps after opening take the label of the nearest kept voxel.
    nbins : int
        Histogram bins for the automatic thresholds.
    method : {"multiotsu", "hierarchical"}
        Automatic thresholds: exact multi-level Otsu over the whole histogram, or greedy
        recursive Otsu (split, one at a time, the grey-value class whose Otsu split has the
        largest separability ``sigma_between^2 / sigma_total^2``, computed with 1 % of the
        class trimmed at each end).  Use ``"hierarchical"``
        for a high dynamic range (metal casing or current collector beside Li and a
        ceramic), where multi-Otsu spends its thresholds on the bright tails.
    roi : ndarray of bool, optional
        Region whose voxels set the automatic thresholds: a ``(Z, Y, X)`` mask or a
        ``(Y, X)`` footprint of columns (e.g. the cell's cylinder, leaving out the air
        around it); every voxel is labelled.
    midpoint : bool, default True
        Refine automatic thresholds to the midpoints between the median grey values of
        adjacent classes (iterated isodata, Ridler & Calvard 1978).  A voxel cut by a phase
        boundary then goes to the phase holding most of it, so phase volumes are unbiased
        even when the phases' voxel counts differ greatly (where Otsu's threshold leans
        toward the larger class).
    require : tuple of str
        Phases that must be found; an empty one raises :class:`EmptyResultError`.

    Returns
    -------
    Segmentation

    Raises
    ------
    DataQualityError
        NaN/inf voxels, or too few grey levels for the number of phases.
    EmptyResultError
        A phase in ``require`` has no voxel.
    """
    from ssbscope.tomo.filters import _as_volume, check_finite, median3, threshold_multiotsu

    arr = _as_volume(volume)
    check_finite(arr)
    names = tuple(str(n) for n in phase_names)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ParameterError("phase_names", names, "need >= 2 distinct names, darkest first")
    v = median3(arr) if median else arr
    if thresholds is None:
        sel = v
        if roi is not None:
            r = np.asarray(roi, bool)
            if r.shape not in (v.shape, v.shape[1:]):
                raise InputError(f"roi: shape {r.shape} matches neither the volume {v.shape} "
                                 f"nor its (y, x) plane {v.shape[1:]}")
            sel = v[r] if r.shape == v.shape else v[:, r]
            if sel.size == 0:
                raise EmptyResultError("roi: selects no voxel; pass the region to threshold")
        if method == "multiotsu":
            th = threshold_multiotsu(sel, classes=len(names), nbins=nbins)
        elif method == "hierarchical":
            th = _hierarchical(sel, len(names), nbins)
        else:
            raise ParameterError("method", method, "must be 'multiotsu' or 'hierarchical'")
        if midpoint:
            th = _midpoints(sel, th)
    else:
        th = np.asarray(thresholds, dtype=float)
        if th.shape != (len(names) - 1,) or np.any(np.diff(th) <= 0):
            raise ParameterError("thresholds", thresholds,
                                 f"need {len(names) - 1} ascending values for {len(names)} phases")
    labels = np.digitize(v, th, right=True).astype(np.uint8)
    if opening_radius is not None:
        labels = _open_phases(labels, len(names), int(opening_radius))
    seg = Segmentation(labels=labels, phase_names=names, thresholds=tuple(float(t) for t in th))
    for r in require:
        seg.mask(r)
    counts = seg.counts()
    log.info("segment_phases: thresholds %s, voxels per phase %s", seg.thresholds, counts)
    return seg


def _hierarchical(v: np.ndarray, classes: int, nbins: int) -> np.ndarray:
    from ssbscope.errors import DataQualityError
    from ssbscope.tomo.filters import threshold_otsu

    flat = v.ravel()
    step = max(1, flat.size // 4_000_000)
    sample = np.sort(flat[::step].astype(np.float64))
    segments = [(0, sample.size)]  # index ranges into the sorted sample
    cuts: list[float] = []
    for _ in range(classes - 1):
        best = None
        for j, (a, b) in enumerate(segments):
            x = sample[a:b]
            if x.size < 2 or x[0] == x[-1]:
                continue
            t = threshold_otsu(hist=_hist(x, nbins))
            k = int(np.searchsorted(x, t, side="right"))
            if k in (0, x.size):
                continue
            # separability on the class with 1 % trimmed at each end, so that a few
            # partial-volume voxels (bright edges blurred into a dark class) do not hide a
            # well-separated pair of phases
            n_tr = x.size // 100
            xt = x[n_tr: x.size - n_tr] if x.size - 2 * n_tr >= 2 else x
            kt = int(np.searchsorted(xt, t, side="right"))
            if kt in (0, xt.size):
                continue
            lo, hi = xt[:kt], xt[kt:]
            var_t = xt.var()
            if var_t <= 0:
                continue
            eta = (lo.size * hi.size / xt.size**2) * (lo.mean() - hi.mean()) ** 2 / var_t
            if best is None or eta > best[0]:
                best = (eta, j, a + k, t)
        if best is None:
            raise DataQualityError(f"volume: cannot split the grey values into {classes} "
                                   "classes (too few distinct values)")
        _, j, mid, t = best
        a, b = segments.pop(j)
        segments[j:j] = [(a, mid), (mid, b)]
        cuts.append(float(t))
    return np.sort(np.array(cuts))


def _hist(x: np.ndarray, nbins: int):
    counts, edges = np.histogram(x, bins=nbins, range=(float(x[0]), float(x[-1])))
    return counts, 0.5 * (edges[:-1] + edges[1:])


def _midpoints(v: np.ndarray, th: np.ndarray, n_iter: int = 5) -> np.ndarray:
    flat = v.ravel()
    # subsample large volumes for the class medians (deterministic stride)
    step = max(1, flat.size // 4_000_000)
    sample = np.sort(flat[::step])
    th = np.asarray(th, float).copy()
    for _ in range(n_iter):
        edges = np.searchsorted(sample, th, side="right")
        bounds = np.r_[0, edges, sample.size]
        if np.any(np.diff(bounds) == 0):
            break  # an empty class: keep the last valid thresholds
        meds = np.array([sample[(a + b - 1) // 2] for a, b in zip(bounds[:-1], bounds[1:])],
                        float)
        new = 0.5 * (meds[:-1] + meds[1:])
        if np.allclose(new, th, rtol=0, atol=1e-12 * max(1.0, float(np.abs(th).max()))):
            th = new
            break
        th = new
    return th


def _open_phases(labels: np.ndarray, n: int, radius: int) -> np.ndarray:
    import scipy.ndimage as ndi

    from ssbscope.tomo.filters import opening

    kept = np.zeros(labels.shape, bool)
    out = np.zeros_like(labels)
    for k in range(n):
        m = opening(labels == k, radius)
        out[m] = k
        kept |= m
    if not kept.all():
        if not kept.any():
            return labels
        # voxels no opened phase kept: take the label of the nearest kept voxel
        idx = ndi.distance_transform_edt(~kept, return_distances=False, return_indices=True)
        out = out[tuple(idx)]
    return out
