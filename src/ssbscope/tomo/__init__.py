"""X-ray tomography: reading, reconstruction, segmentation and lithium morphology metrics.

Volumes are ``(z, y, x)`` with z the stacking axis (the direction of current flow) unless a
parameter says otherwise.
"""

from ssbscope._lazy import attach
from ssbscope.areas import Area

_MAP = {
    # reading (tomo.io)
    "read_volume": "io",
    "read_projections": "io",
    # preparation and reconstruction
    "flat_dark_correct": "prep",
    "remove_zingers": "prep",
    "remove_rings": "prep",
    "normalize_offsets": "prep",
    "find_center": "center",
    "fbp": "recon",
    "reconstruct": "recon",
    "stitch_360": "recon",
    "angular_weights": "recon",
    "stripe_offsets": "prep",
    "minus_log": "prep",
    "paganin_filter": "phase",
    "extend_sinogram": "roi",
    "detect_truncation": "roi",
    "VolumeData": "io",
    "ProjectionData": "io",
    # image processing
    "median3": "filters",
    "opening": "filters",
    "threshold_otsu": "filters",
    "label": "filters",
    "segment_phases": "segment",
    "denoise_volume": "denoise",
    "pure_phase_levels": "levels",
    "PhaseLevels": "levels",
    "register_rigid": "register",
    "erosion": "filters",
    "dilation": "filters",
    "threshold_multiotsu": "filters",
    "Segmentation": "segment",
    "apply_rigid": "register",
    # metrics
    "roughness": "metrics",
    "roughness_noise_corrected": "metrics",
    "roughness_resolution_corrected": "metrics",
    "lateral_edge_spread": "metrics",
    "thickness_map": "metrics",
    "interface_height_map": "metrics",
    "thickness_stats": "metrics",
    "thickness_outliers": "metrics",
    "phase_volumes": "metrics",
    "pore_volume": "metrics",
    "partial_volume": "metrics",
    "crack_change": "metrics",
    "crack_li_fraction": "metrics",
    "gaussian_overlap": "metrics",
    "fit_two_gaussians": "metrics",
    "classify_low_attenuation": "metrics",
    "layer_volume_fractions": "metrics",
    "median_profile": "metrics",
    "new_filaments": "metrics",
    # larger than memory (Dask/Zarr)
    "median3_chunked": "chunked",
    "opening_chunked": "chunked",
    "threshold_otsu_chunked": "chunked",
    "label_chunked": "chunked",
}

__getattr__, __dir__, __all__ = attach(__name__, _MAP)

#: This area in the registry (:mod:`ssbscope.areas`).
AREA = Area("tomo", "X-ray tomography", stages="ssbscope.tomo.stages", report="ssbscope.report.tomo", inputs=True,
            store_keys=("tomo/<series>/scans/<label>",
                     "tomo/<series>/volumes",
                     "tomo/<series>/labels",
                     "tomo/<series>/metrics",
                     "tomo/<series>/maps",),
            input_model="ssbscope.config:TomoInput",
            input_description="X-ray CT scans (projections or volumes), grouped into series",
            analysis_model="ssbscope.config:TomoAnalysis",
            analysis_description="CT series analysis against the declared layers")
