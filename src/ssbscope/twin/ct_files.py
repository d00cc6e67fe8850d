"""Writers of the CT twin: Data Exchange HDF5 projections and TIFF volumes.

The files follow the layouts :func:`ssbscope.tomo.read_projections` and
:func:`ssbscope.tomo.read_volume` read from real instruments, so the twin exercises the
user's path.  Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ssbscope.errors import InputError, ParameterError

__all__ = ["write_dxchange", "write_tiff_volume"]


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_dxchange(path, scan, *, sample_name: str = "ssbscope twin",
                   start_date: str | None = None, end_date: str | None = None,
                   exposure_time_s: float | None = None, energy_kev: float | None = None,
                   truth_center: bool = True) -> Path:
    """Write a :class:`~ssbscope.twin.ct_project.CTScan` as Data Exchange HDF5.

    Layout (APS Data Exchange, as in tomopy's examples): ``/exchange/data``
    ``(n_angles, n_rows, n_detector)`` uint16, ``/exchange/data_white``,
    ``/exchange/data_dark``, ``/exchange/theta`` (degrees, attribute ``units``), plus
    ``/measurement/instrument/detector/pixel_size_um``, optionally the acquisition times
    ``/process/acquisition/start_date`` / ``end_date`` (ISO 8601 strings),
    ``/measurement/instrument/detector/exposure_time`` (s) and
    ``/measurement/instrument/monochromator/energy`` (keV), and, with ``truth_center``, the
    true rotation centre in ``/measurement/sample/rotation_center_px`` (twin ground truth that
    no analysis reads; a user's file has no such entry, so experiment folders leave it out).

    The bytes depend only on the arguments (no HDF5 object timestamps).

    Parameters
    ----------
    path : str or Path
        Output ``.h5`` file (overwritten atomically).
    scan : CTScan
        The simulated scan.
    sample_name : str
    start_date, end_date : str, optional
        Acquisition start / end (ISO 8601, e.g. ``"2024-03-04T12:00:00"``).
    exposure_time_s : float, optional
        Exposure per projection (s).
    energy_kev : float, optional
        Beam energy (keV).
    truth_center : bool
        Write the true rotation centre (twin ground truth).

    Returns
    -------
    Path
    """
    import h5py

    path = Path(path)
    for f in ("projections", "flats", "darks", "angles_rad"):
        if not hasattr(scan, f):
            raise InputError(f"scan: has no field {f!r}; pass a CTScan from simulate_scan()")
    tmp = _atomic_target(path)
    try:
        with h5py.File(tmp, "w", track_order=False) as h:
            kw = {"track_times": False}
            ex = h.create_group("exchange")
            d = ex.create_dataset("data", data=scan.projections,
                                  chunks=(1,) + scan.projections.shape[1:], **kw)
            d.attrs["axes"] = "theta:y:x"
            d.attrs["units"] = "counts"
            ex.create_dataset("data_white", data=scan.flats, **kw).attrs["units"] = "counts"
            ex.create_dataset("data_dark", data=scan.darks, **kw).attrs["units"] = "counts"
            ex.create_dataset("theta", data=np.rad2deg(scan.angles_rad),
                              **kw).attrs["units"] = "degrees"
            det = h.create_group("measurement/instrument/detector")
            det.create_dataset("pixel_size_um", data=float(scan.voxel_size_um), **kw)
            if exposure_time_s is not None:
                det.create_dataset("exposure_time", data=float(exposure_time_s),
                                   **kw).attrs["units"] = "s"
            if energy_kev is not None:
                mono = h.create_group("measurement/instrument/monochromator")
                mono.create_dataset("energy", data=float(energy_kev), **kw).attrs["units"] = "keV"
            smp = h.create_group("measurement/sample")
            smp.create_dataset("name", data=sample_name, **kw)
            if truth_center:
                smp.create_dataset("rotation_center_px", data=float(scan.center_px), **kw)
            if start_date is not None or end_date is not None:
                acq = h.create_group("process/acquisition")
                for key, val in (("start_date", start_date), ("end_date", end_date)):
                    if val is not None:
                        acq.create_dataset(key, data=str(val), **kw)
            h.attrs["implements"] = "exchange:measurement"
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_tiff_volume(path, volume, *, voxel_size_um: float, dtype=None, as_folder: bool = False
                      ) -> Path:
    """Write a ``(z, y, x)`` volume as a multi-page TIFF (or a folder of one TIFF per slice).

    The voxel size goes into the TIFF resolution tags (pixels per centimetre) and an ImageJ
    ``spacing`` entry (µm), which :func:`ssbscope.tomo.read_volume` reads back.

    Parameters
    ----------
    path : str or Path
        ``.tif`` file, or a folder when ``as_folder`` (files ``slice_00000.tif`` ...).
    volume : (n_z, n_y, n_x) array
    voxel_size_um : float
    dtype : numpy dtype, optional
        Cast before writing (e.g. ``np.float32``, ``np.uint16``).
    as_folder : bool

    Returns
    -------
    Path
    """
    import tifffile

    vol = np.asarray(volume)
    if vol.ndim != 3:
        raise InputError(f"volume: expected (z, y, x), got shape {vol.shape}")
    if not (voxel_size_um > 0):
        raise ParameterError("voxel_size_um", voxel_size_um, "must be > 0")
    if dtype is not None:
        vol = vol.astype(dtype)
    path = Path(path)
    imagej = vol.dtype in (np.uint8, np.uint16, np.float32)

    def write(target, arr):
        if imagej:  # ImageJ convention: resolution in pixels per `unit` (µm)
            tifffile.imwrite(target, arr, imagej=True,
                             resolution=(1.0 / voxel_size_um, 1.0 / voxel_size_um),
                             metadata={"spacing": float(voxel_size_um), "unit": "um",
                                       "axes": "ZYX" if arr.ndim == 3 else "YX"})
        else:  # baseline TIFF: pixels per centimetre
            px_per_cm = 1e4 / float(voxel_size_um)
            tifffile.imwrite(target, arr, resolution=(px_per_cm, px_per_cm),
                             resolutionunit="CENTIMETER")

    if as_folder:
        path.mkdir(parents=True, exist_ok=True)
        for i, sl in enumerate(vol):
            f = path / f"slice_{i:05d}.tif"
            tmp = _atomic_target(f)
            write(tmp, sl)
            os.replace(tmp, f)
        return path
    tmp = _atomic_target(path)
    try:
        write(tmp, vol)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
