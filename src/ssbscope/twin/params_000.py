"""Twin parameters of Huang et al. 2024 (Cell Rep. Phys. Sci. 5, 101995), the operando XCS-CT coin cell.

One row per number the XCS twin (:mod:`ssbscope.twin.xcs`, :mod:`ssbscope.twin.xcs_series`)
uses or must reproduce: the paper's values with the figure/table/section they come from, and
the twin's own assumptions (``source`` starting with ``"assumption"``) with the reason.  The
XCS series writer reads its interphase model, geometry and heights from here
(:func:`ssbscope.twin.paper_parameters.value`).

The EMF of Table 1 (1.28 -> 1.73 -> 1.41 a.u.) is on the paper's own a.u. scale; Eqs. 3-5
define the EMF as a ratio of two window integrals of J(p_z), whose absolute value depends on
the windows, the normalisation and the background treatment, so the twin compares relative
changes only.  Within Eqs. 3-5 (windows |p_z| < 1 and 1 < |p_z| < 5 a.u.) lithium metal has
the highest EMF of every species at a Li anode (Li 2.14, PEO-LiTFSI 1.68, Li-salt-rich PEO
1.44-1.48, Li2O 1.63, Li2CO3 1.51, LiF 1.34, resolution-broadened), so an interphase's EMF can
rise on plating only by gaining Li0 electrons, by at most ~45 % from pure SEI to pure Li.  With
the twin's Faraday charge (18.5 um of Li) in a resolvable interphase (tens of um), a physical
composition gives a rise of several per cent, not the paper's +35 %: the twin keeps the
paper's signs (up on charge, down on discharge, above pristine after discharge) and reports
its own relative changes as truth (``compton.interphase`` of truth.json).
"""

from __future__ import annotations

from ssbscope.twin.paper_parameters import PaperParameter as P
from ssbscope.twin.paper_parameters import register

CITATION = "Huang et al. 2024, doi:10.1016/j.xcrp.2024.101995"

