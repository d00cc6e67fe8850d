"""Pipeline stages reading an experiment's real XCS inputs (``ssbscope run``), 000_290f30815ae66793.

Each ``inputs.compton`` entry of the experiment file becomes one stage
``compton.input.<label>`` that

1. reads the file, by ``format`` (``auto`` looks at the content):

   * ``events``: an ssbscope event file (``.ssbevt``, :mod:`ssbscope.compton.events`), streamed
     in chunks of whole frames, values in keV or pulse heights (ADU);
   * ``hexitec-raw``: a raw HEXITEC 80 x 80 science stream (:func:`read_hexitec_raw`); hits
     are found by :func:`frames_to_events` (per-pixel baseline, common mode,
     ``threshold_sigma`` robust noise sigmas); values are ADU;
   * ``cube``: an already binned spectral cube ``(row, col, energy)`` in keV: ``.npz``
     (``counts`` or ``cube``, with ``energy_edges_kev`` or ``energy_kev``), HDF5
     (``dataset`` or the first of ``counts``/``cube``/``data``, energies from a sibling
     ``energy_edges_kev``/``energy_kev`` dataset or the dataset's attributes), or a Zarr
     store written by xarray (variable ``counts`` with an ``energy_kev`` coordinate, such as
     ``compton/input/<label>/cube`` of an earlier run);

2. converts pulse heights to energy, ``E = gain * ADU + offset`` (keV), with the per-pixel
   calibration of ``calibration:`` (an ``.npz`` holding ``gain_kev_per_unit`` and
   ``offset_kev``, e.g. saved from :func:`ssbscope.compton.calibrate_pixels`, optionally
   ``pixel_mask``) or the global ``gain_kev_per_adu``/``offset_kev`` of the input.  A HEXITEC
   ground-support calibration table (``.dat``: ``caloffset`` and 80 x 80 offsets, ADU) is
   accepted as ``calibration:`` of a raw stream: it is added to rows sent in processed mode,
   as the ground-support software does, but holds no keV scale, so ``gain_kev_per_adu`` is
   still needed.  ADU data without a keV scale are refused (never binned on a guessed scale);

3. bins the events with :func:`events_to_cube` (charge-sharing discrimination "discard",
   8-connectivity, by default), masks dead and noisy pixels (:func:`find_bad_pixels`) when
   the exposure has enough counts per pixel for the test (median >= ``MIN_COUNTS_FOR_MASK``),
   and stores ``compton/input/<label>/cube`` (counts per pixel and 0.2 keV bin);

4. sums the good pixels into the whole-detector spectrum and computes the EMF (Eqs. 3-5)
   with its propagated counting uncertainty when a Compton peak is found near
   ``E_C(e_incident_kev, angle_deg)``; otherwise the EMF is NaN and the reason is stored
   (``compton/input/<label>/spectrum``).  The windows are ``analysis.compton``'s;

5. optionally corrects the detector:

   * per-pixel scattering angle: with the pinhole geometry (``sample_to_pinhole_mm``,
     ``pinhole_to_detector_mm``, ``pixel_pitch_mm``; :func:`pinhole_angle_map_deg`) or an
     ``angle_map`` file, every good pixel is re-binned to the nominal angle at equal p_z
     (:func:`ssbscope.compton.regions.align_to_angle`, Eq. 2) before the sum; without it the
     Compton peaks of pixels up to 4 degrees off the nominal angle are summed unaligned;
   * low-energy tail: the ``flood`` (Am-241, same formats, processed with the input's
     calibration and charge-sharing discrimination) gives the line response
     (:func:`ssbscope.compton.electron_momentum.fit_line_response`) that ``emf(...,
     response=...)`` removes; a flood whose line cannot be fitted makes the EMF NaN (with
     the reason) rather than biased;
   * efficiency of the CdZnTe sensor (``efficiency_correction``, on with a flood by
     default; ``sensor_thickness_mm``).

   The spectrum's attributes say what was applied (``detector_corrections``,
   ``angle_alignment``, ``tail_correction``, ``tail_fraction``, ``efficiency_correction``),
   including "none" with the reason when no geometry or flood was given.  On the Li anode of
   the XCS twin with the full HEXITEC model (one seed, 2e5 photons) the EMF is 37 % below the
   resolution-broadened truth uncorrected, 30 % with the alignment alone, 14 % with tail and
   efficiency alone, and within 0.5 % with all three.

Counts kept and discarded (outside the energy range, charge sharing, masked pixels) and the
event rate (when the frame rate is known) are attributes of the cube.

Operando series: the inputs of one ``series`` (default "xcs") that give ``beam_height_um``
(sheet centre above the bottom of the cell stack, z = 0 of ``cell.layers`` and of the CT
volume) become one more stage ``compton.series.<series>`` reading their cubes and spectra:

* pixels good in every exposure (and within ``analysis.compton.mask_radius_mm`` of the axis
  with the pinhole geometry) are angle-aligned and summed, per exposure and per block of
  ``emf_map_block_px`` pixels;
* each exposure's detector correction (flood tail, efficiency) enters its EMF window
  coefficients (:func:`ssbscope.compton.series.window_coefficients`);
* the sheet fractions of the components (``analysis.compton.components``, default the layers
  the sheet crosses) come from the declared layer thicknesses (with each input's
  ``layer_thickness_um``; ``beam_thickness_um`` top hat) or, with ``ct_series: <ct>`` (the
  XCS-CT correlation), from the segmented CT scan of the same state (``tomo/<ct>/labels``, a
  stage input; matched by ``state`` name, else the nearest ``time_s``): its volume, placed
  ``ct_z_offset_um`` above z = 0 of the cell, or registered from the data: on an interface it
  measures (``ct_register_interface``: the mean of its height map in ``tomo/<ct>/maps`` at its
  declared height; :func:`ssbscope.compton.correlate.register_on_interface`; by default the
  first of ``analysis.tomo.interfaces`` both cells declare) or on a layer's bottom
  (``ct_register_layer``, ``layer_z_vox``), measured on the first scan for every state
  (``ct_register_scans: first``) or on each state's matched scan (``each``), is seen
  through the pinhole camera at each sheet height
  (:func:`ssbscope.compton.correlate.ct_component_fractions`, :func:`ct_to_detector`); each
  component is its CT phases (``ct_phases``, default its layer's material), a layer the CT
  does not resolve is carved out of its host (``ct_within``), and the sheet outside a
  region-of-interest CT takes the declared layers (``compton/<series>/ct_fractions``: CT and
  declared fractions, phase fractions, per-pixel fractions, coverage, z offset, scan time);
* per state, the exposures at the different heights are unmixed and the EMF of each component
  computed with its exactly propagated counting uncertainty
  (:func:`ssbscope.compton.series.unmix_emf`), block by block for the maps, and converted to
  Li content when ``reference_points`` are given.

``emf_unc`` (spectrum, series, maps and the radial profile) is
``hypot(emf_unc_counting, emf_unc_tail)``: the counting
error and the flood's tail-fit error, ``emf_unc_tail = sqrt(g^T cov_w g)`` with ``g`` the
EMF's derivative over the flood's tail weights ``w`` and ``cov_w`` their covariance from
the fit (central differences along its eigen-directions,
:func:`ssbscope.compton.electron_momentum.weight_perturbations`; one flood moves every
exposure corrected with it together).  A flood whose tail cannot be measured (not resolved,
no line, more than half in the tail) gives, in both stages, a warning naming the flood, the
reason (``tail_correction`` of the spectrum, ``tail_not_resolved`` per state of the series)
and no EMF (NaN) for the exposure / its state, not an EMF biased low by the tail.

It writes ``compton/<series>/emf`` (``emf``, ``emf_unc`` on state x component, ``time_s`` a
coordinate of ``state``; ``emf_position``, ``fraction``, ``beam_height_um``, ``x``/``x_unc``),
``compton/<series>/maps`` (``emf``, ``emf_unc`` on state x component x block_row x block_col;
with the pinhole geometry ``y_mm``/``x_mm``, the block centres in the sheet from the cell axis,
and ``block_size_mm``; with the geometry ``emf`` and ``emf_unc`` are OME-Zarr images that
napari opens with the block size as scale: state -> t (``time_s``), component -> c)
``compton/<series>/spectra`` (aligned exposure spectra, unmixed component spectra) and
``compton/<series>/profiles`` (Compton profiles J(p_z) of the unmixed components).  On
the twin's series (:func:`ssbscope.twin.xcs_series.write_xcs_series`, full HEXITEC model,
3 states x 4 heights, 4 components with the anode/SPE interphase, 1.6e6 photons per exposure,
two seeds) every component EMF is within 2.9 sigma of the resolution-broadened truth (bulk
anode +-0.6 %, interphase +-4-5 %, cathode +-1-7 %, SPE +-4-30 %); the interphase's +7 % rise
on charge is a 1-1.5 sigma effect at that fluence (measured +11 +- 7 and +15 +- 7 %;
benchmarks/accuracy_xcs_000.py).  With ``flood_tail_scaling: charge_sharing`` (its tail is
charge shared below a neighbour's threshold), seed 0 gave the bulk Li anode +0.0, +0.4,
-1.5 % (z +0.0, +0.5, -2.1; chi2 of the 12 z-scores 8.4) where the tail kept the same in keV
gave +1.5, +1.8, -0.1 % (z +1.9, +2.3, -0.1; chi2 12.8).  The twin's YAML now says ``auto``
(the default), and its flood (with Am-241's 26.34 keV line) makes that choose
``charge_sharing`` (:func:`ssbscope.compton.electron_momentum.choose_tail_scaling`).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np

from ssbscope.errors import (
    DataQualityError,
    EmptyResultError,
    FileFormatError,
    InputError,
    ParameterError,
    UnsupportedFormatError,
)
from ssbscope.store import attr_list as _as_list

__all__ = ["MIN_COUNTS_FOR_MASK", "input_stages", "pinhole_angle_map_deg", "read_angle_map", "read_calibration",
           "spectrum_emf"]

log = logging.getLogger(__name__)

#: Median counts per pixel needed before dead/noisy pixels are flagged (below it the Poisson
#: scatter of an honest pixel reaches the dead threshold of 5 % of the median).
MIN_COUNTS_FOR_MASK = 50.0

_HEXITEC_CALTABLE_WORDS = 1 + 80 * 80


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")
    return s or "input"


# ----------------------------------------------------------------------------- formats
def _detect_format(path: Path, field: str = "path") -> str:
    """``events``, ``hexitec-raw`` or ``cube`` from a file's content and name (``field`` for messages)."""
    from ssbscope.compton.events import MAGIC
    from ssbscope.compton.hexitec import SYNC_START

    if not path.exists():
        raise FileFormatError(path, "does not exist", f"check inputs.compton[].{field}")
    name = path.name.lower()
    if path.is_dir():
        if name.endswith(".zarr") or (path / "zarr.json").exists() or (path / ".zgroup").exists():
            return "cube"
        raise UnsupportedFormatError(path, "is a folder but not a Zarr store",
                                     "give an event file, a raw HEXITEC stream or a cube")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == MAGIC:
        return "events"
    if name.endswith((".npz", ".h5", ".hdf5", ".nxs", ".npy")):
        return "cube"
    if len(head) >= 4 and (int.from_bytes(head[:4], "little") & 0xFFFF) == SYNC_START:
        return "hexitec-raw"
    raise UnsupportedFormatError(path, "is neither an ssbscope event file (magic SSBEVT), a raw "
                                 "HEXITEC stream (first word 0xFE6B) nor a cube (.npz/.h5/.zarr)",
                                 f"set {'format' if field == 'path' else field + '_format'}: in the "
                                 "experiment file or convert the file")


# What numpy raises on a damaged .npy / .npz (a cut zip, a cut header, a broken header dict):
# each becomes one FileFormatError naming the file.
def _npy_errors():
    import tokenize
    import zipfile
    return (OSError, ValueError, EOFError, SyntaxError, zipfile.BadZipFile, tokenize.TokenError)


def read_calibration(path) -> dict:
    """Read an energy calibration file for ADU data.

    Parameters
    ----------
    path : str or Path
        ``.npz`` with ``gain_kev_per_unit`` (or ``gain_kev_per_adu``) and ``offset_kev``
        (80 x 80 or scalars) and optionally ``pixel_mask`` (True = good pixel); or a HEXITEC
        ground-support calibration table (``.dat``, 6,401 int32 words: ``caloffset`` and
        80 x 80 offsets in ADU).

    Returns
    -------
    dict
        ``kind`` ("per-pixel" or "hexitec-caltable"), ``gain_kev_per_unit``, ``offset_kev``,
        ``pixel_mask`` (None where absent) and, for a table, ``caltable`` ``(caloffset,
        table)``.

    Raises
    ------
    FileFormatError
        Missing file, or neither layout.
    """
    from ssbscope.compton.hexitec import read_hexitec_caltable

    p = Path(path)
    if not p.is_file():
        raise FileFormatError(p, "calibration file does not exist",
                              "check inputs.compton[].calibration (relative to the experiment file)")
    if p.name.lower().endswith(".npz"):
        try:
            with np.load(p, allow_pickle=False) as z:
                keys = set(z.files)
                gk = "gain_kev_per_unit" if "gain_kev_per_unit" in keys else (
                    "gain_kev_per_adu" if "gain_kev_per_adu" in keys else None)
                gain = np.asarray(z[gk], float) if gk else None
                off = np.asarray(z["offset_kev"], float) if "offset_kev" in keys else None
                mask = np.asarray(z["pixel_mask"], bool) if "pixel_mask" in keys else None
        except _npy_errors() as e:
            raise FileFormatError(p, f"cannot be read as .npz ({e})") from None
        if gain is None and mask is None:
            raise FileFormatError(p, f"holds {sorted(keys)}, no gain_kev_per_unit/offset_kev or pixel_mask",
                                  "save the per-pixel calibration with np.savez(path, gain_kev_per_unit=..., "
                                  "offset_kev=...)")
        if gain is not None:
            if off is None:
                off = np.zeros_like(gain)
            from ssbscope.compton.hexitec import check_energy_scale

            try:
                check_energy_scale(gain, off, source=str(p), gain_field=gk)
            except ValueError as err:  # a shape mismatch of gain and offset too
                raise FileFormatError(p, str(err).split(f"{p}: ", 1)[-1]) from None
        return {"kind": "per-pixel", "gain_kev_per_unit": gain, "offset_kev": off, "pixel_mask": mask,
                "caltable": None}
    if p.stat().st_size == 4 * _HEXITEC_CALTABLE_WORDS:
        return {"kind": "hexitec-caltable", "gain_kev_per_unit": None, "offset_kev": None,
                "pixel_mask": None, "caltable": read_hexitec_caltable(p)}
    raise FileFormatError(p, f"is not a calibration file ({p.stat().st_size} bytes): neither an .npz "
                          "with gain_kev_per_unit/offset_kev nor a HEXITEC 80 x 80 calibration table",
                          "give an .npz from calibrate_pixels() or the HEXITEC CalTable .dat")


