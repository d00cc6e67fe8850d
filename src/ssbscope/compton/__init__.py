"""X-ray Compton scattering imaging (XCS) of 000_290f30815ae66793.

Physics (E_C, p_z of Eq. 2, Klein-Nishina, impulse-approximation cross-section), Compton
profiles J(p_z) of materials from xraylib, the electron momentum factor EMF (Eqs. 3-5) of
spectra, regions and pixels, events -> spectral cubes (charge-sharing discrimination,
per-pixel calibration, streaming event files), raw HEXITEC streams, region spectra and
component unmixing.

Energies in keV, angles in degrees, electron momentum in atomic units.
"""

from ssbscope._lazy import attach
from ssbscope.areas import Area

_MAP = {
    # physics
    "ME_C2_KEV": "physics",
    "compton_energy_kev": "physics",
    "momentum_au": "physics",
    "dpz_de2_au_per_kev": "physics",
    "energy_from_momentum_kev": "physics",
    "klein_nishina_cm2_sr": "physics",
    "ddcs_cm2_sr_kev": "physics",
    # profiles
    "profile": "profiles",
    "composition_of": "profiles",
    "window_ratio": "profiles",
    # EMF
    "ComptonPeak": "electron_momentum",
    "ProfileResult": "electron_momentum",
    "EmfResult": "electron_momentum",
    "EmfMap": "electron_momentum",
    "EmfCalibration": "electron_momentum",
    "default_lines_kev": "electron_momentum",
    "fit_compton_peak": "electron_momentum",
    "spectrum_to_profile": "electron_momentum",
    "emf": "electron_momentum",
    "emf_map": "electron_momentum",
    "calibrate_emf": "electron_momentum",
    "broaden_spectrum": "electron_momentum",
    "LineResponse": "electron_momentum",
    "fit_line_response": "electron_momentum",
    "tail_matrix": "electron_momentum",
    "weight_perturbations": "electron_momentum",
    "perturbed_coefficients": "electron_momentum",
    "detector_efficiency": "electron_momentum",
    "transmittance": "electron_momentum",
    # events
    "EVENT_DTYPE": "events",
    "EventFileHeader": "events",
    "make_events": "events",
    "write_events": "events",
    "read_event_header": "events",
    "read_events": "events",
    "iter_event_chunks": "events",
    "events_to_cube": "events",
    "energy_edges_kev": "events",
    # calibration and masking
    "AM241_KEV": "calibration",
    "PixelCalibration": "calibration",
    "calibration_lines_kev": "calibration",
    "calibrate_pixels": "calibration",
    "find_bad_pixels": "calibration",
    # raw HEXITEC streams
    "HexitecFrames": "hexitec",
    "read_hexitec_raw": "hexitec",
    "read_hexitec_caltable": "hexitec",
    "frames_to_events": "hexitec",
    # regions
    "region_spectrum": "regions",
    "unmix": "regions",
    "attenuated_volumes": "regions",
    "ct_to_detector": "correlate",
    "DetectorPhaseFractions": "correlate",
    "inscribed_patch": "correlate",
    "SheetGeometry": "correlate",
    "SheetComponentFractions": "correlate",
    "ct_component_fractions": "correlate",
    "subtract_region": "regions",
    "align_to_angle": "regions",
    "sheet_phase_fractions": "regions",
    # operando series
    "UnmixedEmf": "series",
    "unmix_emf": "series",
    "unmix_emf_blocks": "series",
    "sheet_layer_fractions": "series",
    "ct_sheet_fractions": "series",
    "window_coefficients": "series",
    "detector_correction": "series",
    "emf_x_calibration": "series",
}

__getattr__, __dir__, __all__ = attach(__name__, _MAP)

#: This area in the registry (:mod:`ssbscope.areas`).
AREA = Area("compton", "X-ray Compton scattering", stages="ssbscope.compton.stages", report="ssbscope.report.compton", inputs=True,
            store_keys=("compton/input/<label>",
                     "compton/<series>/emf",
                     "compton/<series>/maps",
                     "compton/<series>/spectra",
                     "compton/<series>/profiles",
                     "compton/<series>/ct_fractions",
                     "compton/<series>/radial",),
            input_model="ssbscope.config:ComptonInput",
            input_description="X-ray Compton scattering exposures (events, raw streams or cubes)",
            analysis_model="ssbscope.config:ComptonAnalysis",
            analysis_description="XCS analysis")
