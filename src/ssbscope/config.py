"""The experiment file (YAML): schema, loading and validation.

An experiment file describes the cell, the raw inputs of each modality and the analysis
parameters.  Unknown keys are errors (a typo must not be silently ignored); every problem
is reported with its location, e.g. ``cell.layers[2].thickness_um: must be > 0``.

Example
-------
.. code-block:: yaml

    name: NMC622 | PEO-LiTFSI | Li, first cycle
    seed: 0
    cell:
      area_cm2: 0.785
      active_mass_mg: 5.2
      layers:
        - {name: cathode, material: NMC622, thickness_um: 65}
        - {name: electrolyte, material: PEO-LiTFSI, thickness_um: 30}
        - {name: anode, material: Li, thickness_um: 300}
    inputs:
      echem:
        - {path: cycle1.mpr}
      tomo:
        - {path: scans/pristine.h5, format: dxchange, voxel_size_um: 0.65,
           energy_kev: 30, time_s: 0, label: pristine}
    analysis:
      echem: {drop_mV: 2.0}

Relative paths are resolved against the experiment file's folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ssbscope.errors import ConfigError

__all__ = [
    "Experiment", "Cell", "Layer", "EchemInput", "TomoInput", "ComptonInput", "NeutronInput", "NeutronRegion", "NeutronLiRegion",
    "Inputs", "Analysis", "CorrelateAnalysis", "EmfReferencePoint", "load", "validate_file", "format_errors",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


#: Electrode areas a cell may declare (cm²): a ~1 µm disc (microelectrode studies) to 10 m²
#: (a large stacked pouch). Outside, the value is a unit mix-up (m² or mm² as cm²) and every
#: per-area quantity (mA/cm², mAh/cm²) would be off by orders of magnitude.
AREA_RANGE_CM2 = (1e-8, 1e5)
#: Diameters matching :data:`AREA_RANGE_CM2` (mm), rounded outwards.
DIAMETER_RANGE_MM = (1e-3, 4000.0)
#: Times an input or a named state may declare (s since the start of the echem log): within
#: ±1e9 s (about 32 years) of it; negative for a scan taken before the test began.  Beyond, the
#: value is a unit mix-up (ms or an epoch timestamp given as s) or a corrupt number.
TIME_RANGE_S = (-1e9, 1e9)


def _in_range(v, lo_hi, unit, what):
    """``v`` unless it lies outside ``lo_hi`` (None passes): a one-line ValueError naming the
    range and the likely unit mix-up."""
    lo, hi = lo_hi
    if v is not None and not (lo <= v <= hi):
        raise ValueError(f"{v:g} {unit} is outside {lo:g} to {hi:g} {unit}, the range of {what}; "
                         f"check the unit")
    return v


class _AreaDiameterRanges(_Model):
    """The physical ranges of ``area_cm2`` and ``diameter_mm`` (a cell's or a layer's; the
    subclasses declare the fields)."""

    @field_validator("area_cm2", check_fields=False)
    @classmethod
    def _area_range(cls, v):
        return _in_range(v, AREA_RANGE_CM2, "cm2", "electrode areas (a 1 um disc to 10 m2)")

    @field_validator("diameter_mm", check_fields=False)
    @classmethod
    def _diameter_range(cls, v):
        return _in_range(v, DIAMETER_RANGE_MM, "mm", "electrode diameters")


class Layer(_AreaDiameterRanges):
    """One layer of the cell stack.

    Layers are listed in stacking order along the cell axis: for CT, from the bottom of the
    reconstructed volume (z = 0) to the top.  A layer of nominal thickness 0 is one that forms
    during the experiment (Li plated on the Cu of an anode-free cell).
    """

    name: str = Field(min_length=1, description="layer name, unique in the cell; interfaces are named 'lower|upper' from it (e.g. 'Li|LPSCl')")
    material: str = Field(description="named material (ssbscope.materials.NAMED) or formula; it orders the CT phases by attenuation")
    thickness_um: float = Field(ge=0, description="nominal layer thickness (µm); 0 for a layer that forms during the experiment")
    diameter_mm: Optional[float] = Field(default=None, gt=0, description="layer diameter (mm) where it differs from the cell's")
    area_cm2: Optional[float] = Field(default=None, gt=0, allow_inf_nan=False, description="layer area (cm2) where it differs from the cell's")
    porosity: Optional[float] = Field(default=None, ge=0, lt=1, description="nominal pore volume fraction of the layer")
    density_g_cm3: Optional[float] = Field(default=None, gt=0, description="density (g/cm3) overriding the named material's")


class Cell(_AreaDiameterRanges):
    """The cell: geometry, stack and active mass."""

    name: Optional[str] = Field(default=None, description="cell name shown in the report")
    area_cm2: Optional[float] = Field(default=None, gt=0, allow_inf_nan=False, description="electrode area (cm²)")
    diameter_mm: Optional[float] = Field(default=None, gt=0, description="electrode diameter (mm)")
    active_mass_mg: Optional[float] = Field(default=None, gt=1e-9, allow_inf_nan=False,
                                           description="cathode active mass (mg; more than 1e-9 mg)")
    layers: list[Layer] = Field(default_factory=list, description="the stack in order along the cell axis (CT: bottom, z = 0, to top)")

    @field_validator("layers")
    @classmethod
    def _unique_names(cls, v):
        names = [la.name for la in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"layer names must be unique, {dup} repeat; name them e.g. 'Li' and 'counter'")
        return v

    def layer(self, name: str) -> "Layer":
        """The layer called ``name`` (KeyError if none)."""
        for la in self.layers:
            if la.name == name:
                return la
        raise KeyError(name)

    @model_validator(mode="after")
    def _area_consistent(self):
        if self.area_cm2 is not None and self.diameter_mm is not None:
            import math

            a = math.pi * (self.diameter_mm / 20.0) ** 2
            if abs(a - self.area_cm2) > 0.02 * self.area_cm2:
                raise ValueError(f"area_cm2={self.area_cm2} disagrees with diameter_mm={self.diameter_mm} "
                                 f"(π r² = {a:.4g} cm²); give one of them")
        return self

    @property
    def electrode_area_cm2(self) -> Optional[float]:
        """Area from ``area_cm2`` or ``diameter_mm`` (cm²)."""
        import math

        if self.area_cm2 is not None:
            return self.area_cm2
        if self.diameter_mm is not None:
            return math.pi * (self.diameter_mm / 20.0) ** 2
        return None


class _Input(_Model):
    path: str = Field(min_length=1, description="file (or folder / glob where the format allows), relative to the experiment file's folder")
    label: Optional[str] = Field(default=None, description="name of this input in the store and report (default: the file name)")
    time_s: Optional[float] = Field(default=None, description="start of the acquisition, s since the start of the electrochemical test")
    cell: Optional[str] = Field(default=None, description="name of the cell (a key of cells:) this input belongs to; default: the top-level cell")

    @field_validator("time_s")
    @classmethod
    def _time_range(cls, v):
        return _in_range(v, TIME_RANGE_S, "s", "times since the start of a cell test (about 32 years "
                         "either way)")


class EchemInput(_Input):
    format: Literal["auto", "mpr", "mpt", "gamry", "csv", "neware", "neware-regular", "arbin", "maccor", "novonix", "pec", "bdf", "landt", "basytec", "nda", "ndax", "res", "pssession"] = Field(default="auto", description="file format; auto: from the content and suffix (also for ZPlot/Autolab, CHI, Parstat, PowerSuite impedance text exports, PalmSens .pssession sessions and Excel workbooks: .xlsx needs the extra 'excel', .xls the extra 'xls'; Neware .nda/.ndax and Arbin .res need the extras 'neware' / 'arbin'); landt: a Landt/LANHE record table (English or Chinese headers); basytec: a BaSyTec Battery Test System text export ('~' preamble, '~Time[s]', 'U[V]', 'I[A]' header)")
    columns: dict[str, str] = Field(default_factory=dict, description="column mapping for CSV/TSV, e.g. {time_s: 'Time (s)'}")
    kind: Literal["cycling", "eis"] = Field(default="cycling", description="cycling: a potentiostat log (the clock of the imaging inputs); eis: one impedance spectrum (give its time_s)")
    invert_current: bool = Field(default=False, description="flip the current sign (cells wired with the negative electrode, e.g. Cu, as working electrode) so charge is positive")
    nan_policy: Literal["raise", "drop"] = Field(default="raise", description="rows of a cycling log whose voltage or current is NaN or infinite: raise (default, strict) refuses the file naming the rows; drop removes those rows and records a warning in attrs['warnings'] of echem/<log>/timeseries (NaN time stamps and physically absurd values are refused either way)")

    @field_validator("columns", mode="before")
    @classmethod
    def _columns_keys(cls, v, info):
        # the keys the readers take (ssbscope.echem.io.tabular.COLUMNS_KEYS); a setting of the
        # input written inside the mapping is pointed to its place beside ``columns:``
        from ssbscope.echem.io.tabular import COLUMNS_KEYS

        if not isinstance(v, dict):
            return v
        for k in v:
            if k in cls.model_fields and k not in COLUMNS_KEYS:
                path = (info.data or {}).get("path", "...")
                val = str(v[k]).lower() if isinstance(v[k], bool) else v[k]
                raise ValueError(f"{k!r} is a setting of the input, not a column: write it beside "
                                 f"columns:, e.g. {{path: {path}, {k}: {val}, columns: {{...}}}}")
            if k not in COLUMNS_KEYS:
                raise ValueError(f"unknown key {k!r}; columns: maps {list(COLUMNS_KEYS)} to the "
                                 "file's column names, e.g. {voltage_V: \"Ewe (mV)\"}")
        return v

    @model_validator(mode="after")
    def _nan_policy_for_cycling(self):
        if self.kind == "eis" and self.nan_policy != "raise":
            raise ValueError("nan_policy: applies to cycling logs only; an impedance spectrum (kind: eis) "
                             "with NaN points is refused - remove nan_policy or fix the file")
        if self.kind == "eis" and self.columns:
            raise ValueError("columns: applies to cycling logs only; the impedance readers (kind: eis) "
                             "know their formats' columns - remove columns: from this input")
        return self


class DeltaBetaMaterial(_Model):
    """delta/beta of a material at the beam energy, from xraylib's refractive index."""

    material: str = Field(min_length=1, description="chemical formula xraylib parses (e.g. 'Li', 'Li6PS5Cl', 'C2H4O') or a NIST compound name")
    density_g_cm3: float = Field(gt=0, description="mass density (g/cm3), e.g. 0.534 for Li")

    @field_validator("material")
    @classmethod
    def _known(cls, v):
        import xraylib

        try:
            xraylib.CompoundParser(v)
        except ValueError:
            try:
                xraylib.GetCompoundDataNISTByName(v)
            except ValueError:
                raise ValueError(f"{v!r} is neither a chemical formula nor a NIST compound name "
                                 "xraylib knows; write it as a formula, e.g. 'Li'") from None
        return v


class PhaseRetrieval(_Model):
    """Single-distance propagation-based phase retrieval of the projections before FBP."""

    method: Literal["paganin"] = Field(default="paganin", description="paganin: homogeneous-object phase retrieval (Paganin et al. 2002, doi:10.1046/j.1365-2818.2002.01010.x), applied to each flat/dark-corrected, de-zingered projection before -ln")
    delta_beta: float | DeltaBetaMaterial = Field(description="delta/beta of the material whose edges matter (e.g. 1271 for Li at 115 keV), or {material, density_g_cm3} to compute it with xraylib at the energy")
    distance_mm: float = Field(gt=0, description="sample-detector propagation distance (mm)")
    energy_kev: Optional[float] = Field(default=None, gt=0, description="photon energy (keV); default: the file's Data Exchange /measurement/instrument/monochromator/energy, else the input's energy_kev")

    @field_validator("delta_beta")
    @classmethod
    def _positive(cls, v):
        if isinstance(v, (int, float)) and not (v > 0 and v != float("inf")):
            raise ValueError("must be a positive number (delta/beta) or {material, density_g_cm3}")
        return v


