"""The experiment folder of ``ssbscope demo``: the twin's raw files, a YAML and the truth apart.

``ssbscope demo --out DIR`` is exactly two steps:

1. :func:`write_demo_folder` writes ``DIR/experiment/`` the way beamlines and cyclers would
   leave it: potentiostat logs in real formats (BioLogic ``.mpt``, Neware and generic CSV,
   PEIS ``.mpt``); the anode-free Cu | Li6PS5Cl | Li CT series and the soft-short pellet scan as
   Data Exchange HDF5 files (:mod:`ssbscope.twin.folder`); the coin cell's XCS series as event
   files with its flood and calibration (:mod:`ssbscope.twin.xcs_series`); the soft-short
   cell's neutron radiographs as FITS frames with open beam and dark
   and its neutron CT pair before/after the charge as FITS frames per rotation angle
   (:mod:`ssbscope.twin.neutron_folder`); an ``experiment.yaml`` a user could have written
   (cells, inputs, analysis keys of :mod:`ssbscope.config`); the ground truth in
   ``truth.json`` beside it.
2. ``ssbscope run DIR/experiment/experiment.yaml --out DIR``: the user's pipeline, which reads
   no truth (the report shows ``truth.json`` beside the measured values).

The coin cell's XCS series is unmixed with the phase fractions of its segmented CT series
(``coin``, :mod:`ssbscope.twin.coin_ct`; ``analysis.compton.ct_series``), placed in the cell by
its measured anode|SPE interface (``ct_register_interface``; the true height is in
``truth.json`` only): the XCS-CT
correlation and the Compton profiles are run-path products (``compton/xcs/ct_fractions``,
``compton/xcs/profiles``).  The same CT series asks for the Li+ flux through its anode|SPE
interphase region (``analysis.transport.interface_regions``, truth per scan in
``truth.json``), and the anode-free series has one scan displaced in-plane (the cell
remounted, :mod:`ssbscope.twin.params_001` ``demo_drift_yx``) that the tomo chain registers
back before the current-density maps.  The contoured-interface study of Zhang et al. 2024 needs
no files: the YAML declares it under ``analysis.interface`` (``contours``,
``grid_convergence``, ``surface_fields``; :func:`contour_study_part`) and ``ssbscope run``
computes it like any user's.  No in-memory twin study is left: every demo product comes from
the folder's files and its YAML.

Papers: Huang et al. 2024 (doi:10.1016/j.xcrp.2024.101995), Sandoval et al. 2025
(doi:10.1039/d5eb00111k), Cao et al. 2023 (doi:10.1002/adfm.202307998), Zhang et al. 2024
(doi:10.1039/d3ee03322h).
"""

from __future__ import annotations

import math
from pathlib import Path

from ssbscope.twin.folder import (ExperimentFolder, FolderPart, ct_series_part, soft_short_part,
                                  write_experiment_yaml, write_truth_json)

__all__ = ["write_demo_folder", "echem_part", "contour_study_part", "TWIN_STUDIES", "MODALITIES"]

#: Every area the demo covers.
MODALITIES = ("echem", "tomo", "compton", "neutron", "transport", "interface")

#: Areas whose demo still runs as an in-memory twin study (``twin.modalities``): none left.
TWIN_STUDIES: tuple[str, ...] = ()

#: Echem twin logs: name -> (file, cell key or None for the main cell, description).
_ECHEM_LOGS = {
    "first_cycle": ("nmc622_first_cycle.mpt", None,
                    "NMC622 | PEO-LiTFSI | Li coin cell, first cycle at 0.3 mA cm-2, 3.0-4.3 V + CV hold"),
    "anode_free": ("anode_free_case_B.mpt", "anode_free",
                   "anode-free Cu | Li6PS5Cl | Li, case B: plate/strip, rising current to a short"),
    "short_clean": ("sulfide_c20_clean_neware.csv", "sulfide_clean",
                    "NMC811 | Li5.4PS4.6Cl1.4 | Li, C/20 charge, normal"),
    "short_soft": ("sulfide_c20_soft_short.mpt", "sulfide_soft",
                   "NMC811 | Li5.4PS4.6Cl1.4 | Li, C/20 charge, soft short"),
    "short_hard": ("sulfide_c20_hard_short.csv", "sulfide_hard",
                   "NMC811 | Li5.4PS4.6Cl1.4 | Li, C/20 charge, hard short"),
    "ccd": ("li_lpscl_li_ccd.csv", "ccd",
            "Li | Li6PS5Cl | Li, stepped plating for the critical current density"),
}

