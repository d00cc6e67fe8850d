"""Propagation-phase-contrast CT of the NMC622 | PEO-LiTFSI | Li coin cell (Huang et al. 2024).

Huang et al., Cell Rep. Phys. Sci. 5, 101995 (2024), doi:10.1016/j.xcrp.2024.101995, imaged the
buried anode|SPE interphase of a CR2032 coin cell with 115 keV monochromatic, highly coherent
synchrotron light (3.24 µm pixels, sCMOS + 100 µm LYSO, 3600 projections over 180°, 9 ms).  At
115 keV the absorption contrast of Li against PEO-LiTFSI is ~4e-5 per voxel (below the
noise); the edge is seen by propagation phase contrast (δ/β ≈ 1270 for both).  This module is
the forward model of such a scan, independent of the analysis it tests:

1. **Region of interest as voxels** (:func:`coin_roi_phantom`): a cylinder of ``n_xy`` voxels
   across, on the cell axis, from the steel spacer to the steel cap: Li anode on the spacer,
   its rough surface (Gaussian random height field, Ra of Table 1 per state), subsurface pores
   after discharge, 30 µm SPE, 65 µm composite cathode, Al foil.  The anode's envelope (Li +
   subsurface pores) grows by Faraday's charge at 0.3 mA cm^-2 (the first-cycle twin's clock)
   and shrinks on stripping by the share the paper's -1.4 % implies; the rest of the stripped Li
   leaves subsurface pores (:mod:`ssbscope.twin.params_000`).
2. **Complex refractive index** per phase from xraylib at the beam energy
   (``n = 1 - δ + iβ``; :func:`refractive_indices`).
3. **Line integrals** of δ and β: the ROI's deviation from its slice means with the twin's
   ray-driven projector (:func:`ssbscope.twin.ct_project.project`), plus, analytically, the
   cell outside the ROI: every slice continues as a disc of its layer (anode 16 mm, SPE 18 mm,
   cathode and Al 14 mm, spacer 15.5 mm) with the ROI's slice-mean composition, and the
   CR2032 casing wall (20 mm, 0.3 mm steel) surrounds everything, so the projections are
   truncated as in the experiment (the cell is ~100x wider than the detector).
4. **Near-field Fresnel propagation** over ``distance_mm`` (angular spectrum).  The part
   outside the ROI is the same at every angle (rotational symmetry) and varies along the
   rotation axis only: it is propagated once per scan in 1-D on a grid ``z_oversample`` times
   finer than the pixel (its layer steps carry hundreds of radians over 16 mm chords).  By
   default (``coupled=False``) the ROI's deviation is propagated per angle in 2-D on the pixel
   grid and the detected intensity is the product of the two (decoupled propagation: the
   outside's refraction, ~1-3 pixels of displacement at 300 mm across the Li|SPE rows, is not
   applied to the ROI's wave; stated approximation).  With ``coupled=True`` the whole wave
   (outside + ROI) is propagated together in 2-D on a z grid ``COUPLE_Z_OVERSAMPLE`` times
   finer over the rows the ROI's deviation reaches (+ :data:`COUPLE_MARGIN_PX`), the rest
   as above (about twice the time).
5. **Detector**: Gaussian scintillator blur, Poisson counts at ``flux_photons`` per pixel in the
   flats, dark counts, 16-bit (:class:`ssbscope.twin.ct_project.CTScan`), written with
   :func:`ssbscope.twin.ct_files.write_dxchange`.

What ``ssbscope run`` measures on it (Paganin with Li's δ/β = 1271 at 300 mm, ``truncated:
auto``, the centre given in the YAML; truth: Ra 5.10 / 5.40 / 6.10 µm, anode volume change
+3.69 / +2.24 % against the pristine scan, i.e. +3.7 % then -1.4 %):

==============  =======================  =================  ==================  ==================
size / seed     Ra anode|SPE (µm)        anode (Li) volume  mean thickness      pore + crack
                                         change (%)         change (%)          in SPE (µm³)
==============  =======================  =================  ==================  ==================
tiny/300, 0     5.05 / 5.41 / 6.10       +3.77 / +2.27      +3.69 / +2.22       2319/-336/-216
tiny/600, 0     5.12 / 5.39 / 6.09 [a]   +3.77 / +2.26      +3.68 / +2.21       287/-220/-794 
tiny/600, 1     5.08 / 5.39 / 6.26 [a]   +4.08 / +2.23      +3.62 / +2.12       21/328/-317
tiny/600, 2     5.08 / 5.38 / 6.11       +4.16 / +2.33      +3.69 / +2.23       1639/2865/-93
small/900, 0    5.05 / 5.37 / 6.08       +3.84 / +2.29      +3.71 / +2.25       -3738/-952/3501
small/900, 1    5.13 / 5.46 / 6.17       +4.04 / +2.24      +3.68 / +2.21       946/537/-520
small/900, 2    4.90 / 5.16 / 5.99       +4.38 / +2.33      +3.76 / +2.24       5479/1510/-1017
==============  =======================  =================  ==================  ==================

(truth: mean thickness change +3.69 / +2.24 %, pore + crack 0).  The anode|SPE heights are
each column's steepest drop of the local contrast (:func:`ssbscope.tomo.metrics.column_edges`,
in a window widened until it holds the surface); [a]: Ra re-measured on the stored scans,
the other columns from the voxel-count heights before it.  Those counts (voxels above half
the contrast in a fixed 16-slice window) read Ra 5.28 / 5.59 / 6.30 (tiny/300, seed 0),
5.14-5.26 / 5.38-5.47 / 6.11-6.26 (tiny/600) and, at small, 5.64 / 5.46 / 6.18 (seed 1,
+10.5 %) and 5.43 / 5.11 / 6.03 (seed 2, the charged state below the pristine): the
retrieval's and truncation's residual offsets (+-0.5-1 of the contrast over ~10 slices and
tens of columns) moved up to 134 columns by 2-4 voxels, and the window missed the
surface's top 3 slices.  Seed 2 at small reads 4 % below the ROI's truth because the
measured footprint leaves out the ROI's outer ring (truth over the footprint 4.91 / 5.18 /
5.92 µm).  The SPE's top, the flat
SPE | cathode interface, has no in-plane contrast: its height is the steepest change of the
slice level (:func:`ssbscope.tomo.series_chunked.flat_interface_height`; the grey-level
thresholds read the exterior's blurred steps, 18-27 % thin).  SPE mean thickness, truth
30.9 / 29.1 / 28.4 µm (its top is flat at a whole slice), and the voids the stripped Li
leaves below its surface (``subsurface_void_volume_um3``, truth 0 / 0 / 8.7e4 µm³ at tiny):

==============  =======================  =======================  ========================
size / seed     SPE thickness (µm)       before (thresholds)      subsurface voids (µm³)
==============  =======================  =======================  ========================
tiny/300, 0     31.6 / 29.7 / 29.1                                -1.8e4 / -1.2e4 / 7.0e4
tiny/600, 0     31.6 / 29.8 / 29.1       23.3 / 21.5 / 20.8       -7.9e3 / -2.1e3 / 7.1e4
tiny/600, 1     31.1 / 29.6 / 29.0                                7.1e3 / -6.4e3 / 9.4e4
tiny/600, 2     31.5 / 29.6 / 29.0                                -1.9e4 / 1.8e4 / 9.8e4
small/900, 0    31.5 / 29.6 / 28.9                                2.8e3 / 2.6e4 / 1.23e5
small/900, 1    31.5 / 29.6 / 29.0       23.1 / 21.2 / 20.7       3.2e4 / 5.7e3 / 1.40e5
small/900, 2    31.7 / 28.6 / 27.5       22.4 / 21.7 / 21.4       5.4e4 / -1.9e3 / 1.36e5
==============  =======================  =======================  ========================

(small: truth SPE 30.9 / 29.1 / 28.4-28.5 µm, voids 0 / 0 / 1.26e5 µm³; the rows of
tiny/600 seeds 0, 1 are from the voxel-count heights.)

The voids read -18 / +8 / +14 % (tiny/600; seed 2 +13 % with the edge heights) and -2 / +11 /
+8 % (small) after stripping, up to 2e4 (tiny) / 5.4e4 µm³ (small; a fifth to a half of the
stripped volume) where there is none (a dark-skewed residual of the shading model, 10-20 px
across, in every slice of the Li read: seed 2's pristine scan holds 1755 voxels below -0.5
of the Li | vacuum step and 374 above +0.5; no void is that wide): each slice's Li level is the median of its voxels away from
the dark and bright blobs (the voids' halo from retrieval and reconstruction darkens their
neighbours; the slice's mode alone read 12-47 % low).
The SPE's layer fractions come from each slice's local partial volume (within +-1.5 pp of
0); its connected / isolated low-attenuation regions are not measured on truncated scans.
With ``coupled=True`` (tiny/600, seed 0) the chain reads Ra 5.39 / 8.26 / 9.33 µm, anode
volume change +2.92 / +1.27 %, the local contrast -2.8 / -1.6 / -2.3e-5 (materials -4.0e-5):
the outside's refraction and the finer z sampling of the ROI's voxel steps (the decoupled
path samples the ROI's wave at the pixel, coarser than the Fresnel zone sqrt(lambda d) =
1.8 µm) change the local contrast; which of the two dominates, and whether the measurement
should model the outside's refraction, is open.

Every slice's grey level is set by the 16-20 mm chords outside the ROI (the Li -> SPE step is
~170x the local Li|PEO contrast): the chain removes the exterior's part ``a(z) G + C`` of each
slice and takes the heights, the labels around the interface and the pore + crack volume
from the local contrast (:func:`ssbscope.tomo.metrics.interface_height_map_truncated`).  The
outside's near-field fringes (line integrals changing by up to ~0.5 from one detector row to
the next at the Li|SPE rows, the same at every angle) were taken for zingers by the 3 x 3
median's absolute threshold (3 % of the pixels replaced, in a pattern that follows the
ROI's structure): that was the deterministic, interface-localised residual that made Ra read
40-90 % high (7.30 / 7.98 / 11.28 at seed 0); zingers are now sought in the deviation from
the rows' angular mean for truncated scans (:func:`ssbscope.tomo.stream.clean_rows`).
Without ``center_px`` the centre search finds 29.5 px for 20 (nothing to lock on).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import ParameterError

__all__ = ["CoinCTConfig", "CoinROIPhantom", "refractive_indices", "coin_roi_phantom",
           "line_integrals_outside", "fresnel_propagate", "simulate_coin_scan",
           "wavelength_m", "PHASES", "STATES", "COIN_INTERFACE_REGION",
           "interface_region_truth"]

#: Phase codes of the ROI phantom.
PHASES = {0: "void", 1: "steel", 2: "Li", 3: "PEO-LiTFSI", 4: "cathode", 5: "Al"}
_CODE = {v: k for k, v in PHASES.items()}
#: Scan states (label of the first-cycle log, Table 1 Ra in µm).
STATES = ("pristine", "fully charged", "fully discharged")


def wavelength_m(e_kev: float) -> float:
    """X-ray wavelength (m) at ``e_kev`` (hc = 12.398 keV Å)."""
    return 12.3984193e-10 / float(e_kev)


def _formula(material) -> str:
    return "".join(f"{el}{n:.6g}" for el, n in material.composition.items())


def refractive_indices(e_kev: float) -> dict:
    """``{phase: (delta, beta)}`` of the coin cell's phases at ``e_kev`` from xraylib.

    ``delta = 1 - Refractive_Index_Re``, ``beta = Refractive_Index_Im`` of each material's
    formula and density (:mod:`ssbscope.materials`); the composite cathode is 50 vol % NMC622,
    45 vol % PEO-LiTFSI, 5 vol % carbon (δ and β of a mixture add by volume fraction).
    """
    import xraylib

    from ssbscope.materials import get, nmc

    def db(m):
        f = _formula(m)
        return (1.0 - xraylib.Refractive_Index_Re(f, float(e_kev), m.density_g_cm3),
                xraylib.Refractive_Index_Im(f, float(e_kev), m.density_g_cm3))

    out = {"void": (0.0, 0.0), "steel": db(get("steel")), "Li": db(get("Li")),
           "PEO-LiTFSI": db(get("PEO-LiTFSI")), "Al": db(get("Al"))}
    parts = [(0.50, db(nmc(1.0))), (0.45, out["PEO-LiTFSI"]), (0.05, db(get("carbon")))]
    out["cathode"] = (sum(f * d for f, (d, _) in parts), sum(f * b for f, (_, b) in parts))
    return out


@dataclass(frozen=True)
class CoinCTConfig:
    """Acquisition and cell geometry of the twin's coin-cell CT (values: params_000).

    Attributes
    ----------
    voxel_size_um : float
        Pixel at the sample (3.24 µm, the paper).
    e_kev : float
        Beam energy (115 keV, the paper).
    distance_mm : float
        Sample-to-scintillator distance (assumption, params_000).
    flux_photons : float
        Mean counts per pixel in a flat (assumption for a 9 ms sCMOS exposure, params_000).
    n_angles : int
        Projections over 180° (the paper: 3600).
    psf_sigma_px : float
        Gaussian blur of the scintillator + optics (px).
    z_oversample : int
        Vertical oversampling of the 1-D propagation of the cell outside the ROI.
    spacer_vox, cap_vox : int
        Steel slices below the anode and above the Al in the ROI.
    anode_um, spe_um, cathode_um, al_um : float
        Pristine layer thicknesses (µm).
    radii_mm : dict
        Disc radius of each phase outside the ROI (mm).
    casing_mm : tuple
        Inner and outer radius of the CR2032 casing wall (mm).
    corr_len_um : float
        Lateral correlation length of the Li surface (µm).
    coupled : bool
        Propagate the outside's and the ROI's waves together (:func:`simulate_coin_scan`);
        False: their intensities multiply (the stated approximation, the demo's default).
    """

    voxel_size_um: float = 3.24
    e_kev: float = 115.0
    distance_mm: float = 300.0
    flux_photons: float = 2.0e4
    dark_counts: float = 100.0
    n_angles: int = 900
    psf_sigma_px: float = 0.5
    z_oversample: int = 64
    spacer_vox: int = 12
    cap_vox: int = 4
    anode_um: float = 400.0
    spe_um: float = 30.0
    cathode_um: float = 65.0
    al_um: float = 15.0
    radii_mm: dict = field(default_factory=lambda: {
        "steel": 7.75, "Li": 8.0, "PEO-LiTFSI": 9.0, "cathode": 7.0, "Al": 7.0, "void": 0.0})
    casing_mm: tuple = (9.7, 10.0)
    corr_len_um: float = 13.0
    n_flats: int = 20
    n_darks: int = 10
    coupled: bool = False


@dataclass(frozen=True)
class CoinROIPhantom:
    """The ROI voxel phantom of one state with its truth.

    Attributes
    ----------
    state : str
    labels : (n_z, n_xy, n_xy) uint8
        Phase codes (:data:`PHASES`); outside the ROI circle the slice's majority phase.
    roi : (n_xy, n_xy) bool
        The ROI circle (where the detail is modelled).
    surface_z_vox : (n_xy, n_xy) float
        Top of the anode envelope per column (voxel boundary, z from the ROI's bottom).
    ra_um, rq_um : float
        Of ``surface_z_vox`` in µm over ``roi`` after plane removal (Eqs. 6-7).
    anode_volume_um3 : float
        Envelope (Li + subsurface pores) inside ``roi``.
    li_volume_um3, pore_volume_um3 : float
    """

    state: str
    labels: np.ndarray
    roi: np.ndarray
    surface_z_vox: np.ndarray
    ra_um: float
    rq_um: float
    anode_volume_um3: float
    li_volume_um3: float
    pore_volume_um3: float
    truth: dict


def _grf(shape, corr_vox, rng):
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal(shape), corr_vox, mode="wrap")
    return (f - f.mean()) / f.std()


def _state_plan(cfg: CoinCTConfig, states=STATES):
    """Envelope thickness change (µm) and stripped-pore thickness (µm) per state from
    Faraday's law on the first-cycle twin's clock (params_000 rows)."""
    from ssbscope.twin.paper_parameters import value
    from ssbscope.twin.xcs import states_from_echem

    st = {s.name: s for s in states_from_echem(labels=tuple(states))}
    a0 = st["pristine"].anode_thickness_mm * 1e3
    plated = (st["fully charged"].anode_thickness_mm * 1e3) - a0          # Faraday, µm
    stripped = plated - ((st["fully discharged"].anode_thickness_mm * 1e3) - a0)
    w = value("000", "twin CT ROI plating weight")                        # lateral weight at the ROI
    h0 = cfg.anode_um
    grow = w * plated
    # the paper's -1.4 % (vs fully charged) is the envelope; Li stripped beyond it leaves pores
    chg, dis = value("000", "anode volume change (charge, discharge)")
    shrink = -dis / 100.0 * (h0 + grow)
    pores = max(w * stripped - shrink, 0.0)
    ra = dict(zip(STATES, value("000", "Ra anode/SPE (pristine, charged, discharged)")))
    return {"pristine": (0.0, 0.0, ra["pristine"], st["pristine"].time_s),
            "fully charged": (grow, 0.0, ra["fully charged"], st["fully charged"].time_s),
            "fully discharged": (grow - shrink, pores, ra["fully discharged"],
                                 st["fully discharged"].time_s)}, {
        "faraday_plated_um": plated, "faraday_stripped_um": stripped, "roi_weight": w,
        "paper_change_pct": (chg, dis)}


def coin_roi_phantom(state: str, *, n_xy: int = 48, cfg: CoinCTConfig | None = None,
                     seed: int = 0) -> CoinROIPhantom:
    """ROI voxel phantom of the coin cell at one state (one geometry across the series).

    z = 0 is the bottom of the ROI (inside the steel spacer); the anode's bottom is at
    ``cfg.spacer_vox``.  The Li surface is ``mean + sigma * field`` with one Gaussian random
    field per seed, a fraction of a second field mixed in per state (the surface evolves), and
    ``sigma`` such that Ra (plane-detrended, on the voxelised heights) matches Table 1.  The
    envelope's mean height follows :func:`_state_plan`.  The SPE is conformal below and flat on
    top (its mean thickness 30 µm); cathode, Al and cap sit on it.  Discharged: pores (voids)
    2-8 voxels below the surface hold the stripped Li that left no envelope change.
    """
    cfg = cfg or CoinCTConfig()
    if state not in STATES:
        raise ParameterError("state", state, f"must be one of {list(STATES)}")
    if int(n_xy) < 24:
        raise ParameterError("n_xy", n_xy, "must be >= 24")
    vs = cfg.voxel_size_um
    plan, info = _state_plan(cfg)
    d_um, pore_um, ra_target, t_s = plan[state]
    rng = np.random.default_rng(seed)
    corr = cfg.corr_len_um / vs
    base = _grf((n_xy, n_xy), corr, rng)
    other = _grf((n_xy, n_xy), corr, rng)
    mix = {"pristine": 0.0, "fully charged": 0.35, "fully discharged": 0.6}[state]
    fld = np.sqrt(1 - mix ** 2) * base + mix * other
    yy, xx = np.mgrid[:n_xy, :n_xy]
    r_roi = n_xy / 2.0 - 0.5
    roi = (yy - (n_xy - 1) / 2) ** 2 + (xx - (n_xy - 1) / 2) ** 2 <= r_roi ** 2
    fld = (fld - fld[roi].mean()) / fld[roi].std()
    z0 = cfg.spacer_vox
    mean_top = z0 + (cfg.anode_um + d_um) / vs
    max_mean = z0 + (cfg.anode_um + max(p[0] for p in plan.values())) / vs
    spe_vox = cfg.spe_um / vs
    cat_vox = int(round(cfg.cathode_um / vs))
    al_vox = max(1, int(round(cfg.al_um / vs)))
    n_z = int(math.ceil(max_mean + spe_vox + 4 * 6.1 / vs)) + cat_vox + al_vox + cfg.cap_vox + 2

    from ssbscope.twin.ct import roughness_ra_rq

    def heights(sigma):  # voxelised surface: whole voxels below round(top)
        return np.rint(mean_top + sigma * fld)

    lo, hi = 0.2 * ra_target / vs, 3.0 * ra_target / vs
    for _ in range(40):  # bisection: Ra of the voxelised heights = Table 1
        mid = 0.5 * (lo + hi)
        ra, _ = roughness_ra_rq(heights(mid) * vs, roi)
        lo, hi = (mid, hi) if ra < ra_target else (lo, mid)
    top = heights(0.5 * (lo + hi))
    # the envelope mean is the target to a fraction of a voxel: shift by whole-voxel columns
    zz = np.arange(n_z)[:, None, None]
    lab = np.zeros((n_z, n_xy, n_xy), np.uint8)
    lab[:z0] = _CODE["steel"]
    lab[(zz >= z0) & (zz < top[None])] = _CODE["Li"]
    spe_top = int(round(mean_top + spe_vox))
    lab[(zz >= top[None]) & (zz < spe_top)] = _CODE["PEO-LiTFSI"]
    lab[spe_top:spe_top + cat_vox] = _CODE["cathode"]
    lab[spe_top + cat_vox:spe_top + cat_vox + al_vox] = _CODE["Al"]
    lab[spe_top + cat_vox + al_vox:] = _CODE["steel"]
    if lab.shape[0] - (spe_top + cat_vox + al_vox) < 2:
        raise ParameterError("n_z", n_z, "leaves no steel cap above the Al")
    pmask = np.zeros(lab.shape, bool)
    if pore_um > 0:  # ellipsoidal voids below the surface until their volume is pore_um per area
        rfeat = np.random.default_rng([seed, 7])
        area = roi.sum()
        target = pore_um / vs * area
        zi, yi, xi = np.ogrid[:n_z, :n_xy, :n_xy]
        for _ in range(10000):
            if (pmask & roi[None]).sum() >= target:
                break
            cy, cx = rfeat.uniform(0, n_xy, 2)
            rad = rfeat.uniform(1.5, 3.0)
            iy, ix = int(cy), int(cx)
            zc = top[iy, ix] - rfeat.uniform(3.0, 9.0) - 0.7 * rad
            ell = (((zi + 0.5 - zc) / (0.7 * rad)) ** 2 + ((yi + 0.5 - cy) / rad) ** 2
                   + ((xi + 0.5 - cx) / rad) ** 2) <= 1.0
            pmask |= ell & (lab == _CODE["Li"]) & (zi < top[None] - 2)
        lab[pmask] = _CODE["void"]
    vv = vs ** 3
    surf = top.astype(float)
    ra, rq = roughness_ra_rq(surf * vs, roi)
    env = float(((surf - z0) * roi).sum() * vv)
    li_v = float(((lab == _CODE["Li"]) & roi[None]).sum() * vv)
    pv = float((pmask & roi[None]).sum() * vv)
    truth = {"state": state, "time_s": float(t_s), "envelope_change_um": float(d_um),
             "pore_thickness_um": float(pore_um), "target_ra_um": float(ra_target),
             "spe_top_z_vox": spe_top, "anode_bottom_z_vox": z0, **info}
    lab.setflags(write=False)
    return CoinROIPhantom(state=state, labels=lab, roi=roi, surface_z_vox=surf, ra_um=ra,
                          rq_um=rq, anode_volume_um3=env, li_volume_um3=li_v,
                          pore_volume_um3=pv, truth=truth)


def _chord_um(radius_um, t_um):
    return 2.0 * np.sqrt(np.clip(radius_um ** 2 - t_um ** 2, 0.0, None))


def line_integrals_outside(fractions, t_um, cfg: CoinCTConfig, indices: dict):
    """∫δ dl and ∫β dl (m) of the cell around the ROI axis, per slice and detector column.

    Every slice is a set of concentric discs: phase ``k`` fills a disc of ``cfg.radii_mm[k]``
    with the slice's volume fraction ``fractions[z, k]``; the casing wall (steel annulus
    ``cfg.casing_mm``) is added at every height.  Includes the ROI itself (as its slice mean).

    Parameters
    ----------
    fractions : (n_z, n_phases) array
        Volume fraction of each phase (:data:`PHASES` order) per slice.
    t_um : (n_det,) array
        Detector coordinate from the rotation axis (µm).

    Returns
    -------
    delta_m, beta_m : (n_z, n_det) arrays
    """
    t = np.asarray(t_um, float)
    fr = np.asarray(fractions, float)
    dl = np.zeros((fr.shape[0], t.size))
    bl = np.zeros_like(dl)
    for k, name in PHASES.items():
        if name == "void":
            continue
        d, b = indices[name]
        ch = _chord_um(1e3 * cfg.radii_mm[name], t) * 1e-6
        dl += fr[:, k:k + 1] * d * ch[None]
        bl += fr[:, k:k + 1] * b * ch[None]
    ri, ro = 1e3 * cfg.casing_mm[0], 1e3 * cfg.casing_mm[1]
    wall = (_chord_um(ro, t) - _chord_um(ri, t)) * 1e-6
    ds, bs = indices["steel"]
    return dl + ds * wall[None], bl + bs * wall[None]


def fresnel_propagate(wave, distance_m: float, pixel_m, wavelength: float, *, pad: int = 0):
    """Near-field (angular-spectrum / Fresnel) propagation of a complex wave.

    ``U_d = F^-1[ F[U_0] exp(-i pi lambda d (u^2 + v^2)) ]`` on the last one (1-D) or two axes;
    edges padded by ``pad`` samples (edge values) and cropped.

    Parameters
    ----------
    wave : complex array (..., n) or (..., n_z, n_x)
    distance_m : float
    pixel_m : float or (float, float)
        Sampling along the propagated axes (m).
    wavelength : float
        (m)
    pad : int or (int, int)
        Samples of edge padding on each side (per propagated axis with a pair).
    """
    w = np.asarray(wave)
    px = np.atleast_1d(np.asarray(pixel_m, float))
    nd = 1 if px.size == 1 and w.ndim >= 1 and np.ndim(pixel_m) == 0 else 2
    axes = tuple(range(w.ndim - nd, w.ndim))
    pads = [int(x) for x in np.broadcast_to(np.asarray(pad, int), (nd,))]
    if any(pads):
        pw = [(0, 0)] * (w.ndim - nd) + [(q, q) for q in pads]
        w = np.pad(w, pw, mode="edge")
    ph = np.zeros(w.shape[w.ndim - nd:])
    for i, ax in enumerate(axes):
        u = np.fft.fftfreq(w.shape[ax], d=px[min(i, px.size - 1)])
        sh = [1] * nd
        sh[i] = -1
        ph = ph + (u ** 2).reshape(sh)
    import scipy.fft as sfft

    kern = np.exp(-1j * np.pi * wavelength * distance_m * ph)
    out = sfft.ifftn(sfft.fftn(w, axes=axes, workers=-1) * kern, axes=axes, workers=-1)
    if any(pads):
        sl = [slice(None)] * (w.ndim - nd) + [slice(q, w.shape[w.ndim - nd + i] - q)
                                              for i, q in enumerate(pads)]
        out = out[tuple(sl)]
    return out


def _fractions(labels, roi):
    n = len(PHASES)
    fr = np.zeros((labels.shape[0], n))
    area = roi.sum()
    for z in range(labels.shape[0]):
        fr[z] = np.bincount(labels[z][roi], minlength=n)[:n] / area
    return fr


#: Rows beyond the ROI deviation's reach that the coupled 2-D propagation of
#: :func:`simulate_coin_scan` adds on each side (its edge padding's fringes stay in them).
COUPLE_MARGIN_PX = 16
#: z oversampling of that propagation (the outside's slice steps are 10-200 rad; 16
#: samples a pixel resolve the Fresnel zone sqrt(lambda d) ~ 1.8 µm by ~9).
COUPLE_Z_OVERSAMPLE = 16


def simulate_coin_scan(ph: CoinROIPhantom, *, cfg: CoinCTConfig | None = None, seed: int = 0,
                       return_intensity: bool = False):
    """Projections of the coin cell at one state, as a beamline records them.

    Returns a :class:`ssbscope.twin.ct_project.CTScan` (counts, flats, darks, angles; its
    ``line_integrals`` hold the noise-free -ln of the detected intensity), and with
    ``return_intensity`` also a dict of the intermediate products (``phase_outside_rad``
    (n_z, n_det) on the pixel grid, ``intensity`` (n_angles, n_z, n_det)).
    """
    from scipy.ndimage import gaussian_filter

    from ssbscope.twin.ct_project import CTScan, project

    cfg = cfg or CoinCTConfig()
    idx = refractive_indices(cfg.e_kev)
    lam = wavelength_m(cfg.e_kev)
    k = 2 * np.pi / lam
    vs_m = cfg.voxel_size_um * 1e-6
    lab, roi = ph.labels, ph.roi
    n_z, n_y, n_x = lab.shape
    n_det = n_x
    center = n_det // 2
    t_um = (np.arange(n_det) - center) * cfg.voxel_size_um
    fr = _fractions(lab, roi)
    # ---- the cell outside (and the ROI's slice means), propagated once, 1-D in z, fine grid
    S = int(cfg.z_oversample)
    d_out, b_out = line_integrals_outside(fr, t_um, cfg, idx)
    d_f = np.repeat(d_out, S, axis=0)
    b_f = np.repeat(b_out, S, axis=0)
    w_out = np.exp(-k * b_f - 1j * k * d_f).T                      # (n_det, n_z S)
    pad = 8 * S
    I_out = np.abs(fresnel_propagate(w_out, cfg.distance_mm * 1e-3, vs_m / S, lam,
                                     pad=pad)) ** 2
    I_out = I_out.reshape(n_det, n_z, S).mean(axis=2).T          # (n_z, n_det) pixel rows
    # ---- the ROI's deviation from its slice means, per angle (2-D, pixel grid)
    dvals = np.array([idx[PHASES[c]][0] for c in range(len(PHASES))])
    bvals = np.array([idx[PHASES[c]][1] for c in range(len(PHASES))])
    dev_d = (dvals[lab] - (fr @ dvals)[:, None, None]) * roi[None]
    dev_b = (bvals[lab] - (fr @ bvals)[:, None, None]) * roi[None]
    busy = np.nonzero(np.abs(dev_d).max(axis=(1, 2)) > 0)[0]
    ang = np.linspace(0.0, np.pi, cfg.n_angles, endpoint=False)
    I = np.empty((cfg.n_angles, n_z, n_det), np.float32)
    I[:] = I_out[None].astype(np.float32)
    if busy.size:
        z_lo, z_hi = max(busy[0] - 8, 0), min(busy[-1] + 9, n_z)
        sl = slice(z_lo, z_hi)
        # δ and β projected together (one projector call): stack along z
        stack = np.concatenate([dev_d[sl], dev_b[sl]], axis=0).astype(np.float64)
        scale = float(np.abs(stack).max()) or 1.0
        p = project((stack / scale).astype(np.float32), ang, center=center,
                    n_detector=n_det).astype(np.float64) * scale * vs_m
        nb = z_hi - z_lo
        pd, pb = p[:, :nb], p[:, nb:]
    if busy.size and not cfg.coupled:  # the outside's and the ROI's intensities multiply
        w = np.exp(-k * pb - 1j * k * pd)
        Id = np.abs(fresnel_propagate(w, cfg.distance_mm * 1e-3, (vs_m, vs_m), lam,
                                      pad=16)) ** 2
        I[:, sl] *= Id.astype(np.float32)
    elif busy.size:
        # the whole cell's wave (outside + ROI deviation) propagated together in 2-D on the
        # fine z grid over the rows the ROI's deviation reaches, with COUPLE_MARGIN_PX rows
        # of margin whose edge padding stays out of the kept rows
        M = COUPLE_MARGIN_PX
        S = min(S, COUPLE_Z_OVERSAMPLE)
        w_lo, w_hi = max(z_lo - M, 0), min(z_hi + M, n_z)
        nw = w_hi - w_lo
        d_w = np.repeat(d_out[w_lo:w_hi], S, axis=0)
        b_w = np.repeat(b_out[w_lo:w_hi], S, axis=0)
        o = z_lo - w_lo
        keep = slice(0 if w_lo == 0 else o, nw if w_hi == n_z else o + nb)
        nbatch = max(1, int(2 ** 24 // max(1, (nw * S + 16 * S) * (n_det + 32))))
        for a0 in range(0, cfg.n_angles, nbatch):
            a1 = min(cfg.n_angles, a0 + nbatch)
            ph = np.repeat(d_w[None], a1 - a0, axis=0)
            ab = np.repeat(b_w[None], a1 - a0, axis=0)
            ph[:, o * S:(o + nb) * S] += np.repeat(pd[a0:a1], S, axis=1)
            ab[:, o * S:(o + nb) * S] += np.repeat(pb[a0:a1], S, axis=1)
            u = np.exp(-k * ab - 1j * k * ph)
            del ph, ab
            Ic = np.abs(fresnel_propagate(u, cfg.distance_mm * 1e-3, (vs_m / S, vs_m), lam,
                                          pad=(8 * S, 16))) ** 2
            del u
            Ic = Ic.reshape(a1 - a0, nw, S, n_det).mean(axis=2)
            I[a0:a1, w_lo + keep.start:w_lo + keep.stop] = Ic[:, keep].astype(np.float32)
    if cfg.psf_sigma_px > 0:
        I = gaussian_filter(I, (0, cfg.psf_sigma_px, cfg.psf_sigma_px), mode="nearest")
    n_flats, n_darks = int(cfg.n_flats), int(cfg.n_darks)
    rg, rp, rf, rd = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    gain = np.clip(1.0 + 0.05 * rg.standard_normal((n_z, n_det)), 0.5, 1.5)
    flux = cfg.flux_photons
    counts = rp.poisson(flux * gain[None] * I) + rp.poisson(cfg.dark_counts, size=I.shape)
    flats = (rf.poisson(flux * gain[None], size=(n_flats, n_z, n_det))
             + rf.poisson(cfg.dark_counts, size=(n_flats, n_z, n_det)))
    darks = rd.poisson(cfg.dark_counts, size=(n_darks, n_z, n_det))
    if counts.max() >= np.iinfo(np.uint16).max:
        raise ParameterError("flux_photons", flux, "overflows 16-bit counts (fringes above 3x)")
    scan = CTScan(projections=counts.astype(np.uint16), flats=flats.astype(np.uint16),
                  darks=darks.astype(np.uint16), angles_rad=ang, center_px=float(center),
                  line_integrals=(-np.log(np.clip(I, 1e-9, None))).astype(np.float32),
                  gain_residual=np.zeros((n_z, n_det)), zinger_mask=np.zeros((1, 1, 1), bool),
                  flux_photons=float(flux), scan="180", voxel_size_um=cfg.voxel_size_um)
    if return_intensity:
        return scan, {"phase_outside_rad": -k * d_out, "mu_outside": 2 * k * b_out,
                      "intensity": I, "I_outside": I_out}
    return scan


# ------------------------------------------------------------------------------ experiment folder

#: The demo's request for the Li+ flux through the anode|SPE interphase region, driven in the
#: x-y plane as in the paper's TauFactor simulation (Huang et al. 2024, Fig. S27): a slab of
#: +-16 µm (5 voxels of 3.24 µm) about the mean anode|SPE height, about +-2.5 Rq of the
#: surface, so that it holds the valleys and the peaks.
COIN_INTERFACE_REGION = {"interface": "anode|SPE", "phase": "PEO-LiTFSI",
                         "half_thickness_um": 16.0, "axis": 2}


def interface_region_truth(ph: CoinROIPhantom, region: dict, voxel_size_um: float) -> dict:
    """The twin's truth of an interface-region request on its own labels.

    The slab is centred on the true mean height of the anode's envelope over the ROI
    (``ph.surface_z_vox``), ``round(half_thickness_um / voxel size)`` slices each side of the
    voxel boundary nearest it; the phase's voxels in it are solved along ``axis``
    (:func:`ssbscope.transport.layer.region_tortuosity`; in-plane in the largest square
    inside the ROI circle).  The same solver as the measurement's (tested against analytic
    cases on its own): what the comparison tests is the chain from projections to labels,
    interface height and measured columns.

    Returns
    -------
    dict
        ``tau``, ``volume_fraction``, ``d_eff_ratio``, ``interface_z_um``, ``slab_z_um``
        (start, stop), ``phase``, ``half_thickness_um``, ``axis``.
    """
    from ssbscope.transport.layer import interface_slab, region_tortuosity

    vs = float(voxel_size_um)
    lower, upper = region["interface"].split("|")
    if (lower, upper) != ("anode", "SPE"):
        raise ParameterError("interface_region", region["interface"],
                             "the coin twin knows the truth of 'anode|SPE' only")
    code = _CODE[region["phase"]]
    h = max(1, int(round(float(region["half_thickness_um"]) / vs)))
    z = float(np.mean(ph.surface_z_vox[ph.roi]))
    slab = interface_slab(z, h, ph.labels.shape[0])
    r = region_tortuosity(ph.labels, code, slab, ph.roi, axis=int(region.get("axis", 2)),
                          n_slabs=1)
    return {"tau": float(r.tau), "volume_fraction": float(r.volume_fraction),
            "d_eff_ratio": float(r.d_eff_ratio), "interface_z_um": z * vs,
            "slab_z_um": [slab[0] * vs, slab[1] * vs], "phase": region["phase"],
            "half_thickness_um": float(region["half_thickness_um"]),
            "axis": int(region.get("axis", 2))}


#: n_xy and n_angles per demo size (the ROI's n_z follows the 400 µm anode: ~180 slices).
COIN_CT_SIZES = {"tiny": (40, 600), "small": (48, 900), "medium": (64, 1200)}
#: Cell name and layer names of the ROI series in the YAML (bottom to top).
COIN_CT_LAYERS = ("spacer", "anode", "SPE", "cathode", "Al", "cap")


def coin_ct_part(root, *, size: str = "small", seed: int = 0, series: str = "coin",
                 phase_retrieval: bool = True, cfg: CoinCTConfig | None = None,
                 n_angles: int | None = None, crop_rows: bool = True,
                 interface_region: dict | None = None):
    """Write the coin cell's CT series at pristine / fully charged / fully discharged.

    One Data Exchange HDF5 per state (``scans/<series>/s00k.h5``: counts, flats, darks, theta,
    pixel size, energy, exposure 9 ms, start/end dates on the first-cycle clock), a cell
    ``<series>`` of the ROI's layers (spacer, anode, SPE, cathode, Al, cap; the ROI's diameter)
    and the truth per scan (Ra/Rq of the anode|SPE interface, the anode's envelope volume and
    its change against the first scan, layer thicknesses).

    Parameters
    ----------
    root : path
    size : {"tiny", "small", "medium"}
        :data:`COIN_CT_SIZES`.
    phase_retrieval : bool
        Ask for Paganin phase retrieval in the YAML (``inputs.tomo[].phase_retrieval``) with
        the Li's δ/β from its material and the stated distance, and ``truncated: auto``.
    cfg : CoinCTConfig, optional
        Acquisition and geometry (default :class:`CoinCTConfig`).
    n_angles : int, optional
        Projections over 180° (default: the size's, :data:`COIN_CT_SIZES`).
    crop_rows : bool
        Reconstruct only the detector rows from the spacer to 10 slices into the cathode
        (``inputs.tomo[].rows``, one range for the series; the cell declares spacer, anode,
        SPE, cathode): the 15 µm Al foil under the steel cap is not resolvable after
        Paganin with Li's δ/β (the steel's edge spreads over ~20 slices).
    interface_region : dict, optional
        The YAML's request for the Li+ flux through the anode|SPE interphase region
        (``analysis.transport.interface_regions``; default :data:`COIN_INTERFACE_REGION`),
        whose truth the twin computes on its own labels (:func:`interface_region_truth`) and
        writes per scan (``interface_flux``).

    Returns
    -------
    ssbscope.twin.folder.FolderPart
    """
    from datetime import datetime, timedelta
    from pathlib import Path

    from ssbscope.twin.ct_files import write_dxchange
    from ssbscope.twin.folder import FolderPart

    if size not in COIN_CT_SIZES:
        raise ParameterError("size", size, f"must be one of {list(COIN_CT_SIZES)}")
    n_xy, n_default = COIN_CT_SIZES[size]
    n_angles = int(n_angles) if n_angles is not None else n_default
    base = cfg or CoinCTConfig()
    cfg = CoinCTConfig(**{**base.__dict__, "n_angles": n_angles})
    root = Path(root)
    start0 = datetime(2024, 1, 15, 9, 0, 0)   # the first-cycle log's start (xcs twin's clock)
    exposure_s = 9e-3
    part = FolderPart()
    region = dict(COIN_INTERFACE_REGION if interface_region is None else interface_region)
    entries, rows = [], []
    phs = [coin_roi_phantom(st, n_xy=n_xy, cfg=cfg, seed=seed) for st in STATES]
    v0 = phs[0].anode_volume_um3
    vs = cfg.voxel_size_um
    row_stop = max(p.truth["spe_top_z_vox"] for p in phs) + 10
    for k, ph in enumerate(phs):
        sc = simulate_coin_scan(ph, cfg=cfg, seed=1000 * seed + 60 + k)
        t = ph.truth["time_s"]
        start = start0 + timedelta(seconds=t)
        n_frames = n_angles + sc.flats.shape[0] + sc.darks.shape[0]
        end = start + timedelta(seconds=n_frames * exposure_s)
        rel = f"scans/{series}/s{k:03d}.h5"
        write_dxchange(root / rel, sc, sample_name=f"{series}: {ph.state}",
                       start_date=start.isoformat(), end_date=end.isoformat(),
                       exposure_time_s=exposure_s, energy_kev=cfg.e_kev, truth_center=False)
        part.files.append(rel)
        entry = {"path": rel, "kind": "projections", "series": series, "cell": series,
                 "time_s": round(float(t), 3), "state": ph.state, "energy_kev": cfg.e_kev,
                 # the ROI is centred on the rotation axis by the alignment (a beamline
                 # records it); the centre search has no feature to lock on in a truncated,
                 # nearly uniform ROI (it found 29.5 for 20 on the tiny scans)
                 "center_px": float(sc.center_px)}
        if crop_rows:
            entry["rows"] = [0, row_stop]
        if phase_retrieval:
            entry["phase_retrieval"] = {"method": "paganin",
                                        "delta_beta": {"material": "Li", "density_g_cm3": 0.534},
                                        "distance_mm": cfg.distance_mm, "energy_kev": cfg.e_kev}
            entry["truncated"] = "auto"
        entries.append((entry, f"{series}: the coin cell's anode|SPE ROI at three states of "
                        "its first cycle (Huang et al. 2024), 115 keV phase contrast"
                        if k == 0 else None))
        z0 = ph.truth["anode_bottom_z_vox"]
        rows.append({
            "interface_flux": {region["interface"]: interface_region_truth(ph, region, vs)},
            "path": rel, "time_s": float(t), "state": ph.state,
            "roughness_um": {"anode|SPE": {"ra_um": ph.ra_um, "rq_um": ph.rq_um}},
            "target_ra_um": ph.truth["target_ra_um"],
            "interface_z_um": {"anode|SPE": float(np.mean(ph.surface_z_vox[ph.roi])) * vs},
            "mean_thickness_um": {"anode": float(np.mean(ph.surface_z_vox[ph.roi]) - z0) * vs,
                                  "SPE": (ph.truth["spe_top_z_vox"]
                                          - float(np.mean(ph.surface_z_vox[ph.roi]))) * vs,
                                  "cathode": cfg.cathode_um},
            # the SPE holds no pore or crack; the stripped Li's voids lie inside the anode
            "pore_crack_volume_um3": 0.0,
            "subsurface_void_volume_um3": ph.pore_volume_um3,
            "anode_volume_um3": ph.anode_volume_um3,
            "anode_volume_change_pct": 100.0 * (ph.anode_volume_um3 / v0 - 1.0),
            "li_volume_um3": ph.li_volume_um3, "pore_volume_um3": ph.pore_volume_um3,
            "roi_area_um2": float(ph.roi.sum()) * vs ** 2,
            "envelope_change_um": ph.truth["envelope_change_um"],
            "pore_thickness_um": ph.truth["pore_thickness_um"],
        })
    lab = phs[0].labels
    z_of = {c: np.nonzero((lab == c).any(axis=(1, 2)))[0] for c in (1, 2, 4, 5)}
    nominal = {"spacer": cfg.spacer_vox * vs, "anode": cfg.anode_um, "SPE": cfg.spe_um,
               "cathode": cfg.cathode_um, "Al": cfg.al_um,
               "cap": float(lab.shape[0] - 1 - z_of[5].max()) * vs}
    mats = {"spacer": "steel", "anode": "Li", "SPE": "PEO-LiTFSI", "cathode": "NMC622",
            "Al": "Al", "cap": "steel"}
    names = COIN_CT_LAYERS[:4] if crop_rows else COIN_CT_LAYERS
    layers = [({"name": n, "material": mats[n], "thickness_um": round(nominal[n], 3)},
               None) for n in names]
    cell = {"name": "coin cell ROI (CT)", "diameter_mm": round(n_xy * vs / 1000.0, 6),
            "layers": [la for la, _ in layers]}
    part.cells[series] = (cell, "the coin cell's CT region of interest: steel spacer to "
                          "steel cap on the cell axis (the scans are truncated: the cell is "
                          "20 mm wide)", [c for _, c in layers])
    part.inputs["tomo"] = entries
    # the SPE holds the pores (by default the thickest non-Li layer, the cathode, would)
    part.analysis["tomo"] = {"interfaces": ["anode|SPE"], "thickness": ["anode", "SPE"],
                             "electrolyte": "SPE"}
    # the Li+ flux through the interphase region (Huang et al. 2024, Fig. S27)
    part.analysis["transport"] = {"interface_regions": [region]}
    part.comments.append(f"{series}: CT of the coin cell's anode|SPE ROI (pristine, fully "
                         f"charged, fully discharged; Huang et al. 2024 Table 1) at "
                         f"{cfg.e_kev:g} keV, {cfg.distance_mm:g} mm propagation.")
    part.truth = {"tomo": {series: {
        "cell": series, "design": "coin_ct", "size": size, "voxel_size_um": vs,
        "e_kev": cfg.e_kev, "distance_mm": cfg.distance_mm, "flux_photons": cfg.flux_photons,
        "n_angles": n_angles, "shape_zyx": list(lab.shape), "layers": list(names),
        "rows": [0, row_stop] if crop_rows else None,
        "paper_ra_um": {"pristine": 5.1, "fully charged": 5.4, "fully discharged": 6.1},
        "paper_anode_volume_change_pct": {"fully charged": 3.7, "fully discharged": -1.4},
        "scans": rows}}}
    return part