class ZingerRule(_Model):
    """Which projection pixels are zingers (single-frame detector hits), replaced by their 3 x 3 median before reconstruction."""

    threshold: float = Field(default=0.1, gt=0, description="deviation of -ln(I/I0) from the pixel's 3 x 3 median in its projection (and, with temporal, from the same pixel at the adjacent angles) that marks a zinger, e.g. 0.1")
    polarity: Literal["low", "both"] = Field(default="low", description="low: a zinger adds counts, so only pixels below the median in -ln(I/I0) (the default); both: either side (the rule before 2026-12: on the anode-free twin it rewrote 1.8 % of all pixels of real structure, 42 % of the Cu disk's last row, and put the Cu|Li face 0.18 um high)")
    temporal: bool = Field(default=True, description="a zinger lies in one frame: the pixel must also stand out from the mean of the same pixel at the adjacent angles (default true; false: the 3 x 3 median test alone)")


class TomoInput(_Input):
    format: Literal["auto", "dxchange", "nxtomo", "tiff", "hdf5"] = Field(default="auto", description="file format; auto: from the content and suffix")
    kind: Literal["projections", "volume"] = Field(default="projections", description="projections (with flats, darks and angles) to reconstruct, or a reconstructed volume")
    series: str = Field(default="scans", min_length=1, description="operando series this scan belongs to: the scans of a series are registered to its first and measured together (tomo/<series>/...)")
    state: Optional[str] = Field(default=None, description="electrochemical state of the scan (e.g. 'plated 3.0 mAh/cm2'); with no time_s, the time comes from the file's acquisition time against the echem log's start")
    voxel_size_um: Optional[float] = Field(default=None, gt=0, description="voxel (pixel) size in um when the file does not record it")
    energy_kev: Optional[float] = Field(default=None, gt=0, description="beam energy (keV): orders the declared materials by attenuation (default 30 keV); monochromatic or effective")
    dataset: Optional[str] = Field(default=None, description="HDF5 dataset path of a volume")
    center_px: Optional[float] = Field(default=None, description="rotation axis on the detector (px); searched if absent")
    angle_range_deg: Optional[tuple[float, float]] = Field(default=None, description="(start, stop) when the file has no readable angles")
    scan: Literal["180", "360-offset"] = Field(default="180", description="180-degree scan, or 360-degree with the rotation axis off-centre (half-acquisition, stitched)")
    rows: Optional[tuple[int, int]] = Field(default=None, description="detector rows [start, stop) to reconstruct (default: all)")
    flats: Optional[str] = Field(default=None, description="open-beam (flat) frames in separate files: a TIFF folder/glob (e.g. 'flats/*.tif') or HDF5 file(s); required when path is a TIFF projection series")
    darks: Optional[str] = Field(default=None, description="dark frames in separate files (as flats:)")
    angles: Optional[str] = Field(default=None, description="text file of rotation angles, one per projection (degrees unless its header says rad); else angle_range_deg")
    phase_retrieval: Optional[PhaseRetrieval] = Field(default=None, description="Paganin phase retrieval of each projection before reconstruction (low-contrast Li with a coherent beam), e.g. {delta_beta: {material: Li, density_g_cm3: 0.534}, distance_mm: 100}; default: none (absorption contrast)")
    truncated: Literal["auto"] | bool = Field(default="auto", description="the sample is wider than the field of view (region-of-interest scan, e.g. a steel casing): each sinogram row is extended by its edge value tapered to zero before the ramp filter (taper length from the edge profile; no bright rim, less cupping); auto: when the middle sinogram's edges attenuate")
    zingers: ZingerRule = Field(default_factory=ZingerRule, description="zinger removal of the projections (ssbscope.tomo.remove_zingers): {threshold: 0.1, polarity: low, temporal: true} by default, one-sided and temporal so that a layer's edge rows (e.g. a Cu current collector's) are not taken for zingers; {polarity: both, temporal: false} is the two-sided 3 x 3 median rule used before 2026-12")
    bad_pixels: Literal["raise", "mask"] = Field(default="raise", description="detector pixels whose flat is not above their dark (dead pixels): raise (refuse the scan, naming them) or mask (interpolate them from their row neighbours; logged and recorded in the scan's attrs)")

    @model_validator(mode="after")
    def _phase_on_projections(self):
        if self.phase_retrieval is not None and self.kind != "projections":
            raise ValueError("phase_retrieval: applies to projections before reconstruction; "
                             f"this input is a {self.kind} (remove phase_retrieval or give the projections)")
        return self


class ComptonInput(_Input):
    format: Literal["auto", "events", "hexitec-raw", "cube"] = Field(default="auto", description="events (.ssbevt), a raw HEXITEC stream, or a binned spectral cube; auto: from the content")
    e_incident_kev: float = Field(default=115.0, ge=10.0, le=1000.0, description="incident photon energy (keV), 115 in Huang et al. 2024; 10 to 1000 keV: below ~10 keV photoabsorption dominates and the beam does not cross a cell, and the high-energy Compton beamlines and lab sources used for cell imaging work at tens to a few hundred keV (a CdTe HEXITEC detector records 4-200 keV)")
    angle_deg: float = Field(default=90.0, gt=0, lt=180, description="nominal scattering angle (degrees)")
    calibration: Optional[str] = Field(default=None, description="energy calibration of ADU data: .npz with per-pixel gain_kev_per_unit/offset_kev (optional pixel_mask), or a HEXITEC 80x80 CalTable .dat (ADU offsets only)")
    beam_height_um: Optional[float] = Field(default=None, description="height of the sheet beam's centre on the cell axis (um), measured from the bottom of the cell stack, i.e. z = 0 of the cell's layers and of the CT volume (cell.layers bottom to top); needed for the series unmixing (compton/<series>/...)")
    series: str = Field(default="xcs", min_length=1, description="operando XCS series this exposure belongs to: the exposures of a series at several beam heights and states are unmixed together into the cell's layers (compton/<series>/emf, /maps, /spectra)")
    state: Optional[str] = Field(default=None, description="electrochemical state of the exposure (e.g. 'charged'); exposures of one state at different beam_height_um are unmixed together; default: 't = <time_s> s', or one common state 'state' when the exposure has no time_s")
    beam_thickness_um: float = Field(default=250.0, gt=0, description="height of the sheet beam along the cell axis (um), taken as a top hat (Huang et al. 2024: 250 um)")
    monitor: float = Field(default=1.0, gt=0, description="relative incident fluence x live time of the exposure (e.g. ion-chamber counts x s); spectra are divided by it before unmixing, so exposures of one state must share its scale")
    layer_thickness_um: dict[str, float] = Field(default_factory=dict, description="this state's thickness (um) of named layers of the cell, overriding the nominal cell.layers values for the phase fractions (e.g. the Li plated by then from Faraday's law, or measured by CT)")
    gain_kev_per_adu: Optional[float] = Field(default=None, gt=0, description="global energy scale E = gain * ADU + offset_kev when calibration gives no per-pixel keV scale; 1.5e-4 to 1 keV/ADU (HEXITEC about 0.03): the 16-bit full scale must reach 10 keV, and a coarser scale cannot resolve a detector line (ssbscope.compton.hexitec.GAIN_RANGE_KEV_PER_ADU)")
    offset_kev: float = Field(default=0.0, description="global energy offset (keV) used with gain_kev_per_adu; at most 1000 keV in magnitude")
    nan_policy: Literal["raise", "drop"] = Field(default="raise", description="events of an event file or raw HEXITEC stream whose value no detector gives (NaN or infinite energy, negative, above 10,000 keV or 65,535 ADU; stream pixel words outside 0-65,535): raise (default, strict) refuses the input naming the count and first record; drop leaves them out (before the charge-sharing test) and records the count in attrs['warnings'] of compton/input/<label>/cube")
    frame_rate_hz: Optional[float] = Field(default=None, gt=0, description="detector frame rate when the file does not say (raw HEXITEC streams); gives events/s")
    threshold_sigma: float = Field(default=8.0, gt=0, description="hit threshold of raw streams (robust noise sigmas above the per-pixel baseline)")
    dataset: Optional[str] = Field(default=None, description="array name / HDF5 path of a binned cube")
    e_max_kev: Optional[float] = Field(default=None, gt=0, le=2000.0, description="upper edge of the cube's energy axis (default max(120, 1.05 e_incident_kev)); at most 2000 keV (twice the largest e_incident_kev)")
    charge_sharing: Literal["discard", "add", "none"] = Field(default="discard", description="events split over neighbouring pixels: discarded, summed into one, or kept as they are")
    # detector corrections (all optional; without them the EMF is that of the uncorrected sum)
    sample_to_pinhole_mm: Optional[float] = Field(default=None, gt=0, description="pinhole geometry for the per-pixel scattering-angle alignment: sample (sheet centre) to pinhole distance (mm), 160 in Huang et al. 2024")
    pinhole_to_detector_mm: Optional[float] = Field(default=None, gt=0, description="pinhole to detector distance (mm), 150 in Huang et al. 2024")
    pixel_pitch_mm: Optional[float] = Field(default=None, gt=0, description="detector pixel pitch (mm) of the pinhole geometry; default 0.25 (HEXITEC) when the distances are given")
    angle_map: Optional[str] = Field(default=None, description="precomputed scattering angle (degrees) of each pixel, (rows, cols): .npy, or .npz with angle_deg; instead of the pinhole distances")
    flood: Optional[str] = Field(default=None, description="calibration flood (Am-241) in a format of the main input, processed with its calibration and charge-sharing setting: its line measures the detector's low-energy tail, which is removed before the EMF")
    flood_format: Literal["auto", "events", "hexitec-raw", "cube"] = Field(default="auto", description="format of the flood file (as format:)")
    flood_dataset: Optional[str] = Field(default=None, description="array name / HDF5 path of a binned flood cube")
    flood_line_kev: float = Field(default=59.5409, gt=0, description="energy of the flood's line (keV), Am-241 by default")
    flood_tail_scaling: Literal["auto", "none", "charge_sharing"] = Field(default="auto", description="how the tail measured on the flood's line is carried to the Compton peak's energies: none keeps its deficits (keV) the same at every energy; charge_sharing scales them by the sub-threshold charge-sharing model of a pixelated detector with charge-sharing discrimination (ssbscope.compton.electron_momentum.tail_energy_scale; no detector parameter needed); auto (default) takes the one the flood's second line (Am-241: 26.34 keV) fits better by a deviance difference of at least 6 (likelihood ratio 20 : 1), else none with a warning attribute (ssbscope.compton.electron_momentum.choose_tail_scaling; the choice and why in the input spectrum's flood_tail_scaling_* attributes)")
    efficiency_correction: Optional[bool] = Field(default=None, description="divide by the sensor's efficiency 1 - exp(-mu t) (CdZnTe); default: on when a flood is given")
    sensor_thickness_mm: float = Field(default=2.0, gt=0, description="CdZnTe sensor thickness (mm) for the efficiency correction")

    @model_validator(mode="after")
    def _corrections_consistent(self):
        if self.gain_kev_per_adu is not None or self.offset_kev != 0.0:
            from ssbscope.compton.hexitec import check_energy_scale
            from ssbscope.errors import InputError

            try:
                check_energy_scale(1.0 if self.gain_kev_per_adu is None else self.gain_kev_per_adu,
                                   self.offset_kev, source="energy calibration")
            except InputError as err:  # "gain_kev_per_adu = ... is ...": the field first
                raise ValueError(str(err).split("energy calibration: ", 1)[-1]) from None
        if self.series == "input":
            raise ValueError("series: 'input' is reserved (compton/input/<label>); name the series otherwise")
        bad = [k for k, v in self.layer_thickness_um.items() if not (v >= 0)]
        if bad:
            raise ValueError(f"layer_thickness_um: {bad[0]} must be >= 0 um")
        d1, d2 = self.sample_to_pinhole_mm, self.pinhole_to_detector_mm
        if (d1 is None) != (d2 is None):
            missing = "pinhole_to_detector_mm" if d2 is None else "sample_to_pinhole_mm"
            raise ValueError(f"{missing}: required with "
                             f"{'sample_to_pinhole_mm' if d2 is None else 'pinhole_to_detector_mm'} "
                             "(the pinhole geometry needs both distances)")
        if self.pixel_pitch_mm is not None and d1 is None:
            raise ValueError("pixel_pitch_mm: only used with sample_to_pinhole_mm and pinhole_to_detector_mm; "
                             "give both distances or remove it")
        if self.angle_map is not None and d1 is not None:
            raise ValueError("angle_map: give either angle_map or the pinhole distances "
                             "(sample_to_pinhole_mm, pinhole_to_detector_mm), not both")
        if d1 is not None and abs(self.angle_deg - 90.0) > 1e-9:
            raise ValueError(f"sample_to_pinhole_mm: the pinhole angle map assumes the 90 degree geometry of "
                             f"Huang et al. 2024, angle_deg is {self.angle_deg:g}; give angle_map instead")
        if self.flood is None:
            extra = [k for k, v in (("flood_format", self.flood_format != "auto"),
                                    ("flood_dataset", self.flood_dataset is not None),
                                    ("flood_line_kev", abs(self.flood_line_kev - 59.5409) > 1e-9),
                                    ("flood_tail_scaling", self.flood_tail_scaling != "auto")) if v]
            if extra:
                raise ValueError(f"{extra[0]}: set without flood; give flood: (the calibration flood file)")
        return self


