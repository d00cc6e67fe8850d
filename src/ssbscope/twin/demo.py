"""The experiment folder of ``ssbscope demo``: the twin's raw files, a YAML and the truth apart.

``ssbscope demo --out DIR`` is exactly two steps:

1. :func:`write_demo_folder` writes ``DIR/experiment/`` the way a beamline and a cycler would
   leave it: potentiostat logs in real formats (BioLogic ``.mpt``, Neware and generic CSV,
   PEIS ``.mpt``), one Data Exchange HDF5 file per CT scan (:mod:`ssbscope.twin.folder`), an
   ``experiment.yaml`` a user could have written (cells, inputs, analysis keys of
   :mod:`ssbscope.config`), and the ground truth in ``truth.json`` beside it.
2. ``ssbscope run DIR/experiment/experiment.yaml --out DIR``: the user's pipeline, which reads
   no truth (the report shows ``truth.json`` beside the measured values).

The twins that do not yet write their raw files (XCS of 000_, neutron radiography of 002_,
the soft-short CT of 002_, transport and contoured interfaces of 003_) are named in the YAML's
``twin:`` section and run as in-memory twin studies by the same ``ssbscope run``.

Papers: Huang et al. 2024 (doi:10.1016/j.xcrp.2024.101995), Sandoval et al. 2025
(doi:10.1039/d5eb00111k), Cao et al. 2023 (doi:10.1002/adfm.202307998), Zhang et al. 2024
(doi:10.1039/d3ee03322h).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DemoFolder", "write_demo_folder", "write_echem_files", "TWIN_STUDIES", "dump_yaml"]

#: Areas whose demo still runs as an in-memory twin study (``twin.modalities`` of the YAML).
TWIN_STUDIES = ("tomo", "compton", "neutron", "transport", "interface")

#: Whether the anode-free CT series is written as Data Exchange files (else an in-memory study).
_CT_SERIES_FILES = False

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


@dataclass(frozen=True)
class DemoFolder:
    """What :func:`write_demo_folder` wrote.

    Attributes
    ----------
    root : Path
        The experiment folder.
    yaml_path : Path
        ``experiment.yaml``.
    truth_path : Path
        ``truth.json`` (ground truth; no analysis reads it).
    files : tuple of Path
        Every raw file written, relative to ``root``.
    """

    root: Path
    yaml_path: Path
    truth_path: Path
    files: tuple


def _num(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def write_echem_files(folder, *, size: str = "small", seed: int = 0) -> dict:
    """Write the echem twins' potentiostat files into ``folder/echem``.

    Parameters
    ----------
    folder : path
        Experiment folder.
    size : {"tiny", "small", "medium"}
        Logging intervals.
    seed : int

    Returns
    -------
    dict
        ``cells`` (name -> cell mapping for the YAML), ``main_cell`` (the top-level cell's
        area and mass), ``inputs`` (YAML ``inputs.echem`` entries), ``states`` (YAML
        ``analysis.echem.states``), ``truth`` (ground truth per log, state and spectrum),
        ``files``.
    """
    from ssbscope.twin import echem as T
    from ssbscope.twin import formats as F

    folder = Path(folder)
    out_dir = folder / "echem"
    out_dir.mkdir(parents=True, exist_ok=True)
    dt = _DT[size]
    twins = {
        "first_cycle": T.nmc622_first_cycle(seed=seed, dt_s=dt[0]),
        "anode_free": T.anode_free_cell("B", seed=seed + 1, dt_s=dt[1]),
        "short_clean": T.sulfide_charge("clean", seed=seed + 2, dt_s=dt[2]),
        "short_soft": T.sulfide_charge("soft", seed=seed + 3, dt_s=dt[2]),
        "short_hard": T.sulfide_charge("hard", seed=seed + 4, dt_s=dt[2]),
        "ccd": T.ccd_staircase(seed=seed + 5, dt_s=dt[3]),
    }
    cells, inputs, files, truth_logs = {}, [], [], {}
    main_cell = {}
    for name, tw in twins.items():
        fname, cell, desc = _ECHEM_LOGS[name]
        F.write_twin(tw, out_dir / fname)
        files.append(Path("echem") / fname)
        area = _num(getattr(tw, "area_cm2", None))
        mass = _num(getattr(tw, "active_mass_mg", None))
        geometry = {"area_cm2": round(area, 6)} if area else {}
        if mass:
            geometry["active_mass_mg"] = round(mass, 4)
        if cell is None:
            main_cell = geometry
        else:
            cells[cell] = {"name": desc.split(",")[0], **geometry}
        entry = {"path": f"echem/{fname}", "label": name}
        if cell is not None:
            entry["cell"] = cell
        # the anode-free log's instrument counts the Cu working electrode's current: plating
        # (the cell's charge) is negative there, so the user flips it, as in the paper's setup
        if getattr(tw, "instrument_current_sign", 1) < 0 and fname.endswith(".mpt"):
            entry["invert_current"] = True
        inputs.append(entry)
        truth_logs[name] = {
            "file": f"echem/{fname}", "description": desc, "area_cm2": area,
            "active_mass_mg": mass,
            "ce_fraction": _num(getattr(tw, "coulombic_efficiency", None)),
            "short_kind": getattr(tw, "short_kind", None) or "",
            "short_onset_s": _num(getattr(tw, "short_onset_s", None)),
            "ccd_ma_cm2": _num(getattr(tw, "ccd_ma_cm2", None)),
        }
    cyc = twins["first_cycle"]
    truth_eis = []
    for k, sp in enumerate(T.first_cycle_eis(cyc, seed=seed + 100)):
        fname = f"peis_{k}_{sp.label.replace(' ', '_')}.mpt"
        F.write_twin(sp, out_dir / fname)
        files.append(Path("echem") / fname)
        inputs.append({"path": f"echem/{fname}", "kind": "eis", "label": sp.label,
                       "time_s": float(sp.time_s)})
        truth_eis.append({"label": sp.label, "time_s": float(sp.time_s),
                          "r_s_ohm": float(sp.r_s_ohm), "r_ct_ohm": float(sp.r_ct_ohm)})
    states = [{"label": s.label, "time_s": float(s.time_s)} for s in cyc.states]
    truth_states = [{"label": s.label, "kind": s.kind, "fraction": float(s.fraction),
                     "time_s": float(s.time_s)} for s in cyc.states]
    truth = {"logs": truth_logs, "states": truth_states, "eis": truth_eis,
             "first_cycle": {"charge_capacity_mAh": float(cyc.charge_capacity_mah),
                             "discharge_capacity_mAh": float(cyc.discharge_capacity_mah),
                             "coulombic_efficiency": float(cyc.coulombic_efficiency)}}
    return {"cells": cells, "main_cell": main_cell, "inputs": inputs, "states": states,
            "truth": truth, "files": files}


def dump_yaml(data: dict, header: str = "") -> str:
    """An experiment mapping as YAML text (keys in the given order, short lists inline)."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _map(dumper, d):
        flow = all(not isinstance(v, (dict, list)) for v in d.values()) and len(d) <= 8
        return dumper.represent_mapping("tag:yaml.org,2002:map", d.items(), flow_style=flow)

    def _list(dumper, seq):
        flow = all(isinstance(v, (int, float, str)) for v in seq) and len(seq) <= 8
        return dumper.represent_sequence("tag:yaml.org,2002:seq", seq, flow_style=flow)

    _Dumper.add_representer(dict, _map)
    _Dumper.add_representer(list, _list)
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return (header.rstrip("\n") + "\n" if header else "") + body


