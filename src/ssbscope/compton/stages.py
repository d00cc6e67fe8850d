"""Pipeline stages of the XCS area (``ssbscope demo``), 000_290f30815ae66793.

:func:`demo_stages` runs the XCS twin through the processing a user's HEXITEC data takes:

1. ``compton.twin`` simulates an Am-241 calibration flood and, for five scan states of the
   electrochemistry twin's first cycle (:func:`ssbscope.twin.xcs.states_from_echem`: cathode
   delithiated on charge, Li plated on the anode, by Faraday's law) and each of the
   three beam heights (cathode-, interphase- and anode-dominant), one exposure; it writes
   them as ``.ssbevt`` event files (pulse heights in ADU) to ``ctx.raw_dir/compton`` and
   stores the ground truth (``compton/twin/truth``).
2. ``compton.cubes`` streams each file through :func:`events_to_cube` (per-pixel gain/offset
   from the flood, bad pixels masked, charge-sharing discrimination), re-bins the pixels to
   the 90-degree energy scale, and stores region spectra (``compton/spectra``) and EMF maps
   on 4 x 4 pixel blocks (``compton/maps``).
3. ``compton.emf`` unmixes the three region spectra into cathode, SPE and anode spectra per
   unit volume (NNLS with the sheet's volume fractions), converts them to Compton profiles
   (``compton/profiles``), computes the EMF per component and state with uncertainties, and
   calibrates EMF <-> x of the cathode on the pristine and fully charged states
   (``compton/emf``).  In the demo the unmixing weights come from the XCS-CT correlation
   (:func:`ct_fractions`, stored as ``compton/ct_fractions``): the labels of the CT twin's
   coin cell (:func:`ssbscope.twin.ct.coin_cell_000`, built with the XCS cell's layer
   thicknesses; its ground-truth segmentation is used, not a segmentation of a simulated
   scan) mapped into the detector grid at each state and beam height by
   :func:`ssbscope.compton.correlate.ct_to_detector`; the EMF with the layered model's
   volumes is kept beside it (``emf_layered``) for comparison.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

__all__ = ["COMPONENTS", "CT_COMPONENTS", "REGIONS", "ct_fractions", "demo_stages"]

log = logging.getLogger(__name__)

COMPONENTS = ("cathode", "SPE", "anode")
REGIONS = ("region 1", "region 2", "region 3")
_PHOTONS = {"tiny": 40_000, "small": 150_000, "medium": 1_500_000}
_FLOOD = {"tiny": 500_000, "small": 700_000, "medium": 3_000_000}
_STATES = ("pristine", "charging I", "fully charged", "discharging I", "fully discharged")
_ROI_MM = 6.6  # simulate the central disc only (the analysis mask is 6 mm + blur)
_MASK_RADIUS_MM = 6.0  # inside every layer's disc (cathode radius 7 mm)
# CT phases (ssbscope.twin.ct.PHASES) making up each unmixing component; pores are empty
CT_COMPONENTS = {"cathode": ("cathode",), "SPE": ("spe",), "anode": ("li", "li_filament")}


def _size(config) -> str:
    twin = getattr(config, "twin", None)
    return getattr(twin, "size", "small") if twin is not None else "small"


def _windows(config):
    a = getattr(getattr(config, "analysis", None), "compton", None)
    if a is None:
        return 0.2, (0.0, 1.0), (1.0, 5.0)
    return float(a.bin_kev), (0.0, float(a.valence_window_au)), tuple(float(v) for v in a.core_window_au)


def _slug(s: str) -> str:
    return s.replace(" ", "_")


def _twin_stage(ctx, inputs, *, size: str = "small", low_au=(0.0, 1.0), high_au=(1.0, 5.0)):
    import xarray as xr

    from ssbscope.compton.events import write_events
    from ssbscope.twin import xcs

    out = Path(ctx.raw_dir) / "compton"
    out.mkdir(parents=True, exist_ok=True)
    seed = int(ctx.seed)
    geom = xcs.XcsGeometry()
    det = xcs.DetectorModel()
    flood = xcs.calibration_flood(_FLOOD.get(size, _FLOOD["small"]), geometry=geom, detector=det,
                                  seed=seed + 7)
    write_events(out / "am241_flood.ssbevt", flood.events, value_unit="adu",
                 frame_rate_hz=geom.frame_rate_hz, metadata={"source": "Am-241", "twin": True})
    cell = xcs.CoinCell()
    # Li content of each layer at the scan states of the electrochemistry twin (Faraday)
    states = xcs.states_from_echem(cell=cell, labels=_STATES)
    heights = cell.with_state(states[0]).beam_centres_mm()
    a_px = geom.object_pixel_mm ** 2
    yy, xx = geom.object_centres_mm()
    n_mask = int((np.hypot(yy, xx) < _MASK_RADIUS_MM).sum())
    vols = np.zeros((len(states), len(REGIONS), len(COMPONENTS)))
    files = []
    n_ph = _PHOTONS.get(size, _PHOTONS["small"])
    scale = None  # one incident flux and exposure time for every state and beam position
    for si, st in enumerate(states):
        c = cell.with_state(st)
        for ri, reg in enumerate(REGIONS):
            ex = xcs.simulate_exposure(c, heights[reg], n_photons=n_ph, geometry=geom, detector=det,
                                       roi_radius_mm=_ROI_MM, exposure_scale=scale,
                                       seed=seed + 100 * si + ri)
            scale = ex.truth["exposure_scale"]
            fname = f"{_slug(st.name)}_{_slug(reg)}.ssbevt"
            write_events(out / fname, ex.events, value_unit="adu", frame_rate_hz=geom.frame_rate_hz,
                         metadata={"state": st.name, "region": reg, "beam_centre_mm": heights[reg],
                                   "twin": True})
            files.append(fname)
            v = c.component_volumes_mm3(heights[reg], geom.beam_height_mm, area_mm2=a_px * n_mask)
            vols[si, ri] = [v["cathode"], v["SPE"], v["anode"]]
    from ssbscope import materials as M
    from ssbscope.compton.profiles import window_ratio

    low_au, high_au = tuple(float(v) for v in low_au), tuple(float(v) for v in high_au)
    true_emf = np.array([[window_ratio(dict(_mix_composition(cell.with_state(st).layers(), comp)),
                                       low_au=low_au, high_au=high_au)
                          for comp in COMPONENTS] for st in states])
    true_emf_res = np.array([[_resolved_emf(cell.with_state(st).layers(), comp, det, low_au, high_au)
                              for comp in COMPONENTS] for st in states])
    ds = xr.Dataset(
        {"x_cathode": ("state", np.array([s.x_cathode for s in states]), {"units": "1"}),
         "time_s": ("state", np.array([s.time_s for s in states])),
         "anode_thickness_mm": ("state", np.array([s.anode_thickness_mm for s in states])),
         "volume_mm3": (("state", "region", "component"), vols),
         "true_emf": (("state", "component"), true_emf, {"units": "1",
                      "description": "EMF of the composition-weighted xraylib profile"}),
         "true_emf_resolution": (("state", "component"), true_emf_res, {"units": "1",
                                 "description": "EMF of the true spectrum (90 degrees, no "
                                                "attenuation) broadened by the detector's "
                                                "Gaussian energy resolution at each energy; the "
                                                "reference for EMFs corrected for the detector "
                                                "tail, efficiency and attenuation"}),
         "beam_centre_mm": ("region", np.array([heights[r] for r in REGIONS]))},
        coords={"state": [s.name for s in states], "region": list(REGIONS),
                "component": list(COMPONENTS)},
        attrs={"files": json.dumps(files), "flood": "am241_flood.ssbevt",
               "mask_radius_mm": _MASK_RADIUS_MM, "n_photons": n_ph, "paper": "000_290f30815ae66793",
               "li_metal_density_g_cm3": M.RHO_LI_G_CM3})
    return {"compton/twin/truth": ds}


def _resolved_emf(layers, name, det, low_au=(0.0, 1.0), high_au=(1.0, 5.0)):
    """EMF of a layer's true spectrum broadened by the detector's Gaussian resolution.

    The reference for a measured EMF whose detector tail, efficiency and attenuation are
    corrected (:func:`_emf_stage`): only the Gaussian resolution (FWHM of
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


def _mix_composition(layers, name):
    """Atoms per unit volume (relative) of a layer's mixture, for its true profile."""
    from ssbscope.materials import AVOGADRO

    lay = [lay for lay in layers if lay.name == name][0]
    comp: dict[str, float] = {}
    for mat, frac in lay.components:
        n_fu = mat.density_g_cm3 / mat.molar_mass_g_mol * AVOGADRO / 1e22
        for el, n in mat.composition.items():
            comp[el] = comp.get(el, 0.0) + frac * n_fu * n
    return comp


def _compton_equalise(tot, edges, ang, mask, gain_kev, offset_kev, *, window_kev=(86.0, 100.0),
                      max_shift_kev: float = 2.0, min_counts: float = 50.0, n_iter: int = 2):
    """Per-pixel energy offsets from the Compton peak of all exposures (pixel equalisation).

    Every pixel of ``mask`` sees the same layers, so after the angle alignment
    (:func:`ssbscope.compton.regions.align_to_angle`) its spectrum summed over all exposures
    differs from the sum over all pixels (the template) only by its calibration error.  The
    offset ``d_p`` maximising the multinomial likelihood of the pixel's counts in
    ``window_kev`` under the template shifted by ``d_p`` (grid of 0.02 keV, parabolic
    refinement; ``n_iter`` passes, the template rebuilt from the corrected pixels) is
    removed from the pixel's offset: ``E' = E - d_p``.  Only relative errors are removed;
    the absolute scale stays that of the flood.  Pixels whose best offset lies at the edge
    of the +-``max_shift_kev`` search (failed flood calibrations) are rejected.

    Returns the corrected (gain, offset), ``d_p`` (keV, 0 for pixels not corrected) and the
    rejected pixels (bool).
    """
    from ssbscope.compton.regions import align_to_angle

    x = 0.5 * (edges[1:] + edges[:-1])
    win = (x >= window_kev[0]) & (x <= window_kev[1])
    grid = np.arange(-max_shift_kev, max_shift_kev + 1e-9, 0.02)
    al = align_to_angle(tot, edges, ang, mask=mask)
    iy, ix = np.nonzero(mask)
    spec = al[iy, ix][:, win]
    n_p = spec.sum(axis=1)
    use = n_p >= min_counts
    shift = np.zeros(ang.shape)
    rejected = np.zeros(ang.shape, bool)
    if use.sum() < 10:
        log.warning("Compton-peak equalisation skipped: %d pixels with enough counts", int(use.sum()))
        return gain_kev, offset_kev, shift, rejected
    d = np.zeros(iy.size)
    for _ in range(n_iter):
        # template: pixels moved back by their current offsets (linear interpolation)
        tmpl = np.zeros(x.size)
        for k in np.flatnonzero(use):
            tmpl += np.interp(x, x - d[k], al[iy[k], ix[k]], left=0.0, right=0.0)
        tmpl = np.maximum(tmpl, 1e-9 * tmpl.max())
        ts = np.stack([np.interp(x[win] - dk, x, tmpl) for dk in grid])  # (n_grid, n_win)
        logp = np.log(ts / ts.sum(axis=1, keepdims=True))
        like = spec @ logp.T  # (n_pix, n_grid)
        kmax = np.clip(np.argmax(like, axis=1), 1, grid.size - 2)
        r = np.arange(iy.size)
        y0, y1, y2 = like[r, kmax - 1], like[r, kmax], like[r, kmax + 1]
        den = y0 - 2 * y1 + y2
        frac = np.where(den < 0, 0.5 * (y0 - y2) / np.where(den < 0, den, -1.0), 0.0)
        d = np.where(use, grid[kmax] + np.clip(frac, -1, 1) * (grid[1] - grid[0]), 0.0)
        edge = use & (np.abs(d) >= max_shift_kev - 0.05)
        use &= ~edge
        rejected[iy[edge], ix[edge]] = True
    d = d - np.median(d[use])  # relative: keep the flood's absolute scale
    d[~use] = 0.0
    shift[iy, ix] = d
    log.info("Compton-peak equalisation: %d pixels, rms offset %.3f keV, %d rejected", int(use.sum()),
             float(np.sqrt(np.mean(d[use] ** 2))), int(rejected.sum()))
    return gain_kev, offset_kev - shift, shift, rejected


def _cubes_stage(ctx, inputs, *, bin_kev: float = 0.2, low_au=(0.0, 1.0), high_au=(1.0, 5.0),
                 equalise: bool = False):
    import xarray as xr

    from ssbscope.compton.calibration import calibrate_pixels, calibration_lines_kev, find_bad_pixels
    from ssbscope.compton.electron_momentum import emf_map
    from ssbscope.compton.events import energy_edges_kev, events_to_cube
    from ssbscope.compton.regions import align_to_angle, region_spectrum
    from ssbscope.twin.xcs import XcsGeometry

    truth = inputs["compton/twin/truth"].load()
    raw = Path(ctx.raw_dir) / "compton"
    geom = XcsGeometry()
    # 1) per-pixel calibration from the Am-241 flood
    flood = ctx.record_input(raw / truth.attrs["flood"])
    adu_edges = np.arange(0.0, 2600.0, 4.0)
    fcube = events_to_cube(flood, energy_edges_kev=adu_edges, gain_kev_per_unit=1.0, offset_kev=0.0,
                           charge_sharing="discard")
    cal = calibrate_pixels(fcube, adu_edges, calibration_lines_kev(), gain_guess_kev_per_unit=0.03)
    good = find_bad_pixels(fcube.sum(axis=2))
    files = json.loads(truth.attrs["files"])
    states = [str(s) for s in truth["state"].values]
    edges = energy_edges_kev(0.0, 120.0, bin_kev)
    e = 0.5 * (edges[1:] + edges[:-1])
    # calibrated flood of the good pixels, processed as the exposures (charge-sharing
    # discrimination on): its 59.54 keV line measures the detector's low-energy tail
    flood_kev = events_to_cube(flood, energy_edges_kev=edges, gain_kev_per_unit=cal.gain_kev_per_unit,
                               offset_kev=cal.offset_kev, pixel_mask=good,
                               charge_sharing="discard").sum(axis=(0, 1), dtype=np.float64)
    yy, xx = geom.object_centres_mm()
    mask = (np.hypot(yy, xx) < float(truth.attrs["mask_radius_mm"]))[::-1, ::-1] & good
    ang = geom.angle_map_deg()
    nb = 4
    spectra = np.zeros((len(states), len(REGIONS), e.size))
    raw_spectra = np.zeros_like(spectra)
    counts = np.zeros((len(states), len(REGIONS), 80, 80))
    maps = np.full((len(states), len(REGIONS), 80 // nb, 80 // nb), np.nan)
    maps_u = np.full_like(maps, np.nan)
    gain_kev, offset_kev = cal.gain_kev_per_unit, cal.offset_kev
    shift = np.zeros((80, 80))
    if equalise:
        # 2) pixel equalisation on the Compton peak: with ~100 flood counts per pixel most
        #    pixels are calibrated on the 59.54 keV line alone (global offset), leaving
        #    +-0.25 keV errors at 94 keV that broaden the summed peak like extra resolution
        tot = np.zeros((80, 80, e.size))
        for f in files:
            tot += events_to_cube(raw / f, energy_edges_kev=edges, gain_kev_per_unit=gain_kev,
                                  offset_kev=offset_kev, pixel_mask=good, charge_sharing="discard")
        gain_kev, offset_kev, shift, rejected = _compton_equalise(tot, edges, ang, mask, gain_kev,
                                                                  offset_kev)
        mask = mask & ~rejected
    k = 0
    for si in ctx.progress(range(len(states)), desc="compton cubes"):
        for ri in range(len(REGIONS)):
            p = ctx.record_input(raw / files[k])
            k += 1
            cube = events_to_cube(p, energy_edges_kev=edges, gain_kev_per_unit=gain_kev,
                                  offset_kev=offset_kev, pixel_mask=good, charge_sharing="discard")
            counts[si, ri] = cube.sum(axis=2)
            aligned = align_to_angle(cube, edges, ang, mask=mask)
            spectra[si, ri] = region_spectrum(aligned, mask)
            raw_spectra[si, ri] = region_spectrum(cube, mask)
            blk = aligned.reshape(80 // nb, nb, 80 // nb, nb, -1).sum(axis=(1, 3))
            bmask = mask.reshape(80 // nb, nb, 80 // nb, nb).all(axis=(1, 3))
            m = emf_map(blk, edges, low_au=low_au, high_au=high_au, mask=bmask, min_counts=50)
            maps[si, ri], maps_u[si, ri] = m.value, m.uncertainty
    coords = {"state": states, "region": list(REGIONS)}
    sp = xr.Dataset({"counts": (("state", "region", "energy_kev"), spectra, {"units": "count"}),
                     "counts_unaligned": (("state", "region", "energy_kev"), raw_spectra,
                                          {"units": "count"}),
                     "pixel_counts": (("state", "region", "row", "col"), counts, {"units": "count"}),
                     "equalisation_shift_kev": (("row", "col"), shift, {"units": "keV"}),
                     "flood_counts": ("energy_kev", flood_kev,
                                      {"units": "count", "description": "Am-241 flood, calibrated, "
                                       "good pixels, charge-sharing discrimination on"}),
                     "good_pixel": (("row", "col"), good),
                     "region_pixel": (("row", "col"), mask)},
                    coords={**coords, "energy_kev": e, "row": np.arange(80), "col": np.arange(80)},
                    attrs={"bin_kev": bin_kev, "mask_radius_mm": float(truth.attrs["mask_radius_mm"]),
                           "n_good_pixels": int(good.sum()), "n_region_pixels": int(mask.sum()),
                           "calibrated_pixels": int(cal.ok.sum()),
                           "equalised": bool(equalise),
                           "description": "region spectra: charge-sharing discrimination on, "
                                          "per-pixel calibration (flood, then Compton-peak "
                                          "equalisation), angle-aligned to 90 degrees"})
    mp = xr.Dataset({"emf": (("state", "region", "block_row", "block_col"), maps, {"units": "1"}),
                     "emf_unc": (("state", "region", "block_row", "block_col"), maps_u, {"units": "1"})},
                    coords={**coords, "block_row": np.arange(80 // nb), "block_col": np.arange(80 // nb)},
                    attrs={"block_px": nb, "low_au": list(low_au), "high_au": list(high_au)})
    return {"compton/spectra": sp, "compton/maps": mp}


def _ct_state(name: str) -> str:
    """CT twin state of an XCS scan state: its morphology (roughness, dendrites, pores)."""
    n = name.lower()
    if "discharg" in n:
        return "discharged"
    if "charg" in n:
        return "charged"
    return "pristine"


def ct_fractions(truth, *, seed: int = 0, n_xy: int = 64, voxel_size_um: float = 3.24):
    """XCS-CT correlation of the demo: the CT twin's coin cell in the detector grid per state.

    For each XCS state the CT twin's 000_ coin cell (:func:`ssbscope.twin.ct.coin_cell_000`,
    state ``pristine``/``charged``/``discharged`` by the scan state's name, built with the XCS
    cell's pristine Li, cathode and Al thicknesses) gives the labels; its ground-truth labels
    stand in for a segmentation.  The CT twin's SPE fills the rough Li surface, so its mean
    thickness exceeds its nominal one; the nominal thickness is lowered (one extra pristine
    build) until the mean is the XCS cell's 30 µm.  Registration: the sheets keep their
    height relative to the Li surface, i.e. the CT's mean Li|SPE interface is put at the XCS
    cell's Li surface of that state (in an experiment: found by a z-scan of the scattered
    intensity); the CT's own Li thickness change with state is therefore not used.  The CT's
    central square inside the cell is tiled over the cathode's disc (the CT is 0.2 mm across,
    one object pixel is 0.27 mm) and mapped into the detector by
    :func:`ssbscope.compton.correlate.ct_to_detector`; volumes are summed over the analysis
    mask (the ``mask_radius_mm`` disc, as the layered model's).

    Parameters
    ----------
    truth : xarray.Dataset
        ``compton/twin/truth`` (states, anode thickness, beam heights, layered volumes, mask
        radius).
    seed : int
        Seed of the CT twin (one interface field evolving across states).
    n_xy, voxel_size_um : int, float
        Lateral size (voxels) and voxel edge (µm) of the CT twin.

    Returns
    -------
    xarray.Dataset
        ``fractions`` (state, region, phase, row, col), ``volume_fraction`` (state, region,
        phase) inside the analysis mask, ``volume_mm3`` (state, region, component) from CT
        and ``volume_mm3_layered`` from the layered model, ``volume_rel_diff`` (CT / layered
        - 1, NaN where the layered volume is 0), mean Li and SPE thicknesses of the CT and
        the sheet heights in the CT frame.
    """
    import xarray as xr

    from ssbscope.compton.correlate import ct_to_detector, inscribed_patch
    from ssbscope.twin import xcs
    from ssbscope.twin.ct import CODES, PHASES, coin_cell_000

    cell = xcs.CoinCell()
    geom = xcs.XcsGeometry()
    states = [str(s) for s in truth["state"].values]
    t_li_um = np.asarray(truth["anode_thickness_mm"].values, float) * 1000.0
    li_top_xcs_um = cell.interfaces_mm()["anode"][0] * 1000.0 + t_li_um  # per state
    heights_xcs_um = np.asarray(truth["beam_centre_mm"].values, float) * 1000.0
    spe_um = 1000.0 * cell.spe_thickness_mm
    stack_um = 1.15 * t_li_um.max() + 1000.0 * (2 * cell.spe_thickness_mm + cell.cathode_thickness_mm
                                                 + cell.al_thickness_mm)
    n_z = int(np.ceil(stack_um / voxel_size_um)) + 24
    yy, xx = geom.object_centres_mm()
    mask = (np.hypot(yy, xx) < float(truth.attrs.get("mask_radius_mm", _MASK_RADIUS_MM)))[::-1, ::-1]
    phases = [PHASES[c] for c in sorted(PHASES) if c != CODES["void"]]
    ns, nr, n = len(states), len(REGIONS), geom.n_pixels

    def build(morph, spe_nominal_um):
        return coin_cell_000(morph, n_xy=n_xy, n_z=n_z, voxel_size_um=voxel_size_um,
                             li_thickness_um=float(t_li_um[0]), spe_thickness_um=spe_nominal_um,
                             cathode_thickness_um=1000 * cell.cathode_thickness_mm,
                             al_thickness_um=1000 * cell.al_thickness_mm, seed=seed)

    # the CT twin's SPE covers the rough Li surface, so its mean thickness exceeds the nominal
    # one; set the nominal thickness so that the mean is the XCS cell's (one pristine build)
    excess = float(build("pristine", spe_um).mean_thickness_um["spe"]) - spe_um
    spe_nominal = max(spe_um - excess, 2 * voxel_size_um)
    frac = np.zeros((ns, nr, len(phases), n, n), np.float32)
    vfrac = np.zeros((ns, nr, len(phases)))
    vols = np.zeros((ns, nr, len(COMPONENTS)))
    li_ct = np.zeros(ns)
    spe_ct = np.zeros(ns)
    centres_ct = np.zeros((ns, nr))
    cache = {}
    for si, st in enumerate(states):
        morph = _ct_state(st)
        if morph not in cache:
            ph = build(morph, spe_nominal)
            cache[morph] = (inscribed_patch(ph.labels, ph.cell_mask),
                            float(ph.interfaces_z_vox["li|spe"]) * voxel_size_um,
                            float(ph.mean_thickness_um["li"]), float(ph.mean_thickness_um["spe"]))
        patch, li_top_ct_um, li_ct[si], spe_ct[si] = cache[morph]
        # registration on the mean Li|SPE interface (in an experiment: from a z-scan of the
        # scattered intensity): the sheets keep their height relative to the Li surface
        centres = heights_xcs_um - li_top_xcs_um[si] + li_top_ct_um
        res = ct_to_detector(patch, voxel_size_um, centres, geometry=geom,
                             tile_radius_mm=cell.cathode_radius_mm, position_names=REGIONS)
        frac[si] = res.fractions.reindex(phase=phases, fill_value=0.0).values
        v = res.volumes_mm3(mask).reindex(phase=phases, fill_value=0.0).values
        vfrac[si] = v / v.sum(axis=1, keepdims=True)
        vols[si] = res.component_volumes_mm3({c: CT_COMPONENTS[c] for c in COMPONENTS}, mask)
        centres_ct[si] = centres
    keep = frac.max(axis=(0, 1, 3, 4)) > 0  # phases seen at some state and position
    frac, vfrac, phases = frac[:, :, keep], vfrac[:, :, keep], [p for p, k in zip(phases, keep) if k]
    lay = np.asarray(truth["volume_mm3"].values, float)
    rel = np.divide(vols, lay, out=np.full_like(vols, np.nan), where=lay > 0) - np.where(lay > 0, 1.0, 0.0)
    coords = {"state": states, "region": list(REGIONS), "phase": phases, "component": list(COMPONENTS),
              "row": np.arange(n), "col": np.arange(n)}
    return xr.Dataset(
        {"fractions": (("state", "region", "phase", "row", "col"), frac, {"units": "1"}),
         "volume_fraction": (("state", "region", "phase"), vfrac, {"units": "1"}),
         "volume_mm3": (("state", "region", "component"), vols, {"units": "mm^3"}),
         "volume_mm3_layered": (("state", "region", "component"), lay, {"units": "mm^3"}),
         "volume_rel_diff": (("state", "region", "component"), rel, {"units": "1"}),
         "beam_centre_um_ct": (("state", "region"), centres_ct, {"units": "um"}),
         "li_thickness_um_ct": ("state", li_ct, {"units": "um"}),
         "spe_thickness_um_ct": ("state", spe_ct, {"units": "um"}),
         "li_thickness_um_layered": ("state", np.asarray(truth["anode_thickness_mm"].values) * 1000.0,
                                     {"units": "um"})},
        coords=coords,
        attrs={"ct_state": [_ct_state(s) for s in states], "voxel_size_um": voxel_size_um,
               "tile_radius_mm": cell.cathode_radius_mm, "mask_radius_mm": float(
                   truth.attrs.get("mask_radius_mm", _MASK_RADIUS_MM)),
               "segmentation": "ground-truth labels of ssbscope.twin.ct.coin_cell_000",
               "registration": "mean Li|SPE interface of the CT at the XCS cell's Li surface",
               "spe_thickness_um_layered": spe_um,
               "paper": "000_290f30815ae66793"})


def _unmix_emf(r, v, sel, e, bin_kev, low_au, high_au, pz_grid, label, corr=None):
    """Unmix one state's region spectra with volumes ``v``; EMF, uncertainty, profile per component.

    ``corr`` (n_sel, n_sel): linear detector correction of the region spectra (tail removal
    and division by the efficiency, :func:`_detector_correction`); ``v`` (n_regions,
    n_components) or, with the transmittances t1 t2(E) of Eq. 1, (n_regions, n_components,
    n_sel).
    """
    from ssbscope.compton.electron_momentum import emf, spectrum_to_profile
    from ssbscope.compton.regions import unmix

    nc = v.shape[1]
    comp_spec = np.zeros((nc, e.size))
    val = np.full(nc, np.nan)
    unc = np.full(nc, np.nan)
    prof = np.full((nc, pz_grid.size), np.nan)
    rs = np.asarray(r, float)[:, sel]
    rvar = np.maximum(rs, 0.0)
    if corr is not None:
        rs = rs @ corr.T
        rvar = rvar @ (corr**2).T  # bin variances (covariances of neighbouring bins neglected)
    comp_spec[:, sel] = unmix(rs, v, uncertainties=np.sqrt(np.maximum(rvar, 1.0)))
    # counting variance of each component: propagate the region variances through the
    # (square, triangular) volume matrix, bin by bin when it depends on energy
    if v.ndim == 3:
        vinv = np.linalg.pinv(np.moveaxis(v, 2, 0))  # (n_sel, nc, nr)
        var = np.einsum("kcr,rk->ck", vinv**2, rvar)
    else:
        var = (np.linalg.pinv(v) ** 2) @ rvar
    ed = np.concatenate([e[sel] - bin_kev / 2, [e[sel][-1] + bin_kev / 2]])
    a, b = _window_coefficients(ed, low_au, high_au)
    for ci in range(nc):
        spec = comp_spec[ci][sel]
        vci = var[ci]
        try:
            res = emf(ed, spec, low_au=low_au, high_au=high_au, check_peak=False)
        except Exception as err:  # noqa: BLE001 - reported per component, never silent
            log.warning("EMF of %s at %s: %s", COMPONENTS[ci], label, err)
            continue
        val[ci] = res.value
        # uncertainty from the propagated component variances (linear in the spectrum)
        el, eh = a @ spec, b @ spec
        unc[ci] = res.value * np.sqrt((a**2) @ vci / el**2 + (b**2) @ vci / eh**2)
        pr = spectrum_to_profile(ed, spec, normalise="area", norm_range_au=5.0)
        prof[ci] = np.interp(pz_grid, pr.pz_au, pr.j)
    return comp_spec, val, unc, prof


def _detector_correction(sp, e, sel, bin_kev):
    """Tail removal (response of the flood's 59.54 keV line) and efficiency of 2 mm CdZnTe.

    Returns the (n_sel, n_sel) matrix ``C`` (corrected = C @ counts) and the fitted
    :class:`~ssbscope.compton.electron_momentum.LineResponse` (None without a flood).
    """
    from ssbscope.compton.calibration import AM241_KEV
    from ssbscope.compton.electron_momentum import _correction_matrix, detector_efficiency, fit_line_response

    edges_all = np.concatenate([e - bin_kev / 2, [e[-1] + bin_kev / 2]])
    resp = None
    if "flood_counts" in sp:
        resp = fit_line_response(edges_all, sp["flood_counts"].values, AM241_KEV)
    ed = np.concatenate([e[sel] - bin_kev / 2, [e[sel][-1] + bin_kev / 2]])
    corr = _correction_matrix(ed, resp, detector_efficiency, None)
    return corr, resp


def _attenuation_factors(truth, e, mask_px=None):
    """t1 t2(E)-weighted / geometric sheet volume per (state, region, component, energy).

    From the cell's build (layer compositions and thicknesses of
    :class:`ssbscope.twin.xcs.CoinCell`, the state's cathode Li content and anode thickness)
    and the beam heights (:func:`ssbscope.compton.regions.attenuated_volumes`, Eq. 1 of
    000_290f30815ae66793); 1 where a component is not in a region's layered sheet.
    """
    from ssbscope.compton.regions import attenuated_volumes
    from ssbscope.twin import xcs

    geom = xcs.XcsGeometry()
    cell = xcs.CoinCell()
    yy, xx = geom.object_centres_mm()
    rmask = float(truth.attrs.get("mask_radius_mm", _MASK_RADIUS_MM))
    inside = np.hypot(yy, xx) < rmask
    if mask_px is not None:
        inside &= np.asarray(mask_px, bool)[::-1, ::-1]  # detector -> object frame
    heights = np.asarray(truth["beam_centre_mm"].values, float)
    xs = np.asarray(truth["x_cathode"].values, float)
    ts = np.asarray(truth["anode_thickness_mm"].values, float)
    a_px = geom.object_pixel_mm ** 2
    out = np.ones((xs.size, heights.size, len(COMPONENTS), e.size))
    for si in range(xs.size):
        c = cell.with_state(xcs.CellState("s", float(xs[si]), float(ts[si])))
        for ri, h in enumerate(heights):
            eff = attenuated_volumes(c.layers(), float(h), e, x_mm=xx[inside], y_mm=yy[inside],
                                     pixel_area_mm2=a_px, e_incident_kev=geom.e_incident_kev,
                                     beam_height_mm=geom.beam_height_mm)
            geo = c.component_volumes_mm3(float(h), geom.beam_height_mm, area_mm2=a_px * inside.sum())
            for ci, comp in enumerate(COMPONENTS):
                if geo[comp] > 0:
                    out[si, ri, ci] = eff[comp] / geo[comp]
        # a component missing from a region's layered sheet (seen only by CT): the mean factor
        for ci in range(len(COMPONENTS)):
            have = [ri for ri, h in enumerate(heights)
                    if cell.with_state(xcs.CellState("s", float(xs[si]), float(ts[si])))
                    .component_volumes_mm3(float(h), geom.beam_height_mm)[COMPONENTS[ci]] > 0]
            if have:
                mean = out[si, have, ci].mean(axis=0)
                for ri in set(range(heights.size)) - set(have):
                    out[si, ri, ci] = mean
    return out


def _emf_stage(ctx, inputs, *, low_au=(0.0, 1.0), high_au=(1.0, 5.0), ct_correlation: bool = False,
               detector_corrections: bool = False, attenuation: bool = False):
    """EMF per component and state (see the module docstring).

    ``detector_corrections``: remove the low-energy tail measured on the flood's 59.54 keV
    line (``flood_counts`` of ``compton/spectra``) and divide by the 2 mm CdZnTe efficiency
    before unmixing.  ``attenuation``: unmix with volumes weighted by t1 t2(E) of Eq. 1
    (needs the beam heights and cell states of the truth/cell description).  Both are on in
    :func:`demo_stages`, off for ideal spectra.
    """
    import xarray as xr

    from ssbscope.compton.electron_momentum import calibrate_emf

    truth = inputs["compton/twin/truth"].load()
    sp = inputs["compton/spectra"].load()
    e = sp["energy_kev"].values
    bin_kev = float(sp.attrs["bin_kev"])
    states = [str(s) for s in sp["state"].values]
    sel = (e > 60.0) & (e < 116.0)
    ns, nc = len(states), len(COMPONENTS)
    pz_grid = np.linspace(-6.0, 6.0, 241)
    layered = truth["volume_mm3"].values
    ctf = None
    if ct_correlation:
        ctf = ct_fractions(truth, seed=int(getattr(ctx, "seed", 0)) if ctx is not None else 0)
    vol_used = ctf["volume_mm3"].values if ctf is not None else layered
    corr, resp = (None, None)
    if detector_corrections:
        corr, resp = _detector_correction(sp, e, sel, bin_kev)
    att = None
    if attenuation:
        if all(k in truth for k in ("beam_centre_mm", "anode_thickness_mm", "x_cathode")):
            att = _attenuation_factors(truth, e[sel], sp["good_pixel"].values if "good_pixel" in sp else None)
        else:
            log.warning("attenuation correction skipped: the truth has no beam heights/cell states")
    comp_spec = np.zeros((ns, nc, e.size))
    val = np.full((ns, nc), np.nan)
    unc = np.full((ns, nc), np.nan)
    prof = np.full((ns, nc, pz_grid.size), np.nan)
    val_lay = np.full((ns, nc), np.nan)
    unc_lay = np.full((ns, nc), np.nan)
    for si in range(ns):
        r = sp["counts"].values[si]
        vu = vol_used[si] if att is None else vol_used[si][:, :, None] * att[si]
        vl = layered[si] if att is None else layered[si][:, :, None] * att[si]
        comp_spec[si], val[si], unc[si], prof[si] = _unmix_emf(
            r, vu, sel, e, bin_kev, low_au, high_au, pz_grid, states[si], corr)
        if ctf is not None:
            _, val_lay[si], unc_lay[si], _ = _unmix_emf(
                r, vl, sel, e, bin_kev, low_au, high_au, pz_grid, states[si], corr)
    # EMF <-> x of the cathode: reference states pristine and fully charged
    x = truth["x_cathode"].values
    refs = [0, int(np.argmin(x))]
    ci = COMPONENTS.index("cathode")
    x_est = np.full(ns, np.nan)
    x_unc = np.full(ns, np.nan)
    cal_slope = np.nan
    if np.all(np.isfinite(val[refs, ci])) and np.all(unc[refs, ci] > 0):
        try:
            cal = calibrate_emf(x[refs], val[refs, ci], unc[refs, ci])
            cal_slope = cal.slope
            for si in range(ns):
                x_est[si], x_unc[si] = cal.li_content(val[si, ci], unc[si, ci])
        except Exception as err:  # noqa: BLE001
            log.warning("EMF calibration failed: %s", err)
    coords = {"state": states, "component": list(COMPONENTS)}
    data = {"emf": (("state", "component"), val, {"units": "1"}),
            "emf_unc": (("state", "component"), unc, {"units": "1"}),
            "true_emf": (("state", "component"), truth["true_emf"].values, {"units": "1"}),
            "true_emf_resolution": (("state", "component"),
                                    (truth["true_emf_resolution"].values
                                     if "true_emf_resolution" in truth
                                     else np.full((ns, nc), np.nan)), {"units": "1"}),
            "x_cathode_estimated": ("state", x_est, {"units": "1"}),
            "x_cathode_unc": ("state", x_unc, {"units": "1"}),
            "x_cathode_true": ("state", x, {"units": "1"})}
    if ctf is not None:
        data["emf_layered"] = (("state", "component"), val_lay,
                               {"units": "1", "description": "EMF unmixed with the layered model's volumes"})
        data["emf_layered_unc"] = (("state", "component"), unc_lay, {"units": "1"})
    out = xr.Dataset(data, coords=coords,
                     attrs={"low_au": list(low_au), "high_au": list(high_au),
                            "calibration_states": [states[i] for i in refs],
                            "calibration_slope": float(cal_slope),
                            "detector_corrections": ("tail (Am-241 59.54 keV line) + efficiency"
                                                     if resp is not None else
                                                     ("efficiency" if corr is not None else "none")),
                            "tail_fraction": float(resp.tail_fraction) if resp is not None else float("nan"),
                            "attenuation_correction": "t1 t2(E) volumes" if att is not None else "none",
                            "unmixing_volumes": "XCS-CT correlation (compton/ct_fractions)"
                            if ctf is not None else "layered cell model"})
    pr = xr.Dataset({"j": (("state", "component", "pz_au"), prof, {"units": "bohr/hbar", "description": "Compton profile J(p_z), area 1 over |p_z| < 5 atomic units"}),
                     "spectrum": (("state", "component", "energy_kev"), comp_spec,
                                  {"units": "count/mm^3"})},
                    coords={**coords, "pz_au": pz_grid, "energy_kev": e})
    result = {"compton/emf": out, "compton/profiles": pr}
    if ctf is not None:
        result["compton/ct_fractions"] = ctf
    return result


def _window_coefficients(edges, low_au, high_au):
    from ssbscope.compton.electron_momentum import _build_operator

    op, _ = _build_operator(edges, 115.0, 90.0, low_au=tuple(low_au), high_au=tuple(high_au),
                            background=None, lines=[], line_halfwidth_kev=1.0)
    return op.a_low, op.a_high


def demo_stages(config=None) -> list:
    """The XCS stages of ``ssbscope demo``: twin -> cubes -> EMF (with the XCS-CT correlation).

    Parameters
    ----------
    config : ssbscope.config.Experiment, optional
        ``twin.size`` sets the photons per exposure from the central 6.6 mm disc (tiny 4e4,
        small 1.5e5, medium 1.5e6);
        ``analysis.compton`` the bin width and EMF windows.
        ``compton.emf`` runs the XCS-CT correlation (:func:`ct_fractions`, about 1-2 s) and
        also writes ``compton/ct_fractions``.

    Returns
    -------
    list of ssbscope.pipeline.Stage
    """
    from ssbscope.pipeline import Stage

    size = _size(config)
    bin_kev, low, high = _windows(config)
    return [
        Stage("compton.twin", _twin_stage, outputs=("compton/twin/truth",),
              params={"size": size, "low_au": list(low), "high_au": list(high)}, long=True),
        Stage("compton.cubes", _cubes_stage, inputs=("compton/twin/truth",),
              outputs=("compton/spectra", "compton/maps"),
              params={"bin_kev": bin_kev, "low_au": list(low), "high_au": list(high), "equalise": True},
              long=True),
        Stage("compton.emf", _emf_stage, inputs=("compton/twin/truth", "compton/spectra"),
              outputs=("compton/emf", "compton/profiles", "compton/ct_fractions"),
              params={"low_au": list(low), "high_au": list(high), "ct_correlation": True,
                      "detector_corrections": True, "attenuation": True}),
    ]


from .input_stages import input_stages  # noqa: E402

__all__ += ["input_stages"]