class NeutronRegion(_Model):
    """A rectangle of the radiograph: rows ``[r0, r1)`` (along the cell's stacking axis, top of
    the frame = row 0) and columns ``[c0, c1)``, in pixels or in um from the frame's top-left
    corner (``units: um`` needs the input's ``pixel_size_um``)."""

    rows: tuple[float, float] = Field(description="[first, end) rows of the region (end excluded), pixels or um (units)")
    cols: tuple[float, float] = Field(description="[first, end) columns of the region (end excluded), pixels or um (units)")
    units: Literal["px", "um"] = Field(default="px", description="px: detector pixels; um: distances from the frame's top-left corner at the sample (converted with pixel_size_um, rounded to whole pixels)")

    @field_validator("rows", "cols")
    @classmethod
    def _ordered(cls, v):
        if not (0 <= v[0] < v[1]) or v[1] == float("inf"):
            raise ValueError(f"{list(v)}: need 0 <= first < end (end excluded)")
        return v


class NeutronLiRegion(NeutronRegion):
    """Where Li is plated or stripped: the Li thickness change (Beer-Lambert) is averaged and
    integrated over it and compared with Faraday's law (``correlate/states``)."""

    gains_on_charge: bool = Field(default=True, description="true: positive net charge of the echem log adds Li to this region (it frames the electrode Li goes to on charge, e.g. the Li-metal side of a cathode|SE|Li cell); false: positive charge removes Li from it (e.g. the cathode)")


class NeutronInput(_Input):
    format: Literal["auto", "fits", "tiff"] = Field(default="auto", description="FITS or TIFF frames; auto: from the suffix")
    kind: Literal["radiography", "projections"] = Field(default="radiography", description="radiography: a time series of frames (operando); projections: one neutron CT scan, a frame per rotation angle (give angles or angle_range_deg, open_beam, pixel_size_um), reconstructed into neutron/<label>/volume")
    angles: Optional[str] = Field(default=None, description="kind projections: text file of rotation angles, one per frame in file order (degrees unless its header says rad)")
    angle_range_deg: Optional[tuple[float, float]] = Field(default=None, description="kind projections without an angles file: [start, stop) of evenly spaced angles (degrees), one per frame")
    center_px: Optional[float] = Field(default=None, description="kind projections: rotation axis on the detector (px); searched on the middle rows if absent")
    open_beam: Optional[str] = Field(default=None, description="open-beam frames (file, folder or glob) for the normalised transmission")
    dark: Optional[str] = Field(default=None, description="dark frames (file, folder or glob) subtracted before normalisation")
    frame_interval_s: Optional[float] = Field(default=None, gt=0, description="time between frames (s) when the headers give none")
    pixel_size_um: Optional[float] = Field(default=None, gt=0, description="detector pixel size (um) at the sample")
    flight_path_m: Optional[float] = Field(default=None, gt=0, description="source-detector distance of a time-of-flight beamline: wavelength from the frames' TOF header")
    gamma_filter: bool = Field(default=True, description="remove gamma spots (frame-uncorrelated bright outliers)")
    bin_frames: Optional[int] = Field(default=None, ge=1, description="frames per median bin (Cao et al. 2023, Methods: 30); default: analysis.neutron.bin_frames for a time series of at least that many frames, no binning for time-of-flight series or shorter ones; 1 switches binning off")
    beam_roi: Optional[NeutronRegion] = Field(default=None, description="sample-free open-beam region of the frames: each normalised frame is divided by its median there (beam-intensity correction of Cao et al. 2023, Eq. 1); needed for absolute Li amounts when the beam drifts; default: none")
    li_roi: Optional[NeutronLiRegion] = Field(default=None, description="region where Li is plated or stripped, spanning the whole electrode width and every row where that electrode gains or loses Li: adds the Li thickness change map, its region mean and volume (neutron/input/<label>) and their Faraday residual (correlate/states); needs open_beam and a binned series; default: none (no Li thickness)")
    li6_fraction: float = Field(default=0.0759, ge=0, le=1, description="6Li atom fraction of the cell's lithium (natural 0.0759; 6Li absorption dominates the Li attenuation)")
    wavelength_a: Optional[float] = Field(default=None, gt=0, description="neutron wavelength (Angstrom) of a monochromatic beam for the Li thickness (Beer-Lambert at one wavelength); default: the cold CG-1D spectrum of Cao et al. 2023 (0.8-6 A, peak 2.6 A, effective 3.24 A) with its beam hardening")
    regions: Optional[dict[str, NeutronRegion]] = Field(default=None, description="named regions of the frames (e.g. {I: {rows: [0, 48], cols: [0, 26]}}, cell middle and edge as in Cao et al. 2023 Fig. 2D,E) whose space-time maps of Tr_t/Tr_0 (mean over cols per row and bin), layer boundaries (steps of the reference bin's transmission profile), bands of Li enrichment/depletion and soft-short onset (fluctuations of the band series) are found: neutron/<label>/spacetime, /bands, /boundaries; needs open_beam, a binned series and frame times; default: none (no band analysis)")
    background_roi: Optional[NeutronRegion] = Field(default=None, description="region behind a neutron-opaque marker (e.g. Cd): its mean dark-subtracted signal over the series is the static background (scattered neutrons) subtracted from every sample frame before Eq. 1; default: none (no background subtraction)")
    nan_policy: Literal["raise", "mask"] = Field(default="raise", description="pixels of infinite or negative counts in the sample, open-beam or dark frames (no detector records them: a damaged, mis-scaled or already processed frame): raise (default, strict) refuses the input naming the file, frame and pixel count; mask sets them to NaN (left out of the analysis like detector-flagged pixels) and records the count and frame of each in attrs['warnings'] of neutron/input/<label> (or neutron/<label>/volume); NaN pixels are flagged pixels and pass either way")
    gain_adu_per_count: Optional[float] = Field(default=None, gt=0, description="camera gain, ADU per detected neutron: the Tr_t/Tr_0 uncertainty of the band analysis (regions) from counting statistics (read noise from the dark frames' scatter); default: from the scatter of the frames within each bin (which also counts changes within a bin)")


class NamedState(_Model):
    """A named moment of the electrochemical test (e.g. when a scan not read by ssbscope was taken)."""

    label: str = Field(min_length=1, description="name of the moment, e.g. 'XCS scan 2'")
    time_s: float = Field(description="s since the start of the main echem log")

    @field_validator("time_s")
    @classmethod
    def _time_range(cls, v):
        return _in_range(v, TIME_RANGE_S, "s", "times since the start of a cell test (about 32 years "
                         "either way)")


class EchemAnalysis(_Model):
    drop_mV: float = Field(default=2.0, gt=0, description="polarisation drop marking the CCD step (mV)")
    states: list[NamedState] = Field(default_factory=list, description="extra named moments of the main log whose state of charge is reported (echem/states) beside those of the imaging inputs")
    eis_circuit: Literal["auto", "randles", "gb-ct", "gb-ct-w", "bulk-gb-ct", "bulk-gb-ct-w", "el-2int-ct"] = Field(default="auto", description="equivalent circuit fitted to the kind: eis spectra (ssbscope.echem.eis.fit_eis): randles R_s-((R_ct-W)||CPE), one arc (liquid/polymer cells); gb-ct R_s-(R_gb||CPE)-(R_ct||CPE_dl), -w adds a Warburg tail; bulk-gb-ct R_s-(R_b||CPE)-(R_gb||CPE)-(R_ct||CPE_dl) [-w]; el-2int-ct electrolyte arc, two interfacial arcs (counter electrode, interphase) and R_ct (a solid-state half cell); auto fits all and keeps the passing one with the lowest BIC (a circuit with more parameters only when its BIC is lower by more than 10). R_ct is always the lowest-frequency arc")


class TomoTraining(_Model):
    """Training data of the random-forest segmentation (ssbscope.tomo.trainable)."""

    labels: Optional[str] = Field(default=None, description="label volume of user-labelled voxels on the (z, y, x) grid of one scan (.npy, .tif/.tiff stack or folder of slices, .zarr, .h5): 0 = unlabelled, k = classes[k-1]; a few planes across the layers (y or x = const) suffice")
    dataset: Optional[str] = Field(default=None, description="array inside a .zarr group or .h5 file of labels (default: the first 3-D array)")
    scan: Optional[str] = Field(default=None, description="the scan the labels belong to: its label (inputs.tomo[].label, else the file name's stem); the forest segments that scan's series; default: the first scan of the first series (in analysis.tomo.series.<name>.segmentation: of that series); a series with its own segmentation never takes the shared forest")
    classes: list[str] = Field(default_factory=list, description="class of each label value 1, 2, ...: a declared material (cell.layers[].material), 'void' (pores, cracks, air: the darkest phase) or 'undeclared' (material the cell does not declare, e.g. a steel plunger)")
    model: Optional[str] = Field(default=None, description="a segmenter saved with ssbscope.tomo.trainable.save_segmenter, used instead of labels (a pickle: load only files you trust; same scikit-learn version)")
    sigmas: list[float] = Field(default=[0.5, 1.0, 2.0, 4.0], min_length=1, description="Gaussian scales (voxels) of the features: smoothed intensity, gradient magnitude, Hessian eigenvalues")
    n_estimators: int = Field(default=50, ge=1, description="trees of the random forest")
    max_depth: Optional[int] = Field(default=12, ge=1, description="depth limit of the trees (None: unlimited)")
    max_samples: int = Field(default=200000, ge=100, description="labelled voxels used at most (seeded uniform subsample beyond)")


class TomoSegmentation(_Model):
    """How the CT series are segmented into the declared phases."""

    method: Literal["threshold", "random_forest"] = Field(default="threshold", description="threshold: grey levels of the declared stack (1-D k-means after the median); random_forest: a forest on multiscale features trained on labelled voxels, with per-voxel probabilities carried into volume_unc_um3 and thickness_mean_unc_um of tomo/<series>/metrics")
    training: Optional[TomoTraining] = Field(default=None, description="labels (or a saved model) of the random forest; required for method random_forest")

    @model_validator(mode="after")
    def _training_given(self):
        if self.method == "random_forest":
            t = self.training
            if t is None or (t.labels is None and t.model is None):
                raise ValueError("method random_forest needs training.labels (with classes) or training.model")
            if t.labels is not None and t.model is None and len(t.classes) < 2:
                raise ValueError("training.classes: name the class of each label value 1, 2, ... (at least 2)")
        return self


class TomoDenoise(_Model):
    """Denoising of each scan before segmentation (ssbscope.tomo.denoise)."""

    method: Literal["none", "median", "tv", "tv2d", "nlm"] = Field(default="median", description="none; median (3x3x3); tv (total variation, Chambolle, 3-D); tv2d (the same slice by slice); nlm (non-local means)")
    weight_sigma: float = Field(default=0.5, gt=0, description="tv/tv2d: weight in units of the noise sigma estimated from the data (0.5: best pore/crack volume on the anode-free twin)")
    h_sigma: float = Field(default=0.6, gt=0, description="nlm: filter strength h in units of the noise sigma estimated from the data")
    patch_size: int = Field(default=3, ge=1, description="nlm: patch side (voxels)")
    patch_distance: int = Field(default=3, ge=1, description="nlm: search radius (voxels)")
    block_slices: int = Field(default=8, ge=4, description="tv/tv2d/nlm: z-blocks the volume is denoised in (each with a halo); the result does not depend on the memory slabs")


