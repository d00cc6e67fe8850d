"""An operando XCS series of the 000_ coin cell written as a user's files (000_290f30815ae66793).

:func:`write_xcs_series` simulates, with the XCS twin (:mod:`ssbscope.twin.xcs`: full HEXITEC
model, ADU with per-pixel gains), the exposures of the coin cell of Huang et al., Cell Rep.
Phys. Sci. 5, 101995 (2024), doi:10.1016/j.xcrp.2024.101995, at several electrochemical
states (Li content of the cathode and plated Li from the electrochemistry twin by Faraday's
law, :func:`ssbscope.twin.xcs.states_from_echem`), with the anode/SPE interphase of the
paper-000 table (:mod:`ssbscope.twin.params_000`, :func:`ssbscope.twin.xcs.interphase_states`:
Li0 + Li-salt-rich PEO + SEI whose plated Li0 rises on charge and partly stays after discharge,
more under the cathode's centre than at its edge, none on the anode's rim), at the three sheet
heights of the paper (cathode-, interphase- and anode-dominant) plus one in the bulk Li (four
components need four heights; fixed at the pristine cell's heights, the stage does not follow
the growing anode), and writes them as a user would have them:

* one ``.ssbevt`` event file per state and beam height (pulse heights in ADU);
* an Am-241 flood of the same detector (``am241_flood.ssbevt``) for the tail correction;
* the detector's per-pixel energy calibration (``calibration.npz``: the detector's gains
  and offsets, as a vendor calibration; no property of the cell);
* ``experiment.yaml``: the cell's layers (bottom of the can = z = 0), one
  ``inputs.compton`` entry per file with ``series``, ``state``, ``time_s``,
  ``beam_height_um`` (sheet centre above z = 0), the pinhole geometry and the state's anode
  thickness from Faraday's law (``layer_thickness_um``), and ``analysis.compton``;
* ``truth.json`` apart (never read by the analysis): the EMF of each layer's true spectrum
  broadened by the detector's Gaussian resolution (``true_emf_resolution``, the reference of
  a measurement corrected for the tail, efficiency and angles) and of its true profile
  (``true_emf``), per state (ringed layers as their mixture over the analysed disc), and
  ``interphase``: the interphase's EMF per state, relative changes, per-ring, centre, edge and
  rim values, composition, and the paper's Table 1 values beside them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["XcsSeriesFolder", "write_xcs_series", "COMPONENTS", "CT_REGISTER_INTERFACE", "resolved_emf",
           "mix_composition"]

#: Layers of the twin's coin cell that the four sheet heights cross (bottom to top).
COMPONENTS = ("anode", "interphase", "SPE", "cathode")
#: Interface of the coin CT (its cell's anode|SPE) on which the XCS series registers the CT:
#: the CT sees the interphase as anode, so its anode|SPE is the XCS cell's bottom of the SPE.
CT_REGISTER_INTERFACE = "anode|SPE"
#: Declared materials; the interphase (Li0 + Li-salt-rich PEO + SEI, see params_000) is declared by
#: its SEI's carbonate, which tells it from the bulk Li where CT phases give the sheet fractions.
_MATERIALS = {"can": "steel", "anode": "Li", "interphase": "Li2CO3", "SPE": "PEO-LiTFSI", "cathode": "NMC622",
              "Al": "Al", "cap": "steel"}


@dataclass(frozen=True)
class XcsSeriesFolder:
    """What :func:`write_xcs_series` wrote.

    Attributes
    ----------
    folder, yaml_path, truth_path : Path
    experiment : dict
        The experiment file's content.
    truth : dict
        ``states``, ``time_s``, ``components``, ``true_emf`` and ``true_emf_resolution``
        (state x component lists), ``x_cathode`` and ``anode_thickness_um`` per state.
    """

    folder: Path
    yaml_path: Path
    truth_path: Path
    experiment: dict = field(repr=False)
    truth: dict = field(repr=False)


def write_xcs_series(folder, *, states=("pristine", "fully charged", "fully discharged"),
                     n_photons: int = 100_000, flood_photons: int = 500_000, seed: int = 0,
                     series: str = "xcs", low_au=(0.0, 1.0), high_au=(1.0, 5.0),
                     roi_radius_mm: float | None = None, mask_radius_mm: float = 6.0,
                     radial_edges_mm=(0.0, 3.0, 6.0, 7.0, 8.0), ct_series: str | None = None,
                     ct_phases=None) -> XcsSeriesFolder:
    """Write an operando XCS series of the twin's coin cell as event files + experiment.yaml.

    Parameters
    ----------
    folder : path
        Created if missing.
    states : sequence of str
        Scan states of the electrochemistry twin (:func:`ssbscope.twin.xcs.states_from_echem`).
    n_photons : int
        Scattered photons of the first exposure from the central ``roi_radius_mm`` disc; all
        exposures share its incident fluence (so ``monitor`` is 1 for each).
    flood_photons : int
        Am-241 flood photons (59.54 and 26.34 keV lines): 500 000 let ``flood_tail_scaling:
        auto`` tell the tail's energy scaling (deviance difference +25 to +49 over 4 seeds, 100 000
        gave -3 to +9, inconclusive against the threshold 6).
    seed : int
    series : str
        Series name in the experiment file.
    low_au, high_au : (float, float)
        EMF windows (a.u.) of the truth and of ``analysis.compton``.
    roi_radius_mm, mask_radius_mm : float
        Simulated disc (default 0.4 mm beyond the last radial edge, else 6.6 mm) and the
        analysed disc (``analysis.compton.mask_radius_mm``).
    radial_edges_mm : sequence of float or None
        Ring edges of the radial EMF profile (``analysis.compton.radial_edges_mm``); the
        default's last ring, 7-8 mm, is the anode's rim beyond the 14 mm cathode (Fig. 3A).
    ct_series : str, optional
        Name of a CT series of the same cell in the experiment (the coin cell's CT,
        :func:`ssbscope.twin.coin_ct.coin_ct_part`): ``analysis.compton`` then asks for the
        XCS-CT correlation (``ct_series``, the interphase
        inside the CT's anode, ``ct_phases``; the CT placed in the cell from its data:
        ``ct_register_interface`` :data:`CT_REGISTER_INTERFACE`, the mean measured height of
        the anode|SPE interface in the first scan at its declared height); the truth gets the
        CT's true height in the cell (``ct_z_offset_um``, :func:`_ct_z_offset_um`).
    ct_phases : mapping, optional
        ``analysis.compton.ct_phases`` written with ``ct_series``.

    The cell is the coin CT twin's at every state (:func:`ssbscope.twin.coin_ct.coin_roi_phantom`,
    same pristine layers): the whole anode (bulk + interphase) grows and shrinks with the CT's
    envelope (+3.7 % / -1.4 % of Fig. 3C); the bulk takes the difference to the interphase's flat
    thickness (:func:`ssbscope.twin.xcs.interphase_states`).  States the CT twin does not scan
    keep Faraday's bulk.

    Returns
    -------
    XcsSeriesFolder
    """
    import yaml

    from ssbscope.compton.events import write_events
    from ssbscope.compton.profiles import window_ratio
    from ssbscope.twin import xcs

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if roi_radius_mm is None:
        roi_radius_mm = max(6.6, float(radial_edges_mm[-1]) + 0.4) if radial_edges_mm else 6.6
    geom = xcs.XcsGeometry()
    det = xcs.DetectorModel(hits_per_frame=4.0)
    cell = xcs.CoinCell()
    sts = _ct_envelope(xcs.interphase_states(xcs.states_from_echem(cell=cell, labels=tuple(states)), cell),
                       cell, seed)
    cell = cell.with_state(sts[0])  # bulk Li + anode/SPE interphase (paper-000 table)
    heights_mm = cell.beam_centres_mm()  # pristine cell: the stage does not move
    fl = xcs.calibration_flood(int(flood_photons), geometry=geom, detector=det, seed=seed + 7, second_line=True)
    write_events(out / "am241_flood.ssbevt", fl.events, value_unit="adu", frame_rate_hz=geom.frame_rate_hz,
                 metadata={"source": "Am-241"})
    np.savez(out / "calibration.npz", gain_kev_per_unit=fl.gain_kev_per_adu, offset_kev=fl.offset_kev)
    items = []
    scale = None
    for si, st in enumerate(sts):
        c = cell.with_state(st)
        for ri, (reg, h) in enumerate(heights_mm.items()):
            ex = xcs.simulate_exposure(c, h, n_photons=int(n_photons), geometry=geom, detector=det,
                                       roi_radius_mm=roi_radius_mm, exposure_scale=scale,
                                       nz=int(round(1000.0 * geom.beam_height_mm)),  # 1 um slices
                                       seed=seed + 100 * si + ri)
            scale = ex.truth["exposure_scale"]
            name = f"{st.name.replace(' ', '_')}_z{ri + 1}"
            write_events(out / f"{name}.ssbevt", ex.events, value_unit="adu",
                         frame_rate_hz=geom.frame_rate_hz, metadata={"state": st.name, "position": reg})
            items.append({"path": f"{name}.ssbevt", "label": name, "series": series, "state": st.name,
                          "time_s": round(float(st.time_s), 3), "beam_height_um": round(1000.0 * h, 3),
                          "beam_thickness_um": 1000.0 * geom.beam_height_mm,
                          "layer_thickness_um": {"anode": round(1000.0 * st.anode_thickness_mm, 4),
                                                 "interphase": round(1000.0 * st.interphase_thickness_mm, 4)},
                          "calibration": "calibration.npz", "flood": "am241_flood.ssbevt",
                          # the twin's tail is charge shared below a neighbour's threshold
                          "flood_tail_scaling": "auto",
                          "sample_to_pinhole_mm": geom.sample_to_pinhole_mm,
                          "pinhole_to_detector_mm": geom.pinhole_to_detector_mm,
                          "pixel_pitch_mm": geom.pixel_pitch_mm,
                          "sensor_thickness_mm": geom.sensor_thickness_mm})
    radius = {"can": cell.wall_inner_radius_mm, "anode": cell.anode_radius_mm,
              "interphase": cell.anode_radius_mm, "SPE": cell.spe_radius_mm,
              "cathode": cell.cathode_radius_mm, "Al": cell.cathode_radius_mm, "cap": cell.wall_inner_radius_mm}
    layers = [{"name": ly.name, "material": _MATERIALS[ly.name], "thickness_um": round(1000.0 * ly.thickness_mm, 4),
               "diameter_mm": 2 * radius[ly.name], **({"density_g_cm3": 2.11} if ly.name == "interphase" else {})}
              for ly in cell.layers()]
    exp = {"name": "XCS operando series of the 000_ coin cell (twin)", "seed": int(seed),
           "cell": {"name": "coin cell", "diameter_mm": 2 * cell.cathode_radius_mm, "layers": layers},
           "inputs": {"compton": items},
           "analysis": {"compton": {"valence_window_au": float(low_au[1]),
                                    "core_window_au": [float(high_au[0]), float(high_au[1])],
                                    "components": list(COMPONENTS), "emf_map_block_px": 8,
                                    "mask_radius_mm": float(mask_radius_mm),
                                    **({"radial_edges_mm": [float(v) for v in radial_edges_mm]}
                                       if radial_edges_mm else {}),
                                    **({"ct_series": ct_series, "ct_register_interface": CT_REGISTER_INTERFACE,
                                        "ct_within": {"interphase": "anode"},
                                        **({"ct_phases": {k: list(v) for k, v in ct_phases.items()}}
                                           if ct_phases else {})}
                                       if ct_series else {})}}}
    yaml_path = out / "experiment.yaml"
    yaml_path.write_text(yaml.safe_dump(exp, sort_keys=False), encoding="utf-8")
    lo, hi = tuple(float(v) for v in low_au), tuple(float(v) for v in high_au)
    def disc_layers(st, radius_mm):
        # ringed layers (the interphase) as their area-weighted mixture over the analysed disc
        return [xcs.Layer(ly.name, ly.thickness_mm, ly.radius_mm, xcs.disc_components(ly, radius_mm))
                for ly in cell.with_state(st).layers()]

    true = [[window_ratio(dict(mix_composition(disc_layers(st, mask_radius_mm), comp)), low_au=lo, high_au=hi)
             for comp in COMPONENTS] for st in sts]
    true_res = [[resolved_emf(disc_layers(st, mask_radius_mm), comp, det, lo, hi) for comp in COMPONENTS]
                for st in sts]
    inter = _interphase_truth(cell, sts, det, lo, hi, mask_radius_mm, radial_edges_mm)
    truth = {"paper": "000_290f30815ae66793", "series": series, "states": [s.name for s in sts],
             "time_s": [float(s.time_s) for s in sts], "components": list(COMPONENTS),
             "true_emf": true, "true_emf_resolution": true_res,
             "x_cathode": [float(s.x_cathode) for s in sts],
             "anode_thickness_um": [1000.0 * s.anode_thickness_mm for s in sts],
             "beam_height_um": {k: 1000.0 * v for k, v in heights_mm.items()},
             "interphase_thickness_um": [1000.0 * s.interphase_thickness_mm for s in sts],
             "interphase": inter,
             "n_photons": int(n_photons), "flood_photons": int(flood_photons)}
    if ct_series:  # where the CT's region of interest truly lies in the cell (the report's reference)
        truth["ct_z_offset_um"] = _ct_z_offset_um(cell)
        truth["ct_z_offset_how"] = ("the coin CT twin's region of interest starts spacer_vox voxels below the "
                                    "anode's bottom, which sits on the can (ssbscope.twin.coin_ct.CoinCTConfig)")
    truth_path = out / "truth.json"
    truth_path.write_text(json.dumps({"compton": truth}, indent=1), encoding="utf-8")
    return XcsSeriesFolder(folder=out, yaml_path=yaml_path, truth_path=truth_path, experiment=exp, truth=truth)


def _ct_z_offset_um(cell) -> float:
    """True height of the coin CT's region of interest above the bottom of the can (the ROI's
    lowest slice lies ``spacer_vox`` voxels below the anode's bottom): the truth the data's
    registration (``analysis.compton.ct_register_interface``) is compared with."""
    from ssbscope.twin.coin_ct import CoinCTConfig

    cfg = CoinCTConfig()
    return round(1000.0 * cell.can_thickness_mm - cfg.spacer_vox * cfg.voxel_size_um, 3)


def _ct_envelope(sts, cell, seed: int = 0):
    """States whose whole anode (bulk + interphase) is the coin CT twin's envelope (same cell)."""
    from dataclasses import replace

    from ssbscope.twin.coin_ct import STATES, CoinCTConfig, coin_roi_phantom

    cfg = CoinCTConfig()
    if abs(cfg.anode_um - 1000.0 * cell.anode_thickness_mm) > 1e-6 or \
            abs(cfg.spe_um - 1000.0 * cell.spe_thickness_mm) > 1e-6 or \
            abs(cfg.cathode_um - 1000.0 * cell.cathode_thickness_mm) > 1e-6:
        raise ValueError("the XCS twin's coin cell and the coin CT twin's layers differ; they are one cell")
    out = []
    for st in sts:
        if st.name not in STATES:
            out.append(st)
            continue
        d_um = coin_roi_phantom(st.name, n_xy=24, cfg=cfg, seed=seed).truth["envelope_change_um"]
        bulk_mm = (cfg.anode_um + d_um) / 1000.0 - st.interphase_thickness_mm
        out.append(replace(st, anode_thickness_mm=float(bulk_mm)))
    return out


