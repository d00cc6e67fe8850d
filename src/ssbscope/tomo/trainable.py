"""Trainable segmentation of CT volumes: a random forest on multiscale voxel features.

A global grey-value threshold (:func:`ssbscope.tomo.series.segment_scan`) is the limit of Li
quantification in CT of batteries named by Dixit et al. 2021 (doi:10.1039/d1ee00638j,
Figs. 11b and 24a): Li and the pores of a sulfide electrolyte attenuate alike, and noise
pushes single voxels across any threshold.  This module segments with a random forest
(scikit-learn) on multiscale features of every voxel -- Gaussian-smoothed intensity, gradient
magnitude and the Hessian's eigenvalues at a few scales
(:func:`skimage.feature.multiscale_basic_features`) -- trained on labelled voxels: a few
slices labelled by a user (label volume, 0 = unlabelled) or, for the twin, the phantom's
true labels on a few slices.  The forest gives every voxel a class probability; the series
analysis carries it into volume and thickness uncertainties
(:func:`probability_sums`, :func:`segmentation_uncertainty`: the expected misassigned
volume, a bound on the error when the probabilities are calibrated).

Chunking: the features of a voxel depend on the grey values within
:attr:`TrainedSegmenter.halo_vox` voxels (the Gaussian's truncation radius at the largest
scale plus the gradient and Hessian stencils), so training and prediction run on blocks
(z-slabs cut into (y, x) tiles) read with that halo (:func:`block_features`,
:func:`predict_slab`); the result equals the whole-volume one bit for bit (the filters at the
volume's faces see the same edges).  A block costs about 200 bytes per voxel read (20
features in float32 plus the filters' and the forest's temporaries).

Training labels: in a layered cell, label a few planes *across* the layers (``y`` or ``x`` =
const): each holds every phase and the interfaces' mixed voxels.  z-slices parallel to the
layers miss them (on the anode-free twin, a forest trained on 8 z-slices mislabelled the
plated-Li | electrolyte interface; on 4 y-planes it halved the threshold's errors).

In a CT series (``analysis.tomo.segmentation: {method: random_forest}``,
:func:`forest_segment_scan`, ``analyse_series(..., segmenter=...)`` and its chunked twin) the
forest's labels replace the grey-level ones everywhere: layer location, phase volumes,
thickness counts, the pore + crack partial volume's class levels and the low-attenuation
regions (taken from the labels' darkest phase, as there are no grey thresholds:
``class_thresholds`` are NaN and ``pore_crack_grey_overlap`` is NaN).

Saved models (:func:`save_segmenter`, :func:`load_segmenter`) are pickles (joblib): loading
one runs code from the file, so load only files you made or trust; the scikit-learn version
that wrote it is checked (a forest unpickled by another version may predict differently).

Determinism: the forest's ``random_state`` and the training-voxel subsample are fixed by
``random_state``; the forest predicts single-threaded (scikit-learn sums the trees of a
multi-threaded prediction in the order the threads finish), slabs run in parallel.  Same
inputs and seed, same bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ssbscope.errors import InputError, ParameterError

__all__ = [
    "DEFAULT_SIGMAS", "VOID", "UNDECLARED_CLASS", "feature_halo", "voxel_features",
    "TrainedSegmenter", "train_segmenter", "ForestPrediction", "predict_slab", "predict_proba",
    "predict_dask", "block_features", "save_segmenter", "load_segmenter", "read_label_volume",
    "ProbabilitySums", "probability_sums", "SegmentationUncertainty",
    "segmentation_uncertainty", "phase_map", "phase_probability", "concat_sums",
    "forest_segmentation", "forest_segment_scan",
]

log = logging.getLogger(__name__)

#: Gaussian scales (voxels) of the default features.
DEFAULT_SIGMAS = (0.5, 1.0, 2.0, 4.0)
#: Class name of pores, cracks and air: the darkest declared phase (which holds them).
VOID = "void"
#: Class name of material the cell does not declare (e.g. a steel plunger).
UNDECLARED_CLASS = "undeclared"
#: skimage.filters.gaussian truncates its kernel at 4 standard deviations.
_TRUNCATE = 4.0
#: Format tag of saved segmenters.
_FORMAT = "ssbscope-random-forest-segmenter"
_FORMAT_VERSION = 1


# --------------------------------------------------------------------------- features

def feature_halo(sigmas: Sequence[float]) -> int:
    """Slices on each side a voxel's features depend on (and a slab must read).

    The Gaussian kernel reaches ``int(4 sigma + 0.5)`` voxels; the Sobel edge filter and the
    Hessian (``np.gradient`` twice) 2 more; one spare.
    """
    return int(_TRUNCATE * max(float(s) for s in sigmas) + 0.5) + 3


def voxel_features(volume, sigmas: Sequence[float] = DEFAULT_SIGMAS, *, intensity: bool = True,
                   edges: bool = True, texture: bool = True) -> np.ndarray:
    """Multiscale features of every voxel of a 3-D volume.

    Per scale ``sigma`` (:func:`skimage.feature.multiscale_basic_features` with one scale):
    the Gaussian-smoothed grey value, its Sobel gradient magnitude and the 3 eigenvalues of
    its Hessian.

    Parameters
    ----------
    volume : (Z, Y, X) array_like
        Grey values (finite), in the units of the reconstruction.
    sigmas : sequence of float
        Gaussian scales (voxels).
    intensity, edges, texture : bool

    Returns
    -------
    (Z, Y, X, F) ndarray of float32
        ``F = len(sigmas) * (intensity + edges + 3 texture)``.
    """
    from skimage.feature import multiscale_basic_features

    v = np.ascontiguousarray(np.asarray(volume, np.float32))
    if v.ndim != 3:
        raise InputError(f"volume: expected (z, y, x), got shape {v.shape}")
    if not np.isfinite(v).all():
        raise InputError("volume: holds NaN or inf; the forest needs finite grey values "
                         "(crop the reconstruction to its valid region)")
    if not (intensity or edges or texture):
        raise ParameterError("intensity/edges/texture", False, "select at least one feature")
    out = []
    for s in sigmas:
        s = float(s)
        if not s > 0:
            raise ParameterError("sigmas", s, "must be > 0 (voxels)")
        f = multiscale_basic_features(v, intensity=intensity, edges=edges, texture=texture,
                                      sigma_min=s, sigma_max=s, num_sigma=1, workers=1)
        out.append(np.asarray(f, np.float32))
    return np.concatenate(out, axis=-1)


# --------------------------------------------------------------------------- model

@dataclass(frozen=True, eq=False)
class TrainedSegmenter:
    """A random forest trained to segment CT volumes into named classes.

    Attributes
    ----------
    forest : sklearn.ensemble.RandomForestClassifier
        Fitted on :func:`voxel_features`; ``forest.classes_`` are ``0 .. len(classes) - 1``.
    classes : tuple of str
        Class names; label value ``k`` of a training label volume is ``classes[k - 1]``.
        A declared material, :data:`VOID` (pores, cracks, air: the darkest phase) or
        :data:`UNDECLARED_CLASS`.
    sigmas : tuple of float
        Feature scales (voxels).
    intensity, edges, texture : bool
        Feature groups.
    n_training_voxels : tuple of int
        Training voxels per class (after subsampling).
    random_state : int
    sklearn_version : str
        scikit-learn version that fitted the forest.
    """

    forest: Any
    classes: tuple
    sigmas: tuple
    intensity: bool = True
    edges: bool = True
    texture: bool = True
    n_training_voxels: tuple = ()
    random_state: int = 0
    sklearn_version: str = ""

    @property
    def halo_vox(self) -> int:
        """Slices each side a slab reads (:func:`feature_halo`)."""
        return feature_halo(self.sigmas)

    @property
    def n_features(self) -> int:
        """Features per voxel."""
        return len(self.sigmas) * (int(self.intensity) + int(self.edges) + 3 * int(self.texture))

    def features(self, volume) -> np.ndarray:
        """:func:`voxel_features` with this segmenter's settings."""
        return voxel_features(volume, self.sigmas, intensity=self.intensity, edges=self.edges,
                              texture=self.texture)


