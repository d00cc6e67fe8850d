"""Digital twin of the XCS imaging geometry of 000_290f30815ae66793.

Geometry (Experimental procedures of 000_...): a 115 keV monochromatic sheet beam,
25 mm wide and 0.25 mm high, travels along +x through a coin cell whose layers are stacked
along z; a HEXITEC CdZnTe detector (80 x 80 pixels, 0.25 mm pitch, 2 mm thick) looks down
the z axis through a 0.2 mm pinhole 160 mm above the sheet, the detector a further 150 mm
behind it, so photons scattered at about 90 degrees image the x-y plane (magnification
150/160, image inverted).  Each photon's scattering angle follows from its position, so
E_C drifts by about +-1 keV across the detector.

Physics of each photon: the number scattered from a voxel follows Eq. 1 of 000_...
(incident transmittance t1 along the beam, electron density, Klein-Nishina, solid angle
of the pinhole); its electron momentum p_z is drawn from the voxel's Compton profile
weighted by ``(E_2/E_C) t2(E_2)`` (impulse approximation, ``ssbscope.compton.ddcs_cm2_sr_kev``;
t2 the transmittance of the layers above), and E_2 follows from p_z at the photon's angle
(Eq. 2).  Coherent (Rayleigh) scattering adds a line at E_1.

Detector (:class:`DetectorModel`): absorption efficiency of 2 mm CdZnTe; Cd/Te K
fluorescence with escape (photon lost: escape peak) or re-absorption in another pixel;
Gaussian charge cloud shared between neighbouring pixels; energy-dependent Gaussian
resolution (0.79 keV FWHM at 59.5 keV); a low-energy threshold; W (pinhole) and Pb
(shield) K lines; per-pixel gain/offset spread (values in ADU); frames at 9 kHz.

Cell (:class:`CoinCell`): steel can / Li anode / PEO-LiTFSI SPE / NMC622 + SPE composite
cathode / Al foil / steel spacer and cap, with a steel side wall; the state of charge sets
the cathode's Li content x and the anode thickness (Faraday's law).  Optionally an anode/SPE
interphase layer with a radial composition (:func:`interphase_states`, paper-000 table in
:mod:`ssbscope.twin.params_000`).

Examples
--------
>>> from ssbscope.twin.xcs import CoinCell, XcsGeometry, simulate_exposure, DetectorModel
>>> cell = CoinCell()
>>> exp = simulate_exposure(cell, cell.beam_centres_mm()["region 3"], n_photons=20_000,
...                         detector=DetectorModel.ideal(), seed=1)
>>> exp.events.dtype.names
('frame', 'row', 'col', 'flags', 'value')
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from ssbscope.errors import ParameterError

__all__ = [
    "XcsGeometry",
    "DetectorModel",
    "Layer",
    "CoinCell",
    "CellState",
    "first_cycle_states",
    "states_from_echem",
    "interphase_states",
    "interphase_materials",
    "plating_weights",
    "disc_components",
    "XcsExposure",
    "simulate_exposure",
    "simulate_states",
    "calibration_flood",
    "true_spectrum",
    "resolution_fwhm_kev",
]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class XcsGeometry:
    """Sheet beam, pinhole and detector of 000_290f30815ae66793 (lengths in mm)."""

    e_incident_kev: float = 115.0
    beam_width_mm: float = 25.0
    beam_height_mm: float = 0.25
    n_pixels: int = 80
    pixel_pitch_mm: float = 0.25
    sensor_thickness_mm: float = 2.0
    pinhole_diameter_mm: float = 0.2
    sample_to_pinhole_mm: float = 160.0
    pinhole_to_detector_mm: float = 150.0
    frame_rate_hz: float = 9000.0

    @property
    def magnification(self) -> float:
        """Image size / object size (150/160)."""
        return self.pinhole_to_detector_mm / self.sample_to_pinhole_mm

    @property
    def object_pixel_mm(self) -> float:
        """Size of one detector pixel projected into the sheet (mm)."""
        return self.pixel_pitch_mm / self.magnification

    def object_centres_mm(self):
        """(y, x) object-plane centres (mm) of the pixel grid, shape (n, n) each.

        Object pixel (iy, ix) images onto detector (row, col) = (n-1-iy, n-1-ix).
        """
        a = (np.arange(self.n_pixels) - (self.n_pixels - 1) / 2) * self.object_pixel_mm
        yy, xx = np.meshgrid(a, a, indexing="ij")
        return yy, xx

    def angle_map_deg(self):
        """Scattering angle (degrees) seen by each detector pixel (row, col).

        The beam runs along +x; a photon from (x, y, 0) reaching the pinhole at
        (0, 0, L) scatters by ``arccos(-x / sqrt(x^2 + y^2 + L^2))``.
        """
        yy, xx = self.object_centres_mm()
        ang = _angle_deg(xx, yy, self.sample_to_pinhole_mm)
        return ang[::-1, ::-1].copy()


def _angle_deg(x, y, L):
    return np.degrees(np.arccos(-x / np.sqrt(x * x + y * y + L * L)))


def resolution_fwhm_kev(e_kev, fwhm_at_59_kev: float = 0.79, noise_fwhm_kev: float = 0.6):
    """Energy resolution of a CdZnTe pixel: ``sqrt(noise^2 + c E)`` scaled to 0.79 keV at 59.54 keV."""
    c = (fwhm_at_59_kev**2 - noise_fwhm_kev**2) / 59.5409
    return np.sqrt(noise_fwhm_kev**2 + c * np.clip(np.asarray(e_kev, float), 0, None))


@dataclass(frozen=True)
class DetectorModel:
    """Response of the HEXITEC CdZnTe detector; each effect can be switched off."""

    resolution: bool = True
    fwhm_at_59_kev: float = 0.79
    noise_fwhm_kev: float = 0.6
    efficiency: bool = True
    fluorescence: bool = True
    charge_sharing: bool = True
    charge_cloud_sigma_mm: float = 0.015
    threshold_kev: float = 3.0
    shielding_lines: bool = True
    shielding_fraction: float = 0.02
    gain_spread: float = 0.03
    offset_spread_kev: float = 0.4
    nominal_gain_kev_per_adu: float = 0.03
    output: str = "adu"
    hits_per_frame: float = 30.0
    calibration_seed: int = 2024

    @classmethod
    def ideal(cls, **kw) -> "DetectorModel":
        """Perfect detector: full efficiency, exact energies in keV, no sharing, no lines."""
        base = dict(resolution=False, efficiency=False, fluorescence=False, charge_sharing=False,
                    threshold_kev=0.0, shielding_lines=False, gain_spread=0.0,
                    offset_spread_kev=0.0, output="keV")
        base.update(kw)
        return cls(**base)

    def pixel_calibration(self, n: int):
        """True per-pixel (gain keV/ADU, offset keV) of this detector, (n, n) each.

        Fixed by ``calibration_seed`` (one detector, many exposures).
        """
        rng = np.random.default_rng([self.calibration_seed, 7])
        g = self.nominal_gain_kev_per_adu * (1 + self.gain_spread * rng.standard_normal((n, n)))
        o = self.offset_spread_kev * rng.standard_normal((n, n))
        return g, o


# ----------------------------------------------------------------------------- cell
@dataclass(frozen=True)
class Layer:
    """A disc of material: ``components`` is a tuple of (Material, volume fraction).

    ``rings`` (optional) gives a radial composition: ``((outer_radius_mm, components), ...)``
    with increasing radii; a point at radius r takes the first ring with ``r < outer_radius``
    (``components`` beyond the last ring).
    """

    name: str
    thickness_mm: float
    radius_mm: float
    components: tuple = field(repr=False)
    rings: tuple = field(default=(), repr=False)

    def components_at(self, r_mm: float) -> tuple:
        """The (Material, volume fraction) tuple at radius ``r_mm``."""
        for r_out, comps in self.rings:
            if r_mm < r_out:
                return comps
        return self.components


@dataclass(frozen=True)
class CellState:
    """Li content of the cell at one measurement: cathode x and anode thickness.

    ``time_s`` is the time of the state on the electrochemical test's axis (NaN if unknown).
    """

    name: str
    x_cathode: float
    anode_thickness_mm: float
    time_s: float = float("nan")
    interphase_thickness_mm: float = 0.0
    interphase_rings: tuple = field(default=(), repr=False)


def _cathode_li_per_area_mol_cm2(thickness_mm, nmc_fraction, x_from, x_to):
    from ssbscope.materials import nmc

    m = nmc(1.0)
    n_fu = m.density_g_cm3 / m.molar_mass_g_mol  # mol formula units per cm^3 at x = 1
    return (x_from - x_to) * n_fu * nmc_fraction * thickness_mm * 0.1


@dataclass(frozen=True)
class CoinCell:
    """Layered coin cell of 000_290f30815ae66793 (z up, bottom of the can at z = 0).

    Parameters
    ----------
    x_cathode : float
        Li content x of Li_x Ni0.6 Mn0.2 Co0.2 O2.
    anode_thickness_mm : float
        Li metal thickness.
    """

    x_cathode: float = 1.0
    anode_thickness_mm: float = 0.40
    cathode_thickness_mm: float = 0.065
    cathode_nmc_fraction: float = 0.6
    spe_thickness_mm: float = 0.030
    al_thickness_mm: float = 0.015
    can_thickness_mm: float = 0.25
    cap_thickness_mm: float = 0.50
    cathode_radius_mm: float = 7.0
    anode_radius_mm: float = 8.0
    spe_radius_mm: float = 9.0
    wall_inner_radius_mm: float = 9.7
    wall_thickness_mm: float = 0.3
    interphase_thickness_mm: float = 0.0
    interphase_rings: tuple = field(default=(), repr=False)

    def layers(self) -> list[Layer]:
        """Layers from the bottom up."""
        from ssbscope import materials as m

        steel, li, al = m.get("steel"), m.get("Li"), m.get("Al")
        spe = m.peo_litfsi(15.0)
        f = self.cathode_nmc_fraction
        inter = []
        if self.interphase_thickness_mm > 0:
            if not self.interphase_rings:
                raise ParameterError("interphase_rings", (), "are needed with an interphase thickness > 0")
            inter = [Layer("interphase", self.interphase_thickness_mm, self.anode_radius_mm,
                           self.interphase_rings[-1][1], rings=tuple(self.interphase_rings))]
        return [
            Layer("can", self.can_thickness_mm, self.wall_inner_radius_mm, ((steel, 1.0),)),
            Layer("anode", self.anode_thickness_mm, self.anode_radius_mm, ((li, 1.0),)),
            *inter,
            Layer("SPE", self.spe_thickness_mm, self.spe_radius_mm, ((spe, 1.0),)),
            Layer("cathode", self.cathode_thickness_mm, self.cathode_radius_mm,
                  ((m.nmc(self.x_cathode), f), (spe, 1.0 - f))),
            Layer("Al", self.al_thickness_mm, self.cathode_radius_mm, ((al, 1.0),)),
            Layer("cap", self.cap_thickness_mm, self.wall_inner_radius_mm, ((steel, 1.0),)),
        ]

    def interfaces_mm(self) -> dict[str, tuple[float, float]]:
        """(bottom, top) z of each layer (mm)."""
        z = 0.0
        out = {}
        for lay in self.layers():
            out[lay.name] = (z, z + lay.thickness_mm)
            z += lay.thickness_mm
        return out

    @property
    def height_mm(self) -> float:
        return sum(lay.thickness_mm for lay in self.layers())

    def beam_centres_mm(self, reference: "CoinCell | None" = None) -> dict[str, float]:
        """Sheet-beam heights of the three regions of 000_... (fixed by ``reference``, default self).

        region 1 (cathode-dominant): sheet top at the top of the cathode; region 2
        (interphase-dominant): 89 % of the 250 um sheet in the Li anode, the rest in the
        SPE (Fig. 1D); region 3 (Li anode): sheet 5 um below the anode surface.  With an
        anode/SPE interphase layer (the anode's surface is its top) a fourth height,
        ``"region 4"``, centres the sheet in the bulk Li below it (not in the paper: without
        it the bulk Li and the interphase share every sheet and cannot be unmixed).
        """
        ref = reference or self
        zi = ref.interfaces_mm()
        h = 0.25
        li_top = zi["interphase"][1] if "interphase" in zi else zi["anode"][1]
        out = {"region 1": zi["cathode"][1] - h / 2,
               "region 2": li_top - 0.89 * h + h / 2,
               "region 3": li_top - 0.005 - h / 2}
        if "interphase" in zi:
            out["region 4"] = 0.5 * (zi["anode"][0] + zi["anode"][1])
        return out

    def with_state(self, state: CellState) -> "CoinCell":
        return replace(self, x_cathode=state.x_cathode, anode_thickness_mm=state.anode_thickness_mm,
                       interphase_thickness_mm=state.interphase_thickness_mm,
                       interphase_rings=tuple(state.interphase_rings))

    def component_volumes_mm3(self, beam_centre_mm: float, beam_height_mm: float = 0.25,
                              area_mm2: float = 1.0) -> dict[str, float]:
        """Volume of each layer inside the sheet per ``area_mm2`` of the x-y plane."""
        lo, hi = beam_centre_mm - beam_height_mm / 2, beam_centre_mm + beam_height_mm / 2
        return {name: max(0.0, min(hi, b) - max(lo, a)) * area_mm2
                for name, (a, b) in self.interfaces_mm().items()}


def first_cycle_states(cell: CoinCell | None = None, x_min: float = 0.45) -> list[CellState]:
    """The five states of Fig. 3 of 000_...: pristine, charging, fully charged, discharging, fully discharged.

    Li removed from the cathode on charge is plated on the anode (Faraday's law:
    ``dt_Li = n_Li M_Li / rho_Li``); 90 % comes back on discharge.
    """
    from ssbscope.materials import M_LI_G_MOL, RHO_LI_G_CM3

    c = cell or CoinCell()
    x0 = c.x_cathode
    xs = [("pristine", x0), ("charging", x0 - 0.5 * (x0 - x_min)), ("fully charged", x_min),
          ("discharging", x_min + 0.45 * (x0 - x_min)), ("fully discharged", x_min + 0.9 * (x0 - x_min))]
    out = []
    for name, x in xs:
        mol = _cathode_li_per_area_mol_cm2(c.cathode_thickness_mm, c.cathode_nmc_fraction, x0, x)
        dt_mm = mol * M_LI_G_MOL / RHO_LI_G_CM3 * 10.0
        out.append(CellState(name, float(x), float(c.anode_thickness_mm + dt_mm)))
    return out


def states_from_echem(cycle=None, cell: CoinCell | None = None, labels=None) -> list[CellState]:
    """Cell states at the scan states of the electrochemistry twin (Faraday's law).

    The charge passed up to each scan state of :func:`ssbscope.twin.echem.nmc622_first_cycle`
    (``fraction`` x the half-cycle's capacity) removes ``Q / F`` mol of Li from the cathode
    (``dx = Q / (F n_NMC)`` with the twin's active mass) and plates it on the anode
    (``dt = Q M_Li / (F rho_Li A)``); discharge reverses it.

    Parameters
    ----------
    cycle : ssbscope.twin.echem.FirstCycleTwin, optional
        Default ``nmc622_first_cycle(seed=0, dt_s=300)``.
    cell : CoinCell, optional
        Its ``x_cathode`` and ``anode_thickness_mm`` are the pristine state.
    labels : sequence of str, optional
        Scan states to keep (default all seven of 000_ Fig. 2F).
    """
    from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3, nmc

    if cycle is None:
        from ssbscope.twin.echem import nmc622_first_cycle

        cycle = nmc622_first_cycle(seed=0, dt_s=300.0)
    c = cell or CoinCell()
    n_nmc = cycle.active_mass_mg * 1e-3 / nmc(1.0).molar_mass_g_mol  # mol
    out = []
    for st in cycle.states:
        if labels is not None and st.label not in labels:
            continue
        if st.kind == "soc":
            q_mah = st.fraction * cycle.charge_capacity_mah
        else:
            q_mah = cycle.charge_capacity_mah - st.fraction * cycle.discharge_capacity_mah
        mol = q_mah * 3.6 / FARADAY_C_MOL
        x = c.x_cathode - mol / n_nmc
        dt_mm = mol / cycle.area_cm2 * M_LI_G_MOL / RHO_LI_G_CM3 * 10.0
        out.append(CellState(st.label, float(max(x, 0.0)), float(c.anode_thickness_mm + dt_mm),
                             float(st.time_s)))
    if not out:
        raise ParameterError("labels", labels, "select no scan state of the electrochemistry twin",
                             f"use some of {[s.label for s in cycle.states]}")
    return out


# ----------------------------------------------------------------------------- interphase
def interphase_materials():
    """The interphase's species (Materials): Li metal, Li-salt-rich PEO and the three SEI phases."""
    from ssbscope import materials as m
    from ssbscope.twin.paper_parameters import value

    eo = float(value("000", "twin interphase Li-salt-rich PEO [EO]/[Li]"))
    return {"Li0": m.get("Li"), "Li-salt-rich PEO": m.peo_litfsi(eo, 1.5),
            "Li2O": m.get("Li2O", 2.013), "LiF": m.get("LiF", 2.635), "Li2CO3": m.get("Li2CO3", 2.11)}


def plating_weights(ring_radii_mm, cathode_radius_mm: float, contrast: float):
    """Plated Li per area of each ring relative to the Faraday mean (1 over the cathode's disc).

    ``1 + a (1 - 2 r^2 / R_c^2)`` averaged over each ring's area (``1 + a (1 - (r0^2 + r1^2) / R_c^2)``);
    0 for rings beyond the cathode (the anode's rim faces no cathode).
    """
    out, r0 = [], 0.0
    for r1 in ring_radii_mm:
        if r1 <= cathode_radius_mm + 1e-9:
            out.append(1.0 + contrast * (1.0 - (r0 * r0 + r1 * r1) / cathode_radius_mm ** 2))
        else:
            out.append(0.0)
        r0 = r1
    return np.array(out)


def interphase_states(states, cell: "CoinCell | None" = None, *, all_states=None) -> list[CellState]:
    """States with the anode/SPE interphase of the paper-000 table (:mod:`ssbscope.twin.params_000`).

    The anode of each state (``anode_thickness_mm`` = pristine + Faraday's net plated Li, from
    :func:`states_from_echem`) becomes bulk Li plus an interphase layer on top of it:

    * pristine interphase (per unit area): Li0 ``L0``, Li-salt-rich PEO ``P``, SEI ``S0``
      (Li2O/LiF/Li2CO3, equal volumes) and pores ``v0``;
    * charge: the plated Li goes into the interphase, ``w(r) x`` Faraday's thickness per ring
      (:func:`plating_weights`), filling its pores first; SEI grows;
    * discharge: a share ``f_b`` of the stripped Li leaves the bulk (the bulk thins: the
      paper's -1.4 % anode volume), the rest leaves the interphase as pores (its thickness
      stays), so Li0 that was plated stays behind (dead/irregular Li);
    * the interphase is flat (one thickness, set by its thickest ring); thinner rings hold
      more pores.

    Parameters
    ----------
    states : sequence of CellState
        From :func:`states_from_echem` (their ``anode_thickness_mm`` is the whole anode).
    cell : CoinCell, optional
        Pristine cell (its ``anode_thickness_mm`` is the whole pristine anode).
    all_states : sequence of CellState, optional
        Every state of the cycle (for the peak plated and final stripped thickness); default
        ``states_from_echem(cell=cell)``.

    Returns
    -------
    list of CellState
        ``anode_thickness_mm`` is the bulk Li; ``interphase_thickness_mm`` and
        ``interphase_rings`` ((outer radius mm, ((Material, volume fraction), ...)), ...) added.
    """
    from ssbscope.twin.paper_parameters import value

    c = cell or CoinCell()
    allst = list(all_states) if all_states is not None else states_from_echem(cell=c)
    t0_anode_um = 1000.0 * c.anode_thickness_mm
    net = {s.name: 1000.0 * s.anode_thickness_mm - t0_anode_um for s in allst}
    k_peak = int(np.argmax([net[s.name] for s in allst]))
    peak, t_peak = net[allst[k_peak].name], allst[k_peak].time_s
    stripped_total = max(peak - net[allst[-1].name], 1e-9)
    L0 = float(value("000", "twin interphase Li0 (pristine)"))
    P = float(value("000", "twin interphase Li-salt-rich PEO"))
    S0 = float(value("000", "twin interphase SEI"))
    gc, gd = (float(v) for v in value("000", "twin interphase SEI growth (charged, discharged)"))
    v0 = float(value("000", "twin interphase pores (pristine)"))
    dv_c, dv_d = (float(v) / 100 for v in value("000", "anode volume change (charge, discharge)"))
    # the interphase keeps its thickness on stripping (pores) but its SEI grows by gd - gc: the
    # bulk gives the rest of the paper's anode shrinkage
    f_b = float(np.clip((-dv_d * (1 + dv_c) * t0_anode_um + (gd - gc)) / stripped_total, 0.0, 1.0))
    radii = tuple(float(r) for r in value("000", "twin interphase rings"))
    w = plating_weights(radii, c.cathode_radius_mm, float(value("000", "twin lateral plating contrast a")))
    mats = interphase_materials()
    t_inter0 = L0 + P + S0 + v0
    bulk0 = t0_anode_um - t_inter0
    if bulk0 <= 0:
        raise ParameterError("anode_thickness_mm", c.anode_thickness_mm,
                             f"must exceed the interphase's {t_inter0:g} um")
    out = []
    for st in states:
        n = net[st.name] if st.name in net else 1000.0 * st.anode_thickness_mm - t0_anode_um
        after = np.isfinite(st.time_s) and np.isfinite(t_peak) and st.time_s > t_peak
        plated = peak if after else max(n, 0.0)
        stripped = max(peak - n, 0.0) if after else 0.0
        sei = S0 + gc * plated / max(peak, 1e-9) + (gd - gc) * stripped / stripped_total
        li = L0 + w * (plated - (1.0 - f_b) * stripped)
        pores = np.maximum(v0 - w * plated, 0.0) + w * (1.0 - f_b) * stripped
        t_r = li + P + sei + pores
        t_int = float(t_r.max())
        pores = pores + (t_int - t_r)
        rings = []
        for k, r in enumerate(radii):
            comps = ((mats["Li0"], li[k] / t_int), (mats["Li-salt-rich PEO"], P / t_int),
                     (mats["Li2O"], sei / 3 / t_int), (mats["LiF"], sei / 3 / t_int),
                     (mats["Li2CO3"], sei / 3 / t_int))
            rings.append((r, comps))
        bulk = bulk0 - f_b * stripped
        out.append(replace(st, anode_thickness_mm=bulk / 1000.0, interphase_thickness_mm=t_int / 1000.0,
                           interphase_rings=tuple(rings)))
    return out


def disc_components(layer: Layer, radius_mm: float, inner_mm: float = 0.0) -> tuple:
    """Area-weighted (Material, volume fraction) of a ringed layer over ``inner_mm <= r < radius_mm``.

    Spectra are linear in the volume fractions, so this mixture's spectrum is the disc's
    (annulus') sum.
    """
    if not layer.rings:
        return layer.components
    acc: dict = {}
    r0, tot = 0.0, 0.0
    for r1, comps in layer.rings:
        lo, hi = max(r0, inner_mm), min(r1, radius_mm)
        a = max(0.0, hi * hi - lo * lo) if hi > lo else 0.0
        tot += a
        for mat, f in comps:
            key = (mat.name, tuple(sorted(mat.composition.items())), mat.density_g_cm3)
            acc[key] = (mat, acc.get(key, (mat, 0.0))[1] + a * f)
        r0 = r1
    return tuple((mat, f / tot) for mat, f in acc.values())


# ----------------------------------------------------------------------------- spectra
def _volume_profile(components, pz):
    """Electrons per a.u. per cm^3: sum of volume fraction x formula units/cm^3 x J."""
    from ssbscope.compton.profiles import profile
    from ssbscope.materials import AVOGADRO

    out = np.zeros_like(np.asarray(pz, float))
    for mat, frac in components:
        if frac <= 0 or mat.density_g_cm3 == 0:
            continue
        n_fu = mat.density_g_cm3 / mat.molar_mass_g_mol * AVOGADRO
        out = out + frac * n_fu * profile(mat, pz)
    return out


_MU_GRID = np.arange(1.0, 150.0001, 0.25)


@lru_cache(maxsize=None)
def _mu_table(name, comp_key, density):
    from ssbscope.materials import Material

    mat = Material(name, dict(comp_key), density)
    return np.log(mat.linear_attenuation_1_cm(_MU_GRID))


def _mu_1_cm(components, e_kev):
    """Linear attenuation (1/cm) of a mixture, log-interpolated on a 0.25 keV table."""
    e = np.atleast_1d(np.asarray(e_kev, float))
    out = np.zeros_like(e)
    for mat, frac in components:
        if frac > 0 and mat.density_g_cm3 > 0:
            tab = _mu_table(mat.name, tuple(sorted(mat.composition.items())), mat.density_g_cm3)
            out = out + frac * np.exp(np.interp(e, _MU_GRID, tab))
    return out


def true_spectrum(components, energy_kev, e_incident_kev: float = 115.0, angle_deg: float = 90.0):
    """Compton spectrum per unit volume and solid angle (photons per keV per sr per cm^3 per photon/cm^2).

    ``n J_vol`` in the impulse approximation: ``KN (E_2/E_C) J_vol(p_z) dp_z/dE_2``
    (:func:`ssbscope.compton.ddcs_cm2_sr_kev`), with ``components`` a tuple of
    (Material, volume fraction) or a single material name.
    """
    from ssbscope.compton.physics import ddcs_cm2_sr_kev
    from ssbscope.materials import get

    if isinstance(components, str):
        components = ((get(components), 1.0),)
    return ddcs_cm2_sr_kev(energy_kev, e_incident_kev, angle_deg,
                           lambda p: _volume_profile(components, p))


# ----------------------------------------------------------------------------- exposure
@dataclass(frozen=True)
class XcsExposure:
    """One simulated XCS exposure (one cell state, one beam height).

    Attributes
    ----------
    events : ndarray of EVENT_DTYPE
        Hits sorted by frame (``value`` in ADU or keV, see ``value_unit``).
    value_unit : {"adu", "keV"}
    gain_kev_per_adu, offset_kev : (80, 80) ndarray
        The true per-pixel calibration (``E = gain * ADU + offset``); ones/zeros for keV.
    n_frames : int
    beam_centre_mm : float
    component_volumes_mm3 : dict
        Sheet volume per layer per mm^2 of the x-y plane (ground truth for unmixing).
    truth : dict
        x_cathode, anode thickness, photons simulated, detector settings.
    """

    events: np.ndarray = field(repr=False)
    value_unit: str
    gain_kev_per_adu: np.ndarray = field(repr=False)
    offset_kev: np.ndarray = field(repr=False)
    n_frames: int
    beam_centre_mm: float
    component_volumes_mm3: dict
    truth: dict = field(repr=False)


_PZ_GRID = np.linspace(-60.0, 21.0, 16201)
_PZ_DIFF = np.diff(_PZ_GRID)


def _zones(cell: CoinCell):
    radii = sorted({lay.radius_mm for lay in cell.layers()})
    return radii


def _voxel_classes(cell: CoinCell, geom: XcsGeometry, beam_centre_mm: float, nz: int):
    """Voxel classes (composition, z, layers above) and each class's pixels and volumes.

    Returns
    -------
    classes : list of dict
        ``components``, ``name``, ``z``, ``above`` (layers above: (components, thickness mm)),
        ``frac`` (wall fill fraction).
    pixels : list of (m_k,) int64 ndarray
        Flat (C-order, ascending) object-pixel indices of each class (its radial zone).
    weights : list of (m_k,) ndarray
        Irradiated volume (cm^3) x incident transmittance ``t1`` of each of those pixels: the
        nonzero entries of the dense (n, n, n_classes) weight array, ``w[pixels[k], k]``.
    """
    from ssbscope import materials as m

    a = geom.object_pixel_mm
    yy, xx = geom.object_centres_mm()
    rr = np.hypot(yy, xx)
    layers = cell.layers()
    zi = cell.interfaces_mm()
    dz = geom.beam_height_mm / nz
    zs = beam_centre_mm - geom.beam_height_mm / 2 + dz * (np.arange(nz) + 0.5)
    steel = ((m.get("steel"), 1.0),)
    r_in, r_out = cell.wall_inner_radius_mm, cell.wall_inner_radius_mm + cell.wall_thickness_mm
    e1 = geom.e_incident_kev
    z_top = cell.height_mm

    def comps_at(z, r):
        if r_in <= r < r_out and 0 <= z <= z_top:
            return steel, "wall"
        for lay in layers:
            a0, a1 = zi[lay.name]
            if a0 <= z < a1 and r < lay.radius_mm:
                return lay.components_at(r), lay.name
        return (), "void"

    mu_memo = {}  # id(components) -> (components, mu(E1) 1/cm): one xraylib table look-up each

    def mu_e1(comps):
        hit = mu_memo.get(id(comps))
        if hit is None:
            hit = mu_memo[id(comps)] = (comps, _mu_1_cm(comps, e1)[0])
        return hit[1]

    # radial zones: pixels with the same set of layers at every z
    bounds = sorted({lay.radius_mm for lay in layers} | {r_in, r_out}
                    | {float(r) for lay in layers for r, _ in lay.rings})
    zone = np.searchsorted(bounds, rr, side="right")
    zone_r = {int(k): float(np.median(rr[zone == k])) for k in np.unique(zone)}
    zone_pix = {zk: np.flatnonzero(zone == zk) for zk in zone_r}
    # incident attenuation: cumulative mu(E1) along +x from the left edge of the grid
    classes, pixels, weights = [], [], []
    for k, z in enumerate(zs):
        at = {zk: comps_at(z, r0) for zk, r0 in zone_r.items()}
        mu1 = np.zeros_like(rr)
        mu1_flat = mu1.reshape(-1)
        for zk, r0 in zone_r.items():
            comps, _ = at[zk]
            if comps:
                frac = 1.0
                if comps is steel and r_in <= r0 < r_out:
                    frac = min(1.0, cell.wall_thickness_mm / a)
                mu1_flat[zone_pix[zk]] = mu_e1(comps) * frac
        tau = (np.cumsum(mu1, axis=1) - 0.5 * mu1) * a * 0.1
        t1 = np.exp(-tau).reshape(-1)
        for zk, r0 in zone_r.items():
            comps, name = at[zk]
            if not comps:
                continue
            frac = 1.0
            if name == "wall":
                frac = min(1.0, cell.wall_thickness_mm / a)
            # layers above z at this radius (for t2)
            above = []
            for lay in layers:
                a0, a1 = zi[lay.name]
                if a1 > z and r0 < lay.radius_mm and not (r_in <= r0 < r_out):
                    above.append((lay.components_at(r0), a1 - max(a0, z)))
            if r_in <= r0 < r_out:
                above.append((steel, max(z_top - z, 0.0)))
            pix = zone_pix[zk]
            classes.append(dict(components=comps, name=name, z=float(z), above=above, frac=frac))
            pixels.append(pix)
            weights.append(t1[pix] * frac * (a * a * dz) * 1e-3)  # cm^3
    return classes, pixels, weights


def _comp_key(comps):
    return tuple((m.name, tuple(sorted(m.composition.items())), m.density_g_cm3, float(f))
                 for m, f in comps)


def _class_key(cls, memo=None):
    """Hashable key of a voxel class; ``memo`` (a dict kept by the caller while the classes'
    component tuples live) reuses each tuple's :func:`_comp_key` (shared by many classes)."""
    if memo is None:
        return (_comp_key(cls["components"]),
                tuple((_comp_key(c), round(float(t), 9)) for c, t in cls["above"]))

    def ck(comps):
        hit = memo.get(id(comps))
        if hit is None:
            hit = memo[id(comps)] = (comps, _comp_key(comps))
        return hit[1]

    return (ck(cls["components"]), tuple((ck(c), round(float(t), 9)) for c, t in cls["above"]))


def _comps_of_key(k):
    from ssbscope.materials import Material

    return tuple((Material(n, dict(c), d), f) for n, c, d, f in k)


@lru_cache(maxsize=None)
def _e2_grid(e1, ang0):
    from ssbscope.compton.physics import energy_from_momentum_kev, klein_nishina_cm2_sr

    e2 = energy_from_momentum_kev(_PZ_GRID, e1, ang0)
    ec = e1 / (1 + e1 / 510.99895)
    return e2, (e2 / ec) * klein_nishina_cm2_sr(e1, ang0)


@lru_cache(maxsize=256)
def _jv_grid(comp_key):
    """J_vol on _PZ_GRID of a mixture (by its key): one per composition, shared by its classes."""
    return _volume_profile(_comps_of_key(comp_key), _PZ_GRID)


@lru_cache(maxsize=256)
def _mu_grid(comp_key, e1, ang0):
    """mu (1/cm) of a mixture at the scattered energies E_2(p_z) and at E_1."""
    comps = _comps_of_key(comp_key)
    e2, _ = _e2_grid(e1, ang0)
    return _mu_1_cm(comps, e2), float(_mu_1_cm(comps, e1)[0])


@lru_cache(maxsize=2048)
def _class_sampler_cached(key, e1, ang0=90.0):
    """:func:`_class_sampler` from cached per-composition tables (same numbers, far fewer calls)."""
    # the arithmetic (order included) of _class_sampler, in place: same bits, fewer passes
    tau2 = np.zeros_like(_PZ_GRID)
    tmp = np.empty_like(_PZ_GRID)
    tau2_e1 = 0.0
    for ck, thick in key[1]:
        mu2, mu1 = _mu_grid(ck, e1, ang0)
        np.multiply(mu2, thick, out=tmp)
        tmp *= 0.1
        tau2 += tmp
        tau2_e1 += mu1 * thick * 0.1
    np.negative(tau2, out=tau2)
    dens = np.exp(tau2, out=tau2)
    dens *= _jw_grid(key[0], e1, ang0)
    cdf = np.empty_like(_PZ_GRID)
    cdf[0] = 0.0
    mid = np.add(dens[1:], dens[:-1], out=tmp[1:])
    mid *= 0.5
    mid *= _PZ_DIFF
    np.cumsum(mid, out=cdf[1:])
    rate = float(cdf[-1])
    cdf /= max(rate, 1e-300)
    return rate, cdf, _rayleigh_rate(key[0], e1, ang0) * math.exp(-tau2_e1)


@lru_cache(maxsize=256)
def _jw_grid(comp_key, e1, ang0):
    """``J_vol(p_z) (E_2/E_C) KN`` on _PZ_GRID (the first two factors of the sampler's density)."""
    _, w = _e2_grid(e1, ang0)
    return _jv_grid(comp_key) * w


@lru_cache(maxsize=256)
def _rayleigh_rate(comp_key, e1, ang0):
    import xraylib

    ray = 0.0
    for mat, frac in _comps_of_key(comp_key):
        for el, wf in mat.mass_fractions.items():
            z = xraylib.SymbolToAtomicNumber(el)
            ray += frac * mat.density_g_cm3 * wf * xraylib.DCS_Rayl(z, e1, math.radians(ang0))
    return ray


def _class_sampler(cls, e1, ang0=90.0):
    """(n_e * KN-weighted rate per unit volume, inverse-CDF table over p_z, Rayleigh rate)."""
    import xraylib

    from ssbscope.compton.physics import energy_from_momentum_kev, klein_nishina_cm2_sr

    pz = _PZ_GRID
    e2 = energy_from_momentum_kev(pz, e1, ang0)
    ec = e1 / (1 + e1 / 510.99895)
    jv = _volume_profile(cls["components"], pz)
    tau2 = np.zeros_like(pz)
    for comps, thick in cls["above"]:
        tau2 += _mu_1_cm(comps, e2) * thick * 0.1
    dens = jv * (e2 / ec) * np.exp(-tau2) * klein_nishina_cm2_sr(e1, ang0)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(pz))])
    rate = float(cdf[-1])  # photons per sr per cm^3 per (photon/cm^2)
    # Rayleigh: sum over elements of DCS_Rayl (cm^2/g/sr) x partial density
    ray = 0.0
    for mat, frac in cls["components"]:
        for el, wf in mat.mass_fractions.items():
            z = xraylib.SymbolToAtomicNumber(el)
            ray += frac * mat.density_g_cm3 * wf * xraylib.DCS_Rayl(z, e1, math.radians(ang0))
    tau2_e1 = sum(float(_mu_1_cm(c, e1)[0]) * t * 0.1 for c, t in cls["above"])
    return rate, cdf / max(rate, 1e-300), ray * math.exp(-tau2_e1)


def simulate_exposure(cell: CoinCell, beam_centre_mm: float, *, n_photons: int = 1_000_000,
                      geometry: XcsGeometry | None = None, detector: DetectorModel | None = None,
                      nz: int = 25, roi_radius_mm: float | None = None,
                      exposure_scale: float | None = None, seed: int = 0) -> XcsExposure:
    """Simulate one XCS exposure of ``cell`` with the sheet beam centred at ``beam_centre_mm``.

    Parameters
    ----------
    cell : CoinCell
    beam_centre_mm : float
        Height of the sheet's centre above the bottom of the can (mm), e.g. from
        :meth:`CoinCell.beam_centres_mm`.
    n_photons : int
        Expected number of scattered photons reaching the detector plane (before the
        detector's efficiency); sets the exposure.
    geometry, detector : optional
        Defaults :class:`XcsGeometry` and :class:`DetectorModel` (everything on).
    nz : int
        Slices through the sheet's height.
    roi_radius_mm : float, optional
        Simulate only the scattering from object points within this radius of the axis
        (saves time when only the centre is analysed; ``n_photons`` then counts those).
    exposure_scale : float, optional
        Fixed exposure (incident fluence x time, in the units of ``truth["exposure_scale"]``
        of an earlier exposure) instead of ``n_photons``: exposures of several beam
        positions with the same scale share one incident flux, as component unmixing needs.
    seed : int
        Same seed, same events (bytes).

    Returns
    -------
    XcsExposure
    """
    from ssbscope.compton.events import make_events

    geom = geometry or XcsGeometry()
    det = detector or DetectorModel()
    if n_photons < 1:
        raise ParameterError("n_photons", n_photons, "must be >= 1")
    if not (0 <= beam_centre_mm <= cell.height_mm + 1):
        raise ParameterError("beam_centre_mm", beam_centre_mm,
                             f"must be inside the cell (0-{cell.height_mm:.3f} mm)")
    if det.output not in ("adu", "keV"):
        raise ParameterError("detector.output", det.output, "must be 'adu' or 'keV'")
    rng = np.random.default_rng(seed)
    e1 = geom.e_incident_kev
    # Sparse form of the dense (n, n, n_classes) arrays of expected photons: each class lights
    # only its radial zone, so the nonzero entries (C order: pixel-major, class-minor) are kept
    # with their flat index; same values, same Poisson draws (rng.poisson draws nothing for a
    # zero mean), same totals (summed from the dense array when the scale needs them).
    classes, cpix, cw = _voxel_classes(cell, geom, beam_centre_mm, nz)
    n_cls = len(classes)
    n = geom.n_pixels
    yy, xx = geom.object_centres_mm()
    L = geom.sample_to_pinhole_mm
    in_roi = np.ones(n * n, bool)
    if roi_radius_mm is not None:
        if not roi_radius_mm > 0:
            raise ParameterError("roi_radius_mm", roi_radius_mm, "must be > 0")
        in_roi = ~(np.hypot(xx, yy) >= roi_radius_mm).reshape(-1)
    pv, wv, kv, used = [], [], [], []
    for k in range(n_cls):
        keep_k = in_roi[cpix[k]]
        if keep_k.any():
            pv.append(cpix[k][keep_k])
            wv.append(cw[k][keep_k])
            kv.append(np.full(pv[-1].size, k, dtype=np.int64))
            used.append(k)
    memo: dict = {}
    rate_c = np.zeros(n_cls)
    rate_r = np.zeros(n_cls)
    samplers = [None] * n_cls
    for k in used:
        samplers[k] = _class_sampler_cached(_class_key(classes[k], memo), e1)
        rate_c[k], rate_r[k] = samplers[k][0], samplers[k][2]
    if used:
        # entries are class-major; a stable sort on the pixel gives C order (pixel, class)
        pv = np.concatenate(pv)
        order = np.argsort(pv.astype(np.uint16) if n * n <= 65536 else pv, kind="stable")
        pv, wv, kv = pv[order], np.concatenate(wv)[order], np.concatenate(kv)[order]
    else:
        pv, wv, kv = np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    flat = pv * n_cls + kv
    # per-pixel Klein-Nishina and obliquity (cos^3) relative to the axis pixel
    ang = _angle_deg(xx, yy, L)
    from ssbscope.compton.physics import klein_nishina_cm2_sr

    kn_rel = klein_nishina_cm2_sr(e1, ang) / klein_nishina_cm2_sr(e1, 90.0)
    obl = (L / np.sqrt(xx * xx + yy * yy + L * L)) ** 3
    lam_c = wv * rate_c[kv] * (kn_rel * obl).reshape(-1)[pv]
    lam_r = wv * rate_r[kv] * obl.reshape(-1)[pv]
    if exposure_scale is None:
        total = _dense_sum(lam_c, flat, (n, n, n_cls)) + _dense_sum(lam_r, flat, (n, n, n_cls))
    else:  # only its sign is used: nonnegative terms, so the sparse sum has the dense one's
        total = lam_c.sum() + lam_r.sum()
    if total <= 0:
        raise ParameterError("beam_centre_mm", beam_centre_mm, "the sheet hits no material")
    scale = n_photons / total if exposure_scale is None else float(exposure_scale)
    if not (np.isfinite(scale) and scale > 0):
        raise ParameterError("exposure_scale", exposure_scale, "must be > 0")
    n_c = rng.poisson(lam_c * scale)
    n_r = rng.poisson(lam_r * scale)
    # photons: object pixel, class, kind
    hit = np.flatnonzero(n_c)
    cnt = n_c[hit]
    py = np.repeat(pv[hit] // n, cnt)
    px = np.repeat(pv[hit] % n, cnt)
    pc = np.repeat(kv[hit], cnt)
    rhit = np.flatnonzero(n_r)
    rcnt = n_r[rhit]
    ry, rx = pv[rhit] // n, pv[rhit] % n
    n_comp = py.size
    py = np.concatenate([py, np.repeat(ry, rcnt)])
    px = np.concatenate([px, np.repeat(rx, rcnt)])
    n_tot = py.size
    a = geom.object_pixel_mm
    n = geom.n_pixels
    # continuous object position inside the pixel; pinhole point; detector position
    ox = (px - (n - 1) / 2 + rng.random(n_tot) - 0.5) * a
    oy = (py - (n - 1) / 2 + rng.random(n_tot) - 0.5) * a
    rho = 0.5 * geom.pinhole_diameter_mm * np.sqrt(rng.random(n_tot))
    phi = 2 * np.pi * rng.random(n_tot)
    hx, hy = rho * np.cos(phi), rho * np.sin(phi)
    M = geom.magnification
    dx = -M * ox + (1 + M) * hx
    dy = -M * oy + (1 + M) * hy
    theta = _angle_deg(ox, oy, L)
    # energies: Compton from the class's p_z distribution at each photon's own angle
    e = np.full(n_tot, e1)
    u = rng.random(n_comp)
    pz = np.empty(n_comp)
    by_class = np.argsort(pc, kind="stable")  # each class's photons in their original order
    first = np.flatnonzero(np.diff(pc[by_class], prepend=-1)) if n_comp else np.zeros(0, np.int64)
    for s0, s1 in zip(first, np.append(first[1:], n_comp)):
        sel = by_class[s0:s1]
        pz[sel] = np.interp(u[sel], samplers[pc[sel[0]]][1], _PZ_GRID)
    e[:n_comp] = _energy_at_angle(pz, e1, theta[:n_comp])
    keep = e < e1 - 1e-6
    keep[n_comp:] = True
    dx, dy, e = dx[keep], dy[keep], e[keep]
    # detector position in pixel units (continuous), origin at the detector corner
    col_f = dx / geom.pixel_pitch_mm + n / 2
    row_f = dy / geom.pixel_pitch_mm + n / 2
    # shielding lines: W (pinhole) and Pb (shield) K lines, uniform over the detector
    if det.shielding_lines and det.shielding_fraction > 0:
        lines = _shield_lines()
        n_sh = rng.poisson(det.shielding_fraction * e.size)
        pick = rng.choice(len(lines), size=n_sh, p=[w for _, w in lines])
        e = np.concatenate([e, np.array([le for le, _ in lines])[pick]])
        col_f = np.concatenate([col_f, rng.random(n_sh) * n])
        row_f = np.concatenate([row_f, rng.random(n_sh) * n])
    inside = (col_f >= 0) & (col_f < n) & (row_f >= 0) & (row_f < n)
    e, col_f, row_f = e[inside], col_f[inside], row_f[inside]
    hits_photon, hits_row, hits_col, hits_e = _detector_response(e, row_f, col_f, geom, det, rng)
    # frames: photons arrive at random times; n_frames set by the mean occupancy
    n_frames = max(1, int(math.ceil(e.size / det.hits_per_frame)))
    frame_of_photon = rng.integers(0, n_frames, e.size)
    frames = frame_of_photon[hits_photon]
    g, o = det.pixel_calibration(n)
    if det.output == "adu":
        value = (hits_e - o[hits_row, hits_col]) / g[hits_row, hits_col]
        ok = value > 0
        g_out, o_out = g, o
    else:
        value = hits_e
        ok = value > 0
        g_out, o_out = np.ones((n, n)), np.zeros((n, n))
    order = _stable_argsort((frames[ok].astype(np.int64) * n + hits_row[ok]) * n + hits_col[ok])
    ev = make_events(frames[ok][order], hits_row[ok][order], hits_col[ok][order],
                     value[ok][order].astype(np.float32))
    vols = cell.component_volumes_mm3(beam_centre_mm, geom.beam_height_mm)
    truth = {"x_cathode": cell.x_cathode, "anode_thickness_mm": cell.anode_thickness_mm,
             "n_photons_compton": int(n_comp), "n_photons_rayleigh": int(n_tot - n_comp),
             "n_photons_detector": int(e.size), "seed": int(seed),
             "detector": {k: getattr(det, k) for k in det.__dataclass_fields__},
             "exposure_scale": float(scale),
             "e_incident_kev": e1}
    return XcsExposure(events=ev, value_unit=det.output, gain_kev_per_adu=g_out, offset_kev=o_out,
                       n_frames=n_frames, beam_centre_mm=float(beam_centre_mm),
                       component_volumes_mm3=vols, truth=truth)


def _dense_sum(values, flat_index, shape):
    """``sum`` of the dense array of ``shape`` holding ``values`` at ``flat_index`` (zeros elsewhere).

    Summed as the dense array itself (numpy's pairwise summation depends on the layout), so
    the total has the bits of the dense computation.
    """
    dense = np.zeros(shape)
    dense.reshape(-1)[flat_index] = values
    return dense.sum()


def _stable_argsort(key):
    """``np.argsort(key, kind="stable")`` of nonnegative int64 keys, sorted as unique keys.

    ``key * len + index`` is unique, so any sort gives the stable order (numpy's quicksort is
    much faster than its stable sort on int64); falls back if the product could overflow.
    """
    m = key.size
    if m == 0 or int(key.max()) >= (2**62) // max(m, 1) or int(key.min()) < 0:
        return np.argsort(key, kind="stable")
    return np.argsort(key * m + np.arange(m, dtype=np.int64))


def _energy_at_angle(pz, e1, theta_deg):
    """E_2 from p_z at per-photon angles (closed-form inverse of Eq. 2)."""
    from ssbscope.compton.physics import energy_from_momentum_kev

    return energy_from_momentum_kev(pz, e1, theta_deg)


def _shield_lines():
    import xraylib

    out = []
    for el, w_el in (("W", 0.5), ("Pb", 0.5)):
        z = xraylib.SymbolToAtomicNumber(el)
        rates = {ln: xraylib.RadRate(z, ln) for ln in (xraylib.KA1_LINE, xraylib.KA2_LINE,
                                                         xraylib.KB1_LINE)}
        tot = sum(rates.values())
        for ln, r in rates.items():
            out.append((float(xraylib.LineEnergy(z, ln)), w_el * r / tot))
    return out


def _detector_response(e, row_f, col_f, geom: XcsGeometry, det: DetectorModel, rng):
    """Hits (photon index, row, col, deposited keV) of photons at continuous positions."""
    from ssbscope import materials as m

    n = geom.n_pixels
    npho = e.size
    idx = np.arange(npho)
    czt = m.get("CdZnTe")
    t = geom.sensor_thickness_mm * 0.1
    if det.efficiency:
        mu = _interp_mu(czt, e)
        absorbed = rng.random(npho) < 1 - np.exp(-mu * t)
        depth = -np.log(1 - rng.random(npho) * (1 - np.exp(-mu * t))) / mu  # cm from the front
    else:
        absorbed = np.ones(npho, bool)
        depth = np.full(npho, 0.05 * t)
    idx, e, row_f, col_f, depth = idx[absorbed], e[absorbed], row_f[absorbed], col_f[absorbed], depth[absorbed]
    dep_e = e.copy()
    extra_idx, extra_r, extra_c, extra_e = [], [], [], []
    if det.fluorescence:
        for el, z in (("Cd", 48), ("Te", 52)):
            p_k, lines, mu_line = _k_fluorescence(czt, el, z, e)
            fl = rng.random(e.size) < p_k
            fl &= dep_e > 0
            k = np.flatnonzero(fl)
            if k.size == 0:
                continue
            lw = np.array([w for _, w in lines])
            le = np.array([x for x, _ in lines])[rng.choice(len(lines), size=k.size, p=lw / lw.sum())]
            mul = np.interp(le, [l for l, _ in lines], mu_line)
            dist = rng.exponential(1.0, k.size) / mul  # cm
            cz = 2 * rng.random(k.size) - 1
            ph = 2 * np.pi * rng.random(k.size)
            sz = np.sqrt(1 - cz * cz)
            nz_ = depth[k] + dist * cz
            nr = row_f[k] + dist * sz * np.sin(ph) * 10 / geom.pixel_pitch_mm
            nc = col_f[k] + dist * sz * np.cos(ph) * 10 / geom.pixel_pitch_mm
            same = (np.floor(nr) == np.floor(row_f[k])) & (np.floor(nc) == np.floor(col_f[k])) & \
                (nz_ >= 0) & (nz_ <= t)
            moved = ~same
            dep_e[k[moved]] -= le[moved]
            re = moved & (nz_ >= 0) & (nz_ <= t) & (nr >= 0) & (nr < n) & (nc >= 0) & (nc < n)
            extra_idx.append(idx[k[re]])
            extra_r.append(nr[re])
            extra_c.append(nc[re])
            extra_e.append(le[re])
    # all deposits (main + re-absorbed fluorescence) go through charge sharing
    d_idx = np.concatenate([idx] + extra_idx)
    d_r = np.concatenate([row_f] + extra_r)
    d_c = np.concatenate([col_f] + extra_c)
    d_e = np.concatenate([dep_e] + extra_e)
    ri = np.floor(d_r).astype(np.int64)
    ci = np.floor(d_c).astype(np.int64)
    if det.charge_sharing and det.charge_cloud_sigma_mm > 0:
        from scipy.special import ndtr

        s = det.charge_cloud_sigma_mm / geom.pixel_pitch_mm
        fr_ = d_r - ri
        fc_ = d_c - ci
        lo_r, hi_r = ndtr(-fr_ / s), ndtr((1 - fr_) / s)
        lo_c, hi_c = ndtr(-fc_ / s), ndtr((1 - fc_) / s)
        wr = np.stack([lo_r, hi_r - lo_r, 1 - hi_r], 1)
        wc = np.stack([lo_c, hi_c - lo_c, 1 - hi_c], 1)
        share = wr[:, :, None] * wc[:, None, :]  # (k, 3, 3)
        k_, a_, b_ = np.nonzero(share * d_e[:, None, None] > max(det.threshold_kev, 1e-3) * 0.5)
        h_idx = d_idx[k_]
        h_r = ri[k_] + a_ - 1
        h_c = ci[k_] + b_ - 1
        h_e = d_e[k_] * share[k_, a_, b_]
    else:
        h_idx, h_r, h_c, h_e = d_idx, ri, ci, d_e
    if det.resolution:
        sig = resolution_fwhm_kev(h_e, det.fwhm_at_59_kev, det.noise_fwhm_kev) / 2.3548200450309493
        h_e = h_e + sig * rng.standard_normal(h_e.size)
    ok = (h_e > det.threshold_kev) & (h_r >= 0) & (h_r < n) & (h_c >= 0) & (h_c < n)
    # one value per pixel per photon (fluorescence back into a shared pixel: add)
    h_idx, h_r, h_c, h_e = h_idx[ok], h_r[ok], h_c[ok], h_e[ok]
    # detector pixel (row, col) from continuous position: rows/cols as is
    return h_idx, h_r.astype(np.int64), h_c.astype(np.int64), h_e


def _interp_mu(mat, e):
    grid = np.linspace(max(1.0, float(np.min(e)) - 1), float(np.max(e)) + 1, 400)
    mu = mat.linear_attenuation_1_cm(grid)
    return np.interp(e, grid, mu)


def _k_fluorescence(czt, el, z, e):
    """P(K fluorescence of element el) per absorbed photon of energy e, its lines, their mu."""
    import xraylib

    edge = xraylib.EdgeEnergy(z, xraylib.K_SHELL)
    wf = czt.mass_fractions[el]
    grid = np.linspace(edge + 0.01, max(edge + 1, float(np.max(e)) + 1), 200)
    pk = np.array([wf * xraylib.CS_Photo_Partial(z, xraylib.K_SHELL, float(x)) for x in grid])
    tot = czt.mass_attenuation_cm2_g(grid)
    prob = np.where(e > edge, np.interp(e, grid, pk / tot), 0.0) * xraylib.FluorYield(z, xraylib.K_SHELL)
    lines = []
    for ln in (xraylib.KA1_LINE, xraylib.KA2_LINE, xraylib.KB1_LINE):
        lines.append((float(xraylib.LineEnergy(z, ln)), float(xraylib.RadRate(z, ln))))
    lines.sort()
    mu_line = czt.linear_attenuation_1_cm(np.array([x for x, _ in lines]))
    return prob, lines, mu_line


def simulate_states(states, *, cell: CoinCell | None = None, regions=("region 1", "region 2", "region 3"),
                    n_photons: int = 1_000_000, geometry: XcsGeometry | None = None,
                    detector: DetectorModel | None = None, seed: int = 0):
    """Exposures for each state and region: ``{state name: {region: XcsExposure}}``.

    Beam heights are fixed at those of the first state's cell (the stage does not move
    with the anode), so region compositions change as the anode grows.
    """
    base = cell or CoinCell()
    states = list(states)
    ref = base.with_state(states[0])
    heights = ref.beam_centres_mm()
    out = {}
    for si, st in enumerate(states):
        c = base.with_state(st)
        out[st.name] = {}
        for ri, reg in enumerate(regions):
            out[st.name][reg] = simulate_exposure(c, heights[reg], n_photons=n_photons, geometry=geometry,
                                                  detector=detector, seed=seed + 1000 * si + ri)
    return out


#: Am-241 gamma lines (keV) and their emission per decay (NNDC / DDEP): 59.54 keV 35.9 %,
#: 26.34 keV 2.27 %.
AM241_GAMMAS = ((59.5409, 0.359), (26.3446, 0.0227))


def calibration_flood(n_photons: int = 2_000_000, *, geometry: XcsGeometry | None = None,
                      detector: DetectorModel | None = None, seed: int = 0, second_line: bool = False):
    """Flood exposure with an Am-241 source: 59.54 keV photons uniform over the detector.

    The detector's own Cd/Te K fluorescence and escape peaks appear as in a real flood, so
    :func:`ssbscope.compton.calibrate_pixels` can use 59.54 keV and the Cd/Te K lines.
    ``second_line``: the source's 26.34 keV line too, at its emission ratio
    (:data:`AM241_GAMMAS`; ``n_photons`` then counts both lines), as a real Am-241 flood holds
    it (``flood_tail_scaling: auto`` tests the tail's energy scaling there).

    Returns
    -------
    XcsExposure
        ``beam_centre_mm`` NaN; ``gain_kev_per_adu``/``offset_kev`` are the truth.
    """
    from ssbscope.compton.calibration import AM241_KEV
    from ssbscope.compton.events import make_events

    geom = geometry or XcsGeometry()
    det = detector or DetectorModel()
    rng = np.random.default_rng([seed, 59])
    n = geom.n_pixels
    e = np.full(int(n_photons), AM241_KEV)
    if second_line:
        (_, i59), (e26, i26) = AM241_GAMMAS
        e[rng.random(e.size) < i26 / (i59 + i26)] = e26
    r = rng.random(e.size) * n
    c = rng.random(e.size) * n
    hp, hr, hc, he = _detector_response(e, r, c, geom, replace(det, shielding_lines=False), rng)
    n_frames = max(1, int(math.ceil(e.size / det.hits_per_frame)))
    fr = rng.integers(0, n_frames, e.size)[hp]
    g, o = det.pixel_calibration(n)
    if det.output == "adu":
        v = (he - o[hr, hc]) / g[hr, hc]
    else:
        v = he
        g, o = np.ones((n, n)), np.zeros((n, n))
    ok = v > 0
    order = _stable_argsort((fr[ok].astype(np.int64) * n + hr[ok]) * n + hc[ok])
    ev = make_events(fr[ok][order], hr[ok][order], hc[ok][order], v[ok][order].astype(np.float32))
    return XcsExposure(events=ev, value_unit=det.output, gain_kev_per_adu=g, offset_kev=o,
                       n_frames=n_frames, beam_centre_mm=float("nan"), component_volumes_mm3={},
                       truth={"source": "Am-241", "n_photons": int(n_photons), "seed": int(seed)})