def _interphase_truth(cell, sts, det, lo, hi, mask_radius_mm, radial_edges_mm=None) -> dict:
    """Truth of the anode/SPE interphase: EMF per state over the analysed disc and per ring.

    Each EMF is that of the true composition's spectrum (impulse approximation, xraylib
    profiles; :func:`ssbscope.twin.xcs.true_spectrum`) broadened by the detector's Gaussian
    resolution, through the same Eqs. 3-5 windows as the analysis
    (:func:`resolved_emf`).  ``emf`` is the area-weighted mixture over
    ``r < mask_radius_mm`` (the pixels the series sums); ``ring_emf`` per ring of constant
    composition (outer radii ``ring_radius_mm``); ``centre_emf`` the innermost ring,
    ``edge_emf`` the ring at the analysed disc's edge, ``rim_emf`` the anode's rim beyond the
    cathode (not analysed by the demo's mask).
    """
    from ssbscope.twin import xcs
    from ssbscope.twin.paper_parameters import value

    emf, rings_out, radii = [], [], None
    for st in sts:
        lay = [ly for ly in cell.with_state(st).layers() if ly.name == "interphase"][0]
        disc = xcs.Layer("interphase", lay.thickness_mm, lay.radius_mm, xcs.disc_components(lay, mask_radius_mm))
        emf.append(resolved_emf([disc], "interphase", det, lo, hi))
        rings_out.append([resolved_emf([xcs.Layer("interphase", 1.0, 1.0, comps)], "interphase", det, lo, hi)
                          for _, comps in lay.rings])
        radii = [float(r) for r, _ in lay.rings]
    radial = []
    if radial_edges_mm:
        ed = [float(v) for v in radial_edges_mm]
        for st in sts:
            lay = [ly for ly in cell.with_state(st).layers() if ly.name == "interphase"][0]
            radial.append([resolved_emf([xcs.Layer("interphase", 1.0, 1.0, xcs.disc_components(lay, r1, r0))],
                                         "interphase", det, lo, hi) for r0, r1 in zip(ed, ed[1:])])
    i_edge = next(k for k, r in enumerate(radii) if r >= mask_radius_mm - 1e-9)
    rel = [100.0 * (e / emf[0] - 1.0) for e in emf]
    comp = []
    for st in sts:
        lay = [ly for ly in cell.with_state(st).layers() if ly.name == "interphase"][0]
        comp.append({m.name: round(float(f), 5) for m, f in xcs.disc_components(lay, mask_radius_mm)})
    return {"emf": emf, "relative_change_pct": rel, "ring_radius_mm": radii, "ring_emf": rings_out,
            "centre_emf": [r[0] for r in rings_out], "edge_emf": [r[i_edge] for r in rings_out],
            "edge_ring_mm": [radii[i_edge - 1] if i_edge else 0.0, radii[i_edge]],
            "rim_emf": [r[-1] for r in rings_out], "disc_radius_mm": float(mask_radius_mm),
            "radial_edges_mm": [float(v) for v in radial_edges_mm] if radial_edges_mm else None,
            "radial_emf": radial,
            "volume_fractions": comp,
            "paper_emf": list(value("000", "EMF anode at anode/SPE interphase (pristine, charged, discharged)")),
            "paper_relative_change_pct": list(value("000", "EMF change vs pristine (charged, discharged)")),
            "how": "EMF (Eqs. 3-5, windows of analysis.compton) of the true interphase composition's "
                   "spectrum (xraylib Compton profiles, impulse approximation) broadened by the "
                   "detector's Gaussian resolution; disc value = area-weighted composition within "
                   "the analysed radius"}