def _tiles(n: int, size: int):
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def _read(volume, z0, z1, y0, y1, x0, x1) -> np.ndarray:
    crop = volume[z0:z1, y0:y1, x0:x1]
    if hasattr(crop, "compute"):
        crop = crop.compute(scheduler="threads")
    return np.asarray(crop)


def block_features(segmenter_or_settings, volume, z0, z1, y0, y1, x0, x1) -> np.ndarray:
    """Features of the block ``[z0:z1, y0:y1, x0:x1]`` of a volume, read with the halo.

    Equal to the same block of the whole volume's :func:`voxel_features` (the filters see
    the volume's own faces where the halo is cut off)."""
    seg = segmenter_or_settings
    h = feature_halo(seg.sigmas)
    nz, ny, nx = (int(s) for s in volume.shape)
    a = (max(0, z0 - h), max(0, y0 - h), max(0, x0 - h))
    b = (min(nz, z1 + h), min(ny, y1 + h), min(nx, x1 + h))
    f = voxel_features(_read(volume, a[0], b[0], a[1], b[1], a[2], b[2]), seg.sigmas,
                       intensity=seg.intensity, edges=seg.edges, texture=seg.texture)
    return f[z0 - a[0]:z1 - a[0], y0 - a[1]:y1 - a[1], x0 - a[2]:x1 - a[2]]


@dataclass(frozen=True)
class _Settings:
    sigmas: tuple
    intensity: bool
    edges: bool
    texture: bool