def _atomic_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_demo_folder(out_dir, *, size: str = "small", seed: int = 0, modalities=None) -> DemoFolder:
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
        Restrict to these areas (echem, tomo, compton, neutron, transport, interface); default
        all.

    Returns
    -------
    DemoFolder
    """
    from ssbscope.twin.experiment import ACTIVE_MASS_MG, CATHODE_DIAMETER_MM

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    wanted = list(modalities) if modalities else ["echem", "tomo", "compton", "neutron", "transport",
                                                  "interface"]
    cells: dict = {}
    inputs: dict = {}
    analysis: dict = {}
    truth: dict = {"note": "ground truth of the digital twin; ssbscope's analysis never reads this file",
                   "seed": int(seed), "size": size}
    files: list = []
    if "echem" in wanted:
        ech = write_echem_files(root, size=size, seed=seed)
        cells.update(ech["cells"])
        inputs["echem"] = ech["inputs"]
        analysis["echem"] = {"drop_mV": 2.0, "states": ech["states"]}
        truth["echem"] = ech["truth"]
        files += ech["files"]
    if "tomo" in wanted and _CT_SERIES_FILES:
        from ssbscope.twin import folder as TF

        ct = TF.ct_series_files(root, design="anode_free", size=size, seed=seed)
        cell = dict(cells.get("anode_free", {}))
        cell.update(ct["cell"])
        cells["anode_free"] = cell
        inputs["tomo"] = ct["inputs"]
        analysis["tomo"] = ct["analysis"]
        truth["tomo"] = {ct["series"]: ct["truth"]}
        files += ct["files"]
    studies = [m for m in TWIN_STUDIES if m in wanted]
    data = {
        "name": "ssbscope demo: digital twin of operando solid-state Li battery experiments",
        "description": ("NMC622 | PEO-LiTFSI | Li coin cell (Huang et al. 2024), anode-free "
                        "Cu | Li6PS5Cl | Li (Sandoval et al. 2025), soft-shorting sulfide cells "
                        "(Cao et al. 2023), Li | Li6PS5Cl | Li critical current and contoured "
                        "interfaces (Zhang et al. 2024)."),
        "seed": int(seed),
        "cell": {"name": "CR2032 NMC622 | PEO-LiTFSI | Li", "diameter_mm": CATHODE_DIAMETER_MM,
                 "active_mass_mg": ACTIVE_MASS_MG,
                 "layers": [
                     {"name": "Al current collector", "material": "Al", "thickness_um": 15.0},
                     {"name": "composite cathode", "material": "NMC622", "thickness_um": 65.0,
                      "diameter_mm": 14.0},
                     {"name": "SPE", "material": "PEO-LiTFSI", "thickness_um": 30.0, "diameter_mm": 18.0},
                     {"name": "Li anode", "material": "Li", "thickness_um": 250.0, "diameter_mm": 16.0}]},
    }
    if cells:
        data["cells"] = cells
    if inputs:
        data["inputs"] = inputs
    if analysis:
        data["analysis"] = analysis
    if studies:
        data["twin"] = {"modalities": studies, "size": size}
    header = ("# Experiment written by the ssbscope twin (ssbscope demo): raw files beside this file,\n"
              "# the ground truth in truth.json (never read by the analysis).\n"
              "# Run it with:  ssbscope run experiment.yaml --out ../\n"
              "# twin: names the studies that still run as in-memory twins (no raw files yet).\n")
    yaml_path = root / "experiment.yaml"
    _atomic_text(yaml_path, dump_yaml(data, header))
    truth_path = root / "truth.json"
    _atomic_text(truth_path, json.dumps(_clean(truth), indent=1, sort_keys=True) + "\n")
    return DemoFolder(root=root, yaml_path=yaml_path, truth_path=truth_path, files=tuple(files))


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    return obj
