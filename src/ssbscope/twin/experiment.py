"""The embedded default experiment of ``ssbscope demo``.

The cell is the NMC622 | PEO-LiTFSI | Li coin cell of 000_290f30815ae66793 (CR2032, cathode
disc 14 mm, Li disc 16 mm, 30 µm SPE, 65 µm composite cathode).  The active mass is the
echem twin's (``ssbscope.twin.echem.ACTIVE_MASS_000_MG``): the paper's 3.29 mAh cm⁻² at
170.3 mAh g⁻¹, i.e. 19.3 mg cm⁻² over 1.539 cm² = 29.7 mg of NMC622.  The other modalities' twins
(anode-free cell of 001_, soft-short cell of 002_, contoured interfaces of 003_) take their
own cells from their papers; their parameters live in their twin modules.
"""

from __future__ import annotations

import math

from ssbscope.config import Analysis, Cell, Experiment, Layer, Twin

__all__ = ["default_experiment", "CATHODE_DIAMETER_MM", "ACTIVE_MASS_MG"]

CATHODE_DIAMETER_MM = 14.0
ACTIVE_MASS_MG = round(3.29 / 170.3 * 1e3 * math.pi * 0.7 ** 2, 1)


def default_experiment(size: str = "small", seed: int = 0, modalities=None) -> Experiment:
    """The experiment ``ssbscope demo`` runs.

    Parameters
    ----------
    size : {"tiny", "small", "medium"}
        Twin size: ``tiny`` for tests, ``small`` for the demo (< 3 min on 2 cores).
    seed : int
        Seed of every random draw of the twin.
    modalities : list of str, optional
        Restrict to these areas (default: all).
    """
    twin = Twin(size=size) if modalities is None else Twin(size=size, modalities=list(modalities))
    return Experiment(
        name="ssbscope demo: digital twin of operando solid-state Li battery experiments",
        description="NMC622 | PEO-LiTFSI | Li coin cell (000_), anode-free Li | Li6PS5Cl | Cu (001_), "
                    "soft-shorting sulfide cell (002_), contoured Li interfaces (003_).",
        seed=seed,
        cell=Cell(
            name="CR2032 NMC622 | PEO-LiTFSI | Li",
            diameter_mm=CATHODE_DIAMETER_MM,
            active_mass_mg=ACTIVE_MASS_MG,
            layers=[
                Layer(name="Al current collector", material="Al", thickness_um=15.0),
                Layer(name="composite cathode", material="NMC622", thickness_um=65.0, diameter_mm=14.0),
                Layer(name="SPE", material="PEO-LiTFSI", thickness_um=30.0, diameter_mm=18.0),
                Layer(name="Li anode", material="Li", thickness_um=250.0, diameter_mm=16.0),
            ],
        ),
        analysis=Analysis(),
        twin=twin,
    )