def train_segmenter(volumes, label_volumes, classes: Sequence[str], *,
                    sigmas: Sequence[float] = DEFAULT_SIGMAS, intensity: bool = True,
                    edges: bool = True, texture: bool = True, n_estimators: int = 50,
                    max_depth: int | None = 12, min_samples_leaf: int = 2,
                    max_samples: int = 200_000, random_state: int = 0,
                    n_jobs: int = 1, slab_slices: int = 64, tile_px: int = 256,
                    ) -> TrainedSegmenter:
    """Train a random forest on the labelled voxels of one or more volumes.

    The labelled voxels (value >= 1) are listed in C order over all volumes, and
    ``max_samples`` of them drawn (seeded) when there are more; only the blocks of
    ``slab_slices`` x ``tile_px`` x ``tile_px`` voxels holding a drawn voxel have their
    features computed (read with the features' halo), so a few labelled planes of a large,
    lazily read volume cost little memory.  In a layered cell, planes across the layers (a
    few ``y`` or ``x`` = const planes) teach the forest every phase and interface; z-slices
    parallel to the layers miss the interfaces' mixed voxels.

    Parameters
    ----------
    volumes : sequence of (Z, Y, X) array_like, or one array
        Grey values (NumPy, Dask, Zarr: indexed by 3-D slices).
    label_volumes : sequence of (Z, Y, X) integer array_like, or one array
        Same grids; ``0`` (or negative) = unlabelled, ``k >= 1`` = ``classes[k - 1]``.
    classes : sequence of str
        Class names (see :attr:`TrainedSegmenter.classes`).
    sigmas, intensity, edges, texture
        Features (:func:`voxel_features`).
    n_estimators, max_depth, min_samples_leaf
        Of :class:`sklearn.ensemble.RandomForestClassifier`.
    max_samples : int
        Labelled voxels used at most; a uniform random subsample (seeded) beyond that, which
        keeps the labels' class proportions (the forest's probabilities follow them).
    random_state : int
        Seeds the subsample and the forest (same seed, same forest).
    n_jobs : int
        Threads fitting the trees (the fitted forest does not depend on it).
    slab_slices, tile_px : int
        Feature blocks (memory; the result does not depend on them).

    Returns
    -------
    TrainedSegmenter

    Raises
    ------
    InputError
        Shapes differ, a label value outside ``0 .. len(classes)``, a class without labelled
        voxels, or no labelled voxel at all.
    """
    import sklearn
    from sklearn.ensemble import RandomForestClassifier

    if hasattr(volumes, "shape") and len(getattr(volumes, "shape")) == 3:
        volumes, label_volumes = [volumes], [label_volumes]
    vols, labs = list(volumes), list(label_volumes)
    if len(vols) != len(labs) or not vols:
        raise InputError(f"train_segmenter: {len(vols)} volume(s) and {len(labs)} label "
                         "volume(s); give one label volume per volume")
    classes = tuple(str(c) for c in classes)
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise InputError(f"classes {list(classes)}: name at least 2 distinct classes (label "
                         "value k is classes[k - 1])")
    if len(classes) > 254:
        raise InputError(f"classes: {len(classes)} classes; at most 254")
    settings = _Settings(tuple(float(s) for s in sigmas), bool(intensity), bool(edges),
                         bool(texture))
    # 1. every labelled voxel: (volume, flat index) in C order, and its class
    where, ys = [], []
    for i, (v, l) in enumerate(zip(vols, labs)):
        vshape, lshape = tuple(v.shape), tuple(l.shape)
        if len(vshape) != 3 or vshape != lshape:
            raise InputError(f"label volume {i}: shape {lshape} differs from its volume's "
                             f"{vshape}; label the scan's own (z, y, x) grid")
        plane = vshape[1] * vshape[2]
        for z in range(vshape[0]):
            sl = np.asarray(l[z]).astype(np.int64).ravel()
            idx = np.flatnonzero(sl > 0)
            if idx.size == 0:
                continue
            if sl[idx].max() > len(classes):
                raise InputError(f"label volume {i}: value {int(sl[idx].max())} in slice {z} "
                                 f"but only {len(classes)} classes {list(classes)} (0 = "
                                 "unlabelled, k = classes[k - 1])")
            where.append(np.stack([np.full(idx.size, i), idx + z * plane], axis=1))
            ys.append(sl[idx] - 1)
    if not where:
        raise InputError("train_segmenter: the label volumes hold no labelled voxel (values "
                         ">= 1); label a few slices of every class")
    where = np.concatenate(where)
    y = np.concatenate(ys)
    counts = np.bincount(y, minlength=len(classes))
    missing = [c for c, n in zip(classes, counts) if n == 0]
    if missing:
        raise InputError(f"train_segmenter: class(es) {missing} have no labelled voxel; "
                         "label some voxels of every class, or drop the class")
    # 2. the seeded subsample
    rng = np.random.default_rng(int(random_state))
    if y.size > int(max_samples):
        keep = np.sort(rng.choice(y.size, int(max_samples), replace=False))
        where, y = where[keep], y[keep]
    counts = np.bincount(y, minlength=len(classes))
    # 3. features of the drawn voxels, block by block
    nf = len(settings.sigmas) * (int(intensity) + int(edges) + 3 * int(texture))
    x = np.empty((y.size, nf), np.float32)
    cz, t = max(1, int(slab_slices)), max(1, int(tile_px))
    for i, v in enumerate(vols):
        nz, ny, nx = (int(s) for s in v.shape)
        sel = np.flatnonzero(where[:, 0] == i)
        if sel.size == 0:
            continue
        zz, rem = np.divmod(where[sel, 1], ny * nx)
        yy, xx = np.divmod(rem, nx)
        block = (zz // cz) * 10**12 + (yy // t) * 10**6 + (xx // t)
        for b in np.unique(block):
            m = block == b
            z0, y0, x0 = int(zz[m][0] // cz * cz), int(yy[m][0] // t * t), int(xx[m][0] // t * t)
            f = block_features(settings, v, z0, min(nz, z0 + cz), y0, min(ny, y0 + t), x0,
                               min(nx, x0 + t))
            x[sel[m]] = f[zz[m] - z0, yy[m] - y0, xx[m] - x0]
    forest = RandomForestClassifier(n_estimators=int(n_estimators), max_depth=max_depth,
                                    min_samples_leaf=int(min_samples_leaf),
                                    random_state=int(random_state), n_jobs=int(n_jobs))
    forest.fit(x, y)
    forest.n_jobs = 1  # deterministic sums of the trees' probabilities
    log.info("train_segmenter: %d voxels (%s), %d features, %d trees", y.size,
             dict(zip(classes, counts.tolist())), x.shape[1], n_estimators)
    return TrainedSegmenter(forest=forest, classes=classes, sigmas=settings.sigmas,
                            intensity=intensity, edges=edges, texture=texture,
                            n_training_voxels=tuple(int(c) for c in counts),
                            random_state=int(random_state), sklearn_version=sklearn.__version__)


# --------------------------------------------------------------------------- prediction

@dataclass(frozen=True)
class ForestPrediction:
    """Class probabilities and labels of a volume.

    Attributes
    ----------
    probability : (C, Z, Y, X) ndarray of float32
        Probability of every class of :attr:`TrainedSegmenter.classes` (sums to 1).
    labels : (Z, Y, X) ndarray of uint8
        Most probable class (index into ``classes``).
    """

    probability: np.ndarray
    labels: np.ndarray


def _proba(seg: TrainedSegmenter, feats: np.ndarray) -> np.ndarray:
    shp = feats.shape[:-1]
    p = seg.forest.predict_proba(feats.reshape(-1, feats.shape[-1]))
    out = np.zeros((len(seg.classes),) + shp, np.float32)
    for j, c in enumerate(seg.forest.classes_):
        out[int(c)] = p[:, j].reshape(shp)
    return out


def predict_slab(segmenter: TrainedSegmenter, volume, z0: int, z1: int, *,
                 tile_px: int | None = 256) -> np.ndarray:
    """Class probabilities of slices ``[z0, z1)``, in (y, x) tiles read with the halo.

    Parameters
    ----------
    segmenter : TrainedSegmenter
    volume : (Z, Y, X) array_like
        Indexed by 3-D slices (NumPy, Zarr, Dask).
    z0, z1 : int
    tile_px : int, optional
        (y, x) tile edge (memory: about ``200 (z1 - z0 + 2 halo) (tile_px + 2 halo)^2``
        bytes per tile); None: whole planes.  The result does not depend on it.

    Returns
    -------
    (C, z1 - z0, Y, X) ndarray of float32
    """
    nz, ny, nx = (int(s) for s in volume.shape)
    z0, z1 = max(0, int(z0)), min(nz, int(z1))
    out = np.zeros((len(segmenter.classes), z1 - z0, ny, nx), np.float32)
    ty = ny if not tile_px else int(tile_px)
    tx = nx if not tile_px else int(tile_px)
    for y0, y1 in _tiles(ny, ty):
        for x0, x1 in _tiles(nx, tx):
            out[:, :, y0:y1, x0:x1] = _proba(
                segmenter, block_features(segmenter, volume, z0, z1, y0, y1, x0, x1))
    return out


def predict_proba(segmenter: TrainedSegmenter, volume, *, chunk_slices: int | None = None,
                  tile_px: int | None = 256) -> ForestPrediction:
    """Class probabilities and labels of a whole volume, computed slab by slab.

    Parameters
    ----------
    segmenter : TrainedSegmenter
    volume : (Z, Y, X) array_like
    chunk_slices : int, optional
        Slices per slab (each read with ``halo_vox`` more on both sides); default all.
    tile_px : int, optional
        (y, x) tiles of a slab (:func:`predict_slab`).  The result depends on neither.

    Returns
    -------
    ForestPrediction
    """
    import dask

    nz = int(volume.shape[0])
    cz = nz if not chunk_slices else max(1, min(nz, int(chunk_slices)))
    bounds = [(z, min(nz, z + cz)) for z in range(0, nz, cz)]
    parts = dask.compute(*[dask.delayed(predict_slab)(segmenter, volume, a, b, tile_px=tile_px)
                           for a, b in bounds], scheduler="threads")
    p = np.concatenate(parts, axis=1)
    return ForestPrediction(probability=p, labels=np.argmax(p, axis=0).astype(np.uint8))


def predict_dask(segmenter: TrainedSegmenter, volume):
    """Lazy class probabilities of a Dask volume, one task per z-chunk.

    Each task reads its chunk plus ``halo_vox`` slices each side (:func:`predict_slab`;
    the overlap of ``dask.array.map_overlap`` along z with the features' footprint).

    Parameters
    ----------
    segmenter : TrainedSegmenter
    volume : (Z, Y, X) dask.array.Array
        Its z-chunks become the tasks.

    Returns
    -------
    (C, Z, Y, X) dask.array.Array of float32
        Equal to :func:`predict_proba`'s ``probability``.
    """
    import dask
    import dask.array as da

    v = da.asarray(volume)
    nc = len(segmenter.classes)
    blocks, z = [], 0
    for cz in v.chunks[0]:
        blocks.append(da.from_delayed(dask.delayed(predict_slab)(segmenter, v, z, z + cz),
                                      shape=(nc, cz) + tuple(v.shape[1:]), dtype=np.float32))
        z += cz
    return da.concatenate(blocks, axis=1)


# --------------------------------------------------------------------------- persistence

def save_segmenter(segmenter: TrainedSegmenter, path) -> Path:
    """Write a trained segmenter (joblib pickle; see :func:`load_segmenter` for the caveat).

    Returns
    -------
    Path
    """
    import joblib

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": _FORMAT, "format_version": _FORMAT_VERSION,
               "sklearn_version": segmenter.sklearn_version,
               "fields": {k: getattr(segmenter, k) for k in (
                   "forest", "classes", "sigmas", "intensity", "edges", "texture",
                   "n_training_voxels", "random_state", "sklearn_version")}}
    joblib.dump(payload, p, compress=3)
    return p


def load_segmenter(path, *, allow_version_mismatch: bool = False) -> TrainedSegmenter:
    """Read a segmenter written by :func:`save_segmenter`.

    **Trust**: the file is a pickle; loading it runs code the file names.  Load only models
    you trained or received from a source you trust (like running their script).

    Parameters
    ----------
    path : str or Path
    allow_version_mismatch : bool
        Load a model written by another scikit-learn version (its predictions may differ).

    Returns
    -------
    TrainedSegmenter

    Raises
    ------
    InputError
        Not a saved segmenter, or written by another scikit-learn version.
    """
    import joblib
    import sklearn

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such segmenter file (written by "
                         "ssbscope.tomo.trainable.save_segmenter)")
    try:
        payload = joblib.load(p)
    except Exception as exc:
        raise InputError(f"{p}: not a saved segmenter ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise InputError(f"{p}: not a segmenter saved by ssbscope.tomo.trainable.save_segmenter")
    if payload.get("format_version") != _FORMAT_VERSION:
        raise InputError(f"{p}: segmenter format {payload.get('format_version')}, this "
                         f"ssbscope reads {_FORMAT_VERSION}; retrain it")
    ver = payload.get("sklearn_version")
    if ver != sklearn.__version__ and not allow_version_mismatch:
        raise InputError(f"{p}: written by scikit-learn {ver}, this is {sklearn.__version__}; "
                         "retrain the segmenter (or load with allow_version_mismatch=True and "
                         "accept that its predictions may differ)")
    return TrainedSegmenter(**payload["fields"])


def read_label_volume(path, *, dataset: str | None = None):
    """A label volume of user-labelled voxels (0 = unlabelled, k = class k).

    Formats: ``.npy`` (memory-mapped), ``.tif``/``.tiff`` (one multi-page stack, or a folder
    of one TIFF per slice, sorted by name), ``.zarr`` (an array, or ``dataset`` in a group;
    default the group's first array), ``.h5``/``.hdf5`` (``dataset``, default the first 3-D
    dataset).

    Returns
    -------
    (Z, Y, X) array_like of integers
        Indexable by z-slices (NumPy, memory map or Zarr array).

    Raises
    ------
    InputError
        Unknown suffix, not 3-D, or not integer-valued.
    """
    p = Path(path)
    suf = p.suffix.lower()
    if not p.exists():
        raise InputError(f"{p}: label volume not found")
    if suf == ".npy":
        arr = np.load(p, mmap_mode="r")
    elif suf in (".tif", ".tiff") or (p.is_dir() and suf != ".zarr"):
        import tifffile

        if p.is_dir():
            files = sorted(list(p.glob("*.tif")) + list(p.glob("*.tiff")))
            if not files:
                raise InputError(f"{p}: folder holds no .tif/.tiff slice")
            arr = np.stack([tifffile.imread(f) for f in files])
        else:
            arr = tifffile.imread(p)
    elif suf == ".zarr":
        import zarr

        z = zarr.open(str(p), mode="r")
        if hasattr(z, "shape"):
            arr = z
        else:
            names = [dataset] if dataset else [k for k, _ in z.arrays()]
            if not names:
                raise InputError(f"{p}: Zarr group holds no array; give its label array")
            arr = z[names[0]]
    elif suf in (".h5", ".hdf5"):
        import h5py

        with h5py.File(p, "r") as f:
            if dataset:
                arr = np.asarray(f[dataset])
            else:
                found = []
                f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset)
                             and o.ndim == 3 else None)
                if not found:
                    raise InputError(f"{p}: no 3-D dataset; give the label dataset's path")
                arr = np.asarray(f[found[0]])
    else:
        raise InputError(f"{p}: label volume format {suf!r} unknown; use .npy, .tif/.tiff, "
                         ".zarr or .h5")
    if len(arr.shape) != 3:
        raise InputError(f"{p}: label volume of shape {tuple(arr.shape)}; expected (z, y, x)")
    if np.dtype(arr.dtype).kind not in "iub":
        raise InputError(f"{p}: label volume of dtype {arr.dtype}; labels are integers "
                         "(0 = unlabelled, k = classes[k - 1])")
    return arr


