"""Twin parameters of Sandoval et al. 2025, doi:10.1039/d5eb00111k (anode-free Cu | Li6PS5Cl | Li).

Cases A, B and C of the paper: the electrochemical protocol (:func:`ssbscope.twin.echem.
anode_free_cell`), the phantom (:func:`ssbscope.twin.ct.anode_free_001`) and the experiment
folder (:func:`ssbscope.twin.folder.ct_series_part`, which writes case B for the demo) read their
numbers from this table through :func:`p` / :func:`case_value`; no second copy of these constants
lives in the twin.

Names ending in ``_A``, ``_B``, ``_C`` are per case.  ``source`` names the paper's figure, table
or section; rows the paper does not give are ``"assumption: ..."`` with the reason in ``note``.
Rows marked "reference" in ``note`` are paper results the twin does not impose: the measurement
(through the chain) and the accuracy table compare with them.
"""

from __future__ import annotations

from ssbscope.twin.paper_parameters import PaperParameter as P
from ssbscope.twin.paper_parameters import register

__all__ = ["CITATION", "ROWS", "p", "case_value", "protocol"]

CITATION = "Sandoval et al. 2025, doi:10.1039/d5eb00111k"

ROWS = register("001", CITATION, [
    # ---------------------------------------------------------------- cell and acquisition
    P("cell_diameter", 2.0, "mm", "Results, cell construction (Fig. 1a)",
      "2 mm diameter cells in custom tomography casings; sets the echem area"),
    P("stack_pressure", 10.0, "MPa", "Results, cell construction",
      "reference: ~10 MPa; the twin's stack height only changes by empty crack volume "
      "(a pressure-held plunger), it does not model pressure"),
    P("cu_foil_thickness", 10.0, "um", "Results, first paragraph", "reference: 10 µm Cu foil"),
    P("voxel_size_A", 1.8, "um", "Methods (operando imaging)", "reference"),
    P("voxel_size_B", 1.7, "um", "Methods (operando imaging)", "reference"),
    P("voxel_size_C", 1.4, "um", "Methods (operando imaging)", "reference"),
    P("n_projections", 1200, "1", "Methods (operando imaging)",
      "reference: 1200 projections over 180° per scan, ~5 min, a scan every 15 min"),
    P("scan_interval", 15.0, "min", "Methods (operando imaging)", "reference"),
    P("demo_voxel_size", 3.0, "um",
      "assumption: demo voxel of the anode-free folder",
      "a 36-voxel cell disk stands for the 2 mm cell at a size the demo can reconstruct in "
      "seconds; 14.5 µm of plated Li is then ~5 voxels (the paper's 1.7 µm would give 8.5)"),
    P("demo_energy", 22.0, "keV",
      "assumption: the SI's beam energy is not in the text",
      "22 keV gives Li / Li6PS5Cl contrast at the demo's 3 µm voxels"),
    P("demo_flux", 3e4, "1", "assumption: photons per detector pixel in the flat field",
      "the demo's noise level (the paper does not give a flux)"),
    P("demo_drift_scan", 1, "1", "assumption: the demo's remounted scan",
      "index of the anode-free demo series' scan (0 = the first) whose cell is displaced "
      "in-plane by demo_drift_yx, as when the cell is taken off the stage between scans; "
      "the tomo chain registers it back onto the first scan before the thickness and "
      "current-density maps"),
    P("demo_drift_yx", (1, -1), "1", "assumption: in-plane displacement of that scan",
      "(y, x) voxels of demo_voxel_size (3 µm each); whole voxels so that the truth maps stay "
      "those of the first scan's frame, and small enough that the 0.45 n_xy cell stays "
      "inside the tiny demo's 32-voxel field of view"),
    P("cu_voxels", 4, "1", "assumption: Cu current collector in the phantom",
      "4 voxels of 3 µm (12 µm) is the nearest voxel count to the 10 µm foil"),
    P("counter_li_thickness", 57.0, "um",
      "assumption: cropped Li counter electrode",
      "the counter is much thicker in the cell; 57 µm (19 voxels of 3 µm) is the crop the "
      "demo volume holds and still exceeds the largest Li moved in one column (case B: ~19 µm "
      "mean + layer non-uniformity + edge filaments inserted in the column)"),
    P("central_fraction", 0.75, "1", "Case B, segmentation (~75 % of the area, 1.5 mm)",
      "the analysis' central region; the twin's centre/edge truth uses the same definition"),
    # ---------------------------------------------------------------- protocol (Fig. 1b)
    P("plate_current", 0.5, "mA/cm**2", "Fig. 1b and text (all cases)", "first deposition"),
    P("plate_capacity", 3.0, "mAh/cm**2", "Fig. 1b and text (all cases)", "first deposition"),
    P("ce_A", 0.799, "1", "Case A text (2.4 of 3 mAh cm^-2 stripped)", "first-cycle CE 79.9 %"),
    P("ce_B", 0.929, "1", "Case B text", "first-cycle CE 92.9 %"),
    P("strip_current", 0.5, "mA/cm**2", "Case A and B text", "stripping at 0.5 mA cm^-2"),
    P("replate_B", 3.0, "mAh/cm**2", "Case B text; Fig. 4d", "re-deposition at 0.5 mA cm^-2"),
    P("ramp_B", ((1.5, 0.75), (3.0, 0.81)), "mA/cm**2, mAh/cm**2", "Case B text (Fig. 1b)",
      "(current, capacity) steps after the re-plating; the cell shorts at the end of the last. "
      "Fig. 4e's caption says 0.80 mAh cm^-2 at 1.5 mA cm^-2; the text's 0.75 is used"),
    P("ramp_C", ((0.75, 0.75), (1.0, 1.0), (2.0, 1.62)), "mA/cm**2, mAh/cm**2",
      "Case C text and Fig. 6a",
      "derived: the 2.0 mA cm^-2 step ends at the short after 6.37 mAh cm^-2 in total "
      "(6.37 - 3 - 0.75 - 1.0 = 1.62)"),
    P("short_total_C", 6.37, "mAh/cm**2", "Case C text", "total capacity at the short"),
    P("asr_A", 600.0, "ohm*cm**2", "assumption: case A resistance",
      "with the -0.12 V nucleation term it gives the ≈ -0.45 V start of case A's deposition "
      "(Fig. 1b); the paper gives no resistance"),
    P("asr_BC", 80.0, "ohm*cm**2", "assumption: case B/C resistance",
      "keeps the voltage within ±0.1 V at 0.5 mA cm^-2 (Case B text)"),
    # ---------------------------------------------------------------- pellet microstructure
    P("grain_A", "coarse", "1", "Results (10-100 µm LPSC particles; case A)", ""),
    P("grain_BC", "fine", "1", "Results (1-5 µm LPSC particles; cases B, C)", ""),
    P("porosity_A", 0.0055, "1", "Fig. 2a (80e4 µm^3 = 0.55 % of the subvolume)",
      "pristine pore volume fraction of the case-A pellet"),
    P("porosity_BC", 0.005, "1",
      "assumption: cases B and C are 'denser than case A with little observed porosity'",
      "the paper gives no number for B/C; just below case A's 0.55 %"),
    P("pore_radius_coarse", (1.5, 2.6), "voxel", "assumption: coarse-grained pores",
      "pores at the borders of 10-100 µm particles (Fig. 2a), radius range in demo voxels"),
    P("pore_radius_fine", (0.8, 1.3), "voxel", "assumption: fine-grained pores",
      "about one voxel: the 1-5 µm particles leave pores near the resolution"),
    P("preexisting_cracks_A", 3, "1", "assumption: count of empty cracks in the pristine pellet",
      "Fig. 2d(i) shows an empty crack inside a large particle before deposition"),
    P("preexisting_cracks_BC", 1, "1", "assumption: count of empty cracks in the pristine pellet",
      "the fine-grained pellets are compact (Fig. 1d, e)"),
    P("crack_radius", 1.0, "voxel", "assumption: crack (tube) radius in the phantom",
      "thinnest crack the demo's voxels draw"),
    # ---------------------------------------------------------------- case A: filament cracks
    P("crack_plateau_A", 1.0, "mAh/cm**2", "Fig. 3c (constant volume for the first ~2 h)",
      "below it all Li plates at the interface; new cracks open after it"),
    P("crack_li_fraction_A", 0.49, "1", "Fig. 3c text (195e4 of 398e4 µm^3)",
      "fraction of the Li deposited after the plateau that sits in new (Li-filled) cracks"),
    P("crack_residual_A", 0.20, "1", "Introduction/abstract ('~20 % of the crack volume "
      "remained after one cycle'); Fig. S2",
      "fraction of the peak new-crack volume left after stripping"),
    P("crack_residual_content_A", "inactive Li", "1",
      "assumption: residual cracks hold inactive Li (Case A text after Fig. 3c)",
      "the paper attributes the residual crack volume to inactive Li in cracks (80 % CE); the "
      "residual is counted as Li-filled crack"),
    P("crack_strip_order_A", "cracks first, tips first", "1",
      "Fig. 3a-c (tips strip first; crack volume falls linearly, then plateaus)",
      "accessible crack Li (1 - residual) is stripped before the interface layer"),
    P("crack_roots_A", 8, "1", "assumption: crack networks rooted at the interface",
      "cracks across the whole interface (Fig. 2b); more roots are added when the network "
      "cannot hold the Li the table assigns to it"),
    P("pore_crack_volume_A", (266e4, 461e4), "um**3", "Fig. 3c text",
      "reference: pore + crack volume of the larger subvolume before/after the new cracks"),
    P("initial_pore_volume_A", 80e4, "um**3", "Fig. 2a text", "reference"),
    # ---------------------------------------------------------------- case B: planar layer
    P("crack_li_fraction_B", 0.0, "1", "Fig. 1d ('no observable lithium within the SSE')",
      "Li at 0.5 mA cm^-2 plates as a layer"),
    P("plated_thickness_B", (14.2, 2.4), "um", "Fig. 4b text",
      "reference: mean ± std at 3 mAh cm^-2 over the central 1.5 mm"),
    P("faraday_thickness_3mAh", 14.5, "um", "Fig. 4b text", "reference: theory for 3 mAh cm^-2"),
    P("replated_thickness_B", (15.0, 2.6), "um", "Fig. 4d text", "reference"),
    P("step15_thickness_B", (17.4, 2.8), "um", "Fig. 4e text", "reference"),
    P("short_thickness_B", (21.3, 3.3), "um", "Fig. 4f text", "reference"),
    P("residual_li_after_strip_B", 0.2, "mAh/cm**2", "Case B text (~0.2 mAh cm^-2, ~1 µm)",
      "reference: consistent with the 92.9 % CE (3 - 2.787 = 0.213)"),
    P("thickness_cv", 0.17, "1", "Fig. 4b (2.4 / 14.2)",
      "relative std of the plated layer at low current (a Gaussian random field)"),
    P("thickness_corr_length", 4.0, "voxel", "assumption: lateral correlation of the layer "
      "thickness", "smooth on the scale of a few voxels, as the Fig. 5e(i) maps"),
    P("high_current_threshold", 1.5, "mA/cm**2", "Fig. 5e(ii, iii)",
      "deposition at or above it is thicker in the middle of the cell"),
    P("centre_profile_amplitude_B", 0.5, "1",
      "Fig. 4d-f / Fig. 5c (std 2.6 -> 2.8 -> 3.3 µm) and Fig. 5e (thicker in the middle)",
      "derived: the high-current increment follows 1 + a (1 - 2 r^2 / R^2) over the cell "
      "(area mean 1); its std is a / sqrt(3) of the increment; the std growth over the 3.6 and "
      "7.5 µm increments gives a = 0.50 and 0.47 if all the added spread is radial"),
    P("centre_profile_amplitude_AC", 0.0, "1",
      "assumption: the paper reports no centre/edge trend for cases A and C",
      "their layers are described as uniform (Fig. 1c, e; Fig. 6a(i)); no profile is imposed"),
    P("edge_filament_fraction_B", 0.10, "1",
      "assumption: share of the >= 1.5 mA cm^-2 charge in edge filaments",
      "Fig. 5e text / Fig. S7: fracture and filaments at the edges only, outside the central "
      "75 %; the paper gives no volume"),
    P("edge_filament_roots_B", 4, "1", "assumption: edge filament networks",
      "a few initiation sites around the rim (Fig. S7 is not quantified); more roots are "
      "added when they cannot hold the table's filament volume"),
    P("edge_ring_B", (0.88, 0.97), "1", "Fig. 5e text, Fig. S7 (filaments at the cell edges)",
      "radius range of the filament roots, as a fraction of the cell radius; the filaments stay "
      "outside the central 75 % (r > 0.866 R), where the paper saw none"),
    # ---------------------------------------------------------------- case C: one filament
    P("crack_li_fraction_C", 0.0, "1", "Fig. 6a(i) (uniform layer at 0.5 mA cm^-2)", ""),
    P("filament_fraction_C", 0.05, "1",
      "assumption: share of the charge beyond 3 mAh cm^-2 in the single filament",
      "Fig. 6: one branching filament near the edge crosses the pellet by the short; the "
      "paper gives no volume"),
    P("filament_root_radius_C", 0.85, "1", "Fig. 6b (cracks near the cell edges)",
      "root radius as a fraction of the cell radius"),
])

