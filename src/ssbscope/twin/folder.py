"""Experiment folders a user could have brought home, written by the digital twin.

A folder holds raw files in real formats, an ``experiment.yaml`` a user could have written
(relative paths, commented) and, beside it, the twin's ground truth in ``truth.json`` (which no
analysis reads; tests and the report compare with it)::

    <out_dir>/
      experiment.yaml
      truth.json
      echem/<name>.mpt                 BioLogic EC-Lab ASCII export of the potentiostat log
      scans/<series>/s000.h5 ...       Data Exchange HDF5 projections, flats, darks, angles,
                                       acquisition start/end on the log's clock

``ssbscope run <out_dir>/experiment.yaml`` analyses it like any user's folder.

The writers are built from reusable parts (:class:`FolderPart`): :func:`ct_series_part`
writes one cell's CT series with its potentiostat log and returns the cell, input entries
and truth it contributes; :func:`write_experiment_yaml` merges parts into one commented YAML,
and :func:`write_truth_json` their truth (lists of ``analysis`` settings merge as a union;
``analysis.tomo`` settings that differ between parts go under ``analysis.tomo.series.<name>``
of each part's series).  :func:`soft_short_part` writes the
sulfide pellet behind a soft short (Cao et al. 2023, doi:10.1002/adfm.202307998) as a
one-scan series of its own cell.  A folder of several cells (the demo: coin-cell
log, anode-free CT series, XCS and neutron files) combines several parts.

Designs of :func:`write_ct_experiment`:

* ``"anode_free"`` - the anode-free Cu | Li6PS5Cl | Li cell of 001_a2c994afa3295f29, case B
  (:func:`ssbscope.twin.echem.anode_free_cell`: plate 3 mAh cm^-2 at 0.5 mA cm^-2, strip to
  the cut-off, re-plate, 0.75 mAh cm^-2 at 1.5 mA cm^-2, then 3.0 mA cm^-2 to a hard short);
  phantoms :func:`ssbscope.twin.ct.anode_free_001` with the CT demo's parameters (3 µm
  voxels, 22 keV, 3e4 photons).  Scan times come from the log's own protocol (start of the
  plating, after 1.5 and 3.0 mAh cm^-2 plated, after 1.5 mAh cm^-2 stripped, end of the
  1.5 mA cm^-2 step); the scans are operando (current flows during them) and ``time_s`` is
  the start of each.
* ``"symmetric"`` - a symmetric Li | Li6PS5Cl | Li cell plated onto its bottom electrode at
  0.5 mA cm^-2 in two 1.5 mAh cm^-2 increments with 1 h rests
  (:func:`ssbscope.twin.echem.symmetric_plating`); scans at the start of each rest (0, 1.5,
  3.0 mAh cm^-2) of :func:`ssbscope.twin.ct.symmetric_li_lpscl`.

Sizes: ``"tiny"`` (tests: 32 x 32 x 48 voxels, 60 angles, 3 scans), ``"small"`` (the demo:
40 x 40 x 56, 90 angles; 5 anode-free scans), ``"medium"`` (64 x 64 x 72, 150 angles).

Every file is written atomically; the same arguments give the same bytes (HDF5 without
object timestamps, fixed acquisition dates).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from ssbscope.errors import ParameterError

__all__ = ["ExperimentFolder", "FolderPart", "ct_series_part", "soft_short_part",
           "write_ct_experiment",
           "write_experiment_yaml", "write_truth_json", "CT_SIZES", "DESIGNS",
           "SOFT_SHORT_SIZES", "true_current_density"]

#: n_xy, n_z, n_angles per size (the CT demo's sizes).
CT_SIZES = {"tiny": (32, 48, 60), "small": (40, 56, 90), "medium": (64, 72, 150)}
#: Anode-free scan states used per size (indices into the five case-B states).
_AF_STATES = {"tiny": (0, 2, 3), "small": (0, 1, 2, 3, 4), "medium": (0, 1, 2, 3, 4)}
#: Case-A scan states per size (indices into :func:`_anode_free_states_a`).
_AF_STATES_A = {"tiny": (0, 1, 3), "small": (0, 1, 2, 3, 4), "medium": (0, 1, 2, 3, 4)}
DESIGNS = ("anode_free", "symmetric")

_VOXEL_UM = 3.0
_E_KEV = 22.0
_FLUX = 3e4
_EXPOSURE_S = 1.0          # per projection; flats and darks take as long
_LOG_START = {"anode_free": datetime(2024, 3, 4, 9, 0, 0),
              "symmetric": datetime(2024, 3, 11, 9, 0, 0)}
_SYM_CHARGES = (0.0, 1.5, 3.0)


@dataclass(frozen=True)
class ExperimentFolder:
    """A written experiment folder.

    Attributes
    ----------
    root : Path
        The folder.
    yaml_path : Path
        ``experiment.yaml``.
    truth_path : Path
        ``truth.json`` (the twin's ground truth, beside the YAML).
    files : tuple of str
        Every file written, relative to ``root`` (inputs, YAML, truth), sorted.
    """

    root: Path
    yaml_path: Path
    truth_path: Path
    files: tuple


@dataclass
class FolderPart:
    """What one writer contributes to an experiment folder (merged by
    :func:`write_experiment_yaml` and :func:`write_truth_json`).

    Attributes
    ----------
    cells : dict
        Cell name -> (cell mapping of the YAML, comment, one comment per layer).
    inputs : dict
        ``"echem"`` / ``"tomo"`` / ... -> list of (input mapping, comment or None).
    analysis : dict
        Area -> mapping of analysis settings (e.g. ``{"tomo": {...}}``).
    truth : dict
        Truth of this part, merged into ``truth.json`` by top-level key.
    files : list of str
        Files written, relative to the folder.
    comments : list of str
        Lines for the YAML's header comment.
    """

    cells: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    analysis: dict = field(default_factory=dict)
    truth: dict = field(default_factory=dict)
    files: list = field(default_factory=list)
    comments: list = field(default_factory=list)


# ------------------------------------------------------------------------------- helpers


def _atomic_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other users
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _num(x) -> float:
    """A float rounded to 9 significant digits (stable, readable JSON)."""
    x = float(x)
    if not math.isfinite(x):
        return None
    return 0.0 if abs(x) < 1e-9 else float(f"{x:.9g}")


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds") if t.microsecond else t.isoformat()


def _mpt_start(t: datetime) -> str:
    return t.strftime("%m/%d/%Y %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def _scalar(v) -> str:
    """One YAML scalar: numbers plain, strings plain when safe else double-quoted."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)
    s = str(v)
    import yaml

    try:
        plain = yaml.safe_load(s) == s and s == s.strip() and not any(c in s for c in ",{}[]:#'\"")
    except yaml.YAMLError:
        plain = False
    return s if plain else json.dumps(s, ensure_ascii=False)


def _flow(d: dict) -> str:
    """A mapping as one YAML flow mapping (nested mappings and lists too)."""
    def val(v):
        if isinstance(v, dict):
            return _flow(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return _scalar(v)

    return "{" + ", ".join(f"{k}: {val(v)}" for k, v in d.items()) + "}"


# ------------------------------------------------------------------------------- CT series


def _layers(design: str, pellet_um: float):
    """YAML layers (bottom to top) and the phantom's names behind them."""
    if design == "anode_free":
        from ssbscope.twin.params_001 import p

        cu_um = round(p("cu_voxels") * p("demo_voxel_size"))
        return [
            ({"name": "Cu", "material": "Cu", "thickness_um": cu_um}, "current collector (bottom, z = 0)"),
            ({"name": "Li", "material": "Li", "thickness_um": 0}, "plated during the experiment"),
            ({"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": round(pellet_um)}, "pressed pellet"),
            ({"name": "counter", "material": "Li", "thickness_um": round(p("counter_li_thickness"))},
             "Li counter electrode (a steel plunger sits on it)"),
        ]
    return [
        ({"name": "plunger_bottom", "material": "steel", "thickness_um": 9}, "steel plunger, its face in the field of view (static)"),
        ({"name": "Li", "material": "Li", "thickness_um": 30}, "working electrode: Li is plated onto it"),
        ({"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": round(pellet_um)}, "pressed pellet"),
        ({"name": "counter", "material": "Li", "thickness_um": 30}, "counter electrode: Li is stripped from it"),
        ({"name": "plunger_top", "material": "steel", "thickness_um": 9}, "steel plunger"),
    ]


# phantom layer/interface names -> YAML layer names
_AF_THICK = {"Li": "plated_li", "counter": "counter_li"}
_AF_IFACE = {"Cu|Li": "cu|li", "Li|LPSCl": "li|lpscl", "LPSCl|counter": "lpscl|counter"}
_SYM_THICK = {"Li": "li", "LPSCl": "pellet", "counter": "counter_li"}
_SYM_IFACE = {"plunger_bottom|Li": "steel|li", "Li|LPSCl": "li|lpscl",
              "LPSCl|counter": "lpscl|counter", "counter|plunger_top": "counter|steel"}


def _anode_free_states_a(tw):
    """Case-A scan states: pristine, the end of the crack plateau, 2 and 3 mAh cm^-2 plated,
    the end of the strip: (label, plated, stripped, current, t)."""
    from ssbscope.twin.params_001 import p

    plate0, strip = tw.steps[0], tw.steps[1]
    j0, q_pl = plate0[1], float(p("crack_plateau_A"))
    return (
        ("pristine", 0.0, 0.0, j0, plate0[2]),
        (f"plated {q_pl:.1f} mAh cm⁻²", q_pl, 0.0, j0, plate0[2] + q_pl / j0 * 3600.0),
        ("plated 2.0 mAh cm⁻²", 2.0, 0.0, j0, plate0[2] + 2.0 / j0 * 3600.0),
        ("plated 3.0 mAh cm⁻²", tw.plated_mah_cm2, 0.0, j0, plate0[3]),
        ("stripped", tw.plated_mah_cm2, tw.stripped_mah_cm2, strip[1], strip[3]),
    )


def _anode_free_states(tw):
    """Case-B scan states from the log's own protocol: (label, plated, stripped, current, t)."""
    st = [s for s in tw.steps]
    plate0, strip, _replate, step15 = st[0], st[1], st[2], st[3]
    if not (plate0[0] == "plate" and strip[0] == "strip" and step15[1] == 1.5):
        raise ParameterError("case", tw.case, "is not the case-B protocol the anode-free design "
                             "scans", "use anode_free_cell('B')")
    j0, js = plate0[1], strip[1]
    return (
        ("pristine", 0.0, 0.0, j0, plate0[2]),
        ("plated 1.5 mAh cm⁻²", 1.5, 0.0, j0, plate0[2] + 1.5 / j0 * 3600.0),
        ("plated 3.0 mAh cm⁻²", tw.plated_mah_cm2, 0.0, j0, plate0[3]),
        ("stripped 1.5 mAh cm⁻²", tw.plated_mah_cm2, 1.5, js, strip[2] + 1.5 / js * 3600.0),
        ("re-plated + 1.5 mA cm⁻² step", 2 * tw.plated_mah_cm2 + 0.75, tw.stripped_mah_cm2, 1.5,
         step15[3]),
    )


def _scan_truth(ph, design: str, layer_names, label, time_s, start, plated, stripped):
    vs = ph.voxel_size_um
    if design == "anode_free":
        thick = {k: ph.mean_thickness_um[v] for k, v in _AF_THICK.items()}
        thick["Cu"] = ph.interfaces_z_vox["cu|li"] * vs
        pel = np.where(ph.cell_mask, ph.height_maps_um["lpscl|counter"]
                       - ph.height_maps_um["li|lpscl"], np.nan)
        thick["LPSCl"] = float(np.nanmean(pel))
        ifaces = _AF_IFACE
    else:
        thick = {k: ph.mean_thickness_um[v] for k, v in _SYM_THICK.items()}
        thick["plunger_bottom"] = thick["plunger_top"] = 3 * vs
        ifaces = _SYM_IFACE
    vols = ph.phase_volumes_um3
    tr = ph.truth
    out = {
        "time_s": _num(time_s),
        "state": label,
        "start_date": _iso(start),
        "charge_mah_cm2": _num(plated - stripped),
        "plated_mah_cm2": _num(plated),
        "stripped_mah_cm2": _num(stripped),
        "faraday_thickness_um": _num(tr["faraday_thickness_um"]),
        "mean_thickness_um": {k: _num(thick[k]) for k in layer_names if k in thick},
        "roughness_um": {k: {"ra_um": _num(ph.roughness_um[v][0]), "rq_um": _num(ph.roughness_um[v][1])}
                         for k, v in ifaces.items()},
        "interface_z_um": {k: _num(ph.interfaces_z_vox[v] * vs) for k, v in ifaces.items()},
        "phase_volumes_um3": {k: _num(v) for k, v in vols.items() if v > 0},
        "li_volume_um3": _num(vols.get("li", 0.0) + vols.get("li_filament", 0.0)),
        "pore_volume_um3": _num(tr["pore_volume_um3"]),
        "crack_volume_um3": _num(tr.get("crack_volume_um3", 0.0)),
        "pore_crack_volume_um3": _num(tr["pore_crack_volume_um3"]),
        "cell_area_um2": _num(float(ph.cell_mask.sum()) * vs ** 2),
    }
    if design == "anode_free":
        out.update({k: _num(tr[k]) for k in (
            "crack_li_volume_um3", "crack_empty_volume_um3", "crack_li_capacity_fraction",
            "current_ma_cm2", "new_crack_volume_um3", "preexisting_crack_volume_um3",
            "li_in_cracks_fraction", "lpscl_volume_um3", "li_total_volume_um3",
            "high_current_mah_cm2", "central_fraction")})
        out["case"] = tr["case"]
        out["n_edge_filaments"] = int(tr["n_edge_filaments"])
        # plated layer: mean over the cell, central disk / edge ring as the analysis splits it
        out["plated_li_thickness_um"] = {
            "mean": _num(tr["plated_thickness_um"]),
            "center": _num(tr["plated_thickness_center_um"]),
            "edge": _num(tr["plated_thickness_edge_um"]),
            "center_voxel_staircase": _num(tr["plated_thickness_center_staircase_um"]),
            "edge_voxel_staircase": _num(tr["plated_thickness_edge_staircase_um"])}
        out["plated_li_thickness_definition"] = (
            "the plated layer: Li between the Cu and the pellet's lower face (Sandoval et al. "
            "2025, Fig. 5e); Li in cracks / filaments inside the pellet is not layer, also "
            "where a filament's root touches the layer (li_in_cracks_volume_um3); mean over "
            "the cell; center / edge: the central disk of central_fraction of the cell eroded "
            "by one voxel and the ring outside it, on the continuous face the projections "
            "image (*_voxel_staircase: on the labels' whole voxels)")
        out["li_in_cracks_volume_um3"] = _num(tr["crack_li_volume_um3"])
        # what a CT partial volume of the pellet can integrate: its interior (2 slices inside
        # the mean faces, the cell less its one-voxel rim); Li-filled cracks included (Li is
        # almost as transparent as a pore)
        out["pore_crack_volume_interior_um3"] = _num(tr["pore_crack_volume_interior_um3"])
        out["pellet_interior_z_vox"] = [_num(z) for z in tr["pellet_interior_z_vox"]]
        out["pore_crack_definition"] = (
            "pore_crack_volume_um3: pores + empty cracks + Li-filled cracks of the whole "
            "pellet; pore_crack_volume_interior_um3: the same voxels in the pellet's interior "
            "(slices pellet_interior_z_vox, 2 inside its mean faces; the cell eroded by one "
            "voxel), the region the measurement integrates")
        # Ra / Rq of the smooth surface the voxel staircase stands for, on the analysis'
        # footprint; the staircase's own values kept beside them
        rc = tr["roughness_continuous_inner_um"]
        for k, v in ifaces.items():
            if v in rc:
                out["roughness_um"][k] = {"ra_um": _num(rc[v][0]), "rq_um": _num(rc[v][1]),
                                          "ra_voxel_staircase_um": _num(ph.roughness_um[v][0]),
                                          "rq_voxel_staircase_um": _num(ph.roughness_um[v][1])}
        out["roughness_definition"] = (
            "Ra/Rq after plane detrending of the continuous interface height (the layer "
            "thickness before it is cut into whole voxels per column) over the cell eroded "
            "by one voxel; *_voxel_staircase_um: the phantom's voxel heights over the whole "
            "cell, whose column-to-column step noise (~voxel / sqrt(12)) lies below the "
            "voxel's resolving power")
    else:
        out["pellet_shift_um"] = _num(tr["pellet_shift_um"])
        out["target_ra_um"] = _num(tr["target_ra_um"])
    return out


def _displaced(ph, drift_yx):
    """The phantom with its attenuation volume shifted in-plane by whole voxels (void
    enters at the edges); ``ph`` itself when there is no shift."""
    import dataclasses

    dy, dx = (int(v) for v in drift_yx)
    if dy == 0 and dx == 0:
        return ph
    mu = ph.mu_per_voxel
    ny, nx = mu.shape[1:]
    lost = np.zeros((ny, nx), bool)  # columns that wrap around
    if dy:
        lost[(slice(ny - dy, ny) if dy > 0 else slice(0, -dy)), :] = True
    if dx:
        lost[:, (slice(nx - dx, nx) if dx > 0 else slice(0, -dx))] = True
    if np.any(mu[:, lost] != 0):
        raise ParameterError("drift", drift_yx, "moves the cell out of the volume; use a "
                             "smaller displacement or a larger size")
    return dataclasses.replace(ph, mu_per_voxel=np.roll(mu, (dy, dx), axis=(1, 2)))


def ct_series_part(root, *, design: str = "anode_free", size: str = "small", seed: int = 0,
                   series: str | None = None, echem_label: str | None = None,
                   progress=None, case: str = "B", drift=None,
                   plating: str = "texture") -> FolderPart:
    """Write one cell's operando CT series and its potentiostat log into ``root``.

    Files: ``echem/<series>_<protocol>.mpt`` and ``scans/<series>/sNNN.h5``.  The cell is
    named ``series`` in the YAML (``cells: {<series>: ...}``), so the scans pick it by their
    series.

    Parameters
    ----------
    root : str or Path
        The experiment folder (created).
    design : {"anode_free", "symmetric"}
    size : {"tiny", "small", "medium"}
    seed : int
        Phantom seed; scan k uses ``100 seed + k``, the log ``seed``.
    series : str, optional
        Series and cell name (default: ``design``).
    echem_label : str, optional
        ``label`` of the log's input (its store key ``echem/<label>/timeseries``); default:
        the file name.
    progress : callable, optional
        ``progress(iterable, desc=...)`` wrapper (e.g. a pipeline context's).
    case : {"B", "A"}
        Anode-free design only: the paper's case (B, the demo's: planar plating, strip,
        re-plate, 1.5 mA cm^-2 step; A: filament cracks after a ~1 mAh cm^-2 plateau, then a
        strip at 79.9 % CE; scans at 0, 1, 2, 3 mAh cm^-2 and after the strip).
    drift : (int, (int, int)), optional
        ``(k, (dy, dx))``: scan ``k`` (k >= 1) sees the cell displaced in-plane by whole
        voxels (the cell remounted between scans; the rotation axis stays): its
        attenuation volume is shifted before projection.  The truth stays in the first
        scan's frame (the frame registration brings every scan to); the scan's row records
        ``drift_yx_um``.  Default: no displacement.
    plating : {"texture", "model"}
        Anode-free design only: the plated layer's lateral pattern (``anode_free_001``):
        the table's random texture (default), or grown at the current the interface model
        (primary distribution) predicts on the layer's own surface; then the YAML's
        hot-spot comparison uses the same primary distribution
        (``analysis.interface.topography.r_ct_ohm_cm2: null``) on maps smoothed by two
        voxels (``smoothing_um``).  The heights' smoothing before each solve is left to the
        analysis' default, fitted on each map from its own height noise
        (:func:`ssbscope.interface.topography.height_smoothing_um`; 4.7-6.0 um on the
        small twin's interval surfaces, seed 0), not written into the YAML.

    Returns
    -------
    FolderPart
    """
    from ssbscope.twin import ct
    from ssbscope.twin import echem as twin_echem
    from ssbscope.twin.ct_files import write_dxchange
    from ssbscope.twin.formats import write_mpt

    if design not in DESIGNS:
        raise ParameterError("design", design, f"must be one of {list(DESIGNS)}")
    if size not in CT_SIZES:
        raise ParameterError("size", size, f"must be one of {list(CT_SIZES)}")
    seed = int(seed)
    if seed < 0:
        raise ParameterError("seed", seed, "must be >= 0")
    if drift is not None and int(drift[0]) < 1:
        raise ParameterError("drift", drift, "must displace a later scan (k >= 1): the first "
                             "scan's frame is the truth's")
    root = Path(root)
    series = series or design
    n_xy, n_z, n_angles = CT_SIZES[size]
    t0 = _LOG_START[design]
    if design == "anode_free":  # acquisition from the paper's table (Sandoval et al. 2025)
        from ssbscope.twin.params_001 import p as p001

        vox, e_kev, flux = (float(p001(k)) for k in ("demo_voxel_size", "demo_energy",
                                                      "demo_flux"))
    else:
        vox, e_kev, flux = _VOXEL_UM, _E_KEV, _FLUX
    part = FolderPart()

    # --- potentiostat log
    case = str(case).upper()
    if design == "anode_free" and case not in ("A", "B"):
        raise ParameterError("case", case, "must be 'A' or 'B' for the anode-free series")
    if design == "anode_free":
        tw = twin_echem.anode_free_cell(case, seed=seed)
        if case == "B":
            states = [_anode_free_states(tw)[i] for i in _AF_STATES[size]]
            protocol = ("plate 3 mAh/cm2 at 0.5 mA/cm2, strip to 1 V, re-plate 3 mAh/cm2, "
                        "0.75 mAh/cm2 at 1.5 mA/cm2, 3.0 mA/cm2 to a short")
        else:
            states = [_anode_free_states_a(tw)[i] for i in _AF_STATES_A[size]]
            protocol = "plate 3 mAh/cm2 at 0.5 mA/cm2, strip at 0.5 mA/cm2 to 1 V"
        log_name = f"echem/{series}_case{case}.mpt"
        material, electrolyte = "Cu (working) | Li (counter)", "Li6PS5Cl"
    else:
        tw = twin_echem.symmetric_plating(_SYM_CHARGES, seed=seed)
        states = [(lab, q, 0.0, tw.current_ma_cm2, t) for lab, q, t in
                  zip(tw.scan_labels, tw.scan_charges_mah_cm2, tw.scan_times_s)]
        log_name = f"echem/{series}_plating.mpt"
        material, electrolyte = "Li (working, bottom) | Li (counter, top)", "Li6PS5Cl"
        protocol = ("rest 1 h, then 2 x (plate 1.5 mAh/cm2 onto the bottom electrode at "
                    "0.5 mA/cm2, rest 1 h); a CT scan at the start of every rest")
    (root / "echem").mkdir(parents=True, exist_ok=True)
    write_mpt(root / log_name, tw.data, current_sign=tw.instrument_current_sign,
              area_cm2=tw.area_cm2, electrode_material=material, electrolyte=electrolyte,
              comments=f"{series}: {protocol}", acquisition_start=_mpt_start(t0))
    part.files.append(log_name)
    diameter_mm = round(2.0 * math.sqrt(tw.area_cm2 / math.pi) * 10.0, 6)

    # --- CT series
    q_max = max(s[1] for s in states)
    rows, entries = [], []
    pellet_um = None
    layer_names = None
    plated_maps = []
    it = enumerate(states)
    if progress is not None:
        it = progress(list(it), desc=f"twin CT series {series}")
    for k, (label, plated, stripped, cur, t) in it:
        if design == "anode_free":
            # the paper's case; one pellet (same seed) for the whole series
            ph = ct.anode_free_001(plated, stripped, case=case, current_ma_cm2=cur, n_xy=n_xy,
                                   n_z=n_z, voxel_size_um=vox, e_kev=e_kev,
                                   max_charge_mah_cm2=q_max, seed=seed, plating=plating)
            steel = ph.phase_volumes_um3["steel"] / ph.voxel_volume_um3
            if steel != 3 * ph.cell_mask.sum():
                raise ParameterError("size", size, f"the n_z = {n_z} volume cuts the top "
                                     f"plunger at state {label!r}", "use a larger size")
        else:
            ph = ct.symmetric_li_lpscl(plated, n_xy=n_xy, n_z=n_z, voxel_size_um=vox,
                                       e_kev=e_kev, max_charge_mah_cm2=max(_SYM_CHARGES),
                                       seed=seed)
        if pellet_um is None:  # nominal thickness a user measures before assembling
            hm = ph.height_maps_um
            pellet_um = float(np.nanmean(hm["lpscl|counter"] - hm["li|lpscl"]))
            layers = _layers(design, pellet_um)
            layer_names = [la["name"] for la, _ in layers]
        drift_yx = (0, 0)
        if drift is not None and int(drift[0]) == k:
            drift_yx = tuple(int(v) for v in drift[1])
        sc = _displaced(ph, drift_yx).scan(n_angles=n_angles, flux_photons=flux,
                                           seed=seed * 100 + k)
        start = t0 + timedelta(seconds=float(t))
        n_frames = n_angles + sc.flats.shape[0] + sc.darks.shape[0]
        end = start + timedelta(seconds=n_frames * _EXPOSURE_S)
        if design == "symmetric" and n_frames * _EXPOSURE_S > tw.rest_s:
            raise ParameterError("size", size, f"a scan ({n_frames * _EXPOSURE_S:g} s) outlasts "
                                 f"the {tw.rest_s:g} s rest it is taken in")
        rel = f"scans/{series}/s{k:03d}.h5"
        write_dxchange(root / rel, sc, sample_name=f"{series}: {label}", start_date=_iso(start),
                       end_date=_iso(end), exposure_time_s=_EXPOSURE_S, energy_kev=e_kev,
                       truth_center=False)
        part.files.append(rel)
        entries.append(({"path": rel, "kind": "projections", "series": series,
                         "time_s": _num(round(float(t), 3)), "state": label,
                         "energy_kev": e_kev}, None))
        tr = _scan_truth(ph, design, layer_names, label, t, start, plated, stripped)
        if design == "anode_free":  # the plated layer's continuous thickness, first scan's frame
            plated_maps.append((float(t), np.asarray(
                ph.truth["height_continuous_um"]["li|lpscl"], float)
                - float(ph.interfaces_z_vox["cu|li"]) * ph.voxel_size_um))
        else:  # the bottom electrode's thickness (the phantom's whole voxels per column)
            plated_maps.append((float(t), np.asarray(ph.thickness_maps_um["li"], float)))
        tr["path"] = rel
        tr["end_date"] = _iso(end)
        tr["drift_yx_um"] = [_num(drift_yx[0] * vox), _num(drift_yx[1] * vox)]
        rows.append(tr)

    if design == "anode_free":  # new crack volume in the interior, against the first scan
        for r in rows:
            r["new_crack_volume_interior_um3"] = _num(
                r["pore_crack_volume_interior_um3"] - rows[0]["pore_crack_volume_interior_um3"])
    cell = {"diameter_mm": diameter_mm,
            "layers": [la for la, _ in layers]}
    what = (f"anode-free Cu | Li6PS5Cl | Li cell (Sandoval et al. 2025 case {case})"
            if design == "anode_free" else "symmetric Li | Li6PS5Cl | Li cell")
    part.cells[series] = (cell, what, [c for _, c in layers])
    we = "the Cu" if design == "anode_free" else "the bottom Li electrode"
    log_entry = {"path": log_name, "cell": series, "invert_current": True}
    if echem_label:
        log_entry["label"] = echem_label
    part.inputs["echem"] = [(log_entry,
                             f"{we} is the working electrode: plating onto it is a "
                             "reduction, logged negative")]
    part.inputs["tomo"] = entries
    if design == "anode_free":
        from ssbscope.twin.params_001 import p as p001

        cfrac = float(p001("central_fraction"))
    else:
        cfrac = 0.75
    # the pellet's thickness too (compared with the truth in the report's accuracy table)
    part.analysis["tomo"] = {"interfaces": ["Li|LPSCl"], "thickness": ["Li", "counter", "LPSCl"],
                             "central_fraction": cfrac}
    # the current distribution on each scan's measured Li surface vs the measured maps
    part.analysis["interface"] = {"topography": {"series": [series]}}
    if design == "anode_free" and plating == "model":
        # the twin plates at the primary current; the maps compared smoothed by 2 voxels
        # (the pixel maps' noise, ~35 % of the mean current, hides a ~15 % contrast)
        part.analysis["interface"]["topography"].update(
            {"r_ct_ohm_cm2": None, "smoothing_um": _num(2 * vox)})
    part.comments.append(f"{series}: {what}; log: {protocol}.")
    part.truth = {
        "echem": {log_name: {
            "cell": series, "area_cm2": _num(tw.area_cm2), "start_time": _iso(t0),
            "instrument_current_sign": int(tw.instrument_current_sign),
            "scan_times_s": [r["time_s"] for r in rows],
            "charge_mah_cm2": [r["charge_mah_cm2"] for r in rows],
            "steps": [[s[0], _num(s[1]), _num(s[2]), _num(s[3])] for s in tw.steps],
            "ce_fraction": _num(tw.coulombic_efficiency) if getattr(tw, "coulombic_efficiency", None) else None,
            "short_kind": getattr(tw, "short_kind", None) or "",
            "short_onset_s": _num(tw.short_onset_s) if getattr(tw, "short_onset_s", None) else None,
        }},
        "tomo": {series: {
            "cell": series, "design": design, "size": size, "plating": plating,
            "voxel_size_um": vox, "e_kev": e_kev, "flux_photons": flux,
            "n_angles": n_angles, "shape_zyx": [n_z, n_xy, n_xy],
            "center_px": _num(sc.center_px), "layers": layer_names,
            "cell_center_yx_vox": [n_xy // 2, n_xy // 2], "cell_radius_vox": _num(0.45 * n_xy),
            "scans": rows,
        }},
    }
    if len(plated_maps) >= 2:
        part.truth["tomo"][series]["current_density"] = true_current_density(
            plated_maps, vox, continuous=design == "anode_free")
    return part


def true_current_density(plated_maps, voxel_size_um: float, *, layer: str = "Li",
                         continuous: bool = True) -> dict:
    """The true local current density of the plated layer between consecutive scans.

    Faraday's law (:func:`ssbscope.transport.current_density.thickness_change_to_current_ma_cm2`)
    on the change of the plated layer's thickness per column (anode-free twin: its continuous
    thickness, the Li the twin put on the Cu under that column before it is cut into whole
    voxels; symmetric twin: the bottom electrode's whole voxels, as its phantom is built) over
    the scans' time difference, on the phantom's grid, in the first scan's frame (the frame
    registration brings every scan to): the truth of ``transport/<series>/current_density``.

    Parameters
    ----------
    plated_maps : list of (float, (Y, X) ndarray)
        ``(time_s, thickness_um)`` of each scan, time order; NaN outside the cell.
    voxel_size_um : float
        The grid's pixel (µm); pixel centres at ``(i + 0.5) voxel_size_um``.
    layer : str
        The layer's name in the YAML (``cell.layers[].name``).
    continuous : bool
        Whether the maps are continuous thicknesses (else whole voxels); stated in
        ``definition``.

    Returns
    -------
    dict
        ``layer``, ``definition``, ``y_um``, ``x_um`` (pixel centres), ``intervals``: one
        ``{t_start_s, t_end_s, mean_ma_cm2, std_ma_cm2, quantization_ma_cm2,
        current_density_ma_cm2}`` per pair of consecutive scans (the map as rows of numbers,
        null outside the cell; ``quantization_ma_cm2``: rms of the whole-voxel rounding in
        the map, 0 for continuous maps).
    """
    from ssbscope.transport.current_density import thickness_change_to_current_ma_cm2

    def r4(x):
        return None if not np.isfinite(x) else (0.0 if abs(x) < 1e-12 else float(f"{x:.5g}"))

    ny, nx = plated_maps[0][1].shape
    kind = "continuous" if continuous else "whole-voxel"
    out = {"layer": str(layer),
           "definition": (f"j = rho_Li F dh / (M_Li dt) of the layer's {kind} thickness per "
                          "column (the Li the twin plated or stripped there; Li in cracks or "
                          "filaments not counted), between consecutive scans, on the "
                          "phantom's pixel grid in the first scan's frame; mA/cm^2, positive "
                          "where the layer thickened"),
           "y_um": [_num((i + 0.5) * voxel_size_um) for i in range(ny)],
           "x_um": [_num((i + 0.5) * voxel_size_um) for i in range(nx)],
           "intervals": []}
    for (t0, h0), (t1, h1) in zip(plated_maps[:-1], plated_maps[1:]):
        j = thickness_change_to_current_ma_cm2(h1 - h0, t1 - t0)
        # whole-voxel maps: each map's rounding (uniform, one voxel wide) is the truth's own
        # resolution; its rms in the difference of two maps is voxel / sqrt(6)
        q = 0.0 if continuous else float(thickness_change_to_current_ma_cm2(
            voxel_size_um / np.sqrt(6.0), t1 - t0))
        out["intervals"].append({
            "t_start_s": _num(t0), "t_end_s": _num(t1),
            "mean_ma_cm2": _num(np.nanmean(j)), "std_ma_cm2": _num(np.nanstd(j)),
            "quantization_ma_cm2": _num(abs(q)),
            "current_density_ma_cm2": [[r4(v) for v in row] for row in j]})
    return out


# ------------------------------------------------------------------------------- soft short

#: Soft-short pellet scan per size: n_xy, n_angles (the former in-memory study's sizes).
SOFT_SHORT_SIZES = {"tiny": (32, 60), "small": (40, 90), "medium": (64, 150)}
_SS_NZ = 64
_SS_N_LAYERS = 10
_SS_START = datetime(2024, 3, 18, 9, 0, 0)
# phantom interface names -> YAML "lower|upper"
_SS_IFACE = {"Li|LPSCl": "li|lpscl", "LPSCl|cathode": "lpscl|cathode"}


def soft_short_part(root, *, size: str = "small", seed: int = 0,
                    series: str = "soft_short", pristine_scan: bool = False,
                    isolated_li_fraction: float = 0.0) -> FolderPart:
    """Write the CT scan of the sulfide pellet behind a soft short into ``root``.

    One scan of :func:`ssbscope.twin.ct.soft_short_002` (Cao et al., Adv. Funct. Mater. 2023,
    doi:10.1002/adfm.202307998, Fig. 3F-J: Li filaments grown from the anode into the
    Li6PS5Cl pellet, their volume fraction falling from ~30 % at the anode to ~10 % at the
    cathode, isolated pores beside them) as ``scans/<series>/s000.h5`` (Data Exchange; 3 µm
    voxels, 22 keV, 3e4 photons, ``n_z`` = 64), a cell ``<series>`` declaring its stack
    steel | Li | Li6PS5Cl | NMC811 composite cathode | steel, its ``inputs.tomo`` entry
    (``time_s`` 0: the scan is taken after the test; the cell has no log in the folder) and
    ``analysis.tomo`` settings (both interfaces, ``n_layers`` = 10, every isolated region
    counted).

    The truth (``truth.json`` ``tomo.<series>.scans[0]``) numbers the layer fractions as the
    paper and the series' metrics do (``tomo/<series>/metrics`` ``layer_fraction`` on
    ``layer_index``): layer 1 at the electrolyte face away from the Li anode (the cathode
    side), layer ``n_layers`` at the anode (``layer_fraction`` =
    ``layer_fraction_paper_order``, 9.91 -> 30.65 %, :mod:`ssbscope.twin.params_002`); the
    phantom's own order, from the anode, is ``layer_fraction_from_anode``.

    Parameters
    ----------
    root : str or Path
    size : {"tiny", "small", "medium"}
    seed : int
        Phantom seed; the scan uses ``100 seed + 99``.
    series : str
        Series and cell name.
    pristine_scan : bool, default False
        Also scan the pellet before plating (``s000.h5``, ``time_s`` 0, state "pristine":
        the same pores, no filament, no dead Li; scan seed ``100 seed + 98``); the scan after
        the soft short is then ``s001.h5`` at ``time_s`` 72000 (the paper's 20 h).  The
        series' first scan is the reference that tells the pellet's pores from dead Li
        (:mod:`ssbscope.tomo.low_attenuation`).  Not in the paper (one XCT after the test).
    isolated_li_fraction : float, default 0
        Dead Li beside the pores (:func:`ssbscope.twin.ct.soft_short_002`).

    Returns
    -------
    FolderPart
    """
    from ssbscope.twin import ct
    from ssbscope.twin.ct_files import write_dxchange

    if size not in SOFT_SHORT_SIZES:
        raise ParameterError("size", size, f"must be one of {list(SOFT_SHORT_SIZES)}")
    seed = int(seed)
    if seed < 0:
        raise ParameterError("seed", seed, "must be >= 0")
    root = Path(root)
    n_xy, n_angles = SOFT_SHORT_SIZES[size]
    from ssbscope.twin import params_002 as p002

    # the paper's Fig. 3J: 30.65 % at the Li anode (its layer 10) to 9.91 % at the cathode
    def phantom(pristine):
        return ct.soft_short_002(n_xy=n_xy, n_z=_SS_NZ, voxel_size_um=_VOXEL_UM, e_kev=_E_KEV,
                                 n_layers=_SS_N_LAYERS, seed=seed,
                                 fraction_near=p002.LAYER_FRACTION_LAYER10,
                                 fraction_far=p002.LAYER_FRACTION_LAYER1,
                                 isolated_li_fraction=isolated_li_fraction, pristine=pristine)

    scans = []  # (phantom, relative path, state, time_s, start)
    if pristine_scan:
        scans.append((phantom(True), f"scans/{series}/s000.h5", "pristine", 0.0,
                      _SS_START - timedelta(seconds=_SS_PRISTINE_BEFORE_S)))
    scans.append((phantom(False), f"scans/{series}/s{len(scans):03d}.h5",
                  "after the soft short", _SS_PRISTINE_BEFORE_S if pristine_scan else 0.0,
                  _SS_START))
    rows_dates = []
    for ph_k, rel_k, label_k, _t, start_k in scans:
        sc = ph_k.scan(n_angles=n_angles, flux_photons=_FLUX,
                       seed=seed * 100 + (98 if label_k == "pristine" else 99))
        n_frames = n_angles + sc.flats.shape[0] + sc.darks.shape[0]
        end_k = start_k + timedelta(seconds=n_frames * _EXPOSURE_S)
        write_dxchange(root / rel_k, sc, sample_name=f"{series}: {label_k}",
                       start_date=_iso(start_k), end_date=_iso(end_k),
                       exposure_time_s=_EXPOSURE_S, energy_kev=_E_KEV, truth_center=False)
        rows_dates.append((_iso(start_k), _iso(end_k), sc.center_px))
    ph = scans[-1][0]
    vs = ph.voxel_size_um
    z_li, z_cat = ph.interfaces_z_vox["li|lpscl"], ph.interfaces_z_vox["lpscl|cathode"]
    steel_um, li_um = 3 * vs, (z_li - 3) * vs
    pellet_um = (z_cat - z_li) * vs
    col = ph.labels[:, n_xy // 2, n_xy // 2]
    cat_um = float(np.count_nonzero(col == ct.CODES["cathode"])) * vs
    layers = [
        ({"name": "steel_bottom", "material": "steel", "thickness_um": round(steel_um, 3)},
         "steel plunger, its face in the field of view"),
        ({"name": "Li", "material": "Li", "thickness_um": round(li_um, 3)},
         "Li metal anode"),
        ({"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": round(pellet_um, 3)},
         "pressed pellet; Li filaments grow into it from the anode"),
        ({"name": "cathode", "material": "NMC811", "thickness_um": round(cat_um, 3)},
         "NMC811 | Li6PS5Cl composite cathode"),
        ({"name": "steel_top", "material": "steel", "thickness_um": round(steel_um, 3)},
         "steel plunger"),
    ]
    part = FolderPart(files=[r for _, r, _, _, _ in scans])
    cell = {"diameter_mm": round(2 * 0.45 * n_xy * vs / 1000.0, 6),
            "layers": [la for la, _ in layers]}
    what = "sulfide pellet behind a soft short (Cao et al. 2023, Fig. 3F-J)"
    part.cells[series] = (cell, what, [c for _, c in layers])
    part.inputs["tomo"] = [({"path": r, "kind": "projections", "series": series,
                             "time_s": (int(t) if t == int(t) else t), "state": lab,
                             "energy_kev": _E_KEV},
                            f"{series}: " + ("the pellet before plating (the reference of its "
                                             "pores)" if lab == "pristine" else
                                             "one scan after the soft short (no log of this "
                                             "cell)"))
                           for _, r, lab, t, _ in scans]
    # settings of this series (write_experiment_yaml puts them under analysis.tomo.series
    # beside other cells' series)
    part.analysis["tomo"] = {"interfaces": list(_SS_IFACE), "thickness": ["Li", "LPSCl"],
                             "n_layers": _SS_N_LAYERS, "min_filament_volume_um3": 0}
    part.comments.append(f"{series}: {what}; " + ("a pristine scan and one after the soft "
                                                   "short" if pristine_scan else "one scan")
                         + ", no log.")
    rows = [_soft_short_row(ph_k, r, lab, t, d, pellet_um, li_um)
            for (ph_k, r, lab, t, _), d in zip(scans, rows_dates)]
    part.truth = {"tomo": {series: {
        "cell": series, "design": "soft_short_002", "size": size, "voxel_size_um": vs,
        "e_kev": _E_KEV, "flux_photons": _FLUX, "n_angles": n_angles,
        "shape_zyx": [_SS_NZ, n_xy, n_xy], "center_px": _num(rows_dates[-1][2]),
        "layers": [la["name"] for la, _ in layers], "n_layers": _SS_N_LAYERS,
        "cell_center_yx_vox": [n_xy // 2, n_xy // 2], "cell_radius_vox": _num(0.45 * n_xy),
        "scans": rows,
    }}}
    return part


#: Time (s) between the pristine scan and the scan after the soft short (Cao et al. 2023:
#: 3 h of plating to the soft short, charged on to 20 h).
_SS_PRISTINE_BEFORE_S = 72000.0


def _soft_short_row(ph, rel, label, time_s, dates, pellet_um, li_um) -> dict:
    """One scan's truth row of :func:`soft_short_part`."""
    vs = ph.voxel_size_um
    tr = ph.truth
    from_anode = np.asarray(tr["layer_fraction_low_attenuation"], float)
    row = {
        "path": rel, "time_s": float(time_s), "state": label, "start_date": dates[0],
        "end_date": dates[1],
        "low_attenuation_connected_um3": _num(tr["connected_volume_um3"]),
        "low_attenuation_isolated_um3": _num(tr["isolated_volume_um3"]),
        "isolated_li_um3": _num(tr["isolated_li_volume_um3"]),
        "pore_volume_um3": _num(tr["pore_volume_um3"]),
        "layer_fraction": [_num(v) for v in from_anode[::-1]],
        "layer_fraction_paper_order": [_num(v) for v in from_anode[::-1]],
        "layer_fraction_from_anode": [_num(v) for v in from_anode],
        "layer_fraction_connected": [_num(v) for v in np.asarray(
            tr["layer_fraction_connected"], float)[::-1]],
        "layer_fraction_paper_target": [_num(v) for v in np.asarray(
            tr["target_layer_fraction"], float)[::-1]],
        "layer_numbering": ("layer_fraction, layer_fraction_paper_order, "
                            "layer_fraction_connected: layer 1 at the electrolyte face away "
                            "from the Li anode (cathode side), layer n at the anode, as Cao et "
                            "al. 2023 Fig. 3J and tomo/<series>/metrics layer_index; "
                            "layer_fraction_from_anode: layer 1 at the Li anode"),
        "interface_z_um": {k: _num(ph.interfaces_z_vox[v] * vs) for k, v in _SS_IFACE.items()},
        "mean_thickness_um": {"Li": _num(li_um), "LPSCl": _num(pellet_um)},
        "phase_volumes_um3": {k: _num(v) for k, v in ph.phase_volumes_um3.items() if v > 0},
        "cell_area_um2": _num(float(ph.cell_mask.sum()) * vs ** 2),
    }
    return row


# ------------------------------------------------------------------------------- YAML, truth


def write_experiment_yaml(path, parts, *, name: str, seed: int = 0,
                          description: str | None = None, cell: dict | None = None,
                          twin: dict | None = None) -> Path:
    """Merge folder parts into one commented, human-readable ``experiment.yaml``.

    The text is checked: it must parse back to the merged mapping and validate with
    :func:`ssbscope.config.from_dict`.

    Parameters
    ----------
    path : str or Path
        The YAML file (written atomically).
    parts : sequence of FolderPart
    name : str
    seed : int
    description : str, optional
    cell : dict, optional
        The top-level ``cell`` (the cell of every input that names none).
    twin : dict, optional
        The ``twin`` section: in-memory twin studies run with the analysis.

    Returns
    -------
    Path
    """
    import yaml

    from ssbscope.config import from_dict

    path = Path(path)
    cells, inputs, analysis, comments = {}, {}, {}, []
    for p in parts:
        for k, v in p.cells.items():
            if k in cells:
                raise ParameterError("parts", k, "two parts define the same cell")
            cells[k] = v
        for area, items in p.inputs.items():
            inputs.setdefault(area, []).extend(items)
        for area, d in p.analysis.items():
            if area == "tomo":
                continue  # per series below (_merge_tomo_analysis)
            merged = analysis.setdefault(area, {})
            for k, v in d.items():
                if isinstance(v, list) and isinstance(merged.get(k), list):
                    # e.g. analysis.tomo.interfaces of two series: the union, order kept
                    merged[k] = merged[k] + [x for x in v if x not in merged[k]]
                else:
                    merged[k] = v
        comments.extend(p.comments)
    tomo_an = _merge_tomo_analysis(parts)
    if tomo_an:
        # keep the area order of the parts
        order = list(dict.fromkeys(a for p in parts for a in p.analysis))
        analysis = {a: (tomo_an if a == "tomo" else analysis[a]) for a in order}
    lines = ["# Experiment file for `ssbscope run` (written by the ssbscope digital twin, as a",
             "# user would describe their experiment). Paths are relative to this file.",
             "# The twin's ground truth is in truth.json beside it; no analysis reads it."]
    lines += [f"#   {c}" for c in comments]
    lines += [f"name: {_scalar(name)}"]
    if description:
        lines.append(f"description: {_scalar(description)}")
    lines += [f"seed: {int(seed)}"]
    data = {"name": name, "seed": int(seed)}
    if description:
        data["description"] = description
    if cell:
        data["cell"] = cell
        lines += ["", "cell:  # the cell of every input that names no other"]
        for k, v in cell.items():
            if k != "layers":
                lines.append(f"  {k}: {_scalar(v)}")
        if cell.get("layers"):
            lines.append("  layers:  # in stacking order")
            lines += [f"    - {_flow(la)}" for la in cell["layers"]]
    data.update({k: {} for k, v in (("cells", cells), ("inputs", inputs), ("analysis", analysis)) if v})
    if cells:
        lines += ["", "cells:"]
    for cname, (cell_, what, layer_comments) in cells.items():
        cell = cell_
        data["cells"][cname] = cell
        lines.append(f"  {cname}:  # {what}")
        for k, v in cell.items():
            if k == "layers":
                continue
            note = "  # electrode diameter: area for the log's mAh/cm2" if k == "diameter_mm" else ""
            lines.append(f"    {k}: {_scalar(v)}{note}")
        if cell.get("layers"):
            lines.append("    layers:  # bottom (z = 0 of the CT volume) to top")
            width = max(len(_flow(la)) for la in cell["layers"])
            comments_ = list(layer_comments or []) + [None] * len(cell["layers"])
            for la, c in zip(cell["layers"], comments_):
                lines.append(f"      - {_flow(la):<{width}}" + (f"  # {c}" if c else ""))
    if inputs:
        lines += ["", "inputs:"]
    for area, items in inputs.items():
        data["inputs"][area] = [d for d, _ in items]
        lines.append(f"  {area}:")
        if area == "tomo":
            lines.append("    # time_s: start of each scan, s since the start of the cell's "
                         "log (also in the files' /process/acquisition/start_date)")
        for d, c in items:
            if c:
                lines.append(f"    # {c}")
            lines.append(f"    - {_flow(d)}")
    if analysis:
        lines += ["", "analysis:"]
    for area, d in analysis.items():
        data["analysis"][area] = d
        lines.append(f"  {area}:")
        for k, v in d.items():
            if isinstance(v, list) and v and isinstance(v[0], dict):
                lines.append(f"    {k}:")
                lines += [f"      - {_flow(x)}" for x in v]
                continue
            if area == "tomo" and k == "series":
                lines.append(f"    {k}:  # settings of one series' cell, not shared with the "
                             "other series")
                lines += [f"      {_flow({s_: sv})[1:-1]}" for s_, sv in v.items()]
                continue
            val = _flow({k: v})[1:-1]
            lines.append(f"    {val}")
    if twin:
        data["twin"] = twin
        lines += ["", "# studies that still run as in-memory twins (their raw files are not written yet)",
                  f"twin: {_flow(twin)}"]
    text = "\n".join(lines) + "\n"
    back = yaml.safe_load(text)
    if back != json.loads(json.dumps(data)):
        raise RuntimeError("experiment YAML does not parse back to its mapping (writer bug)")
    from_dict(back, source=str(path), base_dir=path.parent)
    return _atomic_text(path, text)


def _merge_tomo_analysis(parts) -> dict:
    """``analysis.tomo`` of several parts: a setting every part with CT series gives alike is
    shared, one that differs (or that only some parts give) goes under
    ``series.<name>`` of that part's series (``inputs.tomo[].series``), so that one cell's
    settings never reach another cell's series.  A part without CT inputs (or a single part
    with CT series): its settings are shared (lists as a union, other values the last part's).

    Parameters
    ----------
    parts : sequence of FolderPart

    Returns
    -------
    dict
        The ``analysis.tomo`` mapping (empty when no part gives one).
    """
    given = [(list(dict.fromkeys(d["series"] for d, _ in p.inputs.get("tomo", ())
                                 if d.get("series") is not None)), p.analysis["tomo"])
             for p in parts if p.analysis.get("tomo")]
    shared = {}

    def merge(d):  # lists merge as a union (order kept), other values: the last part's
        for k, v in d.items():
            if isinstance(v, list) and isinstance(shared.get(k), list):
                shared[k] = shared[k] + [x for x in v if x not in shared[k]]
            else:
                shared[k] = v

    for names, d in given:
        if not names:
            merge(d)
    own = [(names, d) for names, d in given if names]
    if len(own) == 1:
        merge(own[0][1])
        return shared
    per = {}
    keys = list(dict.fromkeys(k for _, d in own for k in d))
    for k in keys:
        vals = [d.get(k, _MISSING) for _, d in own]
        if all(v is not _MISSING and v == vals[0] for v in vals):
            shared[k] = vals[0]
            continue
        for names, d in own:
            if k in d:
                for n in names:
                    per.setdefault(n, {})[k] = d[k]
    if per:
        shared["series"] = per
    return shared


_MISSING = object()


def write_truth_json(path, parts, **meta) -> Path:
    """Write the parts' ground truth (merged by top-level key) as ``truth.json``."""
    out = {"about": ("ground truth of the ssbscope digital twin for the files beside it; no "
                     "analysis reads it (tests and the report compare with it)"), **meta}
    for p in parts:
        for k, v in p.truth.items():
            if isinstance(v, dict):
                out.setdefault(k, {}).update(v)
            else:
                out[k] = v
    return _atomic_text(Path(path), json.dumps(out, indent=1, sort_keys=False,
                                               ensure_ascii=False, allow_nan=False) + "\n")


def write_ct_experiment(out_dir, *, design: str = "anode_free", size: str = "small",
                        seed: int = 0, progress=None, case: str = "B",
                        plating: str = "texture") -> ExperimentFolder:
    """Write an operando CT experiment folder of one cell (see the module docstring).

    Parameters
    ----------
    out_dir : str or Path
        Folder (created; existing files of the same names are replaced).
    design : {"anode_free", "symmetric"}
    size : {"tiny", "small", "medium"}
    seed : int
    progress : callable, optional
        ``progress(iterable, desc=...)``.
    case : {"B", "A"}
        Anode-free design: the paper's case (see :func:`ct_series_part`).
    plating : {"texture", "model"}
        Anode-free design: the plated layer's lateral pattern (see :func:`ct_series_part`).

    Returns
    -------
    ExperimentFolder
    """
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    part = ct_series_part(root, design=design, size=size, seed=seed, progress=progress,
                          case=case, plating=plating)
    title = {"anode_free": f"Anode-free Cu | Li6PS5Cl | Li, operando CT (case {str(case).upper()})",
             "symmetric": "Symmetric Li | Li6PS5Cl | Li, CT during plating"}[design]
    truth = write_truth_json(root / "truth.json", [part], design=design, size=size, seed=seed)
    yml = write_experiment_yaml(root / "experiment.yaml", [part], name=title, seed=seed)
    files = tuple(sorted(part.files + ["experiment.yaml", "truth.json"]))
    return ExperimentFolder(root=root, yaml_path=yml, truth_path=truth, files=files)