def resolved_emf(layers, name, det, low_au=(0.0, 1.0), high_au=(1.0, 5.0)):
    """EMF of a layer's true spectrum broadened by the detector's Gaussian resolution.

    The reference for a measured EMF whose detector tail, efficiency and attenuation are
    corrected (``compton/<series>/emf`` of :mod:`ssbscope.compton.input_stages`): only the Gaussian resolution (FWHM of
    :func:`ssbscope.twin.xcs.resolution_fwhm_kev` at each energy) is left in the data.
    """
    from ssbscope.compton.electron_momentum import broaden_spectrum, emf
    from ssbscope.twin.xcs import resolution_fwhm_kev, true_spectrum

    lay = [lay for lay in layers if lay.name == name][0]
    edges = np.arange(70.0, 116.0001, 0.05)
    e = 0.5 * (edges[1:] + edges[:-1])
    s = true_spectrum(lay.components, e)
    if det.resolution:
        s = broaden_spectrum(e, s, lambda x: resolution_fwhm_kev(x, det.fwhm_at_59_kev, det.noise_fwhm_kev))
    return emf(edges, s / s.max() * 1e6, check_peak=False, exclude_lines=None,
               low_au=low_au, high_au=high_au).value


def mix_composition(layers, name):
    """Atoms per unit volume (relative) of a layer's mixture, for its true profile."""
    from ssbscope.materials import AVOGADRO

    lay = [lay for lay in layers if lay.name == name][0]
    comp: dict[str, float] = {}
    for mat, frac in lay.components:
        n_fu = mat.density_g_cm3 / mat.molar_mass_g_mol * AVOGADRO / 1e22
        for el, n in mat.composition.items():
            comp[el] = comp.get(el, 0.0) + frac * n_fu * n
    return comp