# --------------------------------------------------------------------------- phases, sums

def phase_map(classes: Sequence[str], phases: Sequence[str], undeclared: int = 255,
              ) -> np.ndarray:
    """Phase index of every forest class: a declared material's index in ``phases``
    (darkest first), :data:`VOID` -> 0 (the darkest phase holds pores, cracks and air),
    :data:`UNDECLARED_CLASS` -> ``undeclared``.

    Raises
    ------
    InputError
        A class that is neither, or a declared phase no class maps to.
    """
    phases = list(phases)
    out = []
    for c in classes:
        if c in phases:
            out.append(phases.index(c))
        elif c == VOID:
            out.append(0)
        elif c == UNDECLARED_CLASS:
            out.append(int(undeclared))
        else:
            raise InputError(f"segmentation classes: {c!r} is neither a declared material "
                             f"{phases}, {VOID!r} (pores/cracks/air) nor {UNDECLARED_CLASS!r}")
    miss = [p for i, p in enumerate(phases) if i not in out]
    if miss:
        raise InputError(f"segmentation classes {list(classes)}: no class for the declared "
                         f"material(s) {miss}; label voxels of every declared material")
    return np.asarray(out, np.int64)


@dataclass(frozen=True)
class ProbabilitySums:
    """Per-slice sums of the phases' probabilities (the uncertainties' raw material).

    Attributes
    ----------
    p_cell : (n_phases, Z) ndarray
        Sum of each phase's probability ``p`` over the cell's columns
        (:attr:`CellRegion.mask`) of every slice.
    pl_cell : (n_phases, Z) ndarray
        Sum of ``p`` over the voxels labelled with the phase.
    n_cell : (n_phases, Z) ndarray
        Voxels labelled with the phase (hard labels).
    p_inner, pl_inner, n_inner : (n_phases, Z) ndarray
        The same over the inner columns (:attr:`CellRegion.inner`).
    inner_columns : int
        Columns of :attr:`CellRegion.inner`.
    """

    p_cell: np.ndarray
    pl_cell: np.ndarray
    n_cell: np.ndarray
    p_inner: np.ndarray
    pl_inner: np.ndarray
    n_inner: np.ndarray
    inner_columns: int = 0