class PhaseLevelBox(_Model):
    """A box of the registered volume holding only one phase; its median grey value is the phase's level."""

    z_vox: Optional[tuple[int, int]] = Field(default=None, description="[start, stop) slice indices; default: every slice")
    y_vox: Optional[tuple[int, int]] = Field(default=None, description="[start, stop) row indices; default: every row")
    x_vox: Optional[tuple[int, int]] = Field(default=None, description="[start, stop) column indices; default: every column")


class _TomoSettings(_Model):
    """Settings of the analysis of a CT series (the fields of :class:`TomoAnalysis`)."""

    segmentation: TomoSegmentation = Field(default_factory=TomoSegmentation, description="segmentation method of the series: grey thresholds or a trained random forest")

    median: bool = Field(default=True, description="3x3x3 median before segmentation")
    opening_radius_vox: int = Field(default=0, ge=0, description="morphological opening of each phase after thresholding (voxels); 0: none (keeps layers a few voxels thin)")
    interfaces: Optional[list[str]] = Field(default=None, description="interfaces to map, 'lower|upper' by layer name (e.g. 'Li|LPSCl'): height maps and Ra/Rq (of the height map minus its least-squares plane, over the cell footprint); default: every pair of adjacent layers of different materials")
    thickness: Optional[list[str]] = Field(default=None, description="layers whose thickness maps and centre/edge statistics are measured; default: every layer")
    central_fraction: float = Field(default=0.75, gt=0, le=1, description="area fraction of the cell footprint counted as centre (the rest is edge) in thickness and filament statistics")
    register_on: Optional[str] = Field(default=None, description="layer the scans of a series are registered on; default: the bottom layer (the static part)")
    subvoxel_heights: bool = Field(default=False, description="interface heights of scans reconstructed from truncated projections (region of interest; inputs.tomo[].truncated), which are each column's steepest edge of the local contrast in whole voxels: refine each edge to a fraction of a voxel by the partial-volume sum of the slices around it (ssbscope.tomo.metrics.refine_edges). Use it on real, continuous surfaces whose roughness is comparable to the voxel, where whole-voxel heights add voxel^2/12 of height variance and read Ra/Rq high (synthetic cosine surfaces of amplitude 0.5 / 1.5 voxel: Ra error +46 % / +6.6 % -> +2.3 % / +0.6 %). Off by default: on a voxelised surface (the digital twin's truth) whole-voxel edges are exact and the refinement only adds the noise of the summed slices (Ra +1-2 %). Other scans' heights are already sub-voxel (partial-volume integral) and are unchanged; recorded in attrs['height_method'] of tomo/<series>/metrics")
    height_estimator: Literal["auto", "median", "unfiltered"] = Field(default="auto", description="grey values the interface heights are measured on, one choice for every scan of a series: 'auto' the median where its summed squared height error over the series is the smaller beyond the estimates' sampling uncertainty, else the unfiltered values (ssbscope.tomo.series.choose_height_estimator: the unfiltered heights' noise against the median's flattening and own noise, from each scan's two height maps and its voxel noise), 'median' the 3x3x3 median (the series' denoising), 'unfiltered' the registered grey values; recorded in attrs['height_estimator'] of tomo/<series>/metrics. Note: on rough surfaces the unfiltered heights' Ra reads higher than the median's by their noise, which can offset the reconstruction's resolution loss (symmetric twin: Ra -3..-8 % unfiltered, -15..-16 % median, -13..-15 % unfiltered noise-corrected)")
    min_filament_volume_um3: float = Field(default=3.4e5, ge=0, description="smallest new low-attenuation region counted as a filament (um3); Cao et al. 2023: 3.4e5")
    n_layers: int = Field(default=10, ge=1, description="slabs of the electrolyte in the layer volume-fraction profile")
    electrolyte: Optional[str] = Field(default=None, description="layer holding the pore/crack volume, filaments and layer fractions; default: the thickest declared layer whose material is not the darkest phase")
    denoise: Optional[TomoDenoise] = Field(default=None, description="denoising before segmentation {method: none|median|tv|nlm, ...}; default: the 3x3x3 median when `median` is true, else none")
    phase_levels: dict[str, float | PhaseLevelBox] = Field(default_factory=dict, description="pure-phase grey levels of the partial-volume pore/crack volume, per material (as in cell.layers): a grey value, or a box {z_vox, y_vox, x_vox} of the registered volume whose median is the level; a material not listed: the mode of its segmented interior eroded by level_erode_vox")
    level_erode_vox: int = Field(default=2, ge=0, description="erosion (voxels) of each phase's segmented label before the mode of its grey values (pure-phase level)")
    level_denoise: Optional[TomoDenoise] = Field(default=None, description="denoising whose labels (the segmentation's grey classes) define the phases' interiors for the pure-phase levels; default: tv2d at 0.5 noise sigma (segments more of the small pores than the median, so the interiors are purer); the same settings as denoise: the segmentation's labels")


def _series_override_model():
    """:class:`TomoSeriesSettings`: every field of :class:`_TomoSettings`, same type,
    constraints and description, unset by default (the series takes ``analysis.tomo``'s
    value).  ``segmentation`` replaces the shared block whole for the series (its own method
    and forest: training labels of one of its scans, classes of its cell's materials)."""
    from typing import Annotated

    from pydantic import create_model

    def no_default(schema):
        schema.pop("default", None)

    fields = {}
    for n, f in _TomoSettings.model_fields.items():
        ann = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
        fields[n] = (ann, Field(default=None, description=f.description,
                                json_schema_extra=no_default))
    return create_model(
        "TomoSeriesSettings", __base__=_Model, __module__=__name__,
        __doc__="Settings of analysis.tomo that differ for one CT series; a key not given "
                "keeps analysis.tomo's value.", **fields)


TomoSeriesSettings = _series_override_model()


class TomoAnalysis(_TomoSettings):
    """Analysis of every CT series (``tomo/<series>/...``) against the cell's declared layers;
    ``series`` overrides settings for single series."""

    series: dict[str, TomoSeriesSettings] = Field(default_factory=dict, description="per-series overrides: a series name of inputs.tomo -> the settings of this section that differ for it (the other settings: the ones above), e.g. {coin: {electrolyte: SPE, min_filament_volume_um3: 340000}}; every key of this section; segmentation given here replaces the shared one whole for the series (e.g. {coin: {segmentation: {method: random_forest, training: {labels: coin_labels.npy, classes: [...]}}}}: its training scan one of the series' scans, default its first; its classes the series' cell's materials, void or undeclared)")

    def for_series(self, series: str) -> "TomoAnalysis":
        """The effective settings of one series: these, with its ``series`` override."""
        ov = self.series.get(series)
        if ov is None:
            return self.model_copy(update={"series": {}})
        upd = {k: getattr(ov, k) for k in ov.model_fields_set}
        return self.model_copy(update={**upd, "series": {}})


class EmfReferencePoint(_Model):
    """One reference state of the EMF <-> Li content calibration (Huang et al. 2024: ICP-OES)."""

    emf: float = Field(gt=0, description="EMF of the reference state")
    x: float = Field(description="Li content x of the reference state (e.g. Li_x NMC622)")


class ComptonAnalysis(_Model):
    bin_kev: float = Field(default=0.2, gt=0, description="energy bin width of the spectra (keV)")
    valence_window_au: float = Field(default=1.0, gt=0, description="upper edge of the valence window of the EMF (atomic units of p_z)")
    core_window_au: tuple[float, float] = Field(default=(1.0, 5.0), description="(low, high) core window of the EMF (atomic units of p_z)")
    components: Optional[list[str]] = Field(default=None, description="layers (names in cell.layers) the exposures of a series are unmixed into; default: every layer the sheet beam crosses at some beam height and state")
    emf_map_block_px: int = Field(default=4, ge=1, description="block size (detector pixels) of the EMF maps compton/<series>/maps (emf on state x component x block_row x block_col; y_mm/x_mm block centres in the sheet and block_size_mm with the pinhole geometry)")
    min_block_counts: float = Field(default=100.0, ge=0, description="fewest counts per block and beam position for a map value (else NaN)")
    radial_edges_mm: Optional[list[float]] = Field(default=None, min_length=2, description="increasing ring edges (mm from the cell axis) of compton/<series>/radial: the EMF of each component unmixed from the summed counts of the good pixels of each ring, a layer's fraction scaled by the ring's area inside its diameter_mm (so a ring beyond a smaller cathode has none); needs the pinhole geometry; default: no radial product")
    mask_radius_mm: Optional[float] = Field(default=None, gt=0, description="only pixels imaging object points within this radius of the cell axis are summed (needs the pinhole distances); default: 0.85 x the smallest radius of the components' layers (diameter_mm, else the cell's), all good pixels when neither is known")
    reference_points: list[EmfReferencePoint] = Field(default_factory=list, description="reference states {emf, x} of the linear EMF <-> Li content calibration of reference_component (at least 2); none: no x is computed")
    reference_component: Optional[str] = Field(default=None, description="component the reference points belong to; default: 'cathode' when that is a component")
    ct_series: Optional[str] = Field(default=None, description="XCS-CT correlation: CT series of the same cell (inputs.tomo[].series, or 'tomo/<series>/labels') whose segmented labels give the sheet fractions of the components (its scan of the same state by name, else the nearest time_s; with ct_register_scans: each, the scan that places the CT for the state), stored as compton/<series>/ct_fractions; default: none, the fractions come from the declared cell.layers thicknesses (with each input's layer_thickness_um)")
    ct_z_offset_um: Optional[float] = Field(default=None, allow_inf_nan=False, description="height (um) of the CT volume's bottom (lower edge of slice z = 0 of tomo/<ct_series>/labels) above z = 0 of the XCS cell's layers; default: registered on ct_register_interface, else on ct_register_layer; with neither, on the first interface of analysis.tomo.interfaces (the CT series' settings) whose two layers both cells declare, else on ct_register_layer's default")
    ct_register_layer: Optional[str] = Field(default=None, description="layer named in both the XCS cell and the CT series' cell whose bottom in the CT scan ct_register_scans names (layer_z_vox of tomo/<ct_series>/labels, whole slices) is put at its declared bottom in cell.layers (a static interface, e.g. the anode on its current collector); default (no registration key): ct_register_interface's default when analysis.tomo.interfaces lists an interface of both cells, else the first layer of the XCS cell, bottom up, that the CT's cell declares; ignored with ct_z_offset_um; not together with ct_register_interface")
    ct_register_interface: Optional[str] = Field(default=None, description="register the CT on an interface it measures: 'lower|upper' layer names declared by both the XCS cell and the CT series' cell (an interface of tomo/<ct_series>/maps, see analysis.tomo.interfaces), e.g. 'anode|SPE'; the mean of its measured height map in the CT series' first scan (earliest time_s) is put at its declared height, the bottom of the upper layer in cell.layers (the sum of the declared thicknesses below it, with the layer_thickness_um of the XCS state matched to that scan when there is one; layers declared between the two, e.g. an interphase the CT sees as the lower layer, count as below); with ct_register_scans: first that one offset holds for every scan (the CT series' scans are registered to the first), with each every state's matched scan gives its own; stored in compton/<series>/ct_fractions (z_offset_um, attrs register_*); default: the first interface of analysis.tomo.interfaces (the CT series' settings, listed explicitly) whose two layers both cells declare, lower below upper in the XCS cell (measured to a fraction of a voxel over every column), else none (ct_register_layer); not together with ct_z_offset_um or ct_register_layer")
    ct_register_scans: Literal["first", "each"] = Field(default="first", description="which CT scans place the CT in the XCS cell (with ct_register_interface or ct_register_layer; not with ct_z_offset_um): 'first': the offset measured on the CT series' first scan (earliest time_s) holds for every XCS state (the series' scans are registered to the first); 'each': every XCS state matched to a CT scan (the scan of the same state name, else one whose time_s is within 1 s of the state's) gets the offset measured on that scan, with that state's layer_thickness_um (the interface moves on plating/stripping), a state without a match the offset of the latest scan at or before its time_s (else the first scan's), and the state's CT phase fractions from that same scan; stored per state in compton/<series>/ct_fractions (z_offset_um, z_offset_scan_time_s, ct_time_s: the labels' scan; with an interface register_measured_height_um, register_declared_height_um; attrs register_scans)")
    ct_phases: dict[str, list[str]] = Field(default_factory=dict, description="component (layer name) -> CT phases (names in the phases attribute of tomo/<ct_series>/labels) whose voxels make it up, e.g. {anode: [Li]}; default: the component layer's material when the CT segmented it; components with no CT phase take the declared layer's fraction")
    ct_within: dict[str, str] = Field(default_factory=dict, description="component the CT does not resolve -> the component whose CT phases hold it, e.g. {interphase: anode}: its fraction is the declared layer's (layer_thickness_um of the state) and is taken out of the host's CT fraction")

    @field_validator("core_window_au")
    @classmethod
    def _ordered(cls, v):
        if not (0 <= v[0] < v[1]):
            raise ValueError("must be (low, high) with 0 <= low < high")
        return v

    @field_validator("reference_points")
    @classmethod
    def _two_references(cls, v):
        if v and (len(v) < 2 or len({p.x for p in v}) < 2):
            raise ValueError("give at least 2 reference points {emf, x} with different x (a line needs two)")
        return v


