"""Every parameter of the interface models with its value, unit and source.

Zhang et al. 2024 (doi:10.1039/d3ee03322h) give their model parameters in a supplementary
section (S2) that is not in the text available to this project, so nothing here is taken
from or tuned to their figures: each value is either from their methods (geometry, stack
pressure), a materials reference named in the row, or an assumption stated as such.
"""

from __future__ import annotations

from .creep import (
    DEFAULT_FLAW_DEPTH_UM,
    DEFAULT_GRAIN_SIZE_UM,
    DEFAULT_TEMPERATURE_K,
    LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05,
    LI_ATOMIC_VOLUME_M3,
    LI_CREEP_EXPONENT,
    LI_CREEP_REFERENCE_STRAIN_RATE_1_S,
    LI_CREEP_REFERENCE_STRESS_MPA,
    LI_SELF_DIFFUSION_CM2_S,
    NABARRO_HERRING_COEFFICIENT,
    _LI_MOLAR_VOLUME_M3_MOL,
    critical_pressure_mpa,
)
from .shapes import DEFAULT_TIP_RADIUS_UM

__all__ = ["PARAMETERS", "parameter_table"]

_ZHANG = "Zhang et al. 2024, doi:10.1039/d3ee03322h"

#: (name, value, unit, source) of every default of the interface models
PARAMETERS = (
    ("electrolyte conductivity sigma", 2e-3, "S/cm",
     "assumption: the order of Li6PS5Cl room-temperature values (1-3 mS/cm)"),
    ("charge-transfer resistance R_ct", 10.0, "Ohm cm2",
     "assumption (kinetic length sigma R_ct = 0.2 mm, comparable to the features); "
     "analysis.interface.r_ct_ohm_cm2: eis takes it from the user's EIS fit"),
    ("electrolyte thickness", 1000.0, "um", f"{_ZHANG}, methods: discs of about 1 mm"),
    ("stack pressure p_s", 7.0, "MPa", f"{_ZHANG}, methods"),
    ("lateral stress ratio kappa", 0.0, "1",
     "assumption: pellet free to expand sideways (0.4 for a rigid die, nu = 0.3)"),
    ("flat-interface critical current i_g0", 1.0, "mA/cm2",
     "default (trends only); 'ccd' takes the user's measured critical current density"),
    ("Li creep exponent n", LI_CREEP_EXPONENT, "1",
     "Masias et al., J. Mater. Sci. 54, 2585 (2019), doi:10.1007/s10853-018-2971-3"),
    ("Li power-law reference stress", LI_CREEP_REFERENCE_STRESS_MPA, "MPa",
     "commonly quoted point of Masias et al. 2019 / LePage et al. 2019 "
     "(doi:10.1149/2.0221902jes): 0.8 MPa at 5e-4 1/s"),
    ("Li power-law reference strain rate", LI_CREEP_REFERENCE_STRAIN_RATE_1_S, "1/s", "as above"),
    ("Li self-diffusion D_Li", LI_SELF_DIFFUSION_CM2_S, "cm2/s",
     "assumption: order of NMR/tracer values extrapolated to 298 K"),
    ("Nabarro-Herring coefficient A_NH", NABARRO_HERRING_COEFFICIENT, "1",
     "Frost and Ashby, Deformation-Mechanism Maps (1982)"),
    ("Li grain size d (diffusional creep)", DEFAULT_GRAIN_SIZE_UM, "um",
     "assumption: fine-grained plated Li (films of Herbert et al. 2018 are 5-18 um thick)"),
    ("temperature T", DEFAULT_TEMPERATURE_K, "K", "room temperature"),
    ("Li atomic volume Omega", LI_ATOMIC_VOLUME_M3, "m3", "M_Li / (rho_Li N_A)"),
    ("Li molar volume (Monroe-Newman shift)", _LI_MOLAR_VOLUME_M3_MOL, "m3/mol",
     "M_Li / rho_Li; shift Omega dp / F (Monroe and Newman, J. Electrochem. Soc. 151, A880 (2004))"),
    ("Li6PS5Cl fracture toughness K_Ic", LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05, "MPa m^0.5",
     "assumption: sulfide electrolytes 0.2-0.3 MPa m^0.5 from indentation"),
    ("surface flaw depth a", DEFAULT_FLAW_DEPTH_UM, "um",
     "assumption: the crack of Ning et al. 2023 (Nature 618, 287) at growth, tens of um"),
    ("fracture pressure p_c = K_Ic / (1.12 sqrt(pi a))", critical_pressure_mpa(), "MPa",
     "from the two rows above"),
    ("edge rounding of pyramids and frustums", DEFAULT_TIP_RADIUS_UM, "um",
     "assumption: 3D-printing / imprinting resolution of the templates"),
)


def parameter_table():
    """The parameters as a :class:`pandas.DataFrame` (``parameter``, ``value``, ``unit``, ``source``)."""
    import pandas as pd

    return pd.DataFrame(PARAMETERS, columns=["parameter", "value", "unit", "source"])