ROWS = register("000", CITATION, [
    # ---- XCS acquisition
    P("beam energy E1", 115.0, "keV", "Experimental procedures (XCS-CT)"),
    P("sheet beam width", 25.0, "mm", "Experimental procedures (XCS imaging)"),
    P("sheet beam height", 0.25, "mm", "Experimental procedures (XCS imaging)"),
    P("region 2 Li fraction", 0.89, "1", "Fig. 1D / Results", "89 % of the region-2 sheet lies in the Li anode"),
    P("sheet centre heights (regions 1, 2, 3)", (620.0, 552.5, 520.0), "um",
      "Fig. 1D; derived", "region 1: sheet top at the cathode top; region 2: 89 % of the sheet in the Li; "
      "region 3: sheet 5 um below the anode surface; z = 0 at the bottom of the can (250 um steel) "
      "with the twin's pristine stack"),
    P("sheet centre height region 4 (bulk Li)", "middle of the bulk Li", "um",
      "assumption: not in the paper",
      "a fourth height in the bulk Li below the interphase, so that bulk Li, interphase, SPE and "
      "cathode (4 components) can be unmixed from 4 exposures; the paper used 3 regions and "
      "took region 3 as the anode"),
    P("detector pixels", 80, "1", "Experimental procedures (HEXITEC, 80 x 80)"),
    P("detector pixel pitch", 0.25, "mm", "Experimental procedures"),
    P("detector thickness (CdZnTe)", 2.0, "mm", "Experimental procedures"),
    P("energy resolution FWHM at 59.54 keV", 0.79, "keV", "Experimental procedures (Am-241)"),
    P("frame rate", 9000.0, "Hz", "Experimental procedures"),
    P("pinhole diameter", 0.2, "mm", "Experimental procedures"),
    P("sample to pinhole", 160.0, "mm", "Experimental procedures"),
    P("pinhole to detector", 150.0, "mm", "Experimental procedures"),
    P("EMF map pixel", 250.0, "um", "Fig. 3A text (250 x 250 um2 per pixel)",
      "the twin's maps use blocks of analysis.compton.emf_map_block_px detector pixels (8 in the "
      "demo, 2.1 mm in the sheet): single-pixel EMFs need far more photons than the demo affords"),
    P("EMF low window |p_z|", 1.0, "a.u.", "Eq. 4"),
    P("EMF high window", (1.0, 5.0), "a.u.", "Eq. 5"),
    # ---- cell
    P("cathode diameter", 14.0, "mm", "Fig. 3A text",
      "the text prints 'diameter = 14 cm', a typo: a coin cell's cathode under a 16 mm anode"),
    P("anode diameter", 16.0, "mm", "Fig. 3A text"),
    P("SPE diameter", 18.0, "mm", "Materials (SPE cut to 18 mm)"),
    P("SPE thickness", 30.0, "um", "Materials / Results"),
    P("cathode thickness", 65.0, "um", "Results (cathode 65 um)"),
    P("SPE [EO]/[Li]", 15.0, "1", "Materials"),
    P("Li anode thickness (pristine)", 400.0, "um", "assumption: not reported",
      "commercial Li chips are 250-600 um; 400 um keeps every sheet height inside the cell"),
    P("current density", 0.3, "mA/cm**2", "Results (0.07 C)"),
    # ---- reported results the twin encodes or compares with
    P("EMF anode at anode/SPE interphase (pristine, charged, discharged)", (1.28, 1.73, 1.41), "1",
      "Table 1", "paper's a.u. scale; compared as relative changes only"),
    P("EMF change vs pristine (charged, discharged)", (35.2, 10.2), "percent", "Table 1"),
    P("Ra anode/SPE (pristine, charged, discharged)", (5.1, 5.4, 6.1), "um", "Table 1 / Table S1"),
    P("anode volume change (charge, discharge)", (3.7, -1.4), "percent", "Fig. 3C text",
      "charge: vs pristine; discharge: vs fully charged"),
    P("interphase region thickness", 65.0, "um", "Introduction (~65 um)",
      "the CT region of interest at the buried interphase"),
    P("Rct trend", "down on charge, up on discharge (+-5 %)", "1", "Fig. 2A-B text"),
    # ---- the twin's interphase model (assumptions)
    P("twin interphase Li0 (pristine)", 10.0, "um", "assumption: Li0 in the interphase",
      "Li metal of the foil's rough surface zone (Ra ~5 um) within the reacted film; per unit area"),
    P("twin interphase Li-salt-rich PEO", 12.0, "um", "assumption: Li+ accumulation",
      "SPE that crept into the foil's surface and accumulated LiTFSI at the Li surface "
      "([EO]/[Li] = 4, 1.5 g/cm3, vs 15 in the bulk SPE); per unit area"),
    P("twin interphase Li-salt-rich PEO [EO]/[Li]", 4.0, "1", "assumption: Li+ accumulation",
      "Li+ accumulation at the Li|PEO contact (salt-rich layer)"),
    P("twin interphase SEI", 4.0, "um", "assumption: SEI",
      "PEO/LiTFSI reduced by Li (Results: 'PEO reduces after being in contact with Li metal'): "
      "equal volumes of Li2O, LiF and Li2CO3; per unit area"),
    P("twin interphase SEI growth (charged, discharged)", (0.5, 1.0), "um", "assumption: SEI growth",
      "SEI keeps forming while Li is plated and stripped (Results: SEI formation at the onset of "
      "charging); Li for it comes from the plated Li"),
    P("twin interphase pores (pristine)", 4.0, "um", "assumption: pores",
      "voids of the rough Li|SPE contact; plating fills them first"),
    P("twin share of stripped Li taken from the bulk anode", "from the anode volume change", "1",
      "derived from Fig. 3C text (-1.4 % anode volume on discharge)",
      "stripping leaves pores in the interphase (its thickness stays), so only Li stripped from "
      "the bulk shrinks the anode: bulk share = 1.4 % x (1 + 3.7 %) x pristine anode thickness / "
      "Li stripped (Faraday); the rest leaves the interphase, whose Li0 stays above pristine"),
    P("twin lateral plating contrast a", 0.3, "1", "assumption: Fig. 3A (centre > edge)",
      "plated Li per area under the cathode = Faraday x (1 + a (1 - 2 r^2 / R_c^2)), mean 1 over "
      "the 14 mm cathode; none beyond it (the 16 mm anode's rim faces no cathode)"),
    # ---- CT (the twin's propagation-phase-contrast scans of the ROI, twin/coin_ct.py)
    P("CT beam energy", 115.0, "keV", "Experimental procedures (bent Laue DCM, highly coherent)"),
    P("CT pixel size", 3.24, "um", "Results / Experimental procedures"),
    P("CT projections over 180 deg", 3600, "1", "Experimental procedures",
      "the demo writes 900 (small) / 600 (tiny): the per-projection noise is the paper's, the "
      "angular sampling of a 48-64 px ROI needs ~ pi/2 n_xy"),
    P("CT exposure per projection", 9.0, "ms", "Experimental procedures (PCO.Edge 5.5 + 100 um LYSO)"),
    P("CT flat-field counts per pixel", 2.0e4, "1", "assumption: not reported",
      "a 9 ms exposure of an sCMOS (30 ke- full well, 16 bit) at a bright 115 keV beam is "
      "set to ~2/3 of full well; Poisson noise at that level (0.7 % per pixel)"),
    P("CT sample-to-scintillator distance", 300.0, "mm", "assumption: not reported",
      "the paper calls the beam highly coherent and the Li|PEO edge visible, which at 115 keV "
      "needs propagation: 300 mm gives a Fresnel number p^2/(lambda d) = 3.2 at the 3.24 um "
      "pixel (edge-enhancement regime, fringe width sqrt(lambda d) = 1.8 um) and keeps the "
      "refraction of the 16 mm Li|SPE chords to ~1-3 px"),
    P("CT scintillator + optics blur sigma", 0.5, "px", "assumption: 100 um LYSO, 0.82x lens",
      "Gaussian PSF of ~1.2 px FWHM"),
    P("CT ROI (region of interest) position", "where plated Li per area = roi weight x Faraday", "1",
      "assumption: ROI of n_xy x 3.24 um on the 14 mm cathode's footprint",
      "the ROI's CT is truncated (the 20 mm casing is ~100x wider than the detector); the cell "
      "outside the ROI continues its slices as discs: anode 16 mm, SPE 18 mm, cathode/Al 14 mm, "
      "spacer 15.5 mm, casing 20 mm (0.3 mm steel wall)"),
    P("twin CT ROI plating weight", 0.8, "1", "derived from Fig. 3C text (+3.7 %) and Faraday",
      "plated Li per area in the ROI relative to Faraday's mean: 0.8 x 18.46 um (the first-cycle "
      "twin's charge) on the 400 um anode is the paper's +3.7 %; with the lateral plating "
      "contrast a = 0.3 this is r ~ 6.4 mm, inside the cathode's rim"),
    P("twin CT Li surface correlation length", 13.0, "um", "assumption: Fig. 3B-C, Fig. S26",
      "lateral scale of the Li surface's hills (~4 px); Gaussian random field"),
    P("twin CT subsurface pores on discharge", "stripped Li beyond the -1.4 % envelope", "um",
      "derived from Fig. 3C text ('more large subsurface pores at first discharging')",
      "voids 3-9 voxels below the surface hold the stripped Li (Faraday x roi weight) that the "
      "anode's envelope did not lose"),
    P("twin interphase rings", (2.0, 4.0, 6.0, 7.0, 8.0), "mm", "assumption: discretisation",
      "outer radii of the rings of constant composition (the last, 7-8 mm, is the anode's rim)"),
])