def _energy_scale(path, value_unit, cal, gain_kev_per_adu, offset_kev, n_rows, n_cols):
    """(gain, offset, description) for the binning; raises for ADU data without a keV scale."""
    has_pp = cal is not None and cal["gain_kev_per_unit"] is not None
    if value_unit == "keV":
        if has_pp or gain_kev_per_adu is not None:
            raise InputError(f"{path}: values are energies in keV already; remove the gain "
                             "(calibration gain_kev_per_unit / gain_kev_per_adu) from this input")
        return None, None, "energies (keV) from the file"
    if has_pp:
        g = np.broadcast_to(cal["gain_kev_per_unit"], (n_rows, n_cols))
        o = np.broadcast_to(cal["offset_kev"], (n_rows, n_cols))
        if cal["gain_kev_per_unit"].ndim and cal["gain_kev_per_unit"].shape != (n_rows, n_cols):
            raise InputError(f"{path}: calibration is {cal['gain_kev_per_unit'].shape}, the detector "
                             f"{n_rows} x {n_cols}")
        return g, o, "per-pixel gain/offset from the calibration file"
    if gain_kev_per_adu is not None:
        from ssbscope.compton.hexitec import check_energy_scale

        check_energy_scale(gain_kev_per_adu, offset_kev, source=f"{path}: inputs.compton[]")
        return (np.full((n_rows, n_cols), float(gain_kev_per_adu)),
                np.full((n_rows, n_cols), float(offset_kev)),
                f"global gain {gain_kev_per_adu:g} keV/ADU, offset {offset_kev:g} keV (experiment file)")
    extra = (" (the HEXITEC calibration table holds ADU offsets, not a keV scale)"
             if cal is not None and cal["kind"] == "hexitec-caltable" else "")
    raise InputError(f"{path}: pulse heights in ADU and no energy calibration{extra}; give "
                     "calibration: an .npz with per-pixel gain_kev_per_unit/offset_kev (e.g. from "
                     "ssbscope.compton.calibrate_pixels on an Am-241 flood), or gain_kev_per_adu")


def _read_cube(path: Path, dataset: str | None):
    """(cube (ny, nx, n) counts, edges (n + 1,) keV, description) of a binned cube file."""
    from ssbscope.compton.electron_momentum import _edges_from

    name = path.name.lower()
    cube = e = None
    if name.endswith(".npy"):
        raise FileFormatError(path, "a .npy array carries no energy axis",
                              "save an .npz with counts and energy_edges_kev (or energy_kev)")
    if name.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as z:
                key = dataset or next((k for k in ("counts", "cube") if k in z.files), None)
                if key is None or key not in z.files:
                    raise FileFormatError(path, f"holds {sorted(z.files)}, no 'counts'/'cube' array",
                                          "name the cube counts (or set dataset:)")
                cube = np.asarray(z[key])
                ek = next((k for k in ("energy_edges_kev", "energy_kev") if k in z.files), None)
                e = np.asarray(z[ek], float) if ek else None
        except _npy_errors() as err:
            raise FileFormatError(path, f"cannot be read as .npz ({err})",
                                  "save the cube with np.savez(path, counts=..., energy_edges_kev=...)") from None
    elif path.is_dir():
        import xarray as xr

        try:
            ds = xr.open_zarr(str(path), consolidated=False)
        except Exception as err:  # noqa: BLE001 - any zarr/xarray failure is a format problem
            raise FileFormatError(path, f"cannot be opened as a Zarr dataset ({err})") from None
        key = dataset or "counts"
        if key not in ds or "energy_kev" not in ds[key].dims:
            raise FileFormatError(path, f"has no variable {key!r} with an 'energy_kev' dimension",
                                  "store the cube as counts(row, col, energy_kev)")
        da_ = ds[key].transpose(..., "energy_kev")
        cube = np.asarray(da_.values)
        e = (np.asarray(ds["energy_edges_kev"].values, float) if "energy_edges_kev" in ds
             else np.asarray(ds["energy_kev"].values, float))
    else:
        import h5py

        try:
            with h5py.File(path, "r") as f:
                key = dataset or next((k for k in ("counts", "cube", "data") if k in f), None)
                if key is None or key not in f or not isinstance(f[key], h5py.Dataset):
                    raise FileFormatError(path, f"no cube dataset {dataset or 'counts/cube/data'!r}",
                                          "set dataset: to the HDF5 path of the (row, col, energy) counts")
                d = f[key]
                cube = np.asarray(d[()])
                parent = d.parent
                for k in ("energy_edges_kev", "energy_kev"):
                    if k in d.attrs:
                        e = np.asarray(d.attrs[k], float)
                        break
                    if k in parent:
                        e = np.asarray(parent[k][()], float)
                        break
        except OSError as err:
            raise FileFormatError(path, f"cannot be read as HDF5 ({err})") from None
    if cube is None or cube.ndim != 3:
        raise FileFormatError(path, f"cube has shape {None if cube is None else cube.shape}; "
                              "expected (row, col, energy)")
    if e is None:
        raise FileFormatError(path, "no energy axis (energy_edges_kev or energy_kev) beside the cube",
                              "store the bin edges or centres in keV next to the counts")
    if not np.issubdtype(cube.dtype, np.number) or np.any(~np.isfinite(cube)) or np.any(cube < 0):
        raise FileFormatError(path, "cube counts must be finite and >= 0")
    try:
        edges = _edges_from(e, cube.shape[2])
    except InputError as err:
        raise FileFormatError(path, f"energy axis: {err}") from None
    return cube, edges


# ----------------------------------------------------------------------------- geometry
def pinhole_angle_map_deg(n_rows: int = 80, n_cols: int = 80, *, pixel_pitch_mm: float = 0.25,
                          sample_to_pinhole_mm: float = 160.0, pinhole_to_detector_mm: float = 150.0):
    """Scattering angle seen by each pixel of a pinhole camera at 90 degrees (000_290f30815ae66793).

    The sheet beam runs along +x in the object plane ``z = 0``; the pinhole is at ``(0, 0, L)``
    with ``L = sample_to_pinhole_mm``, so the photon from ``(x, y, 0)`` that reaches it
    scattered by ``theta = arccos(-x / sqrt(x^2 + y^2 + L^2))`` (90 degrees on the axis).  A
    pixel of pitch ``p`` sees the object pixel ``p L / d`` (``d = pinhole_to_detector_mm``),
    imaged inverted: object (iy, ix) onto detector (n_rows-1-iy, n_cols-1-ix), so the
    downstream side (theta > 90) lies at low column numbers.  The same convention as
    :meth:`ssbscope.twin.xcs.XcsGeometry.angle_map_deg`; a detector mounted otherwise needs its
    own map (``angle_map:`` of the experiment file).

    Parameters
    ----------
    n_rows, n_cols : int
        Detector size (pixels).
    pixel_pitch_mm, sample_to_pinhole_mm, pinhole_to_detector_mm : float
        Pixel pitch and the two distances (mm); 0.25, 160 and 150 in 000_290f30815ae66793.

    Returns
    -------
    (n_rows, n_cols) ndarray
        Scattering angle (degrees).
    """
    for name, v in (("pixel_pitch_mm", pixel_pitch_mm), ("sample_to_pinhole_mm", sample_to_pinhole_mm),
                    ("pinhole_to_detector_mm", pinhole_to_detector_mm)):
        if not (np.isfinite(v) and v > 0):
            raise ParameterError(name, v, "must be > 0 mm")
    obj_px = float(pixel_pitch_mm) * float(sample_to_pinhole_mm) / float(pinhole_to_detector_mm)
    y = (np.arange(n_rows) - (n_rows - 1) / 2.0) * obj_px
    x = (np.arange(n_cols) - (n_cols - 1) / 2.0) * obj_px
    yy, xx = np.meshgrid(y, x, indexing="ij")
    ang = np.degrees(np.arccos(-xx / np.sqrt(xx * xx + yy * yy + float(sample_to_pinhole_mm) ** 2)))
    return ang[::-1, ::-1].copy()