class NeutronCTDifference(_Model):
    before: str = Field(min_length=1, description="label of the inputs.neutron scan (kind projections) before cycling")
    after: str = Field(min_length=1, description="label of the scan after (re-mounted: it is registered onto before)")
    threshold_sigma: float = Field(default=3.0, gt=0, description="increase/decrease masks: |after - before| beyond this many robust noise standard deviations (after the common low-pass)")
    smooth_sigma_vox: float = Field(default=0.7, ge=0, description="Gaussian low-pass (voxels) of both aligned volumes before the subtraction, so that the registration's resampling does not leave +/- rims at sharp edges; 0: none")
    min_component_vox: int = Field(default=20, ge=1, description="smallest connected region (voxels) of the masks counted in the Li volume gained/lost")


class NeutronAnalysis(_Model):
    ct_difference: Optional[NeutronCTDifference] = Field(default=None, description="register two neutron CT scans of one cell (inputs of kind projections) and map the attenuation increment and the Li volume gained/lost (Cao et al. 2023, Fig. 5B): neutron/ct; default: none")
    bin_frames: int = Field(default=30, ge=1, description="frames per median bin of a time series (Cao et al. 2023: 30)")
    reference_index: int = Field(default=0, ge=0, description="bin whose transmission is Tr_0 of the ratio Tr_t/Tr_0")
    ratio_half_range: Optional[float] = Field(default=None, gt=0, lt=1, description="fixed colour range 1 ± this of the real-input space-time maps, so that reports compare; default: each map's own largest deviation")
    band_threshold_sigma: float = Field(default=6.0, gt=0, description="rows of a region's space-time map whose mean Tr_t/Tr_0 over the last 3 bins differs from 1 by more than this many standard deviations (and by band_min_change) form the bands of Li enrichment/depletion (inputs.neutron[].regions)")
    band_min_change: float = Field(default=0.01, ge=0, lt=1, description="smallest |Tr_t/Tr_0 - 1| of a band row (inputs.neutron[].regions)")
    onset_threshold_sigma: float = Field(default=4.0, gt=0, description="soft-short onset: band series fluctuations (second differences reversing sign) beyond this many standard deviations (ssbscope.neutron.analysis.fluctuation_onset)")
    boundary_threshold_sigma: float = Field(default=8.0, gt=0, description="layer boundaries: steps of the reference bin's transmission profile beyond this many noise standard deviations (ssbscope.neutron.analysis.layer_boundaries)")
    onset_region: Optional[str] = Field(default=None, description="region (name in inputs.neutron[].regions) whose soft-short onset is the input's headline onset (attribute soft_short_onset_s); default: the first region")


class InterfaceRegion(_Model):
    """Tortuosity and flux map of a phase in a slab centred on a declared interface
    (``transport/<series>/interface_flux``; Huang et al. 2024, Fig. S27)."""

    interface: str = Field(description="'lower|upper': two adjacent declared layers (names in cell.layers, as in analysis.tomo.interfaces), e.g. 'anode|SPE'; the slab is centred on the mean height of their boundary found in each scan's labels")
    phase: str = Field(description="material (as in cell.layers, e.g. 'PEO-LiTFSI') whose voxels carry the ions through the slab")
    half_thickness_um: float = Field(gt=0, allow_inf_nan=False, description="half thickness of the slab (um): it holds round(half_thickness_um / voxel size) slices (at least 1) on each side of the interface's mean height")
    axis: int = Field(default=2, ge=0, le=2, description="transport axis of the (z, y, x) volume: 2 = x (default) or 1 = y, in-plane through the interphase region as in the paper's TauFactor simulation, in the largest square inside the cell's measured columns; 0 = z, through the slab")


class TransportAnalysis(_Model):
    """Transport on the user's CT series (``transport/<series>/...``)."""

    phase: Optional[str] = Field(default=None, description="material (as in cell.layers, e.g. 'Li6PS5Cl') whose connected voxels carry the ions: its tortuosity, slab-wise tortuosity and flux map in `layer` per scan (transport/<series>/tortuosity); default: none, no tortuosity")
    layer: Optional[str] = Field(default=None, description="declared layer (name in cell.layers) whose slab the tortuosity is computed in; default: the CT series' electrolyte layer (analysis.tomo.electrolyte, else the tomo default)")
    axis: int = Field(default=0, ge=0, le=2, description="transport axis of the (z, y, x) volume: 0 = z, through the stack; 1 or 2 = in-plane (solved in the largest square inside the cell footprint)")
    n_slabs: int = Field(default=4, ge=1, description="slabs of equal thickness along the transport axis for the slab-wise tortuosity")
    current_density_layer: Optional[str] = Field(default=None, description="layer (name in cell.layers) whose CT thickness change between consecutive scans gives the local current density (transport/<series>/current_density); default: analysis.correlate.plated_layer, else the lowest Li layer of the series' cell")
    series: Optional[list[str]] = Field(default=None, description="CT series (inputs.tomo[].series) to run transport on; default: every series whose cell declares its layers")
    rtol: float = Field(default=1e-6, gt=0, lt=1, description="relative-residual criterion of the diffusion solves")
    interface_regions: list[InterfaceRegion] = Field(default_factory=list, description="slabs around declared interfaces whose phase tortuosity, volume fraction, D_eff/D and mid-plane flux map are computed for every scan of each series (of `series`) whose cell declares both layers (transport/<series>/interface_flux on time_s x interface); one entry per interface; default: none")

    @model_validator(mode="after")
    def _tortuosity_settings_need_a_phase(self):
        """``layer``, ``axis`` and ``n_slabs`` set the tortuosity of ``phase``: without it they
        did nothing (accepted and silently ignored); refused."""
        if self.phase is None:
            # a value equal to its default is harmless (and what a dumped config holds)
            idle = [f for f in ("layer", "axis", "n_slabs") if f in self.model_fields_set
                    and getattr(self, f) != type(self).model_fields[f].default]
            if idle:
                raise ValueError(
                    f"analysis.transport.{idle[0]}: has no effect without analysis.transport.phase "
                    "(the material whose tortuosity it sets, e.g. phase: Li6PS5Cl); set phase "
                    f"or remove {', '.join(idle)}")
        return self

    @field_validator("interface_regions")
    @classmethod
    def _one_per_interface(cls, v):
        names = [r.interface for r in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"{dup}: one entry per interface")
        bad = [n for n in names if len(n.split("|")) != 2 or not all(n.split("|"))]
        if bad:
            raise ValueError(f"{bad}: write an interface as 'lower|upper' (layer names)")
        return v


class TopographyAnalysis(_Model):
    """Current distribution on the CT-measured Li surface of each scan (``interface/<series>/surface_current``)."""

    series: Optional[list[str]] = Field(default=None, description="CT series (inputs.tomo[].series) to compute it for; default: every measured series")
    interface: Optional[str] = Field(default=None, description="interface 'lower|upper' (names in cell.layers, as in analysis.tomo.interfaces) whose height map is the Li surface; default: the first interface between a Li layer and another material")
    r_ct_ohm_cm2: Optional[float] = Field(default=10.0, gt=0, allow_inf_nan=False, description="charge-transfer resistance per true area (Ohm cm2) of the linearised Butler-Volmer kinetics; null: primary distribution (equipotential Li)")
    conductivity_s_cm: Optional[float | Literal["from_ct"]] = Field(default=None, description="electrolyte conductivity (S/cm), > 0; 'from_ct': analysis.interface.conductivity_s_cm (the dense electrolyte's) times eps/tau of the electrolyte layer's material in that layer per scan, from transport/<series>/tortuosity when the transport stage solved that material and layer along z, else from tomo/<series>/labels; default analysis.interface.conductivity_s_cm")
    thickness_um: Optional[float] = Field(default=None, gt=0, allow_inf_nan=False, description="electrolyte thickness above the interface (um); default: the declared thickness of the layer on the electrolyte side")
    current_ma_cm2: Optional[float] = Field(default=None, gt=0, allow_inf_nan=False, description="geometric current density of the prediction (mA/cm2); default: the cycler's mean over the following interval where known, else 1 (the map scales linearly)")
    smooth_um: Optional[float] = Field(default=None, ge=0, allow_inf_nan=False, description="Gaussian smoothing (standard deviation, um) of every height map before its solve; default: fitted per map, the smoothing that minimises the expected error of the predicted current given the map's own height noise and signal spectra and the model's length scales (ssbscope.interface.topography.height_smoothing_um); 0: none")
    max_nodes: int = Field(default=64, ge=8, le=256, description="largest number of solve nodes per map side (larger maps are block-averaged)")
    top_fraction: float = Field(default=0.1, gt=0, lt=0.5, description="hot-spot region of each map: its highest fraction of pixels (0.1: top decile)")
    n_shuffle: int = Field(default=200, ge=10, description="shifted copies of the measured map for the baseline of the hot-spot comparison")
    prediction_height: Literal["noise_weighted", "mid_interval", "scan_start"] = Field(default="noise_weighted", description="surface each interval's prediction is solved on and its skill test conditions on: 'noise_weighted', the inverse-variance weighted mean w h_k + (1 - w) h_k+1 of the interval's two scans, w = var(n_k+1) / (var(n_k) + var(n_k+1)) from each scan's height noise fitted on its own map (its noise is uncorrelated with the measured thickness change's); 'mid_interval', the plain mean (h_k + h_k+1)/2 (uncorrelated only when both scans are equally noisy); 'scan_start', scan k's surface (biases the partial correlation: low when plating, high when stripping)")
    smoothing_um: Optional[float] = Field(default=None, ge=0, allow_inf_nan=False, description="Gaussian smoothing (standard deviation, um) applied identically to the predicted and the measured current map (and so to the shuffled baseline) before the hot-spot comparison, and to the measured noise floor that decides whether the comparison can resolve the predicted contrast; default none (pixel maps). Not smooth_um, which smooths the heights before the solve")

    @field_validator("conductivity_s_cm")
    @classmethod
    def _positive_sigma(cls, v):
        if v is not None and v != "from_ct" and not (0 < v < float("inf")):
            raise ValueError(f"{v}: must be finite and > 0 (S/cm), or 'from_ct'")
        return v


class GapCreepNeutron(_Model):
    """The neutron band that the gap-creep model is compared with (Cao et al. 2023: P4)."""

    label: str = Field(description="label of the inputs.neutron radiograph series (with regions and open_beam) whose bands (neutron/<label>/bands) hold the band")
    band: Literal["P1", "P2", "P3", "P4"] = Field(default="P4", description="band name (neutron.band_names): P4, Li enrichment beyond the foil on the collector side (creep into the rod-tube gap)")
    axis_x_um: float = Field(allow_inf_nan=False, description="cell axis in the radiograph: distance from the left edge of frame column 0 (um); the band's columns see part of the gap annulus, whose share follows from it")
    time_offset_s: float = Field(default=0.0, allow_inf_nan=False, description="start of plating on the neutron series' clock (s): model time = neutron bin time - time_offset_s")


