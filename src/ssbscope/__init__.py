"""ssbscope: operando imaging of solid-state lithium batteries.

X-ray CT, X-ray Compton scattering imaging, neutron imaging and electrochemistry, analysed
on one time axis (``time_s``, seconds since the start of the electrochemical test) and
written to one experiment store.

Subpackages
-----------
echem      potentiostat readers, SoC/DoD, Coulombic efficiency, shorts, CCD, EIS
tomo       CT reading, reconstruction, segmentation, morphology metrics
compton    Compton physics, HEXITEC events, spectra, Compton profiles, EMF maps
neutron    neutron radiography normalisation, ratio maps, space-time analysis
transport  tortuosity and flux on segmented volumes
interface  current and pressure at contoured Li|electrolyte interfaces
twin       seeded digital twin of the papers' experiments, written in real file formats
store      the Zarr experiment store (``ssbscope.open``)
pipeline   resumable stage runner on Dask
report     figures and the self-contained HTML report
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "open"]


def open(path):  # noqa: A001 - mirrors xarray.open_dataset / zarr.open naming
    """Open an experiment store written by ssbscope.

    Parameters
    ----------
    path : str or path-like
        Store directory (``.../store.zarr``).

    Returns
    -------
    ssbscope.store.Store
    """
    from ssbscope.store import Store

    return Store.open(path)
