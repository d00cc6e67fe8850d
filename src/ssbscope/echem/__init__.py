"""Electrochemistry: potentiostat readers and analysis on one table.

Every reader returns a :class:`pandas.DataFrame` with at least ``time_s`` (s since the start
of the test), ``voltage_V`` and ``current_A``, plus ``cycle``, ``step`` and ``mode`` where the
instrument records them.  **Sign convention: current is positive on charge** (lithium leaves
the positive electrode / is plated on the negative one); readers convert instruments that log
the opposite sign.
"""

from ssbscope._lazy import attach
from ssbscope.areas import Area

_MAP = {
    # readers (ssbscope.echem.io)
    "read": "io",
    "read_eis": "io",
    # analysis
    "cumulative_charge": "capacity",
    "add_capacity": "capacity",
    "state_of_charge": "capacity",
    "state_at": "capacity",
    "time_of_state": "capacity",
    "coulombic_efficiency": "cycles",
    "cycle_table": "cycles",
    "split_cycles": "cycles",
    "dq_dv": "dqdv",
    "ohmic_drop": "ohmic",
    "lithium_thickness_um": "faraday",
    "thickness_to_capacity_mah_cm2": "faraday",
    "lithium_volume_um3": "faraday",
    "detect_shorts": "shorts",
    "ShortEvent": "shorts",
    "critical_current_density": "ccd",
    "critical_current_steps": "ccd",
    "fit_eis": "eis",
    "randles_impedance": "eis",
    "EISFit": "eis",
    "track_eis": "eis",
    "summarize": "summary",
    "EchemSummary": "summary",
}

__getattr__, __dir__, __all__ = attach(__name__, _MAP)

#: This area in the registry (:mod:`ssbscope.areas`).
AREA = Area("echem", "Electrochemistry", stages="ssbscope.echem.stages", report="ssbscope.report.echem", inputs=True,
            store_keys=("echem/timeseries",
                     "echem/<label>/timeseries",
                     "echem/cycles",
                     "echem/events",
                     "echem/states",
                     "echem/eis",),
            input_model="ssbscope.config:EchemInput",
            input_description="potentiostat logs and impedance spectra",
            analysis_model="ssbscope.config:EchemAnalysis",
            analysis_description="electrochemistry analysis")