_SUM_FIELDS = ("p_cell", "pl_cell", "n_cell", "p_inner", "pl_inner", "n_inner")


def phase_probability(class_proba: np.ndarray, cmap: np.ndarray, n_phases: int) -> np.ndarray:
    """``(n_phases, ...)`` probabilities: the classes' summed per declared phase."""
    out = np.zeros((n_phases,) + class_proba.shape[1:], np.float32)
    for c, p in enumerate(cmap):
        if 0 <= p < n_phases:
            out[p] += class_proba[c]
    return out


def probability_sums(phase_proba: np.ndarray, labels: np.ndarray, cell, inner,
                     ) -> ProbabilitySums:
    """:class:`ProbabilitySums` of a slab (or volume).

    Parameters
    ----------
    phase_proba : (n_phases, Z, Y, X) ndarray
    labels : (Z, Y, X) ndarray
        Phase index of every voxel (the hard labels measured).
    cell, inner : (Y, X) ndarray of bool
    """
    n = phase_proba.shape[0]
    out = {}
    for nm, fp in (("cell", cell), ("inner", inner)):
        fp = np.asarray(fp, bool)
        pp = phase_proba[:, :, fp].astype(np.float64)  # (n, Z, K)
        lab = labels[:, fp]
        own = np.stack([lab == k for k in range(n)])
        out[f"p_{nm}"] = pp.sum(axis=2)
        out[f"pl_{nm}"] = np.where(own, pp, 0.0).sum(axis=2)
        out[f"n_{nm}"] = own.sum(axis=2).astype(np.float64)
    return ProbabilitySums(**out, inner_columns=int(np.count_nonzero(inner)))