class GapCreepAnalysis(_Model):
    """Li creeping into the gap beside the pellet while it plates (reduced model of Cao et al. 2023, Fig. 6)."""

    duration_s: float = Field(default=72000.0, gt=0, allow_inf_nan=False, description="plating time (s)")
    current_ma_cm2: float = Field(default=0.25, ge=0, allow_inf_nan=False, description="plating current density (mA/cm2)")
    radius_um: float = Field(default=3175.0, gt=0, allow_inf_nan=False, description="Li foil radius (um)")
    thickness_um: float = Field(default=100.0, gt=0, allow_inf_nan=False, description="Li foil thickness (um)")
    gap_um: float = Field(default=50.0, gt=0, allow_inf_nan=False, description="radial width of the gap between rod and tube (um)")
    stack_pressure_mpa: float = Field(default=10.0, gt=0, allow_inf_nan=False, description="stack pressure at assembly (MPa)")
    frame_stiffness_mpa_um: float = Field(default=1.0, gt=0, allow_inf_nan=False, description="framework stiffness: pressure rise per um of stack growth (MPa/um)")
    neutron: Optional[GapCreepNeutron] = Field(default=None, description="compare the Li volume crept into the gap with the Li volume gained in a neutron band (P4): the measured band volume, de-projected to the whole gap annulus, its ratio to the model and their correlation in interface/gap_creep; default: no comparison")


class PhaseFieldAnalysis(_Model):
    """Phase-field Li growth into porous Li6PS5Cl under stack pressure (Cao et al. 2023, Fig. 4)."""

    pressures_mpa: list[float] = Field(default_factory=lambda: [0.0, 5.0, 10.0], min_length=1, description="external pressures (MPa, each >= 0) to run")
    size: Literal["tiny", "small", "paper"] = Field(default="tiny", description="grid/crop preset: tiny (~10 s per pressure), small (~1-2 min, the full 800 um electrolyte), paper (the full domain, hours)")
    duration_s: float = Field(default=500.0, gt=0, allow_inf_nan=False, description="simulated time (s)")
    plating_eigenstrain: bool = Field(default=False, description="add the volumetric eigenstrain of Li plated into solid electrolyte (molar volume x site density per unit of new Li; none in pores): with elastic Li it gives GPa-level pressures, not the paper's ~2 MPa (ssbscope.interface.phase_field)")
    curvature_counter_term: bool = Field(default=False, description="cancel the curvature motion of the numerically widened Li interface (counter term of Sun and Beckermann 2007, ssbscope.interface.phase_field.curvature_counter_field), so that Li moves only by the Butler-Volmer term")

    @field_validator("pressures_mpa")
    @classmethod
    def _nonneg(cls, v):
        for p in v:
            if not (0 <= p < float("inf")):
                raise ValueError(f"{p}: pressures must be finite and >= 0 (MPa)")
        return v


_SHAPE = Literal["egg-box", "pyramid", "frustum"]
_PAPER_SWEEP = Literal["shapes", "constant_S", "constant_H", "constant_ratio", "kinetics"]


def _check_cases(v, what="case"):
    if isinstance(v, str):
        return v
    for k, (h, s_) in enumerate(v):
        if not (h > 0 and s_ > 0) or h == float("inf") or s_ == float("inf"):
            raise ValueError(f"{what} {k} ({h}, {s_}): H and S must be finite and > 0 (um)")
    return v


class ContourSeries(_Model):
    """One series of the contour study (Zhang et al. 2024): the rows of
    ``interface/contour_study`` whose ``series`` column is ``series``."""

    series: str = Field(min_length=1, description="series name (the 'series' column of interface/contour_study); the report plots these by name: 'shapes' (the shapes at one case, Fig. 1), 'constant_S' / 'constant_H' / 'constant_ratio' (against H, S, H/S; Figs. 2-3), 'shapes_H' (the shapes along H) and 'kinetics' (gain against H/S per R_ct); other names are tabulated")
    cases: list[tuple[float, float]] | _PAPER_SWEEP = Field(description="(H, S) pairs in um, or the name of a sweep of Zhang et al. 2024: 'shapes' (H25S150), 'constant_S' (H = 5, 25, 50, 75 at S = 150), 'constant_H' (S = 225, 150, 75, 50 at H = 25), 'constant_ratio' (H/S = 1/6 from H5S30 to H150S900), 'kinetics' (H = 5 to 150 at S = 150, to H/S = 1)")
    shapes: list[_SHAPE] = Field(default_factory=lambda: ["egg-box"], min_length=1, description="contour shapes of the series")
    r_ct_factors: list[float] = Field(default_factory=lambda: [1.0], min_length=1, description="run the series at these multiples of analysis.interface.r_ct_ohm_cm2 (e.g. [1, 4, 15] for the Wagner-number study: kinetic lengths sigma R_ct of 0.2, 0.8, 3 mm at 10 Ohm cm2 and 2 mS/cm); default once at it")
    stokes_n_xy: Optional[int] = Field(default=None, ge=4, le=12, description="Q2 elements per quarter-cell side of the finite-slope creep solve of this series; default analysis.interface.stokes_n_xy")

    @field_validator("cases")
    @classmethod
    def _positive_cases(cls, v):
        if not isinstance(v, str) and not v:
            raise ValueError("give at least one (H, S) pair or a sweep name")
        return _check_cases(v)

    @field_validator("r_ct_factors")
    @classmethod
    def _positive_factors(cls, v):
        for f in v:
            if not (0 < f < float("inf")):
                raise ValueError(f"{f}: factors must be finite and > 0")
        return v


class ContourGridConvergence(_Model):
    """Grid convergence of the maximum local current of contours (``interface/grid_convergence``)."""

    case: tuple[float, float] = Field(default=(25.0, 150.0), description="(H, S) in um of the contour")
    grids: list[int] = Field(default_factory=lambda: [8, 12, 16], min_length=2, description="grid intervals of the quarter cell to compare (each 4-48); the last is the reference ('finest')")
    runs: list[tuple[_SHAPE, Literal["primary", "linear BV"]]] = Field(default_factory=lambda: [("egg-box", "primary"), ("egg-box", "linear BV"), ("pyramid", "linear BV"), ("frustum", "linear BV")], min_length=1, description="(shape, kinetics) pairs to converge: 'primary' current distribution or 'linear BV' at analysis.interface.r_ct_ohm_cm2")

    @field_validator("grids")
    @classmethod
    def _grid_range(cls, v):
        for n in v:
            if not 4 <= n <= 48:
                raise ValueError(f"{n}: grid intervals must be 4-48")
        return v

    @field_validator("case")
    @classmethod
    def _positive_case(cls, v):
        return _check_cases([v])[0]


class ContourSurfaceFields(_Model):
    """Local current maps of contours over one unit cell (``interface/surface_fields``)."""

    case: tuple[float, float] = Field(default=(25.0, 150.0), description="(H, S) in um of the contour")
    shapes: list[_SHAPE] = Field(default_factory=lambda: ["egg-box", "pyramid", "frustum"], min_length=1, description="shapes to map; each gets the primary and the linear Butler-Volmer current (analysis.interface.r_ct_ohm_cm2) on analysis.interface.n_xy intervals")

    @field_validator("case")
    @classmethod
    def _positive_case(cls, v):
        return _check_cases([v])[0]


class InterfaceAnalysis(_Model):
    """Contoured Li|electrolyte interfaces (Zhang et al. 2024): ``ssbscope run`` studies
    ``cases`` and the series of ``contours`` with these parameters
    (``ssbscope.interface.contour_sweep``; ``interface/contour_study``), and optionally the
    grid convergence and current maps of contours; none by default."""

    cases: list[tuple[float, float]] = Field(default_factory=list, description="(H, S) pairs in um of the periodic contours to study, e.g. [[25, 150], [50, 150]]; empty: no contour study")
    shapes: list[Literal["egg-box", "pyramid", "frustum"]] = Field(default_factory=lambda: ["egg-box"], min_length=1, description="contour shapes to study")
    r_ct_ohm_cm2: float | Literal["eis"] = Field(default=10.0, description="Li|electrolyte charge-transfer resistance per interface (Ohm cm2), > 0; 'eis': from the R_ct fit of an EIS input (eis_spectrum), times cell area over eis_interfaces")
    eis_spectrum: int | str = Field(default=0, description="with r_ct_ohm_cm2: eis, the fitted spectrum: index among the EIS inputs or its label")
    eis_interfaces: Optional[int] = Field(default=None, ge=1, description="Li|electrolyte interfaces in the fitted R_ct (r_ct_ohm_cm2: eis divides by it): an explicit value wins; default from the declared cell.layers: 2 when two layers are Li metal (or a Li-In alloy), a symmetric Li|electrolyte|Li cell; 1 when one or none is (a half cell or a full cell with one Li interface, e.g. NMC|Li6PS5Cl|Li); 2 when the cell declares no layers")
    conductivity_s_cm: float = Field(default=2e-3, gt=0, description="electrolyte ionic conductivity (S/cm)")
    thickness_um: float = Field(default=1000.0, gt=0, description="electrolyte thickness (um)")
    kinetics_r_ct_ohm_cm2: list[float] = Field(default_factory=list, description="extra charge-transfer resistances (Ohm cm2) to repeat the cases at (Wagner-number study)")
    contours: list[ContourSeries] = Field(default_factory=list, description="series of the contour study, each with its cases (or a sweep of Zhang et al. 2024 by name), shapes, R_ct multiples and creep grid (rows of interface/contour_study beside those of cases); empty: none")
    grid_convergence: Optional[ContourGridConvergence] = Field(default=None, description="grid convergence of the maximum local current of contours (interface/grid_convergence); default: none")
    surface_fields: Optional[ContourSurfaceFields] = Field(default=None, description="local current maps over one unit cell of contours (interface/surface_fields); default: none")
    pressure_model: Literal["finite-slope", "small-slope"] = Field(default="finite-slope", description="creep pressure from the finite-slope Stokes solve or the small-slope analytic model")
    n_xy: int = Field(default=12, ge=6, le=32, description="grid intervals of the quarter cell (current solve)")
    stokes_n_xy: int = Field(default=6, ge=4, le=12, description="Q2 elements per quarter-cell side (finite-slope creep)")
    grain_size_um: Optional[float] = Field(default=2.0, gt=0, description="Li grain size of diffusional creep (um); null: pure power-law creep")
    flaw_depth_um: float = Field(default=10.0, gt=0, description="surface flaw depth of the fracture pressure (um)")
    critical_pressure_mpa: Optional[float] = Field(default=None, gt=0, description="fracture pressure override (MPa)")
    stress: Literal["normal", "mean"] = Field(default="normal", description="interface stress of the dendrite criterion: the normal traction of the creeping Li on the electrolyte, or the Li mean stress (both are reported)")
    stack_pressure_mpa: float = Field(default=7.0, ge=0, allow_inf_nan=False, description="stack pressure on the cell in the fracture criterion (MPa; 7 MPa in Zhang et al. 2024)")
    lateral_stress_ratio: float = Field(default=0.0, ge=0, le=1, description="lateral over axial stress of the electrolyte under the stack pressure: 0 free sides, about 0.4 in a rigid die, 1 hydrostatic")
    flat_critical_current_ma_cm2: float | Literal["ccd"] = Field(default=1.0, description="critical current of a flat interface i_g0 (mA/cm2), > 0, or 'ccd': the critical current density the echem analysis found in a stepped log (ccd_log)")
    phase_field: Optional[PhaseFieldAnalysis] = Field(default=None, description="phase-field growth of Li into the porous electrolyte at each pressure (interface/phase_field); default: none")
    gap_creep: Optional[GapCreepAnalysis] = Field(default=None, description="Li creep into the gap beside the pellet during plating (interface/gap_creep); default: none")
    topography: Optional[TopographyAnalysis] = Field(default=None, description="current distribution on the CT-measured Li surface of every scan, compared with the measured current-density maps between scans; default: none")
    ccd_log: Optional[str] = Field(default=None, description="with flat_critical_current_ma_cm2: ccd, the echem input (name) whose critical current density to use; default the only one found")

    @field_validator("flat_critical_current_ma_cm2")
    @classmethod
    def _positive_ig0(cls, v):
        if v != "ccd" and not (0 < v < float("inf")):
            raise ValueError(f"{v}: must be finite and > 0 (mA/cm2), or 'ccd'")
        return v

    @field_validator("cases")
    @classmethod
    def _positive_cases(cls, v):
        return _check_cases(v)

    @model_validator(mode="after")
    def _maps_with_a_study(self):
        if (self.grid_convergence is not None or self.surface_fields is not None) \
                and not (self.cases or self.contours):
            raise ValueError("grid_convergence / surface_fields: they are reported with the "
                             "contour study; give analysis.interface.cases or contours too")
        return self

    @field_validator("contours")
    @classmethod
    def _unique_series(cls, v):
        names = [c.series for c in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup or "cases" in names:
            raise ValueError(f"series names must be unique and not 'cases' (the rows of "
                             f"analysis.interface.cases): {dup or ['cases']}")
        return v

    @field_validator("r_ct_ohm_cm2")
    @classmethod
    def _positive_r_ct(cls, v):
        if v != "eis" and not (0 < v < float("inf")):
            raise ValueError(f"{v}: must be finite and > 0 (Ohm cm2), or 'eis'")
        return v

    @field_validator("kinetics_r_ct_ohm_cm2")
    @classmethod
    def _positive_rct(cls, v):
        for r in v:
            if not (0 < r < float("inf")):
                raise ValueError(f"{r}: charge-transfer resistances must be finite and > 0 (Ohm cm2)")
        return v


class CorrelateAnalysis(_Model):
    """Image results on the electrochemical clock (``correlate/states``)."""

    plated_layer: Optional[str] = Field(default=None, description="layer (name in cell.layers) that positive net charge plates Li onto, whose CT thickness and volume change are compared with Faraday's law; default: the lowest layer in stacking order whose material is Li")
    log: Optional[str] = Field(default=None, description="label of the echem cycling input whose clock and charge the imaging series are read against; default: the log of the series' cell, else the main (first) log")


def _sections():
    """The ``inputs`` and ``analysis`` sections of the experiment file, assembled from the
    areas' declared models (:mod:`ssbscope.areas`): a new modality adds its keys by
    declaring its models, not by editing this module."""
    from pydantic import create_model

    from ssbscope.areas import registry

    inputs, analysis = {}, {}
    for area in registry():
        m = area.model("input_model")
        if m is not None:
            inputs[area.name] = (list[m], Field(default_factory=list, description=area.input_description
                                                or f"raw files of {area.title}"))
        m = area.model("analysis_model")
        if m is not None:
            analysis[area.name] = (m, Field(default_factory=m, description=area.analysis_description
                                            or f"{area.title} analysis"))
    doc_i = "Raw files per modality (one list per area with inputs)."
    doc_a = "Analysis settings per area."
    return (create_model("Inputs", __base__=_Model, __module__=__name__, __doc__=doc_i, **inputs),
            create_model("Analysis", __base__=_Model, __module__=__name__, __doc__=doc_a, **analysis))


Inputs, Analysis = _sections()


class Resources(_Model):
    """Memory and processes of a run (``ssbscope run --memory-limit / --workers`` override)."""

    memory_limit: Optional[str] = Field(default=None, description="memory the run may use, e.g. '4GB' (shared by the workers); the reconstruction's block size follows from it")
    workers: Optional[int] = Field(default=None, ge=1, description="worker processes of a local Dask cluster started for the run (default: threads of this process)")

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, v):
        if v is not None:
            from dask.utils import parse_bytes

            try:
                if parse_bytes(v) <= 0:
                    raise ValueError
            except (ValueError, TypeError):
                raise ValueError(f"{v!r} is not a memory size; write e.g. '4GB' or '500MB'") from None
        return v


