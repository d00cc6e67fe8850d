"""Current and pressure at contoured Li|solid-electrolyte interfaces (003_103f2bf5a3479ade).

Public API
----------
current_distribution   primary / secondary (linearised Butler-Volmer) current on a contour
area_ratio             true over projected interfacial area
li_height_um           Li surface height of the periodic shapes
CreepLaw               Li creep: Nabarro-Herring diffusional + power-law creep
creep_pressure         excess interfacial pressure from plated Li creeping away
critical_pressure_mpa  fracture pressure K_Ic / (1.12 sqrt(pi a)) of a surface flaw
critical_current       self-consistent dendrite-growth criterion -> critical current
contour_sweep          sweeps over H, S and H/S (Figs. 1-4) as a table
grid_convergence       maximum local current against grid size
kinetics_sweep         the sweep at several charge-transfer resistances (Wagner number)
gain_maximum           where the critical-current gain peaks along a sweep
halfspace_surface_stress  normal traction / mean stress of creeping Li behind an interface
monroe_newman_coupling pressure shift of the deposition kinetics, solved by iteration
gap_creep              Li creeping into the gap beside the pellet while it plates (Cao 2023)
band_gap_volume        Li volume in the rod-tube gap from a neutron band (P4), de-projected
surface_current        local current on a measured (CT) height map, mirror sides
surface_creep_pressure creep pressure of the Li plated on a measured surface
hot_spot_overlap       predicted vs measured current maps: resolvable?, correlation, top-decile overlap
height_conditioned_skill  the same beyond the height: partial correlation, height-conditioned baseline
white_noise_std        pixel-scale noise of a map (second-difference estimator)
map_noise              noise of a map after smoothing, spatial correlation included (ssbscope.mapnoise)
smooth_map             Gaussian smoothing of a map with NaN gaps
effective_conductivity electrolyte conductivity sigma eps/tau of a layer of a labelled CT scan
phase_field_growth     Li growth into porous Li6PS5Cl under stack pressure (Cao et al. 2023)
"""

from __future__ import annotations

from ssbscope._lazy import attach
from ssbscope.areas import Area

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "SHAPES": "shapes",
        "area_ratio": "shapes",
        "li_height_um": "shapes",
        "CurrentDistribution": "current",
        "current_distribution": "current",
        "CreepLaw": "creep",
        "CreepPressure": "creep",
        "critical_pressure_mpa": "creep",
        "creep_pressure": "creep",
        "CriticalCurrent": "creep",
        "critical_current": "creep",
        "critical_current_from": "creep",
        "contour_sweep": "study",
        "grid_convergence": "study",
        "PAPER_SWEEPS": "study",
        "KINETICS_SWEEP": "study",
        "KINETICS_R_CT_OHM_CM2": "study",
        "kinetics_sweep": "study",
        "gain_maximum": "study",
        "halfspace_surface_stress": "creep",
        "monroe_newman_coupling": "creep",
        "gap_creep": "gap_creep",
        "GapCreep": "gap_creep",
        "compare_gap_volume": "gap_creep",
        "annulus_projected_fraction": "gap_creep",
        "band_gap_volume": "gap_creep",
        "BandGapVolume": "gap_creep",
        "CoupledInterface": "creep",
        "SurfaceCurrent": "topography",
        "surface_current": "topography",
        "EffectiveConductivity": "topography",
        "effective_conductivity": "topography",
        "SurfaceCreep": "topography",
        "surface_creep_pressure": "topography",
        "HotSpotComparison": "topography",
        "hot_spot_overlap": "topography",
        "HeightConditionedSkill": "topography",
        "height_conditioned_skill": "topography",
        "white_noise_std": "topography",
        "map_noise": "topography",
        "MapNoise": "topography",
        "smooth_map": "topography",
        "PhaseFieldGrowth": "phase_field",
        "phase_field_growth": "phase_field",
    },
)

#: This area in the registry (:mod:`ssbscope.areas`).
AREA = Area("interface", "Interfaces", stages="ssbscope.interface.stages",
            report="ssbscope.report.interface", inputs=False,
            store_keys=("interface/contour_study",
                     "interface/grid_convergence",
                     "interface/surface_fields",
                     "interface/<series>/surface_current",
                     "interface/gap_creep",
                     "interface/phase_field",),
            analysis_model="ssbscope.config:InterfaceAnalysis",
            analysis_description="contoured-interface study")