#: Logging intervals (s) per twin size: (first cycle, anode-free, sulfide charges, CCD).
_DT = {"tiny": (300.0, 60.0, 60.0, 20.0), "small": (30.0, 30.0, 30.0, 5.0),
       "medium": (10.0, 10.0, 10.0, 2.0)}


def _num(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def echem_part(root, *, size: str = "small", seed: int = 0, skip=()) -> FolderPart:
    """Write the echem twins' potentiostat files into ``root/echem`` as a folder part.

    Parameters
    ----------
    root : path
        Experiment folder.
    size : {"tiny", "small", "medium"}
        Logging intervals.
    seed : int
    skip : iterable of str
        Logs another part writes (the anode-free log comes with the CT series).

    Returns
    -------
    FolderPart
        Cells, ``inputs.echem`` (cycling logs and PEIS spectra with their times),
        ``analysis.echem.states`` (the scan states of the first cycle, Huang et al. 2024
        Fig. 1E) and the truth (``echem.logs``, ``echem.states``, ``echem.eis``).
    """
    from ssbscope.twin import echem as T
    from ssbscope.twin import formats as F

    root = Path(root)
    (root / "echem").mkdir(parents=True, exist_ok=True)
    dt = _DT[size]
    makers = {
        "first_cycle": lambda: T.nmc622_first_cycle(seed=seed, dt_s=dt[0]),
        "anode_free": lambda: T.anode_free_cell("B", seed=seed + 1, dt_s=dt[1]),
        "short_clean": lambda: T.sulfide_charge("clean", seed=seed + 2, dt_s=dt[2]),
        "short_soft": lambda: T.sulfide_charge("soft", seed=seed + 3, dt_s=dt[2]),
        "short_hard": lambda: T.sulfide_charge("hard", seed=seed + 4, dt_s=dt[2]),
        "ccd": lambda: T.ccd_staircase(seed=seed + 5, dt_s=dt[3]),
    }
    part = FolderPart()
    entries, logs = [], {}
    cyc = None
    for name, make in makers.items():
        if name in skip:
            continue
        tw = make()
        if name == "first_cycle":
            cyc = tw
        fname, cell, desc = _ECHEM_LOGS[name]
        F.write_twin(tw, root / "echem" / fname)
        part.files.append(f"echem/{fname}")
        area = _num(getattr(tw, "area_cm2", None))
        mass = _num(getattr(tw, "active_mass_mg", None))
        entry = {"path": f"echem/{fname}", "label": name}
        if cell is not None:
            geometry = {"area_cm2": round(area, 6)} if area else {}
            if mass:
                geometry["active_mass_mg"] = round(mass, 4)
            part.cells[cell] = (geometry, desc.split(",")[0], [])
            entry["cell"] = cell
        comment = None
        # a log whose instrument counted the negative electrode's current: the user flips it
        if getattr(tw, "instrument_current_sign", 1) < 0 and fname.endswith(".mpt"):
            entry["invert_current"] = True
            comment = f"{name}: the instrument logged the working electrode's current (plating negative)"
        entries.append((entry, comment))
        logs[name] = {"file": f"echem/{fname}", "description": desc, "area_cm2": area,
                      "active_mass_mg": mass,
                      "ce_fraction": _num(getattr(tw, "coulombic_efficiency", None)),
                      "short_kind": getattr(tw, "short_kind", None) or "",
                      "short_onset_s": _num(getattr(tw, "short_onset_s", None)),
                      "ccd_ma_cm2": _num(getattr(tw, "ccd_ma_cm2", None))}
    truth = {"logs": logs}
    if cyc is not None:
        eis = []
        for k, sp in enumerate(T.first_cycle_eis(cyc, seed=seed + 100)):
            fname = f"peis_{k}_{sp.label.replace(' ', '_')}.mpt"
            F.write_twin(sp, root / "echem" / fname)
            part.files.append(f"echem/{fname}")
            entries.append(({"path": f"echem/{fname}", "kind": "eis", "label": sp.label,
                             "time_s": round(float(sp.time_s), 1)},
                            "impedance spectrum at a scan state" if k == 0 else None))
            eis.append({"label": sp.label, "time_s": round(float(sp.time_s), 1),
                        "r_s_ohm": float(sp.r_s_ohm), "r_ct_ohm": float(sp.r_ct_ohm)})
        part.analysis["echem"] = {"drop_mV": 2.0, "states": [
            {"label": st.label, "time_s": round(float(st.time_s), 1)} for st in cyc.states]}
        truth.update(
            eis=eis,
            states=[{"label": st.label, "kind": st.kind, "fraction": float(st.fraction),
                     "time_s": round(float(st.time_s), 1)} for st in cyc.states],
            first_cycle={"charge_capacity_mAh": float(cyc.charge_capacity_mah),
                         "discharge_capacity_mAh": float(cyc.discharge_capacity_mah),
                         "coulombic_efficiency": float(cyc.coulombic_efficiency)})
    part.inputs["echem"] = entries
    part.truth = {"echem": truth}
    part.comments.append("echem: the papers' potentiostat logs (BioLogic .mpt, Neware and "
                         "generic CSV) and impedance spectra of the first cycle.")
    return part


#: Projections of the coin cell's CT at size tiny (the tests' demo; the physics is the same).
COIN_CT_TINY_ANGLES = 300

#: XCS photons per exposure and flood photons per twin size.
#: (photons within the simulated 8.4 mm disc: 1.6 x those of the analysed 6.6 mm disc before
#: the radial profile reached the anode's rim)
_XCS_PHOTONS = {"tiny": (50_000, 500_000), "small": (160_000, 500_000), "medium": (480_000, 800_000)}


def xcs_part(root, *, size: str = "small", seed: int = 0,
             ct_series: str | None = None) -> tuple[FolderPart, dict]:
    """The coin cell's operando XCS series (Huang et al. 2024) as event files in ``root/xcs``.

    With ``ct_series`` (the coin cell's CT series in the same folder) the YAML asks for the
    XCS-CT correlation: the sheet fractions come from the segmented CT of each state.

    Returns
    -------
    (FolderPart, dict)
        The part (``inputs.compton``, ``analysis.compton``, truth ``compton``) and the coin
        cell's YAML mapping (layers from the bottom of the can, z = 0, to the cap), which the
        demo uses as its top-level cell.
    """
    from ssbscope.twin.xcs_series import write_xcs_series

    root = Path(root)
    n_ph, n_fl = _XCS_PHOTONS[size]
    xs = write_xcs_series(root / "xcs", n_photons=n_ph, flood_photons=n_fl, seed=seed, ct_series=ct_series)
    for stray in (xs.yaml_path, xs.truth_path):  # the demo folder has one YAML and one truth
        stray.unlink(missing_ok=True)
    part = FolderPart()
    entries = []
    for k, item in enumerate(xs.experiment["inputs"]["compton"]):
        item = dict(item)
        for key in ("path", "calibration", "flood"):
            if key in item:
                item[key] = f"xcs/{item[key]}"
        entries.append((item, "one event file per state and sheet height (HEXITEC, ADU); "
                              "calibration and Am-241 flood of the same detector" if k == 0 else None))
        part.files.append(item["path"])
    part.files += ["xcs/calibration.npz", "xcs/am241_flood.ssbevt"]
    part.inputs["compton"] = entries
    part.analysis["compton"] = dict(xs.experiment["analysis"]["compton"])
    part.truth = {"compton": xs.truth}
    part.comments.append("compton: operando XCS series of the coin cell at three states, the "
                         "paper's three sheet heights and one in the bulk Li (Huang et al. 2024); "
                         "the anode/SPE interphase is its own layer (Li0 + Li-salt-rich PEO + SEI).")
    return part, dict(xs.experiment["cell"])


#: Contour-study series of the demo per size: (quarter-cell grid, egg-box creep grid, series).
_CONTOUR_SIZES = {
    "tiny": (10, 4, ("shapes", "constant_S")),
    "small": (12, 4, ("shapes", "constant_S", "constant_H", "constant_ratio", "kinetics")),
    "medium": (16, 6, ("shapes", "constant_S", "constant_H", "constant_ratio", "shapes_H",
                       "kinetics")),
}


def contour_study_part(*, size: str = "small") -> FolderPart:
    """The contoured-interface study of Zhang et al. 2024 as ``analysis.interface`` settings.

    No files: the study is a model run.  Series (``analysis.interface.contours``): the three
    shapes at H25S150 (Fig. 1; finite-slope creep on 6 elements, the grid-extrapolated pressure
    beside it), H at S = 150 um (Fig. 3a-c) and, from size small, S at H = 25 um, fixed H/S
    (Figs. 2, 3d-f) and the H series to H/S = 1 at R_ct x 1, 4, 15 (the Wagner-number study),
    at size medium also the three shapes along H (``shapes_H``); egg-box series on 4 (tiny,
    small) or 6 (medium) creep elements.  The grid convergence of the maximum current at
    H25S150 on 8, n, n + 4 intervals and the current maps of the three shapes (n = 10, 12, 16
    intervals per quarter cell for tiny, small, medium).  R_ct 10 Ohm cm2, 2 mS/cm, 1 mm and
    the other parameters are the defaults of :class:`ssbscope.config.InterfaceAnalysis`.

    Parameters
    ----------
    size : {"tiny", "small", "medium"}

    Returns
    -------
    ssbscope.twin.folder.FolderPart
    """
    n, egg_n, names = _CONTOUR_SIZES[size if size in _CONTOUR_SIZES else "small"]
    contours = []
    for name in names:
        if name == "shapes":
            contours.append({"series": "shapes", "cases": "shapes",
                             "shapes": ["egg-box", "pyramid", "frustum"], "stokes_n_xy": 6})
        elif name == "shapes_H":
            contours.append({"series": "shapes_H", "cases": "constant_S",
                             "shapes": ["egg-box", "pyramid", "frustum"], "stokes_n_xy": 6})
        elif name == "kinetics":
            contours.append({"series": "kinetics", "cases": "kinetics",
                             "r_ct_factors": [1.0, 4.0, 15.0], "stokes_n_xy": egg_n})
        else:
            contours.append({"series": name, "cases": name, "stokes_n_xy": egg_n})
    part = FolderPart()
    part.analysis["interface"] = {
        "r_ct_ohm_cm2": 10.0, "conductivity_s_cm": 2e-3, "n_xy": n, "contours": contours,
        "grid_convergence": {"case": [25.0, 150.0], "grids": [8, n, n + 4]},
        "surface_fields": {"case": [25.0, 150.0]}}
    part.comments.append("analysis.interface.contours: the contoured-interface study of Zhang "
                         "et al. 2024 (a model run, no files)")
    return part


def write_demo_folder(out_dir, *, size: str = "small", seed: int = 0,
                      modalities=None, coin_ct: bool = True) -> ExperimentFolder:
    """Write the demo's experiment folder (raw files, ``experiment.yaml``, ``truth.json``).

    Parameters
    ----------
    out_dir : path
        The experiment folder to write (created; files in it are overwritten atomically).
    size : {"tiny", "small", "medium"}
        Twin size (``tiny`` for tests, ``small`` for the demo).
    seed : int
        Seed of every random draw; the same seed writes the same bytes.
    modalities : list of str, optional
        Restrict to these areas (:data:`MODALITIES`); default all.
    coin_ct : bool
        With ``tomo``, also write the coin cell's 115 keV phase-contrast CT series of its
        anode|SPE region (:func:`ssbscope.twin.coin_ct.coin_ct_part`, series ``coin``; at size
        tiny with 300 projections instead of 600, :data:`COIN_CT_TINY_ANGLES`), whose segmented
        labels give the XCS series' sheet fractions (``analysis.compton.ct_series``).  On by
        default; without it the XCS series is unmixed with the declared layers.  Cost measured
        alone (write + ``ssbscope run`` of the series, one process): 24 s CPU at tiny with 300
        projections (18 s with 150; the 600 of :data:`ssbscope.twin.coin_ct.COIN_CT_SIZES` give
        the same XCS EMFs to 0.1 %).

    Returns
    -------
    ssbscope.twin.folder.ExperimentFolder
    """
    from ssbscope.twin.experiment import ACTIVE_MASS_MG, CATHODE_DIAMETER_MM

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    wanted = list(modalities) if modalities else list(MODALITIES)
    parts = []
    if "tomo" in wanted:
        # the anode-free cell's CT series with its own potentiostat log (Sandoval et al. 2025)
        # one scan displaced in-plane (the cell remounted), registered back by the tomo chain
        from ssbscope.twin.params_001 import p as p001

        ct = ct_series_part(root, design="anode_free", size=size, seed=seed,
                            series="anode_free", echem_label="anode_free",
                            drift=(int(p001("demo_drift_scan")),
                                   tuple(int(v) for v in p001("demo_drift_yx"))))
        parts.append(ct)
        # the sulfide pellet behind a soft short, one scan of its own cell (Cao et al. 2023)
        parts.append(soft_short_part(root, size=size, seed=seed, series="soft_short"))
    if coin_ct and "tomo" in wanted:
        from ssbscope.twin.coin_ct import coin_ct_part

        parts.append(coin_ct_part(root, size=size, seed=seed, series="coin",
                                  n_angles=COIN_CT_TINY_ANGLES if size == "tiny" else None))
    if "echem" in wanted:
        ech = echem_part(root, size=size, seed=seed,
                         skip=("anode_free",) if "tomo" in wanted else ())
        if "tomo" in wanted:  # the anode-free log's truth comes with the CT series
            (log_truth,) = ct.truth["echem"].values()
            ech.truth["echem"]["logs"]["anode_free"] = {
                "file": next(iter(ct.truth["echem"])), "area_cm2": log_truth["area_cm2"],
                "ce_fraction": log_truth.get("ce_fraction"),
                "short_kind": log_truth.get("short_kind", ""),
                "short_onset_s": log_truth.get("short_onset_s")}
            ech.cells.pop("anode_free", None)
        parts.insert(0, ech)
    elif "tomo" in wanted:
        ct.inputs.pop("echem", None)  # the CT series alone: no log, times from the YAML
    if "neutron" in wanted:  # the radiography of the soft-shorting cell (Cao et al. 2023)
        from ssbscope.twin.neutron_folder import NEUTRON_CELL, neutron_part

        from ssbscope.twin.neutron_folder import neutron_ct_part

        npart = neutron_part(root, size=size, seed=seed)
        if "echem" in wanted:  # the cell (and its charge log) come with the echem part
            npart.cells.pop(NEUTRON_CELL, None)
        # the same cell's neutron CT before the charge and after the soft short
        ctp = neutron_ct_part(root, size=size, seed=seed)
        npart.files += ctp.files
        npart.inputs["neutron"] += ctp.inputs["neutron"]
        npart.analysis["neutron"].update(ctp.analysis["neutron"])
        npart.truth["neutron"].update(ctp.truth["neutron"])
        npart.comments += ctp.comments
        parts.append(npart)
    if "interface" in wanted:  # the contour study: a model the YAML declares, no files
        parts.append(contour_study_part(size=size))
    studies = [m for m in TWIN_STUDIES if m in wanted]
    cell = {"name": "CR2032 NMC622 | PEO-LiTFSI | Li", "diameter_mm": CATHODE_DIAMETER_MM,
            "active_mass_mg": ACTIVE_MASS_MG,
            "layers": [  # bottom of the can (z = 0) to the cap
                {"name": "Li anode", "material": "Li", "thickness_um": 250.0, "diameter_mm": 16.0},
                {"name": "SPE", "material": "PEO-LiTFSI", "thickness_um": 30.0, "diameter_mm": 18.0},
                {"name": "composite cathode", "material": "NMC622", "thickness_um": 65.0,
                 "diameter_mm": 14.0},
                {"name": "Al current collector", "material": "Al", "thickness_um": 15.0}]}
    if "compton" in wanted:
        xpart, xcell = xcs_part(root, size=size, seed=seed,
                                ct_series="coin" if coin_ct and "tomo" in wanted else None)
        parts.append(xpart)
        # the XCS twin's coin cell, as its series declares it (same cell as the first-cycle log)
        cell = {"name": cell["name"], "diameter_mm": xcell.get("diameter_mm", CATHODE_DIAMETER_MM),
                "active_mass_mg": ACTIVE_MASS_MG, "layers": xcell["layers"]}
    name = "ssbscope demo: digital twin of operando solid-state Li battery experiments"
    description = ("NMC622 | PEO-LiTFSI | Li coin cell (Huang et al. 2024), anode-free "
                   "Cu | Li6PS5Cl | Li (Sandoval et al. 2025), soft-shorting sulfide cells "
                   "(Cao et al. 2023), Li | Li6PS5Cl | Li critical current and contoured "
                   "interfaces (Zhang et al. 2024)")
    twin = {"modalities": studies, "size": size} if studies else None
    truth = write_truth_json(root / "truth.json", parts, size=size, seed=int(seed))
    yml = write_experiment_yaml(root / "experiment.yaml", parts, name=name, seed=seed,
                                description=description, cell=cell, twin=twin)
    files = tuple(sorted([f for p in parts for f in p.files] + ["experiment.yaml", "truth.json"]))
    return ExperimentFolder(root=root, yaml_path=yml, truth_path=truth, files=files)
