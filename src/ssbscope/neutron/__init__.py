"""Neutron radiography and tomography of solid-state cells (002_3ee4edf529433f9c).

From raw frames to lithium redistribution versus time: readers for TIFF/FITS series with
timestamps, saturated-pixel and gamma-spot removal, open-beam/dark normalisation (Eq. 1),
median binning, transmission-ratio maps Tr_t/Tr_0 with counting uncertainty, ROIs, profiles
along the stacking axis and layer boundaries, space–time maps, enrichment/depletion bands,
lithium thickness change (Beer–Lambert, natural Li), soft-short onset, and neutron-CT
difference volumes after registration.

Frames are ``(t, y, x)`` with y (rows) along the stacking axis z of the cell.
"""

from ssbscope._lazy import attach
from ssbscope.areas import Area

_MAP = {
    # public names of the acceptance checks
    "normalize": "normalization",
    "remove_gamma_spots": "filters",
    "median_bin": "binning",
    "transmission_ratio": "binning",
    # cleaning and normalisation
    "remove_saturated_pixels": "filters",
    "estimate_static_background": "normalization",
    "beam_intensity_factors": "normalization",
    "normalization_mask": "normalization",
    "describe_mask": "normalization",
    "MASK_REASONS": "normalization",
    # binning, ratios, uncertainty
    "bin_times": "binning",
    "check_times": "binning",
    "counting_sigma": "binning",
    "median_bin_sigma": "binning",
    "ratio_sigma": "binning",
    # attenuation and lithium thickness
    "Spectrum": "attenuation",
    "cold_spectrum": "attenuation",
    "macroscopic_cross_section_1_cm": "attenuation",
    "li_cross_section_1_cm": "attenuation",
    "effective_wavelength_a": "attenuation",
    "spectrum_transmission": "attenuation",
    "li_thickness_change_um": "attenuation",
    "li_thickness_sigma_um": "attenuation",
    # lithium in a region of a series
    "median_standard_error": "lithium",
    "beam_factor_sigma": "lithium",
    "RegionLiChange": "lithium",
    "region_li_change": "lithium",
    "monochromatic": "lithium",
    # regions, profiles, maps, bands
    "ROI": "roi",
    "as_roi": "roi",
    "profile": "analysis",
    "LayerBoundaries": "analysis",
    "layer_boundaries": "analysis",
    "SpaceTimeMap": "analysis",
    "space_time_map": "analysis",
    "Band": "analysis",
    "detect_bands": "analysis",
    "fluctuation_onset": "analysis",
    "soft_short_onset": "analysis",
    # streaming reduction
    "ReducedSeries": "stream",
    "reduce_series": "stream",
    "iter_binned": "stream",
    # readers / writers
    "RadiographSeries": "io",
    "read_series": "io",
    "read_tof_spectra": "io",
    "write_fits_series": "io",
    "write_tiff_series": "io",
    # tomography
    "CTDifference": "ct",
    "ct_difference": "ct",
    "reconstruct_ct": "ct",
    "li_volume_change_mm3": "ct",
}

__getattr__, __dir__, __all__ = attach(__name__, _MAP)

#: This area in the registry (:mod:`ssbscope.areas`).
AREA = Area("neutron", "Neutron imaging", stages="ssbscope.neutron.stages", report="ssbscope.report.neutron", inputs=True,
            store_keys=("neutron/input/<label>",
                     "neutron/<label>/spacetime",
                     "neutron/<label>/bands",
                     "neutron/<label>/boundaries",
                     "neutron/<label>/volume",
                     "neutron/ct",),
            input_model="ssbscope.config:NeutronInput",
            input_description="neutron radiographs (FITS/TIFF series)",
            analysis_model="ssbscope.config:NeutronAnalysis",
            analysis_description="neutron imaging analysis")