def concat_sums(parts: Sequence[ProbabilitySums]) -> ProbabilitySums:
    """Join the sums of consecutive slabs along z."""
    return ProbabilitySums(**{f: np.concatenate([getattr(p, f) for p in parts], axis=1)
                              for f in _SUM_FIELDS}, inner_columns=parts[0].inner_columns)


@dataclass(frozen=True)
class SegmentationUncertainty:
    """Volume and thickness uncertainties of one scan from the forest's probabilities.

    Definitions, for a phase with probability ``p`` per voxel (classes of one phase summed),
    voxel volume ``v`` and voxel size ``s``, over the declared stack's slices and the cell's
    columns:

    - expected volume ``E = v sum p``; the measured (hard-label) volume ``V = n v`` counts
      the voxels whose most probable phase it is;
    - uncertainty ``U = v (sum_{labelled} (1 - p) + sum_{not labelled} p)``: the expected
      volume of voxels assigned wrongly with respect to the phase, if the probabilities are
      calibrated.  The volume error is the difference of wrong voxels in and out, so
      ``|V - V_true| <= U`` in expectation whatever the errors' correlation (errors along
      an interface move together; independent voxels would give the much smaller
      ``v sqrt(sum p (1 - p))``, which the twin's errors exceed).  ``U >= |V - E|``.

    For each layer the same over its majority band widened by ``margin_vox`` slices each side
    and the inner columns, divided by their area: the probability-weighted mean thickness
    ``E_t = s sum p / A`` (columns' expected voxel counts) and ``U_t`` of the mean thickness
    (µm), the segmentation's part (the interface heights' sub-voxel interpolation, which
    gives ``thickness_mean_um`` where both bounding interfaces exist, is not in it).

    Attributes
    ----------
    volume_expected_um3, volume_unc_um3 : dict
        Phase -> ``E``, ``U`` (µm^3).
    thickness_mean_expected_um, thickness_mean_unc_um : dict
        Layer -> ``E_t``, ``U_t`` (µm); NaN for an absent layer.
    """

    volume_expected_um3: dict
    volume_unc_um3: dict
    thickness_mean_expected_um: dict
    thickness_mean_unc_um: dict