_BY_NAME = {r.name: r for r in ROWS}


def p(name: str):
    """Value of one row of the table (KeyError naming the rows when absent)."""
    try:
        return _BY_NAME[name].value
    except KeyError:
        raise KeyError(f"paper 001: no parameter {name!r}; have {sorted(_BY_NAME)}") from None


def case_value(stem: str, case: str):
    """Per-case value: ``stem_A`` / ``stem_B`` / ``stem_C``, else ``stem_BC`` or ``stem_AC``."""
    c = str(case).upper()
    for name in (f"{stem}_{c}", *(f"{stem}_{g}" for g in ("BC", "AC", "AB") if c in g)):
        if name in _BY_NAME:
            return _BY_NAME[name].value
    raise KeyError(f"paper 001: no parameter {stem!r} for case {case!r}")


def protocol(case: str):
    """The case's galvanostatic protocol as ``(kind, current_mA_cm2, capacity_mAh_cm2)`` steps.

    ``kind`` is ``"plate"`` or ``"strip"``; a strip's capacity is ``ce * first plating``.
    The last plating step of cases B and C ends in the short.
    """
    c = str(case).upper()
    j0, q0 = p("plate_current"), p("plate_capacity")
    steps = [("plate", j0, q0)]
    if c == "A":
        steps.append(("strip", p("strip_current"), p("ce_A") * q0))
    elif c == "B":
        steps.append(("strip", p("strip_current"), p("ce_B") * q0))
        steps.append(("plate", j0, p("replate_B")))
        steps += [("plate", j, q) for j, q in p("ramp_B")]
    elif c == "C":
        steps += [("plate", j, q) for j, q in p("ramp_C")]
    else:
        raise KeyError(f"paper 001 has cases A, B, C; not {case!r}")
    return tuple(steps)
