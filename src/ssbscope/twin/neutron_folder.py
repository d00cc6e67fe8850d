"""The demo folder's neutron radiography (Cao et al. 2023, doi:10.1002/adfm.202307998).

:func:`neutron_part` writes the operando radiograph series of the soft-shorting
NMC811 | Li5.4PS4.6Cl1.4 | Li cell (:func:`ssbscope.twin.neutron.simulate_radiography`) as
FITS frames with open beam and dark, the ``inputs.neutron`` entry a user would write for it
(regions of the cell middle and edge, open-beam and Cd-marker regions, camera gain) and
``analysis.neutron``, and keeps the twin's truth (bands P1-P4, soft-short onset, layer
boundaries) for ``truth.json``.  The frames run on the clock of the cell's C/20 charge log
(``echem/sulfide_c20_soft_short.mpt``, label ``short_soft``, cell ``sulfide_soft``, written by
:func:`ssbscope.twin.demo.echem_part`): both start at the start of the charge and both twins
put the soft short at the same time (4.5 h).
"""

from __future__ import annotations

from pathlib import Path

from ssbscope.twin.folder import FolderPart

__all__ = ["neutron_part", "neutron_ct_part", "NEUTRON_LABEL", "NEUTRON_CELL", "CT_LABELS"]

#: Label of the radiograph series (store keys ``neutron/input/<label>``, ``neutron/<label>/...``).
NEUTRON_LABEL = "soft_short"

#: Cell of the series: the soft-shorting sulfide cell of the echem part.
NEUTRON_CELL = "sulfide_soft"


def _region(box) -> dict:
    y0, y1, x0, x1 = (int(v) for v in box)
    return {"rows": [y0, y1], "cols": [x0, x1]}


def neutron_part(root, *, size: str = "small", seed: int = 0) -> FolderPart:
    """Write the twin's radiograph series into ``root/neutron`` as a folder part.

    Parameters
    ----------
    root : path
        Experiment folder.
    size : {"tiny", "small", "medium"}
        Series length and field (:data:`ssbscope.neutron.stages.TWIN_SIZES`).
    seed : int

    Returns
    -------
    FolderPart
        Files ``neutron/sample/frame_*.fits`` (frame time in ``TIME_S``/``DATE-OBS``),
        ``neutron/open_beam/ob_*.fits``, ``neutron/dark/df_*.fits``; ``inputs.neutron`` (one
        entry, label :data:`NEUTRON_LABEL`, cell :data:`NEUTRON_CELL`, ``time_s: 0``);
        ``analysis.neutron``; the cell ``sulfide_soft`` (geometry of the echem twin, dropped by
        the caller when the echem part defines it); truth ``neutron.<label>``:
        ``soft_short_onset_s``, ``bands`` (P1-P4: rows [first, end), sign +1 enrichment,
        kind, region, onset_s), ``layer_boundaries_px`` (frame rows), ``regions``,
        ``pixel_size_um``.
    """
    from ssbscope.neutron.stages import TWIN_SIZES
    from ssbscope.twin.echem import sulfide_charge
    from ssbscope.twin.neutron import simulate_radiography, write_series

    if size not in TWIN_SIZES:
        raise ValueError(f"size {size!r}: must be one of {', '.join(TWIN_SIZES)}")
    root = Path(root)
    # the soft short of the cell's charge log (the echem part's twin: 4.5 h)
    log = sulfide_charge("soft", seed=seed + 3, dt_s=60.0)
    onset_s = float(log.short_onset_s)
    tw = simulate_radiography(seed=seed, soft_short_onset_s=onset_s, **TWIN_SIZES[size])
    files = write_series(tw, root / "neutron", fmt="fits")
    cfg, tr = tw.config, tw.truth
    part = FolderPart()
    part.files += [str(Path(p).relative_to(root)) for k in ("sample", "open_beam", "dark")
                   for p in files[k]]
    entry = {"path": "neutron/sample/*.fits", "label": NEUTRON_LABEL, "cell": NEUTRON_CELL,
             "time_s": 0.0, "open_beam": "neutron/open_beam/*.fits", "dark": "neutron/dark/*.fits",
             "pixel_size_um": float(cfg.pixel_size_um), "gain_adu_per_count": float(cfg.gain_adu_per_count),
             "beam_roi": _region(tr.rois["beam"]), "background_roi": _region(tr.rois["background"]),
             "regions": {"I": _region(tr.rois["I"]), "II": _region(tr.rois["II"])}}
    part.inputs["neutron"] = [(entry, "operando radiographs of the soft-shorting cell (CG-1D, FITS "
                               "frames with TIME_S), open beam and dark; regions I (cell middle) and "
                               "II (cell edge), open-beam region for the beam correction, Cd marker "
                               "for the static background")]
    part.analysis["neutron"] = {"bin_frames": 30, "reference_index": 0, "onset_region": "I"}
    part.cells[NEUTRON_CELL] = ({"area_cm2": round(float(log.area_cm2), 6),
                                 "active_mass_mg": round(float(log.active_mass_mg), 4)},
                                "NMC811 | Li5.4PS4.6Cl1.4 | Li", [])
    bands = {b: {"rows": [int(v["rows"][0]), int(v["rows"][1])], "sign": int(v["sign"]),
                 "kind": v["kind"], "region": v["roi"], "onset_s": float(v["onset_s"])}
             for b, v in tr.bands.items()}
    part.truth = {"neutron": {NEUTRON_LABEL: {
        "description": "operando neutron radiography of the soft-shorting sulfide cell (Cao et al. 2023)",
        "soft_short_onset_s": None if tr.soft_short_onset_s is None else float(tr.soft_short_onset_s),
        "bands": bands,
        "layer_boundaries_px": {k: float(v) for k, v in tr.layer_boundaries_px.items()},
        "regions": {k: [int(v) for v in box] for k, box in tr.rois.items()},
        "pixel_size_um": float(cfg.pixel_size_um), "n_frames": int(cfg.n_frames),
        "frame_interval_s": float(cfg.frame_interval_s)}}}
    part.comments.append("neutron: operando radiography of the soft-shorting sulfide cell "
                         "(Cao et al. 2023) on the clock of its charge log (short_soft).")
    return part