def read_angle_map(path, shape=None):
    """Per-pixel scattering angles (degrees) from ``.npy`` or ``.npz`` (``angle_deg`` or its only array).

    Raises
    ------
    FileFormatError
        Missing or unreadable file, no (rows, cols) array, angles outside (0, 180) or not
        finite, or a shape other than ``shape``.
    """
    p = Path(path)
    if not p.is_file():
        raise FileFormatError(p, "angle map does not exist", "check inputs.compton[].angle_map")
    try:
        if p.name.lower().endswith(".npz"):
            with np.load(p, allow_pickle=False) as z:
                key = "angle_deg" if "angle_deg" in z.files else (z.files[0] if len(z.files) == 1 else None)
                if key is None:
                    raise FileFormatError(p, f"holds {sorted(z.files)}, no 'angle_deg'",
                                          "save the map as np.savez(path, angle_deg=...)")
                a = np.asarray(z[key], float)
        else:
            a = np.asarray(np.load(p, allow_pickle=False), float)
    except _npy_errors() as err:
        raise FileFormatError(p, f"cannot be read as .npy/.npz ({err})",
                              "save the (rows, cols) angles in degrees with np.save or np.savez") from None
    if a.ndim != 2 or (shape is not None and a.shape != tuple(shape)):
        raise FileFormatError(p, f"angle map has shape {a.shape}; the detector is "
                              f"{'x'.join(map(str, shape)) if shape is not None else '(rows, cols)'}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0) or np.any(a >= 180):
        raise FileFormatError(p, "angles must be finite degrees within (0, 180)")
    return a


# ----------------------------------------------------------------------------- EMF
def spectrum_emf(edges_kev, counts, e_incident_kev: float = 115.0, angle_deg: float = 90.0, *,
                 low_au=(0.0, 1.0), high_au=(1.0, 5.0), response=None, efficiency=None) -> dict:
    """EMF of a whole-detector spectrum, or NaN with the reason when it cannot be measured.

    The Compton peak is searched first (:func:`ssbscope.compton.fit_compton_peak`: a maximum
    5 Poisson sigmas above the median within ``E_C +- 6`` keV); without it the spectrum holds
    no Compton profile to integrate and the EMF is not computed.  Otherwise
    :func:`ssbscope.compton.emf` (Eqs. 3-5 of 000_290f30815ae66793; detector and shielding
    lines bridged, propagated Poisson uncertainty).

    Parameters
    ----------
    edges_kev : (n + 1,) ndarray
        Bin edges (keV).
    counts : (n,) ndarray
        Counts per bin.
    e_incident_kev, angle_deg : float
        Nominal geometry (keV, degrees).
    low_au, high_au : (float, float)
        |p_z| windows (a.u.).
    response : LineResponse, optional
        Detector tail to remove (:func:`ssbscope.compton.electron_momentum.fit_line_response`
        on the calibration flood).
    efficiency : callable, optional
        Detector efficiency of the energy (keV) to divide out.

    Returns
    -------
    dict
        ``emf``, ``emf_unc`` (1-sigma), ``reason`` (None or why NaN), ``peak_centre_kev``,
        ``peak_fwhm_kev`` (NaN without a peak), ``e_compton_kev`` (nominal E_C).
    """
    from ssbscope.compton.electron_momentum import emf, fit_compton_peak, weight_perturbations
    from ssbscope.compton.physics import compton_energy_kev

    out = {"emf": float("nan"), "emf_unc": float("nan"), "reason": None, "emf_unc_tail": 0.0,
           "emf_unc_counting": float("nan"),
           "peak_centre_kev": float("nan"), "peak_fwhm_kev": float("nan"),
           "e_compton_kev": float(compton_energy_kev(e_incident_kev, angle_deg))}
    c = np.asarray(counts, float)
    if c.sum() <= 0:
        out["reason"] = "the spectrum holds no counts"
        return out
    try:
        peak = fit_compton_peak(edges_kev, c, e_incident_kev, angle_deg)
    except EmptyResultError as err:
        out["reason"] = str(err)
        return out
    out["peak_centre_kev"], out["peak_fwhm_kev"] = peak.centre_kev, peak.fwhm_kev
    try:
        r = emf(edges_kev, c, e_incident_kev, angle_deg, low_au=tuple(low_au), high_au=tuple(high_au),
                check_peak=False, on_empty="nan", response=response, efficiency=efficiency)
    except (InputError, ParameterError) as err:
        out["reason"] = str(err)
        return out
    out["emf"], out["emf_unc"], out["reason"] = float(r.value), float(r.uncertainty), r.reason
    out["emf_unc_counting"] = out["emf_unc"]
    pairs = weight_perturbations(response)
    if pairs and np.isfinite(out["emf"]):
        # tail term: sqrt(sum_j ((EMF(w + d_j) - EMF(w - d_j)) / 2)^2) = sqrt(g^T cov_w g)
        out["emf_unc_tail"] = _tail_emf_unc(edges_kev, c, e_incident_kev, angle_deg, low_au, high_au,
                                            pairs, efficiency)
        out["emf_unc"] = float(np.hypot(out["emf_unc_counting"], out["emf_unc_tail"]))
    return out


_TAIL_COEFF_CACHE: dict = {}


def _tail_emf_unc(edges_kev, counts, e_incident_kev, angle_deg, low_au, high_au, pairs, efficiency):
    """EMF error from the flood's tail fit: ``sqrt(sum_j ((EMF_j+ - EMF_j-) / 2)^2)``.

    ``EMF_j+- = (a_j+- . c) / (b_j+- . c)`` with the window coefficients through the
    correction of the flood's weights perturbed along the j-th eigen-direction of their
    covariance (:func:`ssbscope.compton.electron_momentum.weight_perturbations`,
    :func:`~ssbscope.compton.electron_momentum.perturbed_coefficients`), on the bins from
    0.6 E_0 up (the tail removal is upper triangular: a bin's corrected counts depend only on
    the bins above it).
    """
    from ssbscope.compton.electron_momentum import _needed_bins, perturbed_coefficients
    from ssbscope.compton.series import window_coefficients

    import hashlib

    edges = np.asarray(edges_kev, float)
    i0 = int(np.searchsorted(edges, 0.6 * float(e_incident_kev) - 1e-9))
    ed, cc = edges[i0:], np.asarray(counts, float)[i0:]
    e = 0.5 * (ed[1:] + ed[:-1])
    f = np.asarray(efficiency(e) if callable(efficiency) else (1.0 if efficiency is None else efficiency), float)
    # the exposures of a series share their flood: its coefficients are computed once
    h = hashlib.sha1()
    for arr in (ed, np.broadcast_to(f, e.shape), *[q.weights for p in pairs for q in p]):
        h.update(np.ascontiguousarray(arr, float).tobytes())
    scal = tuple((q.energy_scaling, q.sigma_over_pitch, q.threshold_kev) for p in pairs[:1] for q in p[:1])
    key = (h.hexdigest(), scal, float(e_incident_kev), float(angle_deg), tuple(low_au), tuple(high_au))
    coeffs = _TAIL_COEFF_CACHE.get(key)
    if coeffs is None:
        a0, b0 = window_coefficients(ed, e_incident_kev, angle_deg, low_au=low_au, high_au=high_au)
        needed = _needed_bins(ed, e_incident_kev, angle_deg, max(low_au[1], high_au[1]))
        coeffs = perturbed_coefficients(ed, np.stack([a0, b0]), pairs, efficiency, needed)
        if len(_TAIL_COEFF_CACHE) >= 8:
            _TAIL_COEFF_CACHE.pop(next(iter(_TAIL_COEFF_CACHE)))
        _TAIL_COEFF_CACHE[key] = coeffs
    var = 0.0
    for lo_, hi_ in coeffs:
        ev = [float(co[0] @ cc) / float(co[1] @ cc) for co in (lo_, hi_)]
        var += (0.5 * (ev[1] - ev[0])) ** 2
    return float(np.sqrt(var))


# ----------------------------------------------------------------------------- reading
def _bin_file(ctx, p: Path, kind: str, *, cal, gain_kev_per_adu, offset_kev, frame_rate_hz,
              threshold_sigma, dataset, bin_kev, e_max_kev, charge_sharing, count_unshared=True,
              nan_policy="raise"):
    """Read one file into a cube: (cube, edges, info) with ``info`` the counts and attributes.

    ``nan_policy="drop"`` leaves out events whose value no detector gives and stream pixel
    words outside 0-65535, each count recorded in ``attrs["warnings"]``."""
    from ssbscope.compton.events import (
        energy_edges_kev,
        events_to_cube,
        read_event_header,
    )

    if p.is_dir():
        for q in sorted(p.rglob("*")):
            if q.is_file():
                ctx.record_input(q)
    else:
        ctx.record_input(p)
    attrs: dict = {}
    warnings: list[str] = []
    info = {"n_events": None, "n_frames": None, "counts_none": None, "n_out": 0, "attrs": attrs}
    if kind == "cube":
        cube, edges = _read_cube(p, dataset)
        if cal is not None and cal["gain_kev_per_unit"] is not None:
            raise InputError(f"{p}: a binned cube is in keV already; a gain calibration cannot be applied "
                             "to it (remove calibration: or give only a pixel_mask)")
        attrs["energy_scale"] = "energy axis (keV) from the file"
        return np.asarray(cube), edges, info
    if kind == "events":
        h = read_event_header(p)
        n_rows, n_cols = h.n_rows, h.n_cols
        value_unit = h.value_unit
        n_events = h.n_events
        rate = h.frame_rate_hz if frame_rate_hz is None else frame_rate_hz
        source = p
        if n_events:
            from ssbscope.compton.events import read_events

            ev, _ = read_events(p)
            fr = ev["frame"]
            info["n_frames"] = int(fr[-1]) - int(fr[0]) + 1
            del ev, fr
        attrs["file_metadata"] = json.dumps(h.metadata, sort_keys=True, default=str)
    elif kind == "hexitec-raw":
        from ssbscope.compton.hexitec import frames_to_events, read_hexitec_raw

        caltable = cal["caltable"] if cal is not None else None
        frames = read_hexitec_raw(p, caltable=caltable, nan_policy=nan_policy)
        if frames.n_out_of_range:
            warnings.append(f"{p}: dropped {frames.n_out_of_range} pixel value(s) outside 0-65535 ADU "
                            "(damaged stream words; left out of the hit finding, nan_policy: drop)")
        source, base, noise = frames_to_events(frames, threshold_sigma=threshold_sigma)
        n_rows, n_cols = frames.frames.shape[1:3] if frames.frames.ndim == 3 else (80, 80)
        value_unit = "adu"
        n_events = int(source.size)
        info["n_frames"] = int(frames.frames.shape[0])
        rate = frame_rate_hz
        attrs.update({"raw_mode": bool(frames.raw_mode), "threshold_sigma": float(threshold_sigma),
                      "baseline_median_adu": float(np.median(base)),
                      "noise_median_adu": float(np.median(noise)),
                      "incomplete_words_dropped": int(frames.n_incomplete),
                      "caltable_applied": bool(caltable is not None and not frames.raw_mode)})
    else:
        raise ParameterError("format", kind, "must be auto, events, hexitec-raw or cube")
    info["n_events"] = n_events
    gain, off, scale = _energy_scale(p, value_unit, cal, gain_kev_per_adu, offset_kev, n_rows, n_cols)
    attrs["energy_scale"] = scale
    attrs["value_unit_in_file"] = value_unit
    edges = energy_edges_kev(0.0, float(e_max_kev), float(bin_kev))
    kw = {"energy_edges_kev": edges, "n_rows": n_rows, "n_cols": n_cols,
          "gain_kev_per_unit": gain, "offset_kev": off}
    rep: dict = {}
    kw["invalid"] = nan_policy
    try:
        cube = events_to_cube(source, charge_sharing=charge_sharing, report=rep, **kw)
        if count_unshared:
            info["counts_none"] = events_to_cube(source, charge_sharing="none", **kw).sum() \
                if charge_sharing != "none" else cube.sum()
    except FileFormatError:
        raise
    except InputError as err:
        msg = str(err)  # name the file once (events.py messages start with it already)
        raise InputError(msg if msg.startswith(str(p)) else f"{p}: {msg}") from None
    n_invalid = int(rep.get("n_invalid", 0))
    if n_invalid:
        what = "photon energy" if rep["unit"] == "keV" else "pulse height"
        warnings.append(f"{p}: dropped {n_invalid} event(s) with an invalid {what} (NaN or infinite: "
                        f"{rep['n_nonfinite']}, negative: {rep['n_negative']}, above {rep['limit']:g} "
                        f"{rep['unit']}: {rep['n_above_limit']}; first at record {rep['first_invalid_record']}) "
                        "before binning (nan_policy: drop)")
    if nan_policy != "raise":
        attrs["nan_policy"] = nan_policy
        attrs["n_invalid_events_dropped"] = n_invalid
    if warnings:
        for w in warnings:
            log.warning(w)
        attrs["warnings"] = warnings
    if info["counts_none"] is not None and n_events is not None:
        info["n_out"] = int(n_events - n_invalid - int(info["counts_none"]))
    if rate:
        attrs["frame_rate_hz"] = float(rate)
    return cube, edges, info


_TAIL_CHOICES: dict = {}


def _tail_scaling_choice(edges, spec, line_kev):
    """:func:`~ssbscope.compton.electron_momentum.choose_tail_scaling`, once per flood spectrum
    (the exposures of a series share their flood; keyed by the spectrum's bytes)."""
    import hashlib

    from ssbscope.compton.electron_momentum import choose_tail_scaling

    key = hashlib.sha1(np.ascontiguousarray(edges, np.float64).tobytes()
                       + np.ascontiguousarray(spec, np.float64).tobytes() + repr(float(line_kev)).encode()).hexdigest()
    if key not in _TAIL_CHOICES:
        if len(_TAIL_CHOICES) > 16:
            _TAIL_CHOICES.clear()
        _TAIL_CHOICES[key] = choose_tail_scaling(edges, spec, line_kev)
    return _TAIL_CHOICES[key]


def _flood_response(ctx, flood, flood_kind, flood_dataset, line_kev, good, *, cal, read_kw,
                    tail_scaling="none"):
    """Fit the low-energy tail on the flood's line: (LineResponse or None, flood spectrum, edges, attrs).

    The flood is processed as the measurement (same calibration, binning and charge-sharing
    discrimination); its spectrum is the sum of the measurement's good pixels that are also
    good in the flood (dead/noisy test when it has enough counts).  A flood whose line
    cannot be fitted gives no response and the reason in the attributes.  ``tail_scaling``
    "auto" takes the scaling the flood's second line supports
    (:func:`ssbscope.compton.electron_momentum.choose_tail_scaling`); the attributes keep the
    chosen one (``flood_tail_scaling``, which the series stage reuses) and why
    (``flood_tail_scaling_*``; ``flood_tail_scaling_warning`` on a fallback).
    """
    from ssbscope.compton.calibration import find_bad_pixels
    from ssbscope.compton.electron_momentum import fit_line_response
    from ssbscope.errors import DataQualityError

    fp = Path(flood)
    kind = _detect_format(fp, "flood") if flood_kind == "auto" else flood_kind
    if not fp.exists():
        raise FileFormatError(fp, "does not exist", "check inputs.compton[].flood")
    kw = dict(read_kw)
    kw["e_max_kev"] = max(float(kw["e_max_kev"]), line_kev + 10.0)
    fcube, fedges, finfo = _bin_file(ctx, fp, kind, cal=cal, dataset=flood_dataset, count_unshared=False, **kw)
    if fcube.shape[:2] != good.shape:
        raise InputError(f"{fp}: flood is {fcube.shape[0]} x {fcube.shape[1]} pixels, the measurement "
                         f"{good.shape[0]} x {good.shape[1]} (inputs.compton[].flood)")
    fgood = good.copy()
    pix = fcube.sum(axis=2)
    if fgood.any() and float(np.median(pix[fgood])) >= MIN_COUNTS_FOR_MASK:
        fgood &= find_bad_pixels(pix)
    fspec = np.asarray(fcube[fgood].sum(axis=0), np.float64)
    attrs = {"flood_file": str(fp), "flood_format": kind, "flood_line_kev": float(line_kev),
             "flood_good_pixels": int(fgood.sum()), "flood_counts_total": float(fspec.sum())}
    if finfo["attrs"].get("warnings"):  # invalid values dropped from the flood (nan_policy: drop)
        attrs["flood_warnings"] = list(finfo["attrs"]["warnings"])
    try:
        how, resp = "", None
        if tail_scaling == "auto":  # the scaling the flood's second line supports (choose_tail_scaling)
            choice = _tail_scaling_choice(fedges, fspec, float(line_kev))
            how, tail_scaling, resp = f", auto: {choice.status}", choice.scaling, choice.response
            attrs.update(choice.attrs())
            if choice.status != "chosen":
                attrs["flood_tail_scaling_warning"] = choice.reason
        if resp is None:
            resp = fit_line_response(fedges, fspec, float(line_kev), energy_scaling=tail_scaling)
    except (EmptyResultError, DataQualityError, InputError) as err:
        log.warning("%s: no tail response from the flood: %s", fp, err)
        attrs["tail_correction"] = f"failed: {err}"
        return None, fspec, fedges, attrs
    if not resp.tail_resolved:  # the flood's counts do not measure the tail: no correction
        log.warning("%s: no tail response from the flood: %s", fp, resp.reason)
        attrs["tail_correction"] = f"failed: tail not resolved: {resp.reason}"
        attrs["tail_fraction_unc"] = float(resp.tail_fraction_unc)
        return None, fspec, fedges, attrs
    attrs.update({"tail_correction": f"low-energy tail of the {line_kev:g} keV line of the flood removed "
                                     f"(fit_line_response, tail_matrix; energy scaling {tail_scaling}{how})",
                  "flood_tail_scaling": str(tail_scaling),
                  "tail_fraction": float(resp.tail_fraction),
                  "tail_fraction_unc": float(resp.tail_fraction_unc), "flood_centre_kev": float(resp.centre_kev),
                  "flood_fwhm_kev": float(resp.fwhm_kev)})
    return resp, fspec, fedges, attrs


# ----------------------------------------------------------------------------- stage
def _input_stage(ctx, inputs, *, path, fmt="auto", label, time_s=None, e_incident_kev=115.0,
                 angle_deg=90.0, calibration=None, gain_kev_per_adu=None, offset_kev=0.0,
                 frame_rate_hz=None, threshold_sigma=8.0, dataset=None, beam_height_um=None,
                 bin_kev=0.2, e_max_kev=None, low_au=(0.0, 1.0), high_au=(1.0, 5.0),
                 charge_sharing="discard", geometry=None, angle_map=None, flood=None,
                 flood_format="auto", flood_dataset=None, flood_line_kev=None,
                 efficiency_correction=None, sensor_thickness_mm=2.0, nan_policy="raise",
                 flood_tail_scaling="none"):
    """Read one real XCS input into a cube and a whole-detector spectrum with its EMF.

    ``geometry`` (dict of ``sample_to_pinhole_mm``, ``pinhole_to_detector_mm``,
    ``pixel_pitch_mm``) or ``angle_map`` (file) switch on the per-pixel angle alignment,
    ``flood`` the tail correction (carried to the Compton peak as ``flood_tail_scaling``
    says, :func:`ssbscope.compton.electron_momentum.tail_energy_scale`),
    ``efficiency_correction`` (default: with a flood) the division by the CdZnTe efficiency.
    """
    import xarray as xr

    from ssbscope.compton.calibration import AM241_KEV, find_bad_pixels

    p = Path(path)
    kind = _detect_format(p) if fmt == "auto" else fmt
    if not p.exists():
        raise FileFormatError(p, "does not exist", "check inputs.compton[].path")
    cal = None
    if calibration is not None:
        cal = read_calibration(calibration)
        ctx.record_input(calibration)
    if e_max_kev is None:
        e_max_kev = max(120.0, 1.05 * float(e_incident_kev))
    attrs = {"label": label, "source": str(p), "format": kind, "e_incident_kev": float(e_incident_kev),
             "angle_deg": float(angle_deg), "charge_sharing": charge_sharing,
             "paper": "000_290f30815ae66793"}
    if calibration is not None:
        attrs["calibration_file"] = str(calibration)
        attrs["calibration_kind"] = cal["kind"]
    if time_s is not None:
        attrs["time_s"] = float(time_s)
    if beam_height_um is not None:
        attrs["beam_height_um"] = float(beam_height_um)
    pm_cal = cal["pixel_mask"] if cal is not None else None
    read_kw = {"gain_kev_per_adu": gain_kev_per_adu, "offset_kev": offset_kev,
               "frame_rate_hz": frame_rate_hz, "threshold_sigma": threshold_sigma, "bin_kev": bin_kev,
               "e_max_kev": e_max_kev, "charge_sharing": charge_sharing, "nan_policy": nan_policy}
    cube, edges, info = _bin_file(ctx, p, kind, cal=cal, dataset=dataset, **read_kw)
    attrs.update(info["attrs"])
    n_rows, n_cols = cube.shape[:2]
    n_events, n_frames, counts_none, n_out = (info["n_events"], info["n_frames"], info["counts_none"],
                                              info["n_out"])
    # dead / noisy pixels
    good = np.ones((n_rows, n_cols), bool) if pm_cal is None else np.asarray(pm_cal, bool).copy()
    if good.shape != (n_rows, n_cols):
        raise InputError(f"{calibration}: pixel_mask is {good.shape}, the detector {n_rows} x {n_cols}")
    pix = cube.sum(axis=2)
    med = float(np.median(pix[good])) if good.any() else 0.0
    if med >= MIN_COUNTS_FOR_MASK:
        good &= find_bad_pixels(pix)
        attrs["bad_pixel_test"] = "find_bad_pixels: dead < 5 % of the median, noisy > 8 robust sigmas"
    else:
        attrs["bad_pixel_test"] = (f"not applied: median {med:g} counts per pixel < {MIN_COUNTS_FOR_MASK:g} "
                                   "(too few for a dead/noisy test)")
    n_total = int(cube.sum())
    n_kept = int(pix[good].sum())
    masked = n_total - n_kept
    e = 0.5 * (edges[1:] + edges[:-1])
    spec_raw = cube[good].sum(axis=0).astype(np.float64)
    attrs.update({"n_kept_counts": n_kept, "n_masked_counts": int(masked),
                  "n_good_pixels": int(good.sum()), "bin_kev": float(edges[1] - edges[0]),
                  "e_min_kev": float(edges[0]), "e_max_kev": float(edges[-1])})
    if n_events is not None:
        shared = int(counts_none) - n_total
        attrs.update({"n_events": int(n_events), "n_out_of_range_events": n_out,
                      "n_charge_sharing_discarded": shared,
                      "n_discarded_events": int(n_events - n_kept)})
        if n_frames:
            attrs["n_frames"] = int(n_frames)
            attrs["events_per_frame"] = float(n_events / n_frames)
            if attrs.get("frame_rate_hz"):
                exposure = n_frames / attrs["frame_rate_hz"]
                attrs.update({"exposure_s": float(exposure), "events_per_s": float(n_events / exposure),
                              "kept_per_s": float(n_kept / exposure)})
    if n_kept == 0:
        log.warning("%s: no counts kept in %g-%g keV", p, edges[0], edges[-1])
    # ---- detector corrections
    corr_attrs: dict = {}
    applied = []
    ang = None
    if geometry is not None:
        ang = pinhole_angle_map_deg(n_rows, n_cols, **geometry)
        corr_attrs["angle_alignment"] = (
            "per pixel to {:g} degrees (align_to_angle), pinhole geometry: sample-pinhole {:g} mm, "
            "pinhole-detector {:g} mm, pitch {:g} mm".format(angle_deg, geometry["sample_to_pinhole_mm"],
                                                               geometry["pinhole_to_detector_mm"],
                                                               geometry["pixel_pitch_mm"]))
    elif angle_map is not None:
        ang = read_angle_map(angle_map, (n_rows, n_cols))
        ctx.record_input(angle_map)
        corr_attrs["angle_alignment"] = f"per pixel to {angle_deg:g} degrees (align_to_angle), angle map {angle_map}"
    else:
        corr_attrs["angle_alignment"] = ("none: no geometry (sample_to_pinhole_mm, pinhole_to_detector_mm) "
                                         "or angle_map given; nominal angle for every pixel")
    if ang is not None:
        from ssbscope.compton.regions import align_to_angle

        aligned = align_to_angle(cube, edges, ang, e_incident_kev=float(e_incident_kev),
                                 reference_angle_deg=float(angle_deg), mask=good)
        spec = aligned[good].sum(axis=0)
        del aligned
        applied.append("angle alignment")
        if good.any():
            corr_attrs.update({"angle_min_deg": float(ang[good].min()), "angle_max_deg": float(ang[good].max())})
    else:
        spec = spec_raw
    resp = None
    flood_spec = None
    if flood is not None:
        line = float(AM241_KEV if flood_line_kev is None else flood_line_kev)
        resp, fspec, fedges, fattrs = _flood_response(ctx, flood, flood_format, flood_dataset, line, good,
                                                      cal=cal, read_kw=read_kw, tail_scaling=flood_tail_scaling)
        corr_attrs.update(fattrs)
        if resp is not None:
            applied.append(f"tail ({line:g} keV flood line)")
        flood_spec = (0.5 * (fedges[1:] + fedges[:-1]), fspec)
    else:
        corr_attrs["tail_correction"] = "none: no flood given (the low-energy tail is not removed)"
    if "tail_fraction" not in corr_attrs:
        corr_attrs["tail_fraction"] = float("nan")
    eff = None
    use_eff = (flood is not None) if efficiency_correction is None else bool(efficiency_correction)
    if use_eff:
        from ssbscope.compton.electron_momentum import detector_efficiency

        t_mm = float(sensor_thickness_mm)
        if not (np.isfinite(t_mm) and t_mm > 0):
            raise ParameterError("sensor_thickness_mm", sensor_thickness_mm, "must be > 0 mm")

        def eff(x, _t=t_mm):
            return detector_efficiency(x, thickness_mm=_t, material="CdZnTe")

        corr_attrs["efficiency_correction"] = f"divided by 1 - exp(-mu(E) t), CdZnTe, t = {t_mm:g} mm"
        applied.append("efficiency")
    else:
        corr_attrs["efficiency_correction"] = "none"
    corr_attrs["detector_corrections"] = " + ".join(applied) if applied else \
        "none (no geometry, angle map, flood or efficiency correction given)"
    if flood is not None and resp is None:
        # the tail asked for cannot be removed: an EMF without it would be biased low (by
        # 15-30 % on the HEXITEC model), so none is given
        res = spectrum_emf(edges, np.zeros_like(spec), e_incident_kev, angle_deg)
        res["reason"] = f"flood {flood}: the detector tail could not be measured ({corr_attrs['tail_correction']})"
    else:
        res = spectrum_emf(edges, spec, e_incident_kev, angle_deg, low_au=low_au, high_au=high_au,
                           response=resp, efficiency=eff)
    if res["reason"] is not None:
        log.warning("%s: EMF not measured: %s", p, res["reason"])
    coords = {"row": np.arange(n_rows), "col": np.arange(n_cols), "energy_kev": e}
    cube_vars = {"counts": (("row", "col", "energy_kev"), np.asarray(cube, np.uint32) if kind != "cube"
                            else np.asarray(cube), {"units": "count"}),
                 "good_pixel": (("row", "col"), good),
                 "energy_edges_kev": (("edge",), np.asarray(edges, float))}
    if ang is not None:
        cube_vars["angle_deg"] = (("row", "col"), ang, {"units": "degree",
                                                        "description": "scattering angle of each pixel"})
    cube_ds = xr.Dataset(cube_vars, coords=coords, attrs=attrs)
    spec_attrs = {k: attrs[k] for k in ("label", "source", "format", "e_incident_kev", "angle_deg",
                                        "energy_scale", "time_s") if k in attrs}
    spec_attrs.update({"low_au": list(low_au), "high_au": list(high_au),
                       "emf_reason": res["reason"] or "",
                       "emf_method": "Eqs. 3-5 of 000_290f30815ae66793 on the sum of the good pixels "
                                     + ("aligned per pixel to the nominal angle" if ang is not None
                                        else "(nominal angle for every pixel)")
                                     + "; propagated Poisson uncertainty",
                       "n_kept_counts": n_kept})
    spec_attrs.update(corr_attrs)
    spec_vars = {"counts": (("energy_kev",), np.asarray(spec, np.float64), {"units": "count"}),
                 "emf": ((), res["emf"], {"units": "1", "description": "electron momentum factor E_L/E_H"}),
                 "emf_unc": ((), res["emf_unc"], {"units": "1", "description":
                             "1-sigma uncertainty: hypot(emf_unc_counting, emf_unc_tail)"}),
                 "emf_unc_counting": ((), res["emf_unc_counting"], {"units": "1", "description":
                                      "1-sigma counting uncertainty"}),
                 "emf_unc_tail": ((), res["emf_unc_tail"], {"units": "1", "description":
                                  "1-sigma uncertainty from the flood's tail fit: sqrt(g^T cov_w g), "
                                  "g = dEMF/dw over the tail weights w (weight_perturbations)"}),
                 "peak_centre_kev": ((), res["peak_centre_kev"]),
                 "peak_fwhm_kev": ((), res["peak_fwhm_kev"]),
                 "e_compton_kev": ((), res["e_compton_kev"], {"description": "nominal E_C"})}
    spec_coords = {"energy_kev": e}
    if ang is not None:
        spec_vars["counts_unaligned"] = (("energy_kev",), spec_raw, {"units": "count"})
    if flood_spec is not None:
        spec_coords["flood_energy_kev"] = flood_spec[0]
        spec_vars["flood_counts"] = (("flood_energy_kev",), flood_spec[1],
                                     {"units": "count", "description": "calibration flood, good pixels, "
                                      "processed as the measurement"})
    spec_ds = xr.Dataset(spec_vars, coords=spec_coords, attrs=spec_attrs)
    name = f"compton/input/{label}"
    return {f"{name}/cube": cube_ds, f"{name}/spectrum": spec_ds}


def input_stages(exp) -> list:
    """Stages reading an experiment's real XCS inputs (``ssbscope run``).

    One stage per ``inputs.compton`` entry, writing ``compton/input/<label>/cube`` and
    ``compton/input/<label>/spectrum`` (see the module docstring).  The bin width and the EMF
    windows come from ``analysis.compton``.

    Parameters
    ----------
    exp : ssbscope.config.Experiment

    Returns
    -------
    list of ssbscope.pipeline.Stage
        Empty when the experiment has no XCS inputs.
    """
    from ssbscope.pipeline import Stage

    an = getattr(getattr(exp, "analysis", None), "compton", None)
    bin_kev = float(getattr(an, "bin_kev", 0.2))
    low = [0.0, float(getattr(an, "valence_window_au", 1.0))]
    high = [float(v) for v in getattr(an, "core_window_au", (1.0, 5.0))]
    stages, used, members = [], set(), {}
    for item in getattr(exp.inputs, "compton", []) or []:
        base = _slug(item.label or Path(item.path).stem)
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        geometry = None
        if getattr(item, "sample_to_pinhole_mm", None) is not None:
            pitch = getattr(item, "pixel_pitch_mm", None)
            geometry = {"sample_to_pinhole_mm": float(item.sample_to_pinhole_mm),
                        "pinhole_to_detector_mm": float(item.pinhole_to_detector_mm),
                        "pixel_pitch_mm": float(0.25 if pitch is None else pitch)}
        amap = getattr(item, "angle_map", None)
        flood = getattr(item, "flood", None)
        from ssbscope.paths import single_match  # a glob of one exposure: that file

        params = {"path": single_match(exp.resolve(item.path)), "fmt": item.format, "label": name,
                  "time_s": item.time_s, "e_incident_kev": float(item.e_incident_kev),
                  "angle_deg": float(item.angle_deg),
                  "calibration": str(exp.resolve(item.calibration)) if item.calibration else None,
                  "gain_kev_per_adu": getattr(item, "gain_kev_per_adu", None),
                  "offset_kev": float(getattr(item, "offset_kev", 0.0)),
                  "frame_rate_hz": getattr(item, "frame_rate_hz", None),
                  "threshold_sigma": float(getattr(item, "threshold_sigma", 8.0)),
                  "dataset": getattr(item, "dataset", None),
                  "e_max_kev": getattr(item, "e_max_kev", None),
                  "charge_sharing": getattr(item, "charge_sharing", "discard"),
                  "beam_height_um": item.beam_height_um,
                  "bin_kev": bin_kev, "low_au": low, "high_au": high,
                  "geometry": geometry,
                  "angle_map": str(exp.resolve(amap)) if amap else None,
                  "flood": str(exp.resolve(flood)) if flood else None,
                  "flood_format": getattr(item, "flood_format", "auto"),
                  "flood_dataset": getattr(item, "flood_dataset", None),
                  "flood_line_kev": getattr(item, "flood_line_kev", None),
                  "efficiency_correction": getattr(item, "efficiency_correction", None),
                  "sensor_thickness_mm": float(getattr(item, "sensor_thickness_mm", 2.0))}
        if getattr(item, "nan_policy", "raise") != "raise":  # only when set: older runs keep their cache
            params["nan_policy"] = item.nan_policy
        if getattr(item, "flood_tail_scaling", "none") != "none":  # (as nan_policy)
            params["flood_tail_scaling"] = item.flood_tail_scaling
        stages.append(Stage(f"compton.input.{name}", _input_stage,
                            outputs=(f"compton/input/{name}/cube", f"compton/input/{name}/spectrum"),
                            params=params, long=True))
        members.setdefault(item.series, []).append((item, name, params))
    stages += _series_stages(exp, an, members, low, high)
    return stages


def _series_stages(exp, an, members, low, high) -> list:
    """One ``compton.series.<series>`` stage per series whose exposures give beam heights."""
    from ssbscope.errors import ConfigError
    from ssbscope.pipeline import Stage

    out = []
    for series, group in members.items():
        with_h = [g for g in group if g[0].beam_height_um is not None]
        if not with_h:
            continue  # whole-detector exposures only (compton/input/<label>)
        where = f"inputs.compton (series {series!r})"
        if len(with_h) < len(group):
            miss = [g[1] for g in group if g[0].beam_height_um is None]
            raise ConfigError(exp.source if getattr(exp, "source", None) else "experiment",
                              [(where, f"beam_height_um missing for {miss}; every exposure of a series "
                                       "needs its sheet height (or put it in another series)")])
        cells = {id(exp.cell_of(g[0])) for g in group}
        cell = exp.cell_of(group[0][0])
        if len(cells) > 1 or not cell.layers:
            raise ConfigError(getattr(exp, "source", None) or "experiment",
                              [(where, "the exposures of a series need one cell with layers (cell.layers "
                                       "bottom to top with thickness_um): the sheet fractions come from it")])
        layers = [(ly.name, ly.material, float(ly.thickness_um)) for ly in cell.layers]
        mem = []
        for item, name, p in group:
            mem.append({"label": name, "state": item.state if item.state is not None else (
                            f"t = {item.time_s:g} s" if item.time_s is not None else "state"),
                        "time_s": item.time_s, "beam_height_um": float(item.beam_height_um),
                        "beam_thickness_um": float(item.beam_thickness_um), "monitor": float(item.monitor),
                        "layer_thickness_um": dict(item.layer_thickness_um),
                        "e_incident_kev": p["e_incident_kev"], "angle_deg": p["angle_deg"],
                        "geometry": p["geometry"],
                        "sensor_thickness_mm": (p["sensor_thickness_mm"] if (
                            p["flood"] is not None if p["efficiency_correction"] is None
                            else p["efficiency_correction"]) else None)})
        comps = list(an.components) if an is not None and an.components else None
        radius = getattr(an, "mask_radius_mm", None) if an is not None else None
        if radius is None:
            names = comps or [ly.name for ly in cell.layers if ly.thickness_um > 0]
            radii = [ly.diameter_mm / 2 for ly in cell.layers if ly.name in names and ly.diameter_mm]
            if not radii and cell.diameter_mm:
                radii = [cell.diameter_mm / 2]
            radius = 0.85 * min(radii) if radii else None
        src = getattr(an, "ct_series", None) if an is not None else None
        inputs = [f"compton/input/{m['label']}/{k}" for m in mem for k in ("cube", "spectrum")]
        ct = None
        if src:
            src = src[len("tomo/"):] if src.startswith("tomo/") else src
            src = src[:-len("/labels")] if src.endswith("/labels") else src
            ct = _ct_params(exp, an, src, cell, where)
            inputs.append(f"tomo/{src}/labels")
            if ct["register_interface"] is not None:
                inputs.append(f"tomo/{src}/maps")
        else:
            src = "layers"
        refs = [(float(r.emf), float(r.x)) for r in (an.reference_points if an is not None else [])]
        redges = getattr(an, "radial_edges_mm", None) if an is not None else None
        if redges is not None:
            redges = [float(v) for v in redges]
            if any(b <= a for a, b in zip(redges, redges[1:])) or redges[0] < 0:
                raise ConfigError(getattr(exp, "source", None) or "experiment",
                                  [("analysis.compton.radial_edges_mm", f"{redges}: need increasing edges >= 0 mm")])
            if mem[0]["geometry"] is None:
                raise ConfigError(getattr(exp, "source", None) or "experiment",
                                  [(where, "analysis.compton.radial_edges_mm needs the pinhole geometry "
                                           "(sample_to_pinhole_mm, pinhole_to_detector_mm) of the exposures")])
        diam = {ly.name: (ly.diameter_mm or cell.diameter_mm) for ly in cell.layers}
        params = {"series": series, "members": mem, "layers": layers, "components": comps,
                  "phase_source": src, "ct": ct, "radius_mm": radius,
                  "block_px": int(getattr(an, "emf_map_block_px", 4)) if an is not None else 4,
                  "min_block_counts": float(getattr(an, "min_block_counts", 100.0)) if an is not None else 100.0,
                  "low_au": list(low), "high_au": list(high), "reference_points": refs,
                  "reference_component": getattr(an, "reference_component", None) if an is not None else None}
        base = f"compton/{series}"
        outs = (f"{base}/emf", f"{base}/maps", f"{base}/spectra", f"{base}/profiles")
        if ct is not None:
            outs = outs + (f"{base}/ct_fractions",)
        if redges is not None:
            params["radial_edges_mm"] = redges
            params["layer_diameters_mm"] = {k: (None if v is None else float(v)) for k, v in diam.items()}
            outs = outs + (f"{base}/radial",)
        out.append(Stage(f"compton.series.{series}", _series_stage, inputs=tuple(inputs),
                         outputs=outs, params=params, long=True))
    return out


def _ct_params(exp, an, ct_series, cell, where) -> dict:
    """The XCS-CT correlation's parameters from ``analysis.compton.ct_*`` (checked against the cells)."""
    from ssbscope.errors import ConfigError

    src = getattr(exp, "source", None) or "experiment"
    # the CT series' scans (absent when tomo/<series>/labels is in the store from an earlier run)
    tomo = [t for t in (getattr(exp.inputs, "tomo", []) or []) if getattr(t, "series", None) == ct_series]
    names = [ly.name for ly in cell.layers]
    z_off = getattr(an, "ct_z_offset_um", None)
    reg = getattr(an, "ct_register_layer", None)
    iface = getattr(an, "ct_register_interface", None)
    if iface is not None:
        ct_cell = exp.cell_of(tomo[0]) if tomo else None
        ct_names = [ly.name for ly in ct_cell.layers] if ct_cell is not None and ct_cell.layers else []
        parts = [p.strip() for p in str(iface).split("|")]
        problem = None
        if z_off is not None or reg is not None:
            problem = "give one registration: ct_z_offset_um, ct_register_layer or ct_register_interface"
        elif len(parts) != 2 or not all(parts):
            problem = f"{iface!r}: need 'lower|upper', two layer names joined by '|' (e.g. 'anode|SPE')"
        elif any(n not in names for n in parts) or names.index(parts[0]) >= names.index(parts[1]):
            problem = (f"{iface!r}: both layers must be declared by the XCS cell, the lower one below the "
                       f"upper ({names}, bottom to top)")
        elif tomo and any(n not in ct_names for n in parts):
            problem = f"{iface!r}: both layers must be declared by the CT series' cell too ({ct_names})"
        if problem:
            raise ConfigError(src, [("analysis.compton.ct_register_interface", problem)])
        iface = f"{parts[0]}|{parts[1]}"
    scans_mode = str(getattr(an, "ct_register_scans", None) or "first")
    iface_default = False
    if z_off is None and iface is None and reg is None:
        iface = default_register_interface(exp, ct_series, names, tomo)
        iface_default = iface is not None
    if z_off is None and iface is None:
        ct_cell = exp.cell_of(tomo[0]) if tomo else None
        ct_names = [ly.name for ly in ct_cell.layers] if ct_cell is not None and ct_cell.layers else []
        if reg is None:
            reg = next((n for n in names if n in ct_names), None)
        if reg is None or reg not in names or (tomo and reg not in ct_names):
            raise ConfigError(src, [("analysis.compton.ct_register_layer",
                                     f"{reg!r}: give a layer declared by both the XCS cell ({names}) and the CT "
                                     f"series' cell ({ct_names}), or the CT's height ct_z_offset_um")])
    bottoms = {}
    z = 0.0
    for ly in cell.layers:
        bottoms[ly.name] = z
        z += float(ly.thickness_um)
    phases = {str(k): [str(p) for p in v] for k, v in (getattr(an, "ct_phases", {}) or {}).items()}
    within = {str(k): str(v) for k, v in (getattr(an, "ct_within", {}) or {}).items()}
    bad = [k for k in list(phases) + list(within) + list(within.values()) if k not in names]
    if bad:
        raise ConfigError(src, [(where, f"analysis.compton.ct_phases/ct_within name {sorted(set(bad))}, not layers "
                                        f"of the cell ({names})")])
    if iface is not None:
        reg = None
    return {"series": ct_series, "z_offset_um": None if z_off is None else float(z_off),
            "register_layer": reg, "register_bottom_um": None if reg is None else float(bottoms[reg]),
            "register_interface": iface, "register_interface_default": iface_default,
            "register_scans": scans_mode,
            "phases": phases, "within": within,
            "materials": {ly.name: ly.material for ly in cell.layers}}


def default_register_interface(exp, ct_series, names, tomo=None) -> str | None:
    """The XCS-CT registration's interface when the YAML names none (no ``ct_z_offset_um``,
    ``ct_register_layer`` or ``ct_register_interface``): the first interface that
    ``analysis.tomo.interfaces`` (with the CT series' override) lists explicitly whose two
    layers the XCS cell declares (``names``, bottom to top), lower below upper, and the CT
    series' cell too (its scans ``tomo``, when known); None when there is none (the
    registration falls back to ``ct_register_layer``'s default).

    An interface the CT measures is placed from its mean height over every column of the
    footprint (sub-voxel; 0.05-0.34 um from the twin's truth on the coin demo), a layer's
    bottom from the slice range of its band (whole voxels, and the edge under it may be
    blurred over many slices: the coin's steel | Li edge after Paganin); the interface holds
    when the declared thicknesses below it are right for the scan (each state's
    ``layer_thickness_um``).
    """
    tan = getattr(getattr(exp, "analysis", None), "tomo", None)
    if tan is None:
        return None
    try:
        tan = tan.for_series(ct_series)
    except AttributeError:
        pass
    declared = getattr(tan, "interfaces", None)
    ct_names = None
    if tomo:
        ct_cell = exp.cell_of(tomo[0])
        ct_names = [ly.name for ly in ct_cell.layers] if ct_cell is not None and ct_cell.layers else []
    for cand in declared or []:
        parts = [q.strip() for q in str(cand).split("|")]
        if len(parts) != 2 or not all(q in names for q in parts):
            continue
        if names.index(parts[0]) >= names.index(parts[1]):
            continue
        if ct_names is not None and not all(q in ct_names for q in parts):
            continue
        return f"{parts[0]}|{parts[1]}"
    return None


# ----------------------------------------------------------------------------- series
def _series_pixels(good, geometry, radius_mm):
    """Pixels summed for a series: good in every exposure and, with the pinhole geometry and a
    radius, imaging object points within ``radius_mm`` of the cell axis."""
    mask = np.asarray(good, bool).copy()
    desc = "pixels good in every exposure of the series"
    if geometry is not None and radius_mm is not None:
        n_rows, n_cols = mask.shape
        obj = geometry["pixel_pitch_mm"] * geometry["sample_to_pinhole_mm"] / geometry["pinhole_to_detector_mm"]
        yy, xx = np.meshgrid((np.arange(n_rows) - (n_rows - 1) / 2) * obj,
                             (np.arange(n_cols) - (n_cols - 1) / 2) * obj, indexing="ij")
        mask &= np.hypot(yy, xx) < float(radius_mm)
        desc += f" imaging object points within {float(radius_mm):g} mm of the cell axis"
    return mask, desc


def _ct_scan_index(labels_ds, series_ct, state, time_s) -> int:
    """Index of the CT scan of the same state (by name), else the nearest ``time_s``."""
    k = _matched_scan(labels_ds, state, time_s, tolerance_s=np.inf)
    if k is None:
        raise InputError(f"XCS state {state!r}: no CT scan of tomo/{series_ct}/labels has this state and "
                         "the exposure has no time_s to take the nearest scan; set state: or time_s:")
    return k


#: Largest difference (s) between an XCS state's time_s and a CT scan's for the two to be
#: matched by time (``analysis.compton.ct_register_scans: each``) when no scan has its state name.
MATCH_TIME_TOLERANCE_S = 1.0


def _matched_scan(labels_ds, state, time_s, tolerance_s: float = MATCH_TIME_TOLERANCE_S) -> int | None:
    """Index of the CT scan matched to an XCS state: the scan of the same state name, else the
    nearest by time_s if within ``tolerance_s`` (default :data:`MATCH_TIME_TOLERANCE_S`); None
    when none is (or the state has no time_s)."""
    t = np.asarray(labels_ds["time_s"].values, float)
    if "state" in labels_ds and state is not None:
        names = [str(v) for v in np.atleast_1d(labels_ds["state"].values)]
        if state in names:
            return names.index(state)
    if time_s is None or not np.isfinite(time_s):
        return None
    d = np.abs(t - float(time_s))
    k = int(np.argmin(d))
    return k if d[k] <= tolerance_s else None


def _offset_scans(labels_ds, ct, members, by_state, states) -> dict:
    """XCS state -> index of the CT scan whose measurement places the CT for it
    (``ct["register_scans"]``): ``first``: the earliest scan for every state; ``each``: the
    state's matched scan (:func:`_matched_scan`), else the latest scan at or before its
    time_s, else the earliest scan."""
    t = np.asarray(labels_ds["time_s"].values, float)
    k_first = int(np.argmin(t))
    if ct.get("register_scans", "first") != "each":
        return {s: k_first for s in states}
    out = {}
    for s in states:
        m = members[by_state[s][0]]
        k = _matched_scan(labels_ds, m["state"], m["time_s"])
        if k is None and m["time_s"] is not None and np.isfinite(m["time_s"]):
            earlier = np.flatnonzero(t <= float(m["time_s"]))
            if earlier.size:
                k = int(earlier[np.argmax(t[earlier])])
        out[s] = k_first if k is None else k
    return out


def _layer_registration(labels_ds, ct, k) -> float:
    """The CT's height in the XCS cell from the bottom of ``ct["register_layer"]`` in scan ``k``
    (``layer_z_vox`` of ``tomo/<ct>/labels``) at its declared bottom."""
    series_ct = ct["series"]
    reg = ct["register_layer"]
    have = [str(v) for v in labels_ds["layer"].values] if "layer_z_vox" in labels_ds else []
    if reg not in have:
        raise InputError(f"tomo/{series_ct}/labels locates no layer {reg!r} (layers {have}); set "
                         "analysis.compton.ct_z_offset_um (the CT's height in the XCS cell)")
    z0_vox = int(labels_ds["layer_z_vox"].isel(time_s=k).sel(layer=reg, bound="z0"))
    if z0_vox < 0:
        raise InputError(f"tomo/{series_ct}/labels: layer {reg!r} was not found in scan {k}; set "
                         "analysis.compton.ct_z_offset_um")
    return float(ct["register_bottom_um"] - z0_vox * float(labels_ds.attrs["voxel_size_um"]))


def _ct_interface_registration(maps_ds, labels_ds, ct, members, by_state, layers, k_ref=None):
    """The CT's height in the XCS cell from the interface ``ct["register_interface"]``.

    Scan ``k_ref`` (default the first, earliest time_s of ``tomo/<ct>/labels``) is the
    reference; its interface height map (``tomo/<ct>/maps`` ``height_um``) is put at the
    interface's declared height with the layer thicknesses of the XCS state matched to that
    scan (:func:`_matched_scan`, else the state whose nearest scan it is; its exposures'
    ``layer_thickness_um``), else those of ``cell.layers``
    (:func:`ssbscope.compton.correlate.register_on_interface`).

    Returns (InterfaceRegistration, reference scan index, reference time_s, state whose
    thicknesses were used or None).
    """
    from ssbscope.compton.correlate import register_on_interface

    series_ct = ct["series"]
    iface = ct["register_interface"]
    t_lab = np.asarray(labels_ds["time_s"].values, float)
    k_ref = int(np.argmin(t_lab)) if k_ref is None else int(k_ref)
    if "height_um" not in maps_ds or "interface" not in maps_ds.coords:
        raise InputError(f"tomo/{series_ct}/maps has no interface height maps; the CT cannot be registered on "
                         f"{iface!r} (analysis.compton.ct_register_interface); measure it with "
                         "analysis.tomo.interfaces, or give analysis.compton.ct_z_offset_um")
    have = [str(v) for v in maps_ds["interface"].values]
    norm = ["|".join(p.strip() for p in h.split("|")) for h in have]
    if iface not in norm:
        raise InputError(f"tomo/{series_ct}/maps: no height map of {iface!r} (interfaces {have}); add it to "
                         "analysis.tomo.interfaces, or name one of those in analysis.compton.ct_register_interface")
    t_map = np.asarray(maps_ds["time_s"].values, float)
    j = int(np.argmin(np.abs(t_map - t_lab[k_ref])))
    if abs(t_map[j] - t_lab[k_ref]) > 1e-6 * max(1.0, abs(t_lab[k_ref])):
        raise InputError(f"tomo/{series_ct}/maps: no scan at time_s {t_lab[k_ref]:g} (the labels' first scan); "
                         "the CT series' products are out of step, run the tomo stages again")
    h = np.asarray(maps_ds["height_um"].isel(time_s=j, interface=norm.index(iface)).values, float)
    names = [ly[0] for ly in layers]
    t = [ly[2] for ly in layers]
    used = None
    for strict in (True, False):  # the XCS state of the reference scan: its declared thicknesses
        for s, ks in by_state.items():
            m = members[ks[0]]
            if strict:
                k = _matched_scan(labels_ds, m["state"], m["time_s"])
            else:
                try:
                    k = _ct_scan_index(labels_ds, series_ct, m["state"], m["time_s"])
                except InputError:
                    continue
            if k == k_ref:
                t = [m["layer_thickness_um"].get(n, ly[2]) for n, ly in zip(names, layers)]
                used = s
                break
        if used is not None:
            break
    try:
        reg = register_on_interface(h, iface, names, t)
    except EmptyResultError as err:
        raise EmptyResultError(f"tomo/{series_ct}/maps, scan at time_s {t_lab[k_ref]:g}: {err}") from None
    log.info("XCS-CT registration on %s: mean height %.2f um in the CT's scan at time_s %g, declared "
             "%.2f um: CT bottom at %.2f um", iface, reg.measured_height_um, t_lab[k_ref],
             reg.declared_height_um, reg.z_offset_um)
    return reg, k_ref, float(t_lab[k_ref]), used


def _ct_fractions(labels_ds, ct, members, ks, layers, comps, geometry, mask, radius_mm, z_offset_um=None,
                  scan=None):
    """Sheet fractions of the exposures ``ks`` (one state) from its CT scan (XCS-CT correlation).

    ``scan``: index of the CT scan whose labels give the fractions (default: the scan of the
    same state name, else the nearest time_s, :func:`_ct_scan_index`).

    Returns (fractions (len(ks), n_comp), SheetComponentFractions per exposure, scan index,
    z offset used (um), declared-layer fractions (len(ks), n_comp)).
    """
    from ssbscope.compton.correlate import SheetGeometry, ct_component_fractions
    from ssbscope.compton.series import sheet_layer_fractions

    series_ct = ct["series"]
    phases = [str(p) for p in _as_list(labels_ds.attrs.get("phases", []))]
    vs = float(labels_ds.attrs["voxel_size_um"])
    m0 = members[ks[0]]
    k = _ct_scan_index(labels_ds, series_ct, m0["state"], m0["time_s"]) if scan is None else int(scan)
    lab = np.asarray(labels_ds["labels"].isel(time_s=k).values)
    cm = np.asarray(labels_ds["cell_mask"].values, bool) if "cell_mask" in labels_ds else None
    names = [ly[0] for ly in layers]
    if z_offset_um is not None:  # registered on an interface (_ct_interface_registration)
        z_off = float(z_offset_um)
    elif ct["z_offset_um"] is not None:
        z_off = float(ct["z_offset_um"])
    else:
        z_off = _layer_registration(labels_ds, ct, k)
    mats = ct["materials"]
    cph = dict(ct["phases"])
    for c in comps:  # default: the component's material when the CT segmented it
        if c not in cph and c not in ct["within"] and mats.get(c) in phases:
            cph[c] = [mats[c]]
    if not any(cph.get(c) for c in comps):
        raise InputError(f"tomo/{series_ct}/labels: none of the components {comps} is a CT phase ({phases}); "
                         "map them with analysis.compton.ct_phases")
    geo = None
    if geometry is not None:
        geo = SheetGeometry(0.25, 25.0, int(mask.shape[0]), geometry["pixel_pitch_mm"]
                            * geometry["sample_to_pinhole_mm"] / geometry["pinhole_to_detector_mm"])
    elif mask.shape[0] != 80:
        geo = SheetGeometry(0.25, 25.0, int(mask.shape[0]), 0.25 * 160.0 / 150.0)
    f = np.zeros((len(ks), len(comps)))
    fl = np.zeros((len(ks), len(comps)))
    res = []
    for i, kk in enumerate(ks):
        m = members[kk]
        t = [m["layer_thickness_um"].get(n, ly[2]) for n, ly in zip(names, layers)]
        r = ct_component_fractions(lab, vs, phases, [m["beam_height_um"]], m["beam_thickness_um"], z_offset_um=z_off,
                                   components=comps, layer_thickness_um=t, layer_names=names,
                                   component_phases=cph, within=ct["within"], cell_mask=cm, geometry=geo,
                                   detector_mask=mask if (geometry is not None or mask.shape[0] == 80) else None,
                                   tile_radius_mm=radius_mm, position_names=[m["label"]])
        f[i] = r.fractions[0]
        fl[i] = sheet_layer_fractions(t, m["beam_height_um"], m["beam_thickness_um"])[[names.index(c) for c in comps]]
        res.append(r)
    return f, res, k, z_off, fl


def _labels_follow_offset(ct) -> bool:
    """Whether each state's CT phase fractions come from the scan that places the CT for it
    (``ct_register_scans: each`` with a measured registration): the offset and the labels
    then come from one scan."""
    return ct.get("register_scans", "first") == "each" and ct.get("z_offset_um") is None


def _ct_state_fractions(labels_ds, maps_ds, ct, members, by_state, states, layers, comps, geometry, mask,
                        radius_mm):
    """Sheet fractions of every exposure from the segmented CT (XCS-CT correlation) and the
    scans used per state.

    The scan whose measurement places the CT for a state is :func:`_offset_scans`'s
    (``ct_register_scans``).  With ``each`` (and a measured registration) the state's phase
    fractions come from that same scan: its matched scan (same state name, else time_s
    within :data:`MATCH_TIME_TOLERANCE_S`), else the latest scan at or before its time_s,
    else the first; with ``first`` (the series' scans registered to the first, whose offset
    holds for all) or a given ``ct_z_offset_um``, from the scan of the same state name, else
    the nearest time_s (:func:`_ct_scan_index`).

    Returns (fractions (n_exposures, n_comp), CT scan time_s per exposure, ``ct_out``: per
    state ``scan`` / ``scan_time_s`` (labels), ``offset_scan`` / ``offset_time_s`` (offset),
    ``z_offset_um``, the registrations and the per-exposure results).
    """
    follow = _labels_follow_offset(ct)
    frac = np.zeros((len(members), len(comps)))
    ct_time = np.full(len(members), np.nan)
    ct_out = {"scan": {}, "z_offset_um": {}, "res": {}, "layers": {}, "register": None, "scan_time_s": {},
              "voxel_size_um": float(labels_ds.attrs["voxel_size_um"])}
    # the scan whose measurement places the CT for each state (ct_register_scans) and its offset
    t_lab = np.asarray(labels_ds["time_s"].values, float)
    k_off = _offset_scans(labels_ds, ct, members, by_state, states)
    per_scan = {}
    for k in sorted(set(k_off.values()) | {int(np.argmin(t_lab))}):
        if ct.get("register_interface"):
            r = _ct_interface_registration(maps_ds, labels_ds, ct, members, by_state, layers, k_ref=k)
            per_scan[k] = (float(r[0].z_offset_um), r)
        elif ct["z_offset_um"] is not None:
            per_scan[k] = (float(ct["z_offset_um"]), None)
        else:
            per_scan[k] = (_layer_registration(labels_ds, ct, k), None)
    ct_out["register"] = per_scan[int(np.argmin(t_lab))][1]
    ct_out["first_z_offset_um"] = per_scan[int(np.argmin(t_lab))][0]
    ct_out["offset_scan"] = {s: k_off[s] for s in states}
    ct_out["offset_time_s"] = {s: (float("nan") if ct["z_offset_um"] is not None else float(t_lab[k_off[s]]))
                               for s in states}
    ct_out["state_register"] = {s: per_scan[k_off[s]][1] for s in states}
    for s in states:
        ks = by_state[s]
        f, res, kscan, z_off, fl = _ct_fractions(labels_ds, ct, members, ks, layers, comps,
                                                 geometry, mask, radius_mm,
                                                 z_offset_um=per_scan[k_off[s]][0],
                                                 scan=k_off[s] if follow else None)
        frac[ks] = f
        ct_time[ks] = float(t_lab[kscan])
        ct_out["scan"][s], ct_out["z_offset_um"][s] = kscan, z_off
        ct_out["res"][s], ct_out["layers"][s] = res, fl
        ct_out["scan_time_s"][s] = float(t_lab[kscan])
    return frac, ct_time, ct_out


def _series_stage(ctx, inputs, *, series, members, layers, components, phase_source="layers", ct=None,
                  radius_mm=None, block_px=4, min_block_counts=100.0, low_au=(0.0, 1.0),
                  high_au=(1.0, 5.0), reference_points=(), reference_component=None,
                  radial_edges_mm=None, layer_diameters_mm=None):
    """Unmix a series of XCS exposures into the cell's layers (see :mod:`ssbscope.compton.series`).

    With ``radial_edges_mm`` (and the pinhole geometry) the good pixels of each ring are summed
    too and unmixed with the sheet fractions scaled by the ring's area inside each layer's
    diameter (``layer_diameters_mm``): ``compton/<series>/radial``.

    ``members``: one dict per exposure (label, state, time_s, beam_height_um,
    beam_thickness_um, monitor, layer_thickness_um, e_incident_kev, angle_deg, geometry,
    sensor_thickness_mm or None); ``layers``: (name, material, thickness_um) bottom to top.
    """
    import xarray as xr

    from ssbscope.compton.electron_momentum import (
        detector_efficiency,
        perturbed_coefficients,
        weight_perturbations,
    )
    from ssbscope.compton.regions import align_to_angle
    from ssbscope.compton.series import (
        detector_correction,
        emf_x_calibration,
        sheet_layer_fractions,
        unmix_emf,
        unmix_emf_blocks,
        window_coefficients,
    )

    names = [ly[0] for ly in layers]
    mats = {ly[0]: ly[1] for ly in layers}
    cubes = [inputs[f"compton/input/{m['label']}/cube"] for m in members]
    specs = [inputs[f"compton/input/{m['label']}/spectrum"] for m in members]
    edges = np.asarray(cubes[0]["energy_edges_kev"].values, float)
    for m, c in zip(members, cubes):
        if not np.array_equal(np.asarray(c["energy_edges_kev"].values, float), edges):
            raise InputError(f"series {series!r}: exposure {m['label']} has another energy axis; give the "
                             "exposures of a series the same e_max_kev and analysis.compton.bin_kev")
    good = np.logical_and.reduce([np.asarray(c["good_pixel"].values, bool) for c in cubes])
    mask, mask_desc = _series_pixels(good, members[0]["geometry"], radius_mm)
    if not mask.any():
        raise EmptyResultError(f"series {series!r}: no pixel is good in every exposure"
                               + (f" within {radius_mm:g} mm of the axis" if radius_mm else ""))
    n_rows, n_cols = mask.shape
    amask = mask
    ring_pix = []
    if radial_edges_mm is not None:
        geo = members[0]["geometry"]
        obj = geo["pixel_pitch_mm"] * geo["sample_to_pinhole_mm"] / geo["pinhole_to_detector_mm"]
        yy, xx = np.meshgrid((np.arange(n_rows) - (n_rows - 1) / 2) * obj,
                             (np.arange(n_cols) - (n_cols - 1) / 2) * obj, indexing="ij")
        rr = np.hypot(yy, xx)
        ring_pix = [good & (rr >= r0) & (rr < r1) for r0, r1 in zip(radial_edges_mm, radial_edges_mm[1:])]
        amask = mask | np.logical_or.reduce(ring_pix)
    nb = int(block_px)
    nbr, nbc = n_rows // nb, n_cols // nb
    bmask = mask[:nbr * nb, :nbc * nb].reshape(nbr, nb, nbc, nb).all(axis=(1, 3))
    # the Compton region only (the windows and the detector tail stay above 60 keV at 115 keV / 90 deg)
    i0 = int(np.searchsorted(edges, min(60.0, 0.6 * members[0]["e_incident_kev"]) - 1e-9))
    full_e = 0.5 * (edges[1:] + edges[:-1])
    edges = edges[i0:]
    e = 0.5 * (edges[1:] + edges[:-1])
    spectra, blocks, coeff_a, coeff_b, corr_desc, corr_mats = [], [], [], [], [], []
    coeff_pm = []      # per exposure: ((a, b) at t - s, (a, b) at t + s) or None (tail term)
    no_tail = []       # per exposure: None, or why its flood gives no tail correction
    ring_spectra = []
    cache: dict = {}
    for m, c, sp in ctx.progress(list(zip(members, cubes, specs)), desc=f"compton {series}"):
        counts = np.asarray(c["counts"].values, float)[:, :, i0:]
        if "angle_deg" in c:
            counts = align_to_angle(counts, edges, np.asarray(c["angle_deg"].values, float),
                                    e_incident_kev=m["e_incident_kev"], reference_angle_deg=m["angle_deg"],
                                    mask=amask)
        else:
            counts = np.where(amask[:, :, None], counts, 0.0)
        spectra.append(counts[mask].sum(axis=0))
        ring_spectra.append([counts[rp].sum(axis=0) for rp in ring_pix])
        blk = counts[:nbr * nb, :nbc * nb].reshape(nbr, nb, nbc, nb, -1).sum(axis=(1, 3))
        blocks.append(np.where(bmask[:, :, None], blk, 0.0))
        del counts
        fl = None
        if "flood_counts" in sp:
            fc = np.asarray(sp["flood_counts"].values, float)
            fe = np.asarray(sp["flood_energy_kev"].values, float)
            fe_edges = (np.asarray(c["energy_edges_kev"].values, float) if fe.size == full_e.size
                        and np.allclose(fe, full_e) else
                        np.maximum(np.round(np.concatenate([fe - (fe[1] - fe[0]) / 2,
                                                            [fe[-1] + (fe[1] - fe[0]) / 2]]), 9), 0.0))
            fl = (fe_edges, fc,
                  float(sp.attrs.get("flood_line_kev", 59.5409)), str(sp.attrs.get("flood_tail_scaling", "none")))
        key = (None if fl is None else (fl[1].tobytes(), fl[2], fl[3]), m["sensor_thickness_mm"],
               m["e_incident_kev"], m["angle_deg"])
        if key not in cache:
            flood_name = sp.attrs.get("flood_file", "the flood")
            failed = None
            try:
                C, resp = detector_correction(edges, *(fl[:2] if fl else (None, None)),
                                              flood_line_kev=fl[2] if fl else 59.5409,
                                              sensor_thickness_mm=m["sensor_thickness_mm"],
                                              tail_scaling=fl[3] if fl else "none")
            except (EmptyResultError, DataQualityError, InputError) as err:
                failed = str(err)
            else:
                if resp is not None and not resp.tail_resolved:
                    failed = f"tail not resolved: {resp.reason}"
            if failed is not None:
                # as the input stage: no tail correction, so no EMF (it would be biased low)
                log.warning("series %s, exposure %s: %s: no tail response from the flood: %s; the "
                            "EMFs of its state are not given", series, m["label"], flood_name, failed)
                C, resp = detector_correction(edges, sensor_thickness_mm=m["sensor_thickness_mm"])
                failed = f"{flood_name}: {failed}"
            a, b = window_coefficients(edges, m["e_incident_kev"], m["angle_deg"], low_au=low_au,
                                       high_au=high_au, correction=C)
            pm = None
            pairs = weight_perturbations(resp) if failed is None else []
            if pairs:  # the same correction with the flood's weights at w -+ d_j (weight_perturbations)
                eff_m = None
                if m["sensor_thickness_mm"] is not None:
                    def eff_m(x, _t=float(m["sensor_thickness_mm"])):
                        return detector_efficiency(x, thickness_mm=_t, material="CdZnTe")
                a0, b0 = window_coefficients(edges, m["e_incident_kev"], m["angle_deg"], low_au=low_au,
                                             high_au=high_au)
                pm = [tuple((co[0], co[1]) for co in pair)
                      for pair in perturbed_coefficients(edges, np.stack([a0, b0]), pairs, eff_m)]
            d = []
            if "angle_deg" in c:
                d.append("angle alignment")
            if resp is not None and failed is None:
                d.append(f"tail (flood line, tail fraction {resp.tail_fraction:.3f} +- "
                         f"{resp.tail_fraction_unc:.3f})")
            if m["sensor_thickness_mm"] is not None:
                d.append(f"efficiency ({m['sensor_thickness_mm']:g} mm CdZnTe)")
            cache[key] = (a, b, " + ".join(d) or "none", C, pm, failed)
        a, b, d, C, pm, failed = cache[key]
        coeff_a.append(a)
        coeff_b.append(b)
        corr_desc.append(d)
        corr_mats.append(C)
        coeff_pm.append(pm)
        no_tail.append(failed)
    # ---- states and positions
    order = list(range(len(members)))
    if all(m["time_s"] is not None for m in members):
        order.sort(key=lambda k: members[k]["time_s"])
    states: list = []
    for k in order:
        if members[k]["state"] not in states:
            states.append(members[k]["state"])
    by_state = {s: sorted([k for k in range(len(members)) if members[k]["state"] == s],
                          key=lambda k: members[k]["beam_height_um"]) for s in states}
    npos = max(len(v) for v in by_state.values())
    ns = len(states)
    labels_ds = None
    if ct is not None:
        labels_ds = inputs[f"tomo/{phase_source}/labels"]
    # sheet fractions of every layer (declared) or component (CT) at each exposure
    frac_all = np.zeros((len(members), len(names)))
    ct_time = np.full(len(members), np.nan)
    for k, m in enumerate(members):
        unknown = set(m["layer_thickness_um"]) - set(names)
        if unknown:
            raise InputError(f"inputs.compton ({m['label']}): layer_thickness_um names {sorted(unknown)}, "
                             f"not layers of the cell ({names})")
        t = [m["layer_thickness_um"].get(n, ly[2]) for n, ly in zip(names, layers)]
        frac_all[k] = sheet_layer_fractions(t, m["beam_height_um"], m["beam_thickness_um"])
    if components is None:
        components = [n for j, n in enumerate(names) if frac_all[:, j].max() > 1e-3]
    missing = [c for c in components if c not in names]
    if missing:
        raise InputError(f"analysis.compton.components: {missing} are not layers of the cell ({names})")
    comps = list(components)
    nc = len(comps)
    cidx = [names.index(c) for c in comps]
    ct_out = None
    if ct is None:
        frac = frac_all[:, cidx]
        how = "declared cell.layers thicknesses (with each exposure's layer_thickness_um), top-hat sheet"
    else:
        maps_ds = inputs[f"tomo/{phase_source}/maps"] if ct.get("register_interface") else None
        frac, ct_time, ct_out = _ct_state_fractions(labels_ds, maps_ds, ct, members, by_state, states, layers,
                                                    comps, members[0]["geometry"], mask, radius_mm)
        how = (f"XCS-CT correlation: segmented CT tomo/{phase_source}/labels ("
               + ("the scan that places the CT for the state, see ct_register_scans"
                  if _labels_follow_offset(ct) else "same state, else nearest time_s") + ") "
               "seen through the pinhole camera (ssbscope.compton.correlate.ct_component_fractions), "
               "declared layers outside the CT volume")
    # ---- unmixing per state
    emf = np.full((ns, nc), np.nan)
    emf_u = np.full((ns, nc), np.nan)
    emf_u_count = np.full((ns, nc), np.nan)
    emf_u_tail = np.zeros((ns, nc))
    tail_failed = np.full(ns, "", dtype=object)
    maps = np.full((ns, nc, nbr, nbc), np.nan)
    maps_u = np.full_like(maps, np.nan)
    cond = np.full(ns, np.nan)
    pos_emf = np.full((ns, npos), np.nan)
    pos_unc = np.full((ns, npos), np.nan)
    heights = np.full((ns, npos), np.nan)
    f_out = np.full((ns, npos, nc), np.nan)
    pos_counts = np.zeros((ns, npos, e.size))
    comp_spec = np.full((ns, nc, e.size), np.nan)
    lab_out = np.full((ns, npos), "", dtype=object)
    t_state = np.full(ns, np.nan)
    monitors = np.array([m["monitor"] for m in members], float)
    for si, s in enumerate(states):
        ks = by_state[s]
        r = np.stack([spectra[k] for k in ks])
        A = np.stack([coeff_a[k] for k in ks])
        B = np.stack([coeff_b[k] for k in ks])
        mon = monitors[ks]
        res = unmix_emf(r, frac[ks], A, B, monitors=mon, components=comps)
        emf[si], emf_u[si], cond[si] = res.emf, res.emf_unc, res.condition
        blk_s = np.stack([blocks[k] for k in ks])
        maps[si], maps_u[si] = unmix_emf_blocks(blk_s, frac[ks], A, B, monitors=mon, min_counts=min_block_counts)
        emf_u_count[si] = emf_u[si]
        floods = {id(coeff_pm[k]): coeff_pm[k] for k in ks if coeff_pm[k]}
        if floods:
            # tail term sqrt(sum_j ((EMF(w + d_j) - EMF(w - d_j)) / 2)^2) = sqrt(g^T cov_w g): each
            # flood's weights w perturbed along the eigen-directions d_j of their covariance
            # (weight_perturbations), moving together every exposure corrected with that flood;
            # independent floods add in quadrature, and all with the counting error
            var_s, var_m = 0.0, 0.0
            for fid, pm in floods.items():
                for j in range(len(pm)):
                    ab = []
                    for h in (0, 1):
                        use = [pm[j][h] if coeff_pm[k] is not None and id(coeff_pm[k]) == fid
                               else (coeff_a[k], coeff_b[k]) for k in ks]
                        ab.append((np.stack([u[0] for u in use]), np.stack([u[1] for u in use])))
                    ev = [unmix_emf(r, frac[ks], aa, bb, monitors=mon, components=comps).emf for aa, bb in ab]
                    var_s = var_s + (0.5 * (ev[1] - ev[0])) ** 2
                    mv = [unmix_emf_blocks(blk_s, frac[ks], aa, bb, monitors=mon, min_counts=min_block_counts)[0]
                          for aa, bb in ab]
                    var_m = var_m + (0.5 * (mv[1] - mv[0])) ** 2
            emf_u_tail[si] = np.sqrt(var_s)
            emf_u[si] = np.hypot(emf_u[si], emf_u_tail[si])
            maps_u[si] = np.hypot(maps_u[si], np.sqrt(var_m))
        why = sorted({no_tail[k] for k in ks if no_tail[k] is not None})
        if why:  # a flood that gives no tail correction: no EMF for the state (as the input stage)
            emf[si], emf_u[si], maps[si], maps_u[si] = np.nan, np.nan, np.nan, np.nan
            emf_u_count[si], emf_u_tail[si] = np.nan, np.nan
            tail_failed[si] = "; ".join(why)
        for pi, k in enumerate(ks):
            one = unmix_emf(r[pi:pi + 1], np.ones((1, 1)), A[pi:pi + 1], B[pi:pi + 1], components=["all"])
            pos_emf[si, pi], pos_unc[si, pi] = one.emf[0], one.emf_unc[0]
            heights[si, pi] = members[k]["beam_height_um"]
            f_out[si, pi] = frac[k]
            pos_counts[si, pi] = r[pi]
            lab_out[si, pi] = members[k]["label"]
            if no_tail[k] is not None:
                pos_emf[si, pi], pos_unc[si, pi] = np.nan, np.nan
        # corrected component spectra per unit monitor and sheet fraction (for display)
        corr = [(corr_mats[k] @ spectra[k] if corr_mats[k] is not None else spectra[k]) / monitors[k] for k in ks]
        comp_spec[si] = res.unmixing @ np.stack(corr)
        ts = [members[k]["time_s"] for k in ks if members[k]["time_s"] is not None]
        t_state[si] = float(np.mean(ts)) if ts else np.nan
        if res.condition > 50:
            log.warning("series %s, state %s: the sheet fractions are ill-conditioned (cond %.0f); the "
                        "component EMFs are uncertain", series, s, res.condition)
    radial = None
    if radial_edges_mm is not None:
        radial = _radial_unmix(states, by_state, ring_spectra, frac, coeff_a, coeff_b, monitors, comps,
                               list(radial_edges_mm), layer_diameters_mm or {}, ring_pix, t_state, series,
                               coeff_pm=coeff_pm)
        bad = tail_failed != ""  # no tail correction: no EMF (as emf and maps)
        if bad.any():
            for v in ("emf", "emf_unc", "emf_unc_counting", "emf_unc_tail"):
                radial[v].values[bad] = np.nan
    # ---- EMF -> x calibration
    li_mats = {"li", "li metal", "lithium"}
    anode = next((c for c in comps if str(mats[c]).lower() in li_mats), comps[0])
    coords = {"state": list(states), "component": comps, "time_s": ("state", t_state)}
    data = {"emf": (("state", "component"), emf, {"units": "1", "description":
                    "electron momentum factor E_L/E_H (Eqs. 3-5) of each unmixed component"}),
            "emf_unc": (("state", "component"), emf_u, {"units": "1", "description":
                        "1-sigma uncertainty: hypot(emf_unc_counting, emf_unc_tail)"}),
            "emf_unc_counting": (("state", "component"), emf_u_count, {"units": "1", "description":
                                 "1-sigma counting uncertainty, propagated exactly through the unmixing"}),
            "emf_unc_tail": (("state", "component"), emf_u_tail, {"units": "1", "description":
                             "1-sigma uncertainty from the flood's tail fit: sqrt(g^T cov_w g), g = dEMF/dw "
                             "over the tail weights w (central differences along the eigen-directions of "
                             "their covariance, weight_perturbations); 0 without a tail correction"}),
            "tail_not_resolved": ("state", tail_failed.astype(str), {"description":
                                  "why the state has no EMF: its flood gives no tail correction "
                                  "(empty: corrected)"}),
            "emf_position": (("state", "position"), pos_emf, {"units": "1", "description":
                             "EMF of each exposure (the mixture the sheet sees), same corrections"}),
            "emf_position_unc": (("state", "position"), pos_unc, {"units": "1", "description":
                                 "1-sigma counting uncertainty (the flood's tail term is in emf_unc only)"}),
            "beam_height_um": (("state", "position"), heights, {"units": "um", "description":
                               "sheet centre above the bottom of the cell stack (z = 0)"}),
            "fraction": (("state", "position", "component"), f_out, {"units": "1", "description":
                         "sheet fraction of each component used for the unmixing"}),
            "exposure": (("state", "position"), lab_out.astype(str)),
            "condition": ("state", cond, {"units": "1", "description": "condition number of the fraction matrix"})}
    attrs = {"series": series, "components": comps, "anode_component": anode,
             "phase_fractions": how, "pixels": mask_desc, "n_pixels": int(mask.sum()),
             "low_au": list(low_au), "high_au": list(high_au),
             "detector_corrections": sorted(set(corr_desc)),
             "method": "least-squares unmixing s = pinv(f) r of the angle-aligned spectra per unit "
                       "monitor; EMF windows with each exposure's detector correction; Poisson "
                       "variances propagated exactly (ssbscope.compton.series)",
             "paper": "000_290f30815ae66793"}
    if ct is not None:
        data["ct_time_s"] = (("state", "position"), np.array(
            [[ct_time[by_state[s][p]] if p < len(by_state[s]) else np.nan for p in range(npos)]
             for s in states]), {"units": "s", "description": "time_s of the CT scan giving the fractions"})
    if reference_points:
        rc = reference_component or ("cathode" if "cathode" in comps else None)
        if rc is None or rc not in comps:
            raise InputError(f"analysis.compton.reference_component: {rc!r} is not a component ({comps}); "
                             "name the component the reference points belong to")
        cal = emf_x_calibration([p[0] for p in reference_points], [p[1] for p in reference_points])
        ci = comps.index(rc)
        xs, xu = cal.li_content(emf[:, ci], emf_u[:, ci])
        data["x"] = ("state", np.atleast_1d(xs), {"units": "1", "description":
                     f"Li content of {rc} from its EMF (linear calibration on the reference points)"})
        data["x_unc"] = ("state", np.atleast_1d(xu), {"units": "1"})
        attrs.update({"x_component": rc, "calibration_slope": float(cal.slope),
                      "calibration_intercept": float(cal.intercept),
                      "reference_points": json.dumps([list(p) for p in reference_points])})
    em = xr.Dataset(data, coords=coords, attrs=attrs)
    map_coords, map_attrs = {}, {}
    geo = members[0]["geometry"]
    if geo is not None:
        # object-plane (sheet) position of each block's centre: the pinhole inverts the image
        obj = geo["pixel_pitch_mm"] * geo["sample_to_pinhole_mm"] / geo["pinhole_to_detector_mm"]
        rc = np.arange(nbr) * nb + (nb - 1) / 2
        cc = np.arange(nbc) * nb + (nb - 1) / 2
        # the image is inverted, so the detector's last block row is the sheet's lowest y: the
        # blocks are stored in reverse detector order, so that y_mm and x_mm increase along
        # block_row/block_col (an OME-Zarr image needs a positive scale; viewers draw y upwards)
        rc, cc = rc[::-1], cc[::-1]
        maps, maps_u, bmask = (np.ascontiguousarray(a[..., ::-1, ::-1]) for a in (maps, maps_u, bmask))
        map_coords = {"y_mm": ("block_row", ((n_rows - 1) / 2 - rc) * obj,
                               {"units": "mm", "description": "block centre in the sheet, from the cell axis"}),
                      "x_mm": ("block_col", ((n_cols - 1) / 2 - cc) * obj,
                               {"units": "mm", "description": "block centre in the sheet, from the cell axis"}),
                      "detector_block_row": ("block_row", np.arange(nbr)[::-1],
                                             {"units": "1", "description": "block row on the detector"}),
                      "detector_block_col": ("block_col", np.arange(nbc)[::-1],
                                             {"units": "1", "description": "block column on the detector"})}
        map_attrs = {"block_size_mm": float(nb * obj), "pixel_size_mm": float(obj),
                     "ome_default": "emf",
                     "block_order": "increasing y_mm / x_mm (the pinhole inverts the image: detector "
                                    "block order reversed, see detector_block_row/_col)"}
    # with the geometry the maps are OME-Zarr images (ssbscope.ome: state -> t by time_s,
    # component -> c, block_row/block_col -> y/x by y_mm/x_mm); without it they have no scale
    ome = {"ome_image": "image"} if map_coords else {}
    mp = xr.Dataset({"emf": (("state", "component", "block_row", "block_col"), maps, {"units": "1", **ome}),
                     "emf_unc": (("state", "component", "block_row", "block_col"), maps_u,
                                 {"units": "1", **ome}),
                     "block_inside": (("block_row", "block_col"), bmask, {"units": "1"})},
                    coords={"state": list(states), "component": comps, "time_s": ("state", t_state),
                            "block_row": np.arange(nbr), "block_col": np.arange(nbc), **map_coords},
                    attrs={"series": series, "block_px": nb, "min_block_counts": float(min_block_counts), **map_attrs,
                           "description": "EMF of each component unmixed block by block (the series' "
                                          "sheet fractions for every block); NaN outside the analysed "
                                          "pixels or with too few counts"})
    spd = xr.Dataset({"counts": (("state", "position", "energy_kev"), pos_counts, {"units": "count",
                                 "description": "angle-aligned sum over the analysed pixels"}),
                      "component_spectrum": (("state", "component", "energy_kev"), comp_spec,
                                             {"units": "count", "long_name": "counts per monitor per sheet fraction",
                                              "description": "detector-corrected, unmixed"})},
                     coords={"state": list(states), "component": comps, "energy_kev": e,
                             "time_s": ("state", t_state)},
                     attrs={"series": series, "bin_kev": float(edges[1] - edges[0])})
    base = f"compton/{series}"
    out = {f"{base}/emf": em, f"{base}/maps": mp, f"{base}/spectra": spd,
           f"{base}/profiles": _profiles(comp_spec, e, comps, states, t_state, members[0], series, low_au, high_au)}
    if ct_out is not None:
        out[f"{base}/ct_fractions"] = _ct_dataset(ct_out, states, by_state, members, comps, npos, frac, ct_time,
                                                  phase_source, ct, series)
    if radial is not None:
        out[f"{base}/radial"] = radial
    return out


def _profiles(comp_spec, e, comps, states, t_state, m0, series, low_au, high_au):
    """Compton profiles J(p_z) of the unmixed, detector-corrected component spectra."""
    import xarray as xr

    from ssbscope.compton.electron_momentum import spectrum_to_profile

    pz = np.linspace(-6.0, 6.0, 241)
    de = float(e[1] - e[0])
    edges = np.concatenate([e - de / 2, [e[-1] + de / 2]])
    j = np.full((len(states), len(comps), pz.size), np.nan)
    for si in range(len(states)):
        for ci in range(len(comps)):
            sp = comp_spec[si, ci]
            if not np.all(np.isfinite(sp)) or sp.sum() <= 0:
                continue
            try:
                pr = spectrum_to_profile(edges, np.clip(sp, 0.0, None), m0["e_incident_kev"], m0["angle_deg"],
                                         normalise="area", norm_range_au=5.0)
            except Exception as err:  # noqa: BLE001 - named per component, never silent
                log.warning("series %s, %s at %s: no Compton profile (%s)", series, comps[ci], states[si], err)
                continue
            j[si, ci] = np.interp(pz, pr.pz_au, pr.j, left=np.nan, right=np.nan)
    return xr.Dataset({"j": (("state", "component", "pz_au"), j, {"units": "1", "long_name": "J(p_z)",
                             "description": "Compton profile of each unmixed component (impulse approximation, "
                                            "area 1 over |p_z| < 5 atomic units), from its detector-corrected "
                                            "spectrum (compton/<series>/spectra component_spectrum)"})},
                      coords={"state": list(states), "component": list(comps), "pz_au": pz,
                              "time_s": ("state", t_state)},
                      attrs={"series": series, "low_au": list(low_au), "high_au": list(high_au),
                             "paper": "000_290f30815ae66793"})


def _ct_dataset(ct_out, states, by_state, members, comps, npos, frac, ct_time, ct_series, ct, series):
    """``compton/<series>/ct_fractions``: the XCS-CT correlation of every state and position."""
    import xarray as xr

    phases: list = []
    for s in states:
        for r in ct_out["res"][s]:
            phases += [p for p in r.phases if p not in phases]
    n = None
    for s in states:
        for r in ct_out["res"][s]:
            if r.detector is not None:
                n = r.detector.fractions.shape[-1]
    n = n or 1
    ns = len(states)
    pf = np.full((ns, npos, len(phases)), np.nan)
    pix = np.zeros((ns, npos, len(phases), n, n), np.float32)
    cov = np.full((ns, npos), np.nan)
    f_ct = np.full((ns, npos, len(comps)), np.nan)
    f_lay = np.full((ns, npos, len(comps)), np.nan)
    h = np.full((ns, npos), np.nan)
    how = {}
    for si, s in enumerate(states):
        for pi, (k, r) in enumerate(zip(by_state[s], ct_out["res"][s])):
            for j, p in enumerate(r.phases):
                pf[si, pi, phases.index(p)] = r.phase_fractions[0, j]
                if r.detector is not None:
                    pix[si, pi, phases.index(p)] = r.detector.fractions.sel(phase=p).values[0] \
                        if p in [str(v) for v in r.detector.fractions["phase"].values] else 0.0
            cov[si, pi] = r.coverage[0]
            f_ct[si, pi] = frac[k]
            f_lay[si, pi] = ct_out["layers"][s][pi]
            h[si, pi] = members[k]["beam_height_um"]
            how.update(r.how)
    extra = {}
    sreg = ct_out.get("state_register") or {}
    if sreg and all(sreg.get(s) is not None for s in states):  # registered on an interface
        extra = {
            "register_measured_height_um": ("state", np.array([sreg[s][0].measured_height_um for s in states], float),
                                            {"units": "um", "description": "mean measured height of the "
                                             "registration interface above the CT's bottom in the scan of "
                                             "z_offset_scan_time_s"}),
            "register_declared_height_um": ("state", np.array([sreg[s][0].declared_height_um for s in states], float),
                                            {"units": "um", "description": "its declared height in the XCS cell "
                                             "(layer thicknesses of the state matched to that scan, else "
                                             "cell.layers)"})}
    return xr.Dataset(
        {**extra,
         "fraction": (("state", "position", "component"), f_ct, {"units": "1", "description":
                      "sheet fraction of each component from the CT (the unmixing matrix)"}),
         "fraction_layers": (("state", "position", "component"), f_lay, {"units": "1", "description":
                             "the same from the declared layers (with layer_thickness_um), for comparison"}),
         "phase_fraction": (("state", "position", "phase"), pf, {"units": "1", "description":
                            "phase fractions of the part of the sheet inside the CT volume (detector pixels "
                            "summed by the series)"}),
         "pixel_fraction": (("state", "position", "phase", "row", "col"), pix, {"units": "1", "description":
                            "per detector pixel: phase fractions of the cell volume it sees in the sheet"}),
         "coverage": (("state", "position"), cov, {"units": "1", "description":
                      "fraction of the sheet's height inside the CT volume"}),
         "beam_height_um": (("state", "position"), h, {"units": "um"}),
         "z_offset_um": ("state", np.array([ct_out["z_offset_um"][s] for s in states], float), {"units": "um",
                         "description": "height of the CT volume's bottom above z = 0 of the XCS cell's layers, "
                                        "as used for the state (register_scans: first: the first scan's for every "
                                        "state; each: measured on the state's matched scan, else the latest one "
                                        "at or before its time_s, else the first)"}),
         "z_offset_scan_time_s": ("state", np.array([ct_out.get("offset_time_s", {}).get(s, np.nan)
                                                     for s in states], float),
                                  {"units": "s", "description": "time_s of the CT scan whose measurement gave "
                                                                "z_offset_um (NaN: given in the YAML)"}),
         "ct_time_s": ("state", np.array([ct_time[by_state[s][0]] for s in states], float), {"units": "s",
                       "description": "time_s of the CT scan whose labels gave this state's phase fractions "
                                      "(register_scans each: the scan of z_offset_scan_time_s; first or a given "
                                      "offset: same state name, else nearest time)"})},
        coords={"state": list(states), "component": list(comps), "phase": phases, "position": np.arange(npos),
                "row": np.arange(n), "col": np.arange(n)},
        attrs={"series": series, "ct_series": ct_series, "registration": _registration_text(ct, ct_out),
               **_registration_attrs(ct, ct_out),
               "component_source": json.dumps(how), "ct_within": json.dumps(ct["within"]),
               "paper": "000_290f30815ae66793"})


def _registration_text(ct, ct_out) -> str:
    """How the CT was placed in the XCS cell, in words (``ct_fractions`` attrs, report)."""
    if ct["z_offset_um"] is not None:
        return f"ct_z_offset_um {ct['z_offset_um']:g}"
    each = ct.get("register_scans", "first") == "each"
    per = ""
    if each and ct_out.get("z_offset_um"):
        per = "; per state: " + ", ".join(
            f"{s} {z:.2f} um (scan at time_s {ct_out['offset_time_s'][s]:g})" for s, z in ct_out["z_offset_um"].items())
    mode = ("ct_register_scans each: every XCS state placed by its matched CT scan (else the latest one at or "
            "before it, else the first), its phase fractions from that same scan" if each else "ct_register_scans first: the first scan's offset holds for every state")
    if ct_out.get("register") is not None:
        reg, _, t_ref, used = ct_out["register"]
        return (f"interface {reg.interface!r}"
                + (" (default: the first of analysis.tomo.interfaces both cells declare)"
                   if ct.get("register_interface_default") else "")
                + f" measured in the CT's first scan (time_s {t_ref:g}): mean height "
                f"{reg.measured_height_um:.2f} um above the CT's bottom (std {reg.height_std_um:.2f} um over "
                f"{reg.n_columns} columns) put at its declared height {reg.declared_height_um:.2f} um ("
                + (f"layer thicknesses of state {used!r}" if used is not None else "cell.layers")
                + f"): CT bottom at {reg.z_offset_um:.2f} um; {mode}{per}")
    return (f"bottom of layer {ct['register_layer']!r} (layer_z_vox of tomo/{ct['series']}/labels) at its "
            f"declared height {ct['register_bottom_um']:g} um; {mode}{per}")


def _registration_attrs(ct, ct_out) -> dict:
    """``register_*`` attrs of ``compton/<series>/ct_fractions``."""
    vs = {"register_voxel_size_um": float(ct_out.get("voxel_size_um", np.nan)),
          "register_scans": "given" if ct["z_offset_um"] is not None else str(ct.get("register_scans", "first"))}
    if ct_out.get("register") is not None:
        reg, k_ref, t_ref, used = ct_out["register"]
        return {**vs, "register_method": "interface", "register_interface": reg.interface,
                "register_z_offset_um": float(reg.z_offset_um),
                "register_measured_height_um": float(reg.measured_height_um),
                "register_height_std_um": float(reg.height_std_um),
                "register_declared_height_um": float(reg.declared_height_um),
                "register_n_columns": int(reg.n_columns), "register_scan_time_s": float(t_ref),
                "register_thickness_state": "" if used is None else str(used),
                "register_default": bool(ct.get("register_interface_default", False))}
    if ct["z_offset_um"] is not None:
        return {**vs, "register_method": "given", "register_z_offset_um": float(ct["z_offset_um"])}
    return {**vs, "register_method": "layer", "register_layer": str(ct["register_layer"]),
            "register_z_offset_um": float(ct_out.get("first_z_offset_um", np.nan))}


def _ring_presence(r0: float, r1: float, diameter_mm) -> float:
    """Area fraction of the ring r0 <= r < r1 inside a disc of ``diameter_mm`` (1 when unknown)."""
    if diameter_mm is None:
        return 1.0
    R = 0.5 * float(diameter_mm)
    return float(np.clip((min(R, r1) ** 2 - r0 ** 2) / (r1 ** 2 - r0 ** 2), 0.0, 1.0))


def _radial_unmix(states, by_state, ring_spectra, frac, coeff_a, coeff_b, monitors, comps, edges,
                  diameters, ring_pix, t_state, series, coeff_pm=None):
    """``compton/<series>/radial``: per state and ring, the components unmixed from the ring's
    summed counts with the sheet fractions scaled by the ring's area inside each layer.

    ``emf_unc = hypot(emf_unc_counting, emf_unc_tail)`` as for the series' EMFs: the counting
    error exact through the unmixing, the flood's tail-fit error
    ``sqrt(sum_j ((EMF(w + d_j) - EMF(w - d_j)) / 2)^2)`` over the eigen-directions of each
    flood's weights (``coeff_pm``: per exposure, the window coefficients at ``w -+ d_j``, or
    None), the exposures sharing a flood moved together.
    """
    import xarray as xr

    from ssbscope.compton.series import unmix_emf

    nr, nc = len(edges) - 1, len(comps)
    pres = np.array([[_ring_presence(r0, r1, diameters.get(c)) for c in comps]
                     for r0, r1 in zip(edges, edges[1:])])
    val = np.full((len(states), nc, nr), np.nan)
    unc = np.full_like(val, np.nan)
    unc_count = np.full_like(val, np.nan)
    unc_tail = np.full_like(val, np.nan)
    coeff_pm = coeff_pm if coeff_pm is not None else [None] * len(coeff_a)
    for si, s in enumerate(states):
        ks = by_state[s]
        floods = {id(coeff_pm[q]): coeff_pm[q] for q in ks if coeff_pm[q]}
        for k in range(nr):
            keep = [j for j in range(nc) if pres[k, j] > 1e-6]
            if not keep or not ring_pix[k].any():
                continue
            f = frac[ks][:, keep] * pres[k, keep][None, :]
            r = np.stack([ring_spectra[q][k] for q in ks])
            try:
                res = unmix_emf(r, f, np.stack([coeff_a[q] for q in ks]), np.stack([coeff_b[q] for q in ks]),
                                monitors=monitors[ks], components=[comps[j] for j in keep])
            except (InputError, EmptyResultError) as err:
                log.warning("series %s, state %s, ring %d: not unmixed (%s)", series, s, k, err)
                continue
            var_t = np.zeros(len(keep))
            for fid, pm in floods.items():
                for j in range(len(pm)):
                    ev = []
                    for h in (0, 1):
                        use = [pm[j][h] if coeff_pm[q] is not None and id(coeff_pm[q]) == fid
                               else (coeff_a[q], coeff_b[q]) for q in ks]
                        ev.append(unmix_emf(r, f, np.stack([u[0] for u in use]), np.stack([u[1] for u in use]),
                                            monitors=monitors[ks]).emf)
                    var_t = var_t + (0.5 * (ev[1] - ev[0])) ** 2
            val[si, keep, k], unc_count[si, keep, k] = res.emf, res.emf_unc
            unc_tail[si, keep, k] = np.sqrt(var_t)
            unc[si, keep, k] = np.hypot(res.emf_unc, np.sqrt(var_t))
    return xr.Dataset(
        {"emf": (("state", "component", "ring"), val, {"units": "1", "description":
                 "EMF of each component unmixed from the ring's summed counts (NaN: the layer is not in the ring)"}),
         "emf_unc": (("state", "component", "ring"), unc, {"units": "1", "description":
                     "1-sigma uncertainty: hypot(emf_unc_counting, emf_unc_tail)"}),
         "emf_unc_counting": (("state", "component", "ring"), unc_count, {"units": "1", "description":
                              "1-sigma counting uncertainty, propagated exactly through the unmixing"}),
         "emf_unc_tail": (("state", "component", "ring"), unc_tail, {"units": "1", "description":
                          "1-sigma uncertainty from the flood's tail fit (0 without a tail correction)"}),
         "layer_area_fraction": (("ring", "component"), pres, {"units": "1", "description":
                                 "ring area inside the layer's declared diameter (scales its sheet fraction)"}),
         "n_pixels": ("ring", np.array([int(p.sum()) for p in ring_pix]), {"units": "1"})},
        coords={"state": list(states), "component": list(comps), "time_s": ("state", t_state),
                "ring": np.arange(nr),
                "r_inner_mm": ("ring", np.array(edges[:-1]), {"units": "mm"}),
                "r_outer_mm": ("ring", np.array(edges[1:]), {"units": "mm"})},
        attrs={"series": series, "description": "radial EMF profile: rings of good pixels by the object-plane "
               "radius of their centre (pinhole geometry), sheet fractions scaled by each layer's area in the ring"})
