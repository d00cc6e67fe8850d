"""Twin parameters of Cao et al. 2023, doi:10.1002/adfm.202307998 (soft short in a sulfide
all-solid-state Li metal battery; operando neutron radiography, ex situ X-ray CT).

:func:`ssbscope.twin.ct.soft_short_002` and :func:`ssbscope.twin.folder.soft_short_part`
follow this table: the low-attenuation volume fraction of 10 electrolyte layers rises
linearly from 9.91 % (the paper's layer 1, cathode side) to 30.65 % (layer 10, at the Li
anode) (Fig. 3J); the demo scan is a crop of the pellet at a size the demo can afford.
"""

from __future__ import annotations

from ssbscope.twin.paper_parameters import PaperParameter as P
from ssbscope.twin.paper_parameters import register

CITATION = "Cao et al. 2023, doi:10.1002/adfm.202307998"

#: low-attenuation volume fraction of the paper's layer 1 (cathode side) and layer 10 (Li)
LAYER_FRACTION_LAYER1 = 0.0991
LAYER_FRACTION_LAYER10 = 0.3065

ROWS = register("002", CITATION, [
    P("layer fraction, layer 1 (cathode side)", 9.91, "percent", "Fig. 3J; Sect. 2.3",
      "volume fraction of the low-attenuation regions in the SE layer nearest the cathode; "
      "the paper numbers layer 1 at the cathode, layer 10 at the Li metal anode"),
    P("layer fraction, layer 10 (Li anode side)", 30.65, "percent", "Fig. 3J; Sect. 2.3",
      "'From layer 1 to layer 10 ... gradually increases from 9.91 to 30.65 %'"),
    P("number of SE layers", 10, "1", "Fig. 3J (inset)", "equal-thickness slabs of the SE"),
    P("layer fraction, layers 2-9", "linear between layer 1 and layer 10", "percent",
      "assumption: linear profile",
      "the text gives the end points and 'gradually increases'; Fig. 3J's bars are not "
      "tabulated, so the twin interpolates linearly"),
    P("region display threshold (Fig. 3I)", 3.4e5, "um**3", "Fig. 3I; Sect. 2.3",
      "Fig. 3I renders only low-attenuation regions larger than 3.4e5 um^3 (~8e4 voxels of "
      "1.62 um); the demo crop's whole SE is ~1e6 um^3, so the demo counts every region "
      "(analysis.tomo.min_filament_volume_um3 = 0)"),
    P("Li-connected regions", "filaments from the anode, reach up to half the SE", "1",
      "Fig. 3C, 3I; Sect. 2.3",
      "'large amounts of low attenuation regions ... interconnected to the Li metal anode. The "
      "farthest edge can even reach half of the SE in thickness'; a filament of 1.5 mm in "
      "Slice 1 (Fig. 3C); thin tip, broad root"),
    P("isolated regions", "scattered pores / inactive Li, no connection to Li", "1",
      "Fig. 3I; Sect. 2.3",
      "'the regions having no connection to Li metal are scattered and take a large volume "
      "fraction in the total SE'"),
    P("isolated volume fraction of each layer", 2.0, "percent",
      "assumption: twin",
      "the paper gives no number; the twin puts 2 % of each layer in isolated pores (balls "
      "of radius 0.9-1.8 voxels, at least one voxel from any filament) and the rest of the "
      "layer's target in anode-connected filaments"),
    P("filament shape", "columns: correlation 1.2 voxels across, 4 voxels along z", "1",
      "assumption: twin",
      "thresholded Gaussian random field grown layer by layer from the anode face; "
      "face-connected to the anode"),
    P("voxel size (paper)", 1.62, "um", "Experimental Section, XCT",
      "Zeiss Xradia Versa 520, 4x objective, 1x1 binning"),
    P("voxel size (twin demo)", 3.0, "um", "assumption: demo size",
      "the demo's CT scans share 3 um voxels (ssbscope.twin.folder); at 1.62 um the same "
      "crop would hold a 35 um wide pellet; filaments stay 1-3 voxels across"),
    P("projections (paper)", 1601, "1", "Experimental Section, XCT", "360 deg rotation"),
    P("projections (twin demo)", "60 (tiny), 90 (small), 150 (medium)", "1",
      "assumption: demo size", "over 180 deg; ssbscope.twin.folder.SOFT_SHORT_SIZES"),
    P("X-ray source", 60, "kV", "Experimental Section, XCT", "83.6 uA tube current"),
    P("X-ray energy (twin)", 22.0, "keV", "assumption: effective energy",
      "monochromatic stand-in for the 60 kV tube spectrum behind the PEEK cell"),
    P("SE pellet thickness", 3.0, "mm", "Sect. 2.3", "'around 3 mm' (15 mg Li6PS5Cl-type SE, "
      "2 mm diameter: 15 mg / (1.64 g cm^-3 x 3.14 mm^2) = 2.9 mm)"),
    P("SE pellet thickness (twin demo)", 120.0, "um", "assumption: crop",
      "40 voxels of 3 um: the demo scans a 64-slice crop, steel | Li | SE | cathode | steel; "
      "the SE is thinned so that its 10 layers fit (4 slices each)"),
    P("cell diameter", 2.0, "mm", "Sect. 2.3; Experimental Section, XCT",
      "PEEK tube of 2 mm inner diameter"),
    P("cell diameter (twin demo)", (86.4, 108.0, 172.8), "um", "assumption: crop",
      "tiny / small / medium: 0.9 x n_xy voxels of 3 um (n_xy 32 / 40 / 64); a 2 mm cell at "
      "3 um voxels would need ~670 pixels across"),
    P("SE mass", 15, "mg", "Experimental Section, XCT", ""),
    P("cathode mass", 1, "mg", "Experimental Section, XCT", "NMC811 composite"),
    P("Li anode thickness (twin)", 16.0, "um", "assumption: twin",
      "not reported; a foil of 2 mm diameter"),
    P("C-rate", "C/20", "1", "Sect. 2.3; Experimental Section",
      "soft short after ~3 h (XCT cell) / ~4.5 h (neutron cell) of charging"),
    P("soft-short onset (neutron cell)", 4.5, "h", "Fig. 2B; Sect. 2.2",
      "voltage fluctuates around 3.8 V after 4.5 h"),
    P("neutron bands", "P1 cathode depletion, P2 SE|Li enrichment, P3 anode depletion, "
      "P4 cell-edge enrichment", "1", "Fig. 2D-E; Sect. 2.2",
      "Tr_t/Tr_0 > 1 depletion, < 1 enrichment"),
])
