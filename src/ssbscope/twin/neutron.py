"""Digital twin of the operando neutron radiography of 002_3ee4edf529433f9c, with ground truth.

Cell (002_ Experimental): a PTFE tube of 1/4 inch inner diameter holding, from top to bottom
in the radiograph, a stainless-steel rod, ≈ 250 µm Li foil, the Li5.4PS4.6Cl1.4 pellet (60 mg
pressed in the tube: ≈ 1.18 mm at 1.60 g cm⁻³), the composite cathode (8 mg of NMC811 : SE :
carbon = 80 : 20 : 2, ≈ 0.1 mm at an assumed 2.8 g cm⁻³) and a second rod.  The PTFE tube has
bulged near the Li layer (the gap between rod and tube the paper describes), part of which the
Li already filled when the stack was pressed.

The radiograph is the projection along the beam through the cylinder: the path length of each
material per pixel is the chord ``2 sqrt(r² − u²)`` through its radial shells (u: lateral
distance from the cell axis), supersampled in z and u.  Transmission is spectrum-weighted over
the cold CG-1D beam (0.8–6 Å, peak 2.6 Å, :func:`ssbscope.neutron.attenuation.cold_spectrum`)
with Sears (1992) cross-sections and natural Li, then blurred by the 25 µm resolution (FWHM).

Lithium redistribution during the C/20 charge (002_ Fig. 2D,E and Fig. 5), as
lithium-metal-equivalent areal thickness moved by the Faradaic charge ``h(t)``
(``j / F · M_Li / ρ_Li`` ≈ 0.96 µm h⁻¹ at 0.198 mA cm⁻²):

* P1, cathode delithiation: Li leaves the cathode rows (depletion, Tr_t/Tr_0 > 1);
* P2, plating at the Li|SE interface: Li fills the SE pores next to the interface
  (enrichment, Tr_t/Tr_0 < 1), exponentially distributed over ≈ 1.5 px into the SE;
* P3, thinning on the Li|steel side: Li leaves the top rows of the foil (depletion) at a
  creep rate starting after ``creep_onset_s``;
* P4, creep toward the cell edge: the same volume climbs the gap between rod and tube,
  moving its fill front upward (enrichment, strongest at the cell edge).

After the soft-short onset (``soft_short_onset_s``, by default the electrochemistry twin's
onset, :func:`ssbscope.twin.echem.sulfide_charge`), a fraction of the current bypasses the
electrolyte through the filament; part of the plated Li is reconnected at once (a step of 20 %)
and the Li amounts at P1 and P2 fluctuate (Ornstein–Uhlenbeck, 20 min correlation, 40 % of
the amount at the onset) around a slower Faradaic trend.

Detector: non-uniform beam (Gaussian profile + gradient), slow intensity drift and 10 s
fluctuations, static background (scattered neutrons) visible behind a Cd marker, Poisson
counting, ``gain_adu_per_count`` ADU per neutron, dark offset with fixed pattern and read noise,
gamma spots (1–4 px clusters) and saturated (hot) pixels, uint16 frames.  Open-beam and dark
frames come with the series.  All random draws come from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from dataclasses import dataclass, field, replace

import numpy as np

from ssbscope.errors import ParameterError
from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3, Material, get, parse_formula

__all__ = [
    "NeutronTwinConfig",
    "NeutronTwinTruth",
    "NeutronTwin",
    "CTTwin",
    "simulate_radiography",
    "simulate_ct",
    "write_series",
    "write_ct",
    "write_ct_projections",
    "cathode_composite",
    "BAND_NAMES",
]

log = logging.getLogger(__name__)

BAND_NAMES = ("P1", "P2", "P3", "P4")
_SATURATION = 65535


def cathode_composite(density_g_cm3: float = 2.8) -> Material:
    """NMC811 : Li5.4PS4.6Cl1.4 : carbon = 80 : 20 : 2 by mass (002_ Materials), porous."""
    parts = {"NMC811": 80.0, "Li5.4PS4.6Cl1.4": 20.0, "carbon": 2.0}
    comp: dict[str, float] = {}
    for name, mass in parts.items():
        m = get(name)
        mol = mass / m.molar_mass_g_mol
        for el, n in m.composition.items():
            comp[el] = comp.get(el, 0.0) + n * mol
    return Material("cathode composite (NMC811:SE:C 80:20:2)", comp, density_g_cm3)


@dataclass(frozen=True)
class NeutronTwinConfig:
    """Parameters of the neutron radiography twin (lengths in µm, times in s).

    The demo default (64 × 96 px of 50 µm, 480 frames every 60 s = 8 h) runs in about a
    second; ``frame_interval_s=10`` and ``n_frames=7200`` give the paper's 20 h series.
    """

    shape_yx: tuple = (64, 96)
    pixel_size_um: float = 50.0
    n_frames: int = 480
    frame_interval_s: float = 60.0
    exposure_s: float = 10.0
    seed: int = 0
    # geometry
    cell_axis_x_um: float = 500.0          # cell axis, µm from the left edge of the field
    rod_radius_um: float = 3175.0          # 1/4 inch rods and tube bore
    tube_outer_radius_um: float = 3975.0
    gap_um: float = 150.0                  # PTFE bulge near the Li (rod-tube gap)
    bulge_z_um: tuple = (200.0, 850.0)     # rows where the tube is bulged
    li_top_um: float = 600.0               # rod|Li interface
    li_thickness_um: float = 250.0
    se_thickness_um: float = 1180.0
    cathode_thickness_um: float = 100.0
    gap_prefill_um: float = 100.0          # Li already in the gap above the foil at t = 0
    cd_marker: tuple = (2, 8, 90, 96)      # (y0, y1, x0, x1) px, 1 mm Cd
    # electrochemistry (002_: 62.7 µA on 0.317 cm²)
    current_density_ma_cm2: float = 0.198
    soft_short_onset_s: float | None = 4.5 * 3600.0
    faradaic_fraction_after_short: float = 0.5
    fluctuation_rel: float = 0.4           # P1/P2 fluctuation amplitude / amount at the onset
    fluctuation_tau_s: float = 1200.0
    creep_onset_s: float = 1800.0
    creep_rate_um_h: float = 1.5           # Li|steel thinning (areal µm/h)
    p2_decay_px: float = 1.5
    # beam and detector
    open_beam_counts: float = 5000.0       # neutrons per pixel per frame at beam centre
    gain_adu_per_count: float = 2.0
    dark_offset_adu: float = 100.0
    dark_pattern_adu: float = 3.0
    read_noise_adu: float = 2.0
    background_fraction: float = 0.0       # static background / open-beam counts (demo: 0.01)
    drift_rel: float = 0.04                # linear drift over the series
    fluct_rel: float = 0.003               # frame-to-frame beam fluctuation (rms)
    spot_rate_per_px: float = 2e-3         # gamma spots per pixel per frame
    hot_pixel_rate_per_px: float = 3e-4    # saturated pixels per pixel per frame
    blur_fwhm_um: float = 25.0
    n_open_beam: int = 20
    n_dark: int = 10
    n_wavelengths: int = 32

    def __post_init__(self):
        for name in ("pixel_size_um", "frame_interval_s", "exposure_s", "open_beam_counts",
                     "gain_adu_per_count", "rod_radius_um", "li_thickness_um", "se_thickness_um",
                     "cathode_thickness_um"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ParameterError(name, v, "must be a finite number > 0")
        ny, nx = self.shape_yx
        if ny < 16 or nx < 16:
            raise ParameterError("shape_yx", self.shape_yx, "must be at least 16 x 16 px")
        if self.n_frames < 3:
            raise ParameterError("n_frames", self.n_frames, "must be >= 3")
        if self.tube_outer_radius_um <= self.rod_radius_um + self.gap_um:
            raise ParameterError("tube_outer_radius_um", self.tube_outer_radius_um,
                                 "must exceed rod_radius_um + gap_um")

    @property
    def duration_s(self) -> float:
        return self.n_frames * self.frame_interval_s

    @property
    def se_top_um(self) -> float:
        return self.li_top_um + self.li_thickness_um

    @property
    def cathode_top_um(self) -> float:
        return self.se_top_um + self.se_thickness_um

    @property
    def cathode_bottom_um(self) -> float:
        return self.cathode_top_um + self.cathode_thickness_um

    def x_to_u_um(self, x):
        """Lateral distance from the cell axis (µm) of pixel-column coordinate ``x``."""
        return (np.asarray(x, dtype=float) + 0.5) * self.pixel_size_um - self.cell_axis_x_um

    def z_to_px(self, z_um) -> float:
        """Row coordinate (pixel centres at integers) of a depth ``z_um`` from the top edge."""
        return float(z_um) / self.pixel_size_um - 0.5


@dataclass(frozen=True)
class NeutronTwinTruth:
    """Ground truth of a twin radiography series.

    Attributes
    ----------
    time_s : (t,) ndarray
        Mid-exposure time of each frame since the start of the charge.
    transmission : (t, y, x) float32
        Noise-free, blurred spectrum-weighted transmission the detector sees.
    delta_li_um : (t, y, x) float32
        Li-metal-equivalent path-length change along the beam since t = 0 (blurred), µm.
    band_amounts_um : dict
        Band -> (t,) areal Li-equivalent thickness moved (P1, P3 removed; P2, P4 added), µm.
    bands : dict
        Band -> dict(rows=(r0, r1), sign=+1 enrichment / −1 depletion, onset_s, kind, roi).
    layer_boundaries_px : dict
        Interface name -> row coordinate (pixel centres at integers) at t = 0, including the
        front of the Li already in the rod–tube gap ("gap Li front").
    rois : dict
        Name -> (y0, y1, x0, x1): "I" (cell middle), "II" (cell edge), "beam" (open beam),
        "background" (behind the Cd marker).
    beam_scale : (t,) ndarray
        Beam intensity relative to the open beam.
    background_adu : float
        Static background (ADU above dark).
    spot_mask, saturated_mask : (t, y, x) bool
        Pixels hit by gamma spots; pixels written at the saturation value.
    spot_labels : (t, y, x) int32
        Spot id (0 = none), one id per injected spot cluster.
    images_without_spots : (t, y, x) uint16
        The raw frames before gamma spots and hot pixels were added.
    soft_short_onset_s : float or None
    voltage_time_s, voltage_V : ndarray
        The charge curve (electrochemistry twin) on its own time grid.
    """

    time_s: np.ndarray
    transmission: np.ndarray
    delta_li_um: np.ndarray
    band_amounts_um: dict
    bands: dict
    layer_boundaries_px: dict
    rois: dict
    beam_scale: np.ndarray
    background_adu: float
    spot_mask: np.ndarray
    spot_labels: np.ndarray
    saturated_mask: np.ndarray
    soft_short_onset_s: float | None
    voltage_time_s: np.ndarray
    voltage_V: np.ndarray
    open_beam_counts_map: np.ndarray
    dark_map_adu: np.ndarray
    images_without_spots: np.ndarray = field(repr=False, default=None)


@dataclass(frozen=True)
class NeutronTwin:
    """Raw frames (uint16 ADU) of one twin series plus its ground truth."""

    images: np.ndarray
    open_beam: np.ndarray
    dark: np.ndarray
    time_s: np.ndarray
    config: NeutronTwinConfig
    truth: NeutronTwinTruth = field(repr=False)


# ---------------------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------------------
def _chord(r, u):
    return 2.0 * np.sqrt(np.maximum(r * r - u * u, 0.0))


def _shell(r_in, r_out, u):
    return _chord(r_out, u) - _chord(r_in, u)


def _static_paths(cfg: NeutronTwinConfig, ss_z: int = 10, ss_x: int = 5):
    """Path lengths (µm) per pixel of each static material, and the chord patterns."""
    ny, nx = cfg.shape_yx
    p = cfg.pixel_size_um
    zs = (np.arange(ny * ss_z) + 0.5) / ss_z * p  # sub-row centres, µm
    xs = (np.arange(nx * ss_x) + 0.5) / ss_x - 0.5
    u = cfg.x_to_u_um(xs)  # sub-column lateral positions
    R = cfg.rod_radius_um
    Rg = R + cfg.gap_um
    Ro = cfg.tube_outer_radius_um
    b0, b1 = cfg.bulge_z_um
    names = ("steel", "Li", "SE", "cathode", "PTFE")
    L = {k: np.zeros((ny * ss_z, nx * ss_x)) for k in names}
    for iz, z in enumerate(zs):
        bulged = b0 <= z < b1
        r_in_tube = Rg if bulged else R
        L["PTFE"][iz] = _shell(r_in_tube, Ro, u)
        if z < cfg.li_top_um or z >= cfg.cathode_bottom_um:
            L["steel"][iz] = _chord(R, u)
            if bulged and cfg.li_top_um - cfg.gap_prefill_um <= z < cfg.li_top_um:
                L["Li"][iz] = _shell(R, Rg, u)
        elif z < cfg.se_top_um:
            L["Li"][iz] = _chord(r_in_tube, u)
        elif z < cfg.cathode_top_um:
            L["SE"][iz] = _chord(R, u)
        else:
            L["cathode"][iz] = _chord(R, u)
    out = {k: v.reshape(ny, ss_z, nx, ss_x).mean(axis=(1, 3)) for k, v in L.items()}
    # chord patterns (µm of path per unit volume fraction) at pixel resolution
    chord_R = _chord(R, u).reshape(nx, ss_x).mean(axis=1)
    chord_Rg = _chord(Rg, u).reshape(nx, ss_x).mean(axis=1)
    annulus = _shell(R, Rg, u).reshape(nx, ss_x).mean(axis=1)
    cd = np.zeros((ny, nx))
    y0, y1, x0, x1 = cfg.cd_marker
    cd[y0:y1, x0:x1] = 1000.0
    out["Cd"] = cd
    return out, {"chord_R": chord_R, "chord_Rg": chord_Rg, "annulus": annulus}


def _row_overlap(ny: int, p: float, z0: float, z1: float) -> np.ndarray:
    """Fraction of each pixel row covered by [z0, z1) (µm)."""
    edges = np.arange(ny + 1) * p
    lo = np.maximum(edges[:-1], z0)
    hi = np.minimum(edges[1:], z1)
    return np.clip(hi - lo, 0.0, None) / p


def _band_patterns(cfg: NeutronTwinConfig, chords) -> dict:
    """Li path-length change (µm) per pixel per µm of areal Li moved, for each band (signed)."""
    ny, nx = cfg.shape_yx
    p = cfg.pixel_size_um
    pat = {}
    # P1: uniform over the cathode rows (areal h spread over the cathode thickness)
    w1 = _row_overlap(ny, p, cfg.cathode_top_um, cfg.cathode_bottom_um) * p / cfg.cathode_thickness_um
    pat["P1"] = -(w1 / p)[:, None] * chords["chord_R"][None, :]
    # P2: exponential into the SE below the Li|SE interface
    zz = np.linspace(cfg.se_top_um, cfg.se_top_um + 8 * cfg.p2_decay_px * p, 400)
    dens = np.exp(-(zz - cfg.se_top_um) / (cfg.p2_decay_px * p))
    dens /= np.trapezoid(dens, zz)
    w2 = np.zeros(ny)
    rows = np.clip((zz // p).astype(int), 0, ny - 1)
    np.add.at(w2, rows, dens * (zz[1] - zz[0]))
    pat["P2"] = (w2 / p)[:, None] * chords["chord_R"][None, :]
    return pat


# ---------------------------------------------------------------------------------------
# time evolution
# ---------------------------------------------------------------------------------------
def _ou(rng, t: np.ndarray, tau: float) -> np.ndarray:
    x = np.zeros(t.size)
    z = rng.normal(size=t.size)
    for k in range(1, t.size):
        a = math.exp(-(t[k] - t[k - 1]) / tau)
        x[k] = a * x[k - 1] + math.sqrt(1 - a * a) * z[k]
    return x


def _amounts(cfg: NeutronTwinConfig, t: np.ndarray, rng) -> dict:
    """Areal Li-equivalent thickness moved (µm) per band at times ``t``."""
    rate_um_s = (cfg.current_density_ma_cm2 * 1e-3 / FARADAY_C_MOL * M_LI_G_MOL / RHO_LI_G_CM3) * 1e4
    ts = cfg.soft_short_onset_s
    if ts is None or ts >= t[-1]:
        h = rate_um_s * t
        fl = np.zeros_like(t)
    else:
        f = cfg.faradaic_fraction_after_short
        h = np.where(t < ts, rate_um_s * t, rate_um_s * (ts + f * (t - ts)))
        xi = _ou(rng, t, cfg.fluctuation_tau_s)
        ramp = np.clip((t - ts) / (0.5 * cfg.fluctuation_tau_s), 0, 1)
        fl = np.where(t >= ts, cfg.fluctuation_rel * rate_um_s * ts * xi * ramp, 0.0)
        # the soft short starts with a step: part of the plated Li is reconnected at once
        fl = fl + np.where(t >= ts, -0.2 * rate_um_s * ts, 0.0)
    creep = np.clip(t - cfg.creep_onset_s, 0, None) * cfg.creep_rate_um_h / 3600.0
    return {"P1": np.maximum(h + 0.5 * fl, 0.0), "P2": np.maximum(h + fl, 0.0), "P3": creep, "P4": creep}


def _spectral_basis(cfg, paths, spectrum):
    from ssbscope.neutron.attenuation import li_cross_section_1_cm, macroscopic_cross_section_1_cm

    mats = {"steel": get("steel"), "Li": get("Li"), "SE": get("Li5.4PS4.6Cl1.4"),
            "cathode": cathode_composite(), "PTFE": get("PTFE"),
            "Cd": Material("Cd", parse_formula("Cd"), 8.65)}
    mu = np.zeros(cfg.shape_yx + (spectrum.wavelength_a.size,))
    for k, L in paths.items():
        sig = macroscopic_cross_section_1_cm(mats[k], spectrum.wavelength_a)  # 1/cm
        mu += (L * 1e-4)[..., None] * sig
    base = spectrum.weight * np.exp(-mu)  # (y, x, K)
    sig_li = li_cross_section_1_cm(spectrum.wavelength_a) * 1e-4  # 1/µm
    return base, sig_li


def _rois(cfg: NeutronTwinConfig) -> dict:
    ny, nx = cfg.shape_yx
    p = cfg.pixel_size_um
    col = lambda u: int(round((u + cfg.cell_axis_x_um) / p - 0.5))  # noqa: E731
    beam_x0 = col(cfg.tube_outer_radius_um) + 2
    if beam_x0 >= nx - 1:
        raise ParameterError("shape_yx", cfg.shape_yx, "leaves no open-beam columns beside the tube",
                             "widen the field or move cell_axis_x_um")
    y0c, y1c, x0c, x1c = cfg.cd_marker
    beam_y0 = min(max(y1c + 2, ny // 4), ny - 4)
    return {
        "I": (0, ny, max(col(-400.0), 0), col(800.0)),
        "II": (0, ny, col(cfg.rod_radius_um - 150.0), col(cfg.rod_radius_um + cfg.gap_um + 100.0)),
        "beam": (beam_y0, ny - 2, beam_x0, nx),
        "background": (y0c + 1, y1c - 1, x0c + 1, x1c - 1),
    }


def _voltage(cfg: NeutronTwinConfig, seed: int):
    from ssbscope.twin.echem import sulfide_charge

    dur_h = cfg.duration_s / 3600.0
    ts = cfg.soft_short_onset_s
    if ts is not None and ts < cfg.duration_s * 0.98:
        tw = sulfide_charge("soft", seed=seed, dt_s=min(60.0, cfg.frame_interval_s),
                            short_onset_h=ts / 3600.0, time_limit_h=dur_h)
        onset = tw.short_onset_s
    else:
        tw = sulfide_charge("clean", seed=seed, dt_s=min(60.0, cfg.frame_interval_s), time_limit_h=dur_h)
        onset = None
    return tw.data["time_s"].to_numpy(), tw.data["voltage_V"].to_numpy(), onset


def simulate_radiography(config: NeutronTwinConfig | None = None, **overrides) -> NeutronTwin:
    """Simulate the operando radiography series of 002_3ee4edf529433f9c (see module docstring).

    Parameters
    ----------
    config : NeutronTwinConfig, optional
    **overrides
        Fields of :class:`NeutronTwinConfig` to change (``n_frames=300``, ``seed=3`` ...).

    Returns
    -------
    NeutronTwin
        ``images`` (t, y, x) uint16, ``open_beam`` (n, y, x) uint16, ``dark`` (n, y, x) uint16,
        ``time_s`` (t,), ``truth``.
    """
    from scipy.ndimage import gaussian_filter

    from ssbscope.neutron.attenuation import cold_spectrum

    cfg = replace(config or NeutronTwinConfig(), **overrides)
    rng = np.random.default_rng(cfg.seed)
    ny, nx = cfg.shape_yx
    p = cfg.pixel_size_um
    t = (np.arange(cfg.n_frames) + 0.5) * cfg.frame_interval_s
    spectrum = cold_spectrum(n=cfg.n_wavelengths)
    paths, chords = _static_paths(cfg)
    base, sig_li = _spectral_basis(cfg, paths, spectrum)
    pats = _band_patterns(cfg, chords)

    # voltage and soft-short onset from the electrochemistry twin
    vt, vv, onset = _voltage(cfg, cfg.seed)
    if onset is not None and abs(onset - cfg.soft_short_onset_s) > 1e-6:
        cfg = replace(cfg, soft_short_onset_s=float(onset))
    amounts = _amounts(cfg, t, rng)

    # P3/P4 patterns depend on the creep amount (front position), built per frame
    R, Rg = cfg.rod_radius_um, cfg.rod_radius_um + cfg.gap_um
    li_chord_top = chords["chord_Rg"]  # Li layer lies in the bulged rows
    w3 = _row_overlap(ny, p, cfg.li_top_um, cfg.li_top_um + 2 * p)  # top 2 px of the foil
    area_ratio = Rg * Rg / (Rg * Rg - R * R)  # foil radius (bulged rows) / gap annulus
    sigma_px = cfg.blur_fwhm_um / 2.3548 / p
    trans = np.empty((cfg.n_frames, ny, nx), dtype=np.float32)
    dli = np.empty((cfg.n_frames, ny, nx), dtype=np.float32)
    front0 = cfg.li_top_um - cfg.gap_prefill_um
    for i in range(cfg.n_frames):
        d = amounts["P1"][i] * pats["P1"] + amounts["P2"][i] * pats["P2"]
        c = amounts["P3"][i]
        d -= (w3 * c / (2 * p))[:, None] * li_chord_top[None, :]
        rise = c * area_ratio  # µm of gap height filled
        w4 = _row_overlap(ny, p, front0 - rise, front0)
        d += w4[:, None] * chords["annulus"][None, :]
        tr = np.einsum("yxk,yxk->yx", base, np.exp(-np.multiply.outer(d, sig_li)))
        if sigma_px > 0:
            tr = gaussian_filter(tr, sigma_px, mode="nearest")
            d = gaussian_filter(d, sigma_px, mode="nearest")
        trans[i] = tr
        dli[i] = d

    # beam, drift, detector
    yy, xx = np.mgrid[0:ny, 0:nx]
    prof = np.exp(-(((yy - 0.45 * ny) / (1.2 * ny)) ** 2 + ((xx - 0.6 * nx) / (1.1 * nx)) ** 2)) \
        * (1.0 + 0.05 * (xx / nx - 0.5))
    ob_counts = cfg.open_beam_counts * prof / prof.max()
    scale = 1.0 - cfg.drift_rel * t / cfg.duration_s + 0.02 * np.sin(2 * np.pi * t / (cfg.duration_s / 2.5)) \
        + cfg.fluct_rel * rng.normal(size=t.size)
    bg_counts = cfg.background_fraction * cfg.open_beam_counts
    dark_map = cfg.dark_offset_adu + cfg.dark_pattern_adu * rng.normal(size=(ny, nx))
    g = cfg.gain_adu_per_count

    def detect(expected_counts, n):
        counts = rng.poisson(expected_counts)
        adu = g * counts + dark_map + cfg.read_noise_adu * rng.normal(size=(n, ny, nx))
        return adu

    imgs = detect(ob_counts[None] * scale[:, None, None] * trans + bg_counts, cfg.n_frames)
    obs = detect(np.broadcast_to(ob_counts, (cfg.n_open_beam, ny, nx)), cfg.n_open_beam)
    dks = dark_map[None] + cfg.read_noise_adu * rng.normal(size=(cfg.n_dark, ny, nx))

    spot_mask = np.zeros(imgs.shape, dtype=bool)
    spot_labels = np.zeros(imgs.shape, dtype=np.int32)
    shapes = [((0, 0),), ((0, 0), (0, 1)), ((0, 0), (1, 0)), ((0, 0), (0, 1), (1, 0), (1, 1))]
    label = 0

    def add_spots(stack, lab=None, msk=None):
        nonlocal label
        nfr = stack.shape[0]
        for i in range(nfr):
            ns = rng.poisson(cfg.spot_rate_per_px * ny * nx)
            for _ in range(ns):
                y, x = int(rng.integers(0, ny - 1)), int(rng.integers(0, nx - 1))
                shp = shapes[int(rng.integers(0, len(shapes)))]
                amp = float(np.exp(rng.uniform(np.log(2000.0), np.log(60000.0))))
                label += 1
                for dy, dx in shp:
                    stack[i, y + dy, x + dx] += amp * rng.uniform(0.6, 1.0)
                    if msk is not None:
                        msk[i, y + dy, x + dx] = True
                        lab[i, y + dy, x + dx] = label

    imgs_clean = np.clip(np.rint(imgs), 0, _SATURATION).astype(np.uint16)
    add_spots(imgs, spot_labels, spot_mask)
    add_spots(obs)
    hot = rng.random(imgs.shape) < cfg.hot_pixel_rate_per_px
    imgs[hot] = _SATURATION
    imgs = np.clip(np.rint(imgs), 0, _SATURATION).astype(np.uint16)
    sat = imgs == _SATURATION
    obs = np.clip(np.rint(obs), 0, _SATURATION).astype(np.uint16)
    dks = np.clip(np.rint(dks), 0, _SATURATION).astype(np.uint16)

    rows = {k: cfg.z_to_px(z) for k, z in (("rod|Li", cfg.li_top_um), ("Li|SE", cfg.se_top_um),
                                            ("SE|cathode", cfg.cathode_top_um),
                                            ("cathode|rod", cfg.cathode_bottom_um))}
    if cfg.gap_prefill_um > 0:
        rows["gap Li front"] = cfg.z_to_px(cfg.li_top_um - cfg.gap_prefill_um)
    li_r = int(cfg.li_top_um // p)
    se_r = int(math.ceil(cfg.se_top_um / p - 1e-9))
    cat_r0 = int(cfg.cathode_top_um // p)
    cat_r1 = int(math.ceil(cfg.cathode_bottom_um / p - 1e-9))
    front_final = front0 - amounts["P4"][-1] * area_ratio
    bands = {
        "P1": dict(rows=(cat_r0, cat_r1), sign=-1, kind="depletion", onset_s=0.0, roi="I"),
        "P2": dict(rows=(se_r, se_r + 3), sign=+1, kind="enrichment", onset_s=0.0, roi="I"),
        "P3": dict(rows=(li_r, li_r + 2), sign=-1, kind="depletion", onset_s=cfg.creep_onset_s, roi="I"),
        "P4": dict(rows=(int(front_final // p), int(math.ceil(front0 / p - 1e-9))), sign=+1,
                   kind="enrichment", onset_s=cfg.creep_onset_s, roi="II"),
    }
    truth = NeutronTwinTruth(
        time_s=t, transmission=trans, delta_li_um=dli, band_amounts_um=amounts, bands=bands,
        layer_boundaries_px=rows, rois=_rois(cfg), beam_scale=scale,
        background_adu=g * bg_counts, spot_mask=spot_mask, spot_labels=spot_labels,
        saturated_mask=sat, soft_short_onset_s=cfg.soft_short_onset_s
        if cfg.soft_short_onset_s is not None and cfg.soft_short_onset_s < t[-1] else None,
        voltage_time_s=vt, voltage_V=vv, open_beam_counts_map=ob_counts, dark_map_adu=dark_map,
        images_without_spots=imgs_clean)
    return NeutronTwin(images=imgs, open_beam=obs, dark=dks, time_s=t, config=cfg, truth=truth)


# ---------------------------------------------------------------------------------------
# neutron CT before / after
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CTTwin:
    """Neutron CT volumes (z, y, x) of the cell before and after the charge (attenuation, 1/cm).

    ``after`` is displaced by ``shift_zyx_vox`` (re-mounting); ``increment_true`` is the
    aligned after − before (Li creep into the gap and thinning at the Li|steel side).
    """

    before: np.ndarray
    after: np.ndarray
    voxel_size_um: float
    shift_zyx_vox: tuple
    increment_true: np.ndarray
    creep_mask: np.ndarray
    thinning_mask: np.ndarray


def simulate_ct(*, shape_zyx=(40, 48, 48), voxel_size_um: float = 200.0, creep_um: float = 12.0,
                shift_zyx_vox=(1.0, -2.0, 1.5), noise_1_cm: float = 0.05, seed: int = 0) -> CTTwin:
    """Before/after neutron CT of the 002_ cell with Li creep into the rod–tube gap (Fig. 5B).

    Attenuation coefficients are spectrum-weighted thin-sample values (cold CG-1D spectrum).
    The Li foil thins by ``creep_um`` at the steel side; the same volume fills the annular gap
    above the foil.  Sizes are small (75–100 µm voxels in 002_; 200 µm by default here).

    Returns
    -------
    CTTwin
    """
    from scipy.ndimage import shift as nd_shift

    from ssbscope.neutron.attenuation import cold_spectrum, macroscopic_cross_section_1_cm

    nz, ny, nx = shape_zyx
    if min(shape_zyx) < 16:
        raise ParameterError("shape_zyx", shape_zyx, "must be at least 16 voxels per axis")
    rng = np.random.default_rng(seed)
    sp = cold_spectrum(n=32)

    def mu(mat):
        return float(np.sum(sp.weight * macroscopic_cross_section_1_cm(mat, sp.wavelength_a)))

    v = voxel_size_um
    zc = (np.arange(nz) + 0.5) * v
    yc = (np.arange(ny) + 0.5 - ny / 2) * v
    xc = (np.arange(nx) + 0.5 - nx / 2) * v
    r = np.sqrt(yc[:, None] ** 2 + xc[None, :] ** 2)
    R, Rg, Ro = 3175.0, 3475.0, 3975.0
    z_li = 0.35 * nz * v
    li_t = 1.5 * v
    z_se = z_li + li_t
    z_cat = z_se + 0.3 * nz * v
    z_bot = z_cat + 1.0 * v
    m_steel, m_li, m_se, m_cat, m_ptfe = (mu(get("steel")), mu(get("Li")), mu(get("Li5.4PS4.6Cl1.4")),
                                          mu(cathode_composite()), mu(get("PTFE")))

    def volume(thin_um: float, fill_um: float):
        vol = np.zeros(shape_zyx)
        for k, z in enumerate(zc):
            sl = vol[k]
            bulged = z_li - 4 * v <= z < z_se
            sl[(r >= (Rg if bulged else R)) & (r < Ro)] = m_ptfe
            if z < z_li or z >= z_bot:
                sl[r < R] = m_steel
                # gap filled from the foil upward
                top = z_li - 1.0 * v - fill_um
                frac = np.clip((min(z + v / 2, z_li) - max(z - v / 2, top)) / v, 0, 1) if z < z_li else 0.0
                sl[(r >= R) & (r < Rg)] = m_li * frac
            elif z < z_se:
                frac = np.clip((z + v / 2 - max(z - v / 2, z_li + thin_um)) / v, 0, 1)
                sl[r < Rg] = m_li * frac
            elif z < z_cat:
                sl[r < R] = m_se
            else:
                sl[r < R] = m_cat
        return vol

    before = volume(0.0, 0.0)
    fill = creep_um * Rg * Rg / (Rg * Rg - R * R)
    after0 = volume(creep_um, fill)
    inc = after0 - before
    after = nd_shift(after0, shift_zyx_vox, order=3, mode="nearest")
    before_n = before + noise_1_cm * rng.normal(size=before.shape)
    after_n = after + noise_1_cm * rng.normal(size=after.shape)
    return CTTwin(before=before_n.astype(np.float32), after=after_n.astype(np.float32),
                  voxel_size_um=float(v), shift_zyx_vox=tuple(float(s) for s in shift_zyx_vox),
                  increment_true=inc.astype(np.float32), creep_mask=inc > 1e-6,
                  thinning_mask=inc < -1e-6)


# ---------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------
def write_series(twin: NeutronTwin, directory, *, fmt: str = "fits",
                 start_iso: str = "2023-03-01T08:00:00") -> dict:
    """Write a twin series as FITS or TIFF files with timestamps, plus open beam and dark.

    Each frame carries its time in the header (FITS ``TIME_S`` and ``DATE-OBS``; TIFF
    ImageDescription JSON ``{"TIME_S": ..., "DATE-OBS": ...}``) and in the file modification
    time (start + time).  Files: ``sample/frame_00000.<ext>``, ``open_beam/ob_000.<ext>``,
    ``dark/df_000.<ext>``.

    Returns
    -------
    dict
        {"sample": [paths], "open_beam": [paths], "dark": [paths]}
    """
    from ssbscope.neutron.io import write_fits_series, write_tiff_series

    from pathlib import Path

    if fmt not in ("fits", "tiff"):
        raise ParameterError("fmt", fmt, "must be 'fits' or 'tiff'")
    d = Path(directory)
    writer = write_fits_series if fmt == "fits" else write_tiff_series
    start = _dt.datetime.fromisoformat(start_iso).replace(tzinfo=_dt.timezone.utc)
    cfg = twin.config
    out = {}
    out["sample"] = writer(d / "sample", twin.images, twin.time_s, prefix="frame", start=start,
                           exposure_s=cfg.exposure_s)
    t_ob = -3600.0 + np.arange(cfg.n_open_beam) * cfg.exposure_s
    out["open_beam"] = writer(d / "open_beam", twin.open_beam, t_ob, prefix="ob", start=start,
                              exposure_s=cfg.exposure_s)
    t_df = -1800.0 + np.arange(cfg.n_dark) * cfg.exposure_s
    out["dark"] = writer(d / "dark", twin.dark, t_df, prefix="df", start=start, exposure_s=cfg.exposure_s)
    return out


def write_ct(ct: CTTwin, directory) -> dict:
    """Write the before/after CT volumes as float32 multi-page TIFFs (one z slice per page).

    The description holds ``{"voxel_size_um": ..., "units": "1/cm"}``.  Writes are atomic.

    Returns
    -------
    dict
        {"before": path, "after": path}
    """
    import json
    import os
    from pathlib import Path

    import tifffile

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, vol in (("before", ct.before), ("after", ct.after)):
        p = d / f"neutron_ct_{name}.tif"
        tmp = p.with_name(p.name + ".part")
        tifffile.imwrite(tmp, np.asarray(vol, dtype=np.float32),
                         description=json.dumps({"voxel_size_um": ct.voxel_size_um, "units": "1/cm"}))
        os.replace(tmp, p)
        out[name] = str(p)
    return out


def write_ct_projections(ct: CTTwin, directory, *, n_angles: int = 120, open_beam_counts: float = 2e4,
                         dark_counts: float = 100.0, n_open_beam: int = 5, n_dark: int = 5,
                         seed: int = 0) -> dict:
    """Write the before/after scans as the frames a neutron CT leaves: one FITS per angle.

    Each z slice of a volume (attenuation, 1/cm) is projected along the beam at ``n_angles``
    angles over 180 degrees (parallel beam, :func:`skimage.transform.radon`); the frames hold
    ``dark + open_beam_counts × exp(−∫µ dl)`` with Poisson counting noise (float32 FITS, rows
    along the rotation axis z). Open-beam and dark frames are written once for both scans, and
    ``angles.txt`` (degrees, one per frame).

    Returns
    -------
    dict
        ``{"before": [paths], "after": [paths], "open_beam": [paths], "dark": [paths],
        "angles": path}``
    """
    import os
    from pathlib import Path

    from skimage.transform import radon

    from ssbscope.neutron.io import write_fits_series

    if n_angles < 8:
        raise ParameterError("n_angles", n_angles, "must be at least 8")
    rng = np.random.default_rng(seed)
    d = Path(directory)
    theta = np.arange(n_angles) * 180.0 / n_angles
    px_cm = ct.voxel_size_um * 1e-4
    out = {}
    for name, vol in (("before", ct.before), ("after", ct.after)):
        nz, ny, nx = vol.shape
        frames = np.empty((n_angles, nz, nx), dtype=np.float32)
        yy, xx = np.mgrid[:ny, :nx]
        c = (min(ny, nx) // 2)
        outside = (yy - ny // 2) ** 2 + (xx - nx // 2) ** 2 > c * c  # spline-shift ripples only
        for k in range(nz):
            sl = np.where(outside, 0.0, np.asarray(vol[k], dtype=np.float64))
            sino = radon(sl, theta=theta, circle=True)  # (x, angle)
            frames[:, k, :] = np.exp(-sino.T * px_cm)
        counts = rng.poisson(open_beam_counts * frames) + rng.poisson(dark_counts, frames.shape)
        out[name] = write_fits_series(d / name, counts.astype(np.float32), np.arange(n_angles, dtype=float),
                                      prefix="proj", extra_header={"BUNIT": "counts"})
    shape = (ct.before.shape[0], ct.before.shape[2])
    ob = rng.poisson(open_beam_counts, (n_open_beam,) + shape) + rng.poisson(dark_counts, (n_open_beam,) + shape)
    out["open_beam"] = write_fits_series(d / "open_beam", ob.astype(np.float32),
                                         np.arange(n_open_beam, dtype=float), prefix="ob")
    df = rng.poisson(dark_counts, (n_dark,) + shape)
    out["dark"] = write_fits_series(d / "dark", df.astype(np.float32), np.arange(n_dark, dtype=float),
                                    prefix="df")
    ang = d / "angles.txt"
    tmp = ang.with_name(ang.name + ".part")
    tmp.write_text("# rotation angle (degrees) of each projection, in file order\n"
                   + "".join(f"{a:.6f}\n" for a in theta), encoding="utf-8")
    os.replace(tmp, ang)
    out["angles"] = str(ang)
    return out