def _misassigned(n, e, pl):
    """Expected wrongly assigned voxels: ``sum_L (1 - p) + sum_notL p = n + e - 2 pl``."""
    return max(0.0, float(n) + float(e) - 2.0 * float(pl))


def segmentation_uncertainty(sums: ProbabilitySums, location, layers, phases: Sequence[str],
                             voxel_size_um: float, margin_vox: int = 2,
                             ) -> SegmentationUncertainty:
    """:class:`SegmentationUncertainty` of a scan from its :class:`ProbabilitySums`.

    Parameters
    ----------
    sums : ProbabilitySums
    location : ssbscope.tomo.series.LayerLocation
    layers : sequence of layers
    phases : sequence of str
        Materials, darkest first (``PhaseOrder.phases``).
    voxel_size_um : float
    margin_vox : int
        Slices added on each side of a layer's band.
    """
    from ssbscope.tomo.series import as_layers

    vs = float(voxel_size_um)
    v3 = vs ** 3
    z0s, z1s = location.stack_vox
    ev, uv = {}, {}
    for i, ph in enumerate(phases):
        sl = np.s_[i, z0s:z1s]
        e = float(sums.p_cell[sl].sum())
        ev[ph] = e * v3
        uv[ph] = _misassigned(sums.n_cell[sl].sum(), e, sums.pl_cell[sl].sum()) * v3
    nz = sums.p_inner.shape[1]
    area = float(sums.inner_columns)
    te, ts = {}, {}
    for la in as_layers(layers):
        b = location.band(la.name)
        if b is None or area <= 0:
            te[la.name] = ts[la.name] = float("nan")
            continue
        i = list(phases).index(la.material)
        sl = np.s_[i, max(0, b[0] - margin_vox):min(nz, b[1] + margin_vox)]
        e = float(sums.p_inner[sl].sum())
        te[la.name] = e * vs / area
        ts[la.name] = _misassigned(sums.n_inner[sl].sum(), e, sums.pl_inner[sl].sum()) * vs / area
    return SegmentationUncertainty(volume_expected_um3=ev, volume_unc_um3=uv,
                                   thickness_mean_expected_um=te, thickness_mean_unc_um=ts)


# --------------------------------------------------------------------------- series scans