class Twin(_Model):
    """Digital-twin settings (used by ``ssbscope demo``)."""

    modalities: list[str] = Field(
        default_factory=lambda: ["echem", "tomo", "compton", "neutron", "transport", "interface"],
        description="areas whose in-memory twin study runs (an area without one is skipped; "
                    "the contour study of Zhang et al. 2024 is analysis.interface.contours)")
    size: Literal["tiny", "small", "medium"] = Field(default="small", description="twin size: tiny for tests, small for the demo")

    @field_validator("modalities")
    @classmethod
    def _registered(cls, v):
        from ssbscope.areas import registry

        names = [a.name for a in registry()]
        bad = [m for m in v if m not in names]
        if bad:
            raise ValueError(f"{bad}: not an area; one of {names}")
        return v


class Experiment(_Model):
    """A whole experiment file."""

    name: str = Field(default="experiment", description="experiment name (report title)")
    description: Optional[str] = Field(default=None, description="free text shown in the report")
    seed: int = Field(default=0, ge=0, description="seed of every random draw (same seed, same bytes)")
    cell: Cell = Field(default_factory=Cell, description="the cell every input belongs to unless it names another in cells:")
    cells: dict[str, Cell] = Field(default_factory=dict, description="further named cells of an experiment with several cells; inputs pick one with cell: NAME")
    inputs: Inputs = Field(default_factory=Inputs, description="raw files per modality")
    analysis: Analysis = Field(default_factory=Analysis, description="analysis settings per area")
    twin: Optional[Twin] = Field(default=None, description="in-memory twin studies to run with the analysis (ssbscope demo)")
    resources: Resources = Field(default_factory=Resources, description="memory limit and local worker processes of the run")
    base_dir: Optional[str] = Field(default=None, description="folder that relative paths refer to (set by load())")

    @model_validator(mode="after")
    def _cells_named(self):
        for area in ("echem", "tomo", "compton", "neutron"):
            for i, item in enumerate(getattr(self.inputs, area)):
                if item.cell is not None and item.cell not in self.cells:
                    known = ", ".join(sorted(self.cells)) or "none"
                    raise ValueError(f"inputs.{area}[{i}].cell: {item.cell!r} is not a key of cells: "
                                     f"(defined: {known})")
        return self

    @model_validator(mode="after")
    def _tomo_series_named(self):
        from ssbscope.schema import did_you_mean

        known = list(dict.fromkeys(it.series for it in self.inputs.tomo))
        for name, ov in self.analysis.tomo.series.items():
            if name not in known:
                raise ValueError(
                    f"analysis.tomo.series: {name!r} is not a series of inputs.tomo"
                    f"{did_you_mean(name, known)} (series: {', '.join(known) or 'none'})")
            seg = ov.segmentation if "segmentation" in ov.model_fields_set else None
            tr = seg.training if seg is not None and seg.method == "random_forest" else None
            if tr is None:
                continue
            where = f"analysis.tomo.series.{name}.segmentation.training"
            items = [it for it in self.inputs.tomo if it.series == name]
            scans = list(dict.fromkeys(n for it in items
                                       for n in (it.label, Path(it.path).stem) if n))
            if tr.scan is not None and tr.scan not in scans:
                raise ValueError(
                    f"{where}.scan: {tr.scan!r} is not a scan of series {name!r}"
                    f"{did_you_mean(tr.scan, scans)} (its scans: {', '.join(scans)}); name "
                    "the scan the labels belong to, or leave it out (the series' first scan)")
            if tr.model is None:
                mats = list(dict.fromkeys(la.material for it in items[:1]
                                          for la in self.cell_of(it).layers))
                ok = mats + ["void", "undeclared"]
                for c in tr.classes:
                    if mats and c not in ok:
                        raise ValueError(
                            f"{where}.classes: {c!r} is neither a material of series "
                            f"{name!r}'s cell ({', '.join(mats)}), 'void' nor 'undeclared'"
                            f"{did_you_mean(c, ok)}")
        return self

    @model_validator(mode="after")
    def _tomo_names_declared(self):
        """Layer and material names of ``analysis.tomo`` must be declared by a measured CT
        series' cell: a name no cell declares used to be skipped for every series (and a
        phase level of an undeclared material ignored), or to stop the series stage after
        every scan was reconstructed.  A ``series`` override names its own cell's layers."""
        from ssbscope.schema import did_you_mean

        cells = {}  # measured series (a cell declaring its layers) -> its cell
        for it in self.inputs.tomo:
            c = self.cell_of(it)
            if len(c.layers) >= 2:
                cells.setdefault(it.series, c)
        if not cells:
            return self

        def check(where, st, cs, whose):
            names = list(dict.fromkeys(la.name for c in cs for la in c.layers))
            mats = list(dict.fromkeys(la.material for c in cs for la in c.layers))

            def bad(field, v, known, what):
                return ValueError(f"{where}.{field}: {v!r} is not a {what} of {whose}"
                                  f"{did_you_mean(v, known)} ({what}s: {', '.join(known)})")

            for r in getattr(st, "interfaces", None) or []:
                parts = str(r).split("|")
                if len(parts) != 2 or not all(parts):
                    raise ValueError(f"{where}.interfaces: {r!r}: write an interface as "
                                     "'lower|upper' with layer names of cell.layers")
                for p in parts:
                    if p not in names:
                        raise bad("interfaces", p, names, "layer")
                both = [c for c in cs if all(p in [la.name for la in c.layers] for p in parts)]
                if not both:
                    raise ValueError(f"{where}.interfaces: {r!r}: no cell of {whose} declares "
                                     "both layers; name two layers of one cell")
                for c in both:  # lower directly below upper (only thickness-0 layers between)
                    nm = [la.name for la in c.layers]
                    i, j = nm.index(parts[0]), nm.index(parts[1])
                    if not (i < j and all(c.layers[k].thickness_um == 0 for k in range(i + 1, j))):
                        raise ValueError(f"{where}.interfaces: {r!r}: {parts[0]} must lie directly "
                                         f"below {parts[1]} in cell.layers (bottom first: "
                                         f"{', '.join(nm)})")
            for t in getattr(st, "thickness", None) or []:
                if t not in names:
                    raise bad("thickness", t, names, "layer")
            for f in ("register_on", "electrolyte"):
                v = getattr(st, f, None)
                if v is not None and v not in names:
                    raise bad(f, v, names, "layer")
            for m in getattr(st, "phase_levels", None) or {}:
                if m not in mats:
                    raise bad("phase_levels", m, mats, "material")

        an = self.analysis.tomo
        check("analysis.tomo", an, list(cells.values()),
              "the cell of any CT series (" + ", ".join(map(str, cells)) + ")")
        for name, ov in an.series.items():
            if name in cells:
                check(f"analysis.tomo.series.{name}", ov, [cells[name]],
                      f"the cell of series {name!r}")
        return self

    def cell_of(self, item) -> Cell:
        """The cell an input belongs to: its ``cell:``, else (CT) the cell named like its
        series, else the top-level ``cell``."""
        name = getattr(item, "cell", None)
        if name is None and getattr(item, "series", None) in self.cells:
            name = item.series
        return self.cells[name] if name is not None else self.cell

    def resolve(self, path: str) -> Path:
        """A path of the file, resolved against the experiment file's folder."""
        p = Path(path).expanduser()
        if not p.is_absolute() and self.base_dir:
            p = Path(self.base_dir) / p
        return p


def twin_size(config, allowed=("tiny", "small", "medium")) -> str:
    """The twin size of an experiment (``twin.size``), ``"small"`` without a twin section or
    for a size not in ``allowed``."""
    twin = getattr(config, "twin", None)
    size = getattr(twin, "size", "small") if twin is not None else "small"
    return size if size in allowed else "small"


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _msg(err: dict) -> str:
    t = err.get("type", "")
    ctx = err.get("ctx") or {}
    if t == "greater_than":
        return f"must be > {ctx.get('gt'):g}"
    if t == "greater_than_equal":
        return f"must be >= {ctx.get('ge'):g}"
    if t == "less_than":
        return f"must be < {ctx.get('lt'):g}"
    if t == "less_than_equal":
        return f"must be <= {ctx.get('le'):g}"
    if t == "extra_forbidden":
        return "unknown key (check the spelling; `ssbscope schema` lists every key)"
    if t == "missing":
        return "required"
    if t == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if t in ("float_parsing", "float_type"):
        return f"must be a number, got {err.get('input')!r}"
    if t in ("int_parsing", "int_type", "int_from_float"):
        return f"must be an integer, got {err.get('input')!r}"
    if t in ("string_type",):
        return f"must be a string, got {err.get('input')!r}"
    if t in ("list_type",):
        return "must be a list"
    if t in ("model_type", "dict_type"):
        return "must be a mapping (key: value)"
    if t == "value_error":
        return str(ctx.get("error", err.get("msg")))
    return err.get("msg", t)


