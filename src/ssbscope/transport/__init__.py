"""Transport on segmented volumes: tortuosity factor, effective diffusivity, flux fields.

Public API
----------
tortuosity             binary phase, TauFactor's discretisation and definition of tau
tortuosity_multiphase  one conductivity per label
slab_tortuosity        piecewise tortuosity of slabs across an interface region
tortuosity_map         tortuosity of columns through the volume (a 2-D map)
flux_map               flux in any plane of a solved volume
percolating_network    voxels joined to both driven faces
current_density_map    j(x, y) from two registered Li thickness maps (Faraday's law)
series_current_density j(x, y) between consecutive scans of a series vs the cycler's charge
layer_tortuosity       tau, slab tau and flux map of a phase in one declared layer of a scan
interface_tortuosity   tau and flux map of a phase in a slab centred on a buried interface
"""

from __future__ import annotations

from ssbscope._lazy import attach
from ssbscope.areas import Area

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "TortuosityResult": "diffusion",
        "SlabTortuosity": "diffusion",
        "tortuosity": "diffusion",
        "tortuosity_multiphase": "diffusion",
        "slab_tortuosity": "diffusion",
        "tortuosity_map": "diffusion",
        "flux_map": "diffusion",
        "percolating_network": "diffusion",
        "CurrentDensityMap": "current_density",
        "current_density_map": "current_density",
        "thickness_change_to_current_ma_cm2": "current_density",
        "SeriesCurrentDensity": "current_density",
        "series_current_density": "current_density",
        "map_noise": "current_density",
        "MapNoiseModel": "current_density",
        "map_noise_correlated": "current_density",
        "empirical_variogram": "current_density",
        "MapAgreement": "current_density",
        "map_agreement": "current_density",
        "LayerTortuosity": "layer",
        "layer_tortuosity": "layer",
        "layer_core": "layer",
        "inscribed_square": "layer",
        "region_tortuosity": "layer",
        "InterfaceTortuosity": "layer",
        "interface_tortuosity": "layer",
        "mean_interface_height_vox": "layer",
        "interface_slab": "layer",
    },
)

#: This area in the registry (:mod:`ssbscope.areas`).
AREA = Area("transport", "Transport", stages="ssbscope.transport.stages", report="ssbscope.report.transport", inputs=False,
            store_keys=("transport/<series>/tortuosity",
                     "transport/<series>/interface_flux",
                     "transport/<series>/current_density"),
            analysis_model="ssbscope.config:TransportAnalysis",
            analysis_description="transport (tortuosity in a layer or around an interface, current density) on the CT series")
