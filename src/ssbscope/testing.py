"""Helpers for tests and examples that read the real instrument files.

The real files (potentiostat logs, CT projections and volumes, neutron FITS, HEXITEC streams)
live outside the package, in ``shared/realdata`` beside a checkout.  :func:`realdata_dir`
finds that folder the same way for every test module, and lets a user point the suite at a
copy elsewhere with the ``SSBSCOPE_REALDATA`` environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REALDATA_ENV", "realdata_dir", "ANODE_FREE_LAYERS", "ANODE_FREE_SERIES_KW",
           "anode_free_recon_series"]

#: Environment variable naming the real-data folder (the one holding ``potentiostat/``,
#: ``ct_volume/``, ``neutron/``, ``hexitec/``, ...).
REALDATA_ENV = "SSBSCOPE_REALDATA"


def _candidates():
    env = os.environ.get(REALDATA_ENV)
    if env:
        yield Path(env).expanduser()
        return
    seen = set()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for anc in (start, *start.parents):
            if anc in seen:
                continue
            seen.add(anc)
            yield anc / "shared" / "realdata"


def realdata_dir(*parts: str) -> Path:
    """Path of the real-data folder (or of ``parts`` inside it).

    Resolution order: ``$SSBSCOPE_REALDATA`` when set (used as given, even if missing, so a
    wrong setting shows up as skipped tests naming it); otherwise the first
    ``<ancestor>/shared/realdata`` folder above the working directory or above this package
    (a checkout sitting beside ``shared/``).  When nothing is found the path returned is the
    first candidate, which does not exist: callers test ``.exists()`` and skip.

    Parameters
    ----------
    *parts : str
        Sub-path inside the real-data folder, e.g. ``"ct_volume", "taufactor_electrode.tiff"``.

    Returns
    -------
    pathlib.Path
    """
    first = None
    for cand in _candidates():
        first = first or cand
        if cand.is_dir():
            return cand.joinpath(*parts)
    return first.joinpath(*parts)


#: The 001_ anode-free cell's declared layers (bottom to top) as the chunked-series tests
#: write them: Cu | plated Li (0 um declared) | Li6PS5Cl | Li counter electrode.
ANODE_FREE_LAYERS = [{"name": "Cu", "material": "Cu", "thickness_um": 12},
                     {"name": "Li", "material": "Li", "thickness_um": 0},
                     {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 63},
                     {"name": "counter", "material": "Li", "thickness_um": 40}]
#: Their series-analysis keywords (22 keV, the Li | LPSCl interface, two thickness layers).
ANODE_FREE_SERIES_KW = dict(energy_kev=22.0, interfaces=["Li|LPSCl"],
                            thickness=["Li", "counter"], central_fraction=0.5625)


def anode_free_recon_series(charges_mah_cm2, shifts_yx, *, n_xy: int = 40, n_z: int = 56,
                            voxel_size_um: float = 3.0, seed: int = 0) -> list:
    """A small reconstructed 001_ twin series with a known (y, x) drift between scans.

    Each scan is the anode-free phantom (:func:`ssbscope.twin.ct.anode_free_001`) at one plated
    charge, projected (90 angles, 3e4 photons, scan ``k``'s noise seed ``k``), flat/dark
    corrected and reconstructed by FBP at the found centre; scan ``k`` > 0 is then shifted by
    ``shifts_yx[k - 1]`` voxels (linear interpolation), the drift the registration must undo.

    Parameters
    ----------
    charges_mah_cm2 : sequence of float
        Plated charge of each scan (mAh cm^-2).
    shifts_yx : sequence of (float, float)
        (y, x) shift in voxels of each later scan, ``len(charges_mah_cm2) - 1`` of them.
    n_xy, n_z : int
        Phantom size in voxels.
    voxel_size_um : float
        Voxel size (um).
    seed : int
        The phantom's seed (its pores, filaments and roughness).

    Returns
    -------
    list of (n_z, n_xy, n_xy) float32 ndarray
        The reconstructed volumes.
    """
    import numpy as np
    import scipy.ndimage as ndi

    import ssbscope.tomo as tomo
    from ssbscope.twin import ct

    out = []
    for k, q in enumerate(charges_mah_cm2):
        ph = ct.anode_free_001(q, 0.0, n_xy=n_xy, n_z=n_z, voxel_size_um=voxel_size_um,
                               e_kev=ANODE_FREE_SERIES_KW["energy_kev"], max_charge_mah_cm2=4,
                               seed=seed)
        sc = ph.scan(n_angles=90, flux_photons=3e4, seed=k)
        p = tomo.flat_dark_correct(sc.projections, sc.flats, sc.darks)
        v = tomo.reconstruct(p, sc.angles_rad, tomo.find_center(p, sc.angles_rad))
        out.append(np.asarray(v, np.float32))
    for k, (dy, dx) in enumerate(shifts_yx, start=1):
        out[k] = ndi.shift(out[k], (0.0, dy, dx), order=1, mode="nearest").astype(np.float32)
    return out