def _known_keys(loc: tuple) -> list[str]:
    """Field names of the model at ``loc`` (the parent of an unknown key), [] if not found."""
    from ssbscope.schema import _model_of

    model = Experiment
    for part in loc:
        if isinstance(part, int):
            continue
        f = model.model_fields.get(part) if model is not None else None
        if f is None:  # a dict key (cells: NAME, regions: NAME) keeps the model
            continue
        model = _model_of(f.annotation)
        if model is None:
            return []
    return [n for n in (model.model_fields if model is not None else ()) if n != "base_dir"]


def format_errors(e: ValidationError) -> list[tuple[str, str]]:
    """Pydantic errors as ``(location, message)`` pairs; an unknown key names the closest
    known one (``cell.layer: unknown key; did you mean 'layers'?``)."""
    from ssbscope.schema import did_you_mean

    out = []
    for err in e.errors():
        msg = _msg(err)
        if err.get("type") == "extra_forbidden" and err["loc"]:
            hint = did_you_mean(err["loc"][-1], _known_keys(tuple(err["loc"][:-1])))
            msg = f"unknown key{hint}" if hint else msg
        out.append((_loc(err["loc"]), msg))
    return out


def from_dict(data: Any, source: str = "<dict>", base_dir=None) -> Experiment:
    """Validate a mapping as an experiment.

    Raises
    ------
    ConfigError
        With every problem and its location.
    """
    if data is None:
        raise ConfigError(source, [("(top level)", "the file is empty")])
    if not isinstance(data, dict):
        raise ConfigError(source, [("(top level)", f"must be a mapping, got {type(data).__name__}")])
    data = dict(data)
    if base_dir is not None and "base_dir" not in data:
        data["base_dir"] = str(base_dir)
    try:
        return Experiment.model_validate(data)
    except ValidationError as e:
        raise ConfigError(source, format_errors(e)) from None


def _absent(p) -> str:
    """Why a path that does not resolve to a file is absent: missing, a dangling link or a
    link loop (``Path.exists`` says False for all three)."""
    p = Path(p)
    if not p.is_symlink():
        return "does not exist"
    try:
        p.resolve(strict=True)
    except RuntimeError:
        return "is a symbolic link that loops (it points back to itself)"
    except OSError as e:
        if getattr(e, "errno", None) == 40:  # ELOOP
            return "is a symbolic link that loops (it points back to itself)"
    return f"is a symbolic link to a missing file ({os.readlink(p)!r})"


def _unique_key_loader():
    """yaml.SafeLoader that refuses a key given twice in one mapping (YAML requires unique keys;
    PyYAML would keep the last silently).  Keys brought in by a merge (``<<: *anchor``) may be
    overridden, as YAML intends."""
    import yaml

    class _Loader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        first = seen.get(key)
                        seen.setdefault(key, key_node.start_mark)
                    except TypeError:  # an unhashable key: the constructor says so
                        continue
                    if first is not None:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"key {key!r} given twice in one mapping (line {first.line + 1} "
                            f"and line {key_node.start_mark.line + 1}); keep one", key_node.start_mark)
            return super().construct_mapping(node, deep=deep)

    return _Loader


def load(path) -> Experiment:
    """Read and validate an experiment YAML file.

    Raises
    ------
    ConfigError
        Missing/unreadable file, YAML syntax error, or schema problems.
    """
    import yaml

    import stat as _stat

    p = Path(path)
    if not p.exists():
        raise ConfigError(p, [("(file)", f"{_absent(p)}; check the path")])
    try:
        mode = p.stat().st_mode
    except OSError as e:
        raise ConfigError(p, [("(file)", f"cannot be read: {e.strerror or type(e).__name__}")]) from None
    if not _stat.S_ISREG(mode):  # never read a FIFO, a device or a directory (it would hang)
        kind = "a directory" if _stat.S_ISDIR(mode) else "a FIFO, device or special file"
        raise ConfigError(p, [("(file)", f"is {kind}, not an experiment YAML file; pass the file's path")])
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(p, [("(file)", f"is not UTF-8 text (byte {e.start}); save it as UTF-8")]) from None
    except OSError as e:
        raise ConfigError(p, [("(file)", f"cannot be read: {e.strerror or type(e).__name__}")]) from None
    try:
        data = yaml.load(text, Loader=_unique_key_loader())
    except RecursionError:
        raise ConfigError(p, [("(file)", "nests lists/mappings too deeply to be an experiment file; "
                                         "check the brackets")]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(p, [(where, f"YAML syntax error: {getattr(e, 'problem', e)}")]) from None
    return from_dict(data, source=str(p), base_dir=p.resolve().parent)


def _columns_problems(exp, item, loc: str) -> list[tuple[str, str]]:
    """A cycling input's ``columns:`` mapping checked against each file's header line (read from
    the file's first MiB only): every mapped header the file lacks, one problem each; a mapping
    on a format whose reader knows its columns (binary, EC-Lab text, Gamry ...) is refused."""
    import glob

    from ssbscope.echem.io import _BINARY, sniff_format
    from ssbscope.echem.io.tabular import MAPPING_KEYS, table_header
    from ssbscope.echem.stages import _FORMATS
    from ssbscope.errors import SsbscopeError
    from ssbscope.paths import is_pattern

    mapped = {k: v for k, v in item.columns.items() if k in MAPPING_KEYS}
    if not mapped:
        return []
    files = (sorted(glob.glob(str(exp.resolve(item.path)))) if is_pattern(item.path)
             else [str(exp.resolve(item.path))])
    problems = []
    for f in files:
        fp = Path(f)
        if not fp.is_file():
            continue
        try:
            fmt = _FORMATS.get(item.format) or sniff_format(fp)
            if fmt in _BINARY:
                problems.append((f"{loc}.columns", f"{fp.name} is read by its instrument reader "
                                 f"({fmt}), which knows its columns; remove columns: from this input"))
                continue
            if fmt == "excel" or fmt not in ("csv", "arbin", "neware", "neware-regular", "maccor",
                                            "maccor-raw", "novonix", "pec", "bdf", "landt", "basytec"):
                continue  # a workbook (its sheet is read by the run) or not a log: the run says
            cols = table_header(fp, fmt, list(mapped.values()))
        except SsbscopeError as e:  # unreadable / unknown content: one problem, the reader's words
            problems.append((f"{loc}.path", " ".join(str(e).split())))
            continue
        for k, v in mapped.items():
            if v not in cols:
                problems.append((f"{loc}.columns.{k}", f"{v!r} is not a column header of {fp.name}; "
                                 f"headers found: {cols}"))
    return problems


def validate_file(path) -> list[tuple[str, str]]:
    """Every problem of an experiment file (empty list if valid), including missing inputs."""
    try:
        exp = load(path)
    except ConfigError as e:
        return e.problems
    import glob

    def missing(p):
        if p is None:
            return False
        r = exp.resolve(p)
        if any(ch in str(p) for ch in "*?["):
            return not glob.glob(str(r))
        return not r.exists()

    def special(p, folder=True):  # a FIFO or device would hang or never end a read: refused, not opened
        from ssbscope.paths import special_file

        if p is None:
            return None
        if any(ch in str(p) for ch in "*?["):  # a pattern: refused as when named directly
            return next((q for q in sorted(glob.glob(str(exp.resolve(p)))) if special_file(q)), None)
        r = exp.resolve(p)
        if folder and r.is_dir():  # a folder of a series: its entries are read as its files
            try:
                return next((q for q in sorted(r.iterdir()) if special_file(q)), None)
            except OSError:
                return None
        return r if special_file(r) else None

    def special_text(p, sp):
        if any(ch in str(p) for ch in "*?["):
            return (f"{p!r} matches {Path(sp).name!r}, a FIFO, device or special file, not a data "
                    "file; remove it or narrow the pattern")
        if exp.resolve(p).is_dir():
            return (f"{p!r} is a folder holding {Path(sp).name!r}, a FIFO, device or special file, "
                    "not a data file; remove it from the folder or name the files with a pattern")
        return f"{p!r} is a FIFO, device or special file, not a data file"

    def unreadable(p):  # a regular file that cannot be opened (permissions): why, else ""
        if p is None or any(ch in str(p) for ch in "*?["):
            return ""
        r = exp.resolve(p)
        if not r.is_file():
            return ""
        try:
            with open(r, "rb"):
                pass
        except OSError as e:
            return e.strerror or type(e).__name__
        return ""

    from ssbscope.areas import registry

    problems = []
    for modality in (a.name for a in registry() if a.inputs):
        for i, item in enumerate(getattr(exp.inputs, modality, None) or []):
            if missing(item.path):
                what = "matches no file" if any(ch in item.path for ch in "*?[") else _absent(exp.resolve(item.path))
                problems.append((f"inputs.{modality}[{i}].path", f"{item.path!r} {what}"))
            elif special(item.path, folder=modality != "echem"):  # echem: a folder is refused below
                problems.append((f"inputs.{modality}[{i}].path", special_text(item.path, special(item.path))))
            elif unreadable(item.path):
                problems.append((f"inputs.{modality}[{i}].path",
                                 f"{item.path!r} cannot be read ({unreadable(item.path)}); check its permissions"))
            elif modality == "compton" and any(ch in item.path for ch in "*?[") \
                    and len(glob.glob(str(exp.resolve(item.path)))) > 1:  # one exposure each
                problems.append((f"inputs.compton[{i}].path",
                                 f"{item.path!r} matches {len(glob.glob(str(exp.resolve(item.path))))} "
                                 "files; an XCS input is one exposure: list each file as its own "
                                 "input (with its beam_height_um / time_s)"))
            elif modality == "echem" and not any(ch in item.path for ch in "*?[") \
                    and exp.resolve(item.path).is_dir():  # one file per log (or a glob)
                problems.append((f"inputs.echem[{i}].path",
                                 f"{item.path!r} is a folder; an echem input is one file: name "
                                 "the file, or a glob such as 'folder/*.mpr' for one input per file"))
            elif modality == "echem" and getattr(item, "columns", None):
                problems += _columns_problems(exp, item, f"inputs.echem[{i}]")
            # side files named by the input (calibration tables, floods, open beams, ...)
            for key in ("calibration", "flood", "angle_map", "open_beam", "dark", "flats", "darks",
                        "angles"):
                side = getattr(item, key, None)
                if isinstance(side, str) and missing(side):
                    problems.append((f"inputs.{modality}[{i}].{key}", f"{side!r} "
                                     + ("matches no file" if any(ch in side for ch in "*?[")
                                        else _absent(exp.resolve(side)))))
                elif isinstance(side, str) and special(side):
                    problems.append((f"inputs.{modality}[{i}].{key}", special_text(side, special(side))))
    kinds = [it.kind for it in exp.inputs.echem]
    if "eis" in kinds and "cycling" not in kinds:  # the run's stages refuse it (echem.stages)
        problems.append(("inputs.echem", "EIS inputs need a cycling log too (an entry with kind: "
                         "cycling, the default), whose clock the spectra's time_s refer to"))
    from ssbscope.schema import modality_problems

    problems += modality_problems(exp)
    # what an area's stages refuse in its analysis section (keys that need another input):
    # areas opt in with ``config_problems(exp)`` in their stages module
    import importlib

    for a in registry():
        check = getattr(importlib.import_module(a.stages), "config_problems", None) if a.stages else None
        if check is not None:
            problems += check(exp)
    if not problems:  # what the run refuses when it builds its stages (before any stage runs)
        problems += _pipeline_problems(exp)
    return problems


def _pipeline_problems(exp) -> list[tuple[str, str]]:
    """Problems :func:`ssbscope.workflow.stages_for` finds in an experiment whose files exist:
    names of series, layers and interfaces a cell lacks, settings of one area that need
    another's (e.g. ``analysis.transport.current_density_layer``).  ``ssbscope run`` refuses
    these before any stage; ``validate`` lists them too (its error messages send users here)."""
    from ssbscope.workflow import stages_for

    try:
        stages_for(exp)
    except ConfigError as e:
        return list(e.problems)
    return []