def _phase_labels(class_proba: np.ndarray, cmap: np.ndarray, n_phases: int):
    """Phase probabilities and hard phase labels (undeclared classes -> 255) of a slab.

    The label is the most probable *phase* (classes mapped to one phase summed), undeclared
    where the undeclared classes together outweigh every phase."""
    from ssbscope.tomo.series import UNDECLARED

    pp = phase_probability(class_proba, cmap, n_phases)
    und = np.zeros(class_proba.shape[1:], np.float32)
    for c, p in enumerate(cmap):
        if not 0 <= p < n_phases:
            und += class_proba[c]
    best = np.argmax(pp, axis=0)
    lab = np.where(und > np.max(pp, axis=0), UNDECLARED, best).astype(np.uint8)
    return pp, lab


def forest_segmentation(segmenter: TrainedSegmenter, order, location) -> Any:
    """The :class:`~ssbscope.tomo.series.PhaseSegmentation` record of a forest segmentation:
    one "class" per forest class, mapped to its phase, no grey thresholds (NaN: the series
    then takes its low-attenuation voxels from the labels, not from a grey threshold)."""
    from ssbscope.tomo.series import UNDECLARED, PhaseSegmentation

    cmap = phase_map(segmenter.classes, order.phases, UNDECLARED)
    return PhaseSegmentation(labels=None, phases=order.phases,
                             class_thresholds=(float("nan"),) * (len(cmap) - 1),
                             class_phase=tuple(int(c) for c in cmap), location=location)


def forest_segment_scan(volume, segmenter: TrainedSegmenter, layers, order, region,
                        voxel_size_um: float, *, opening_radius_vox: int = 0,
                        chunk_slices: int | None = None):
    """Segment one scan with a trained forest and locate the declared layers.

    The in-memory counterpart of :func:`ssbscope.tomo.series.segment_scan`: labels are the
    most probable phase of every voxel (:func:`phase_map`), optionally opened as there; the
    layers are located from the labels (:func:`ssbscope.tomo.series.locate_layers`).

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
        Unfiltered grey values (the features smooth).
    segmenter : TrainedSegmenter
    layers, order, region, voxel_size_um, opening_radius_vox
        As :func:`~ssbscope.tomo.series.segment_scan`.
    chunk_slices : int, optional
        Slab size of the prediction (the result does not depend on it).

    Returns
    -------
    seg : PhaseSegmentation
    sums : ProbabilitySums
    """
    import dataclasses

    from ssbscope.tomo.segment import _open_phases
    from ssbscope.tomo.series import UNDECLARED, _phase_fractions, _slice_grey_medians

    n = len(order.phases)
    rec = forest_segmentation(segmenter, order, None)
    cmap = np.asarray(rec.class_phase)
    pred = predict_proba(segmenter, volume, chunk_slices=chunk_slices)
    pp, labels = _phase_labels(pred.probability, cmap, n)
    if opening_radius_vox:
        und = labels == UNDECLARED
        labels = np.where(und, UNDECLARED, _open_phases(np.where(und, 0, labels), n,
                                                        int(opening_radius_vox))).astype(np.uint8)
    sums = probability_sums(pp, labels, region.mask, region.inner)
    frac = _phase_fractions(labels, n, region.inner)
    loc = locate_forest_layers(
        frac, layers, order, voxel_size_um, "forest_segment_scan",
        slice_medians=lambda: _slice_grey_medians(labels, volume, region.inner, n))
    return dataclasses.replace(rec, labels=labels, location=loc), sums


def locate_forest_layers(frac, layers, order, voxel_size_um: float, who: str, *,
                         slice_medians=None):
    """The declared layers along z from the forest's phase fractions per slice (the threshold
    path's :func:`ssbscope.tomo.series._locate_from_fractions`), with an error that points at
    the training labels.

    ``slice_medians``: optional callable returning the (n_phases + 1, Z) per-slice median
    grey values of each phase's voxels (:func:`ssbscope.tomo.series._slice_grey_medians`);
    with it a short undeclared band (at most 16 slices) whose grey level lies between its
    two neighbouring layers' levels is skipped as their interface's ramp, the rule of
    :func:`ssbscope.tomo.series.locate_layers`
    (:func:`ssbscope.tomo.series._undeclared_band_ranks`).
    The forest's class map is in the training's class order, not grey order, so it never
    gives the band's level."""
    from ssbscope.errors import EmptyResultError
    from ssbscope.tomo.series import _locate_from_fractions, _undeclared_band_ranks

    rank = _undeclared_band_ranks(frac, len(order.phases), slice_medians=slice_medians)
    try:
        loc = _locate_from_fractions(frac, layers, order, voxel_size_um, rank=rank)
    except EmptyResultError as exc:
        raise EmptyResultError(f"random-forest segmentation: {exc}; check the training "
                               "labels (classes and slices) against cell.layers") from None
    log.info("%s: layers %s", who,
             {nm: (a, b) for nm, a, b, ok in zip(loc.names, loc.z0_vox, loc.z1_vox, loc.present)
              if ok})
    return loc
