"""Image results on the electrochemical clock.

:mod:`ssbscope.correlate.states` joins every scan / frame time of an imaging series to the
electrochemistry of the same run: the net charge passed, the voltage, the state label, the
R_ct of the nearest impedance spectrum and the Faraday residual of the plated-Li thickness
(and volume) change measured by CT.  :mod:`ssbscope.correlate.stages` runs it in the pipeline
(store key ``correlate/states``).
"""

from ssbscope._lazy import attach
from ssbscope.areas import Area

_MAP = {
    "charge_at": "states",
    "voltage_at": "states",
    "nearest_eis": "states",
    "NearestEIS": "states",
    "faraday_residual": "states",
    "faraday_change_um": "states",
    "footprint_area_um2": "states",
    "states_table": "states",
    "combine_series": "states",
    "MIN_CHARGE_MAH_CM2": "states",
}

__getattr__, __dir__, __all__ = attach(__name__, _MAP)

#: This area in the registry (:mod:`ssbscope.areas`).
AREA = Area("correlate", "Imaging vs electrochemistry", stages="ssbscope.correlate.stages", report="ssbscope.report.correlate", inputs=False,
            store_keys=("correlate/states",),
            analysis_model="ssbscope.config:CorrelateAnalysis",
            analysis_description="image results on the electrochemical clock")