#: Labels of the neutron CT scans before and after the charge (``neutron/<label>/volume``).
CT_LABELS = ("ct_before", "ct_after")

#: Projections per scan and open-beam counts per pixel, per twin size.
_CT_SIZES = {"tiny": (72, 1e4), "small": (120, 2e4), "medium": (240, 4e4)}


def neutron_ct_part(root, *, size: str = "small", seed: int = 0) -> FolderPart:
    """Write the neutron CT pair of the soft-shorting cell (Cao et al. 2023, Fig. 5B) as frames.

    The cell is scanned before the charge and after the soft short (re-mounted, so shifted):
    :func:`ssbscope.twin.neutron.simulate_ct` (Li creeps from the foil into the rod–tube gap)
    projected at each angle (:func:`ssbscope.twin.neutron.write_ct_projections`), FITS frames
    in ``neutron_ct/before`` and ``neutron_ct/after`` with open beam, dark and ``angles.txt``.

    Returns
    -------
    FolderPart
        Two ``inputs.neutron`` entries (``kind: projections``, labels :data:`CT_LABELS`),
        ``analysis.neutron.ct_difference`` and truth ``neutron.ct``: the re-mounting shift, the
        Li volume gained in the gap and lost from the foil (mm³), the Li attenuation coefficient
        and the voxel size.
    """
    from ssbscope.neutron.attenuation import cold_spectrum, macroscopic_cross_section_1_cm
    from ssbscope.materials import get
    from ssbscope.twin.neutron import simulate_ct, write_ct_projections

    import numpy as np

    if size not in _CT_SIZES:
        raise ValueError(f"size {size!r}: must be one of {', '.join(_CT_SIZES)}")
    n_angles, counts = _CT_SIZES[size]
    root = Path(root)
    ct = simulate_ct(seed=seed, noise_1_cm=0.0)
    files = write_ct_projections(ct, root / "neutron_ct", n_angles=n_angles, open_beam_counts=counts,
                                 seed=seed + 11)
    part = FolderPart()
    part.files += [str(Path(p).relative_to(root)) for k in ("before", "after", "open_beam", "dark")
                   for p in files[k]] + ["neutron_ct/angles.txt"]
    common = {"kind": "projections", "cell": NEUTRON_CELL, "open_beam": "neutron_ct/open_beam/*.fits",
              "dark": "neutron_ct/dark/*.fits", "angles": "neutron_ct/angles.txt",
              "pixel_size_um": float(ct.voxel_size_um)}
    part.inputs["neutron"] = [
        ({"path": "neutron_ct/before/*.fits", "label": CT_LABELS[0], **common},
         "neutron CT of the same cell before the charge and after the soft short (one FITS per "
         "rotation angle, angles.txt), re-mounted between the two"),
        ({"path": "neutron_ct/after/*.fits", "label": CT_LABELS[1], **common}, None)]
    part.analysis["neutron"] = {"ct_difference": {"before": CT_LABELS[0], "after": CT_LABELS[1]}}
    sp = cold_spectrum(n=32)
    mu_li = float(np.sum(sp.weight * macroscopic_cross_section_1_cm(get("Li"), sp.wavelength_a)))
    v_mm3 = (ct.voxel_size_um * 1e-3) ** 3
    inc = np.asarray(ct.increment_true, dtype=np.float64)
    part.truth = {"neutron": {"ct": {
        "description": "neutron CT before/after the charge of the soft-shorting cell: Li creeps "
                       "from the foil into the rod-tube gap (Cao et al. 2023, Fig. 5B)",
        "shift_zyx_vox": [float(x) for x in ct.shift_zyx_vox],
        "li_gained_mm3": float(np.clip(inc, 0, None).sum() / mu_li * v_mm3),
        "li_lost_mm3": float(np.clip(-inc, 0, None).sum() / mu_li * v_mm3),
        "mu_li_1_cm": mu_li, "voxel_size_um": float(ct.voxel_size_um), "n_angles": int(n_angles)}}}
    part.comments.append("neutron CT: the soft-shorting cell scanned before the charge and after "
                         "the soft short, frames per angle (Cao et al. 2023, Fig. 5B).")
    return part
