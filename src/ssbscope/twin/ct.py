"""Voxel phantoms of the papers' cells with ground truth, and their simulated CT scans.

Four generators, each returning a :class:`CTPhantom` (label volume, attenuation volume and
the ground-truth numbers a measurement must recover):

* :func:`coin_cell_000` - the PEO-LiTFSI / NMC622 / Li coin cell of 000_290f30815ae66793 at
  the states ``"pristine"``, ``"charged"``, ``"discharged"``: Li|SPE interface height field with
  Ra 5.1 -> 5.4 -> 6.1 µm (Table 1), anode volume +3.7 % on charge and -1.4 % on discharge,
  sideways dendrites, subsurface pores formed on stripping.
* :func:`anode_free_001` - the anode-free Cu | Li6PS5Cl | Li cell of Sandoval et al. 2025
  (doi:10.1039/d5eb00111k), cases A, B, C with the numbers of its table
  (:mod:`ssbscope.twin.params_001`): one pellet per series (pores, pre-existing cracks), Li and
  Li6PS5Cl conserved voxel by voxel (plating shifts each pellet column, the counter thins in the
  same column; a new crack is inserted as a displacement); case A: no new crack for the first
  ~1 mAh cm^-2, then 49 % of the Li in branching cracks, 20 % of them left after stripping;
  case B: a planar layer (14.5 µm at 3 mAh cm^-2), thicker in the centre and with edge filaments
  at >= 1.5 mA cm^-2; case C: one filament near the edge beyond 3 mAh cm^-2.
* :func:`soft_short_002` - the sulfide pellet of 002_3ee4edf529433f9c with low-attenuation
  filaments connected to the Li anode whose volume fraction rises toward the anode
  (about 10 % -> 30 % over 10 layers), plus isolated pores.
* :func:`symmetric_li_lpscl` - a symmetric Li | Li6PS5Cl | Li cell: plating moves Li from the
  top electrode to the bottom one (Faraday's law, total Li conserved) and roughens the bottom
  Li | Li6PS5Cl interface.

Geometry: volumes are ``(z, y, x)``; z is the stacking axis (current flow) and the rotation
axis of the simulated scan; the cell is a cylinder of radius ``cell_radius_vox`` about the
volume's axis (pixel ``n // 2``), everything outside it is void.  z increases upward: the
anode (or current collector) is at low z.

Phase codes (``labels``, uint8), shared by all generators (:data:`PHASES`)::

    0 void (outside the cell)     6 Cu
    1 steel                       7 Li6PS5Cl (sulfide electrolyte, dense)
    2 Li metal (bulk/plated)      8 pore (empty, inside an electrolyte/electrode)
    3 PEO-LiTFSI SPE              9 crack (empty)
    4 NMC composite cathode      10 Li filament (Li inside the electrolyte: dendrite,
    5 Al                            Li-filled crack, Li-connected low-attenuation region)

Attenuation: ``mu_per_voxel = mu[1/cm] * voxel_size_um * 1e-4`` with ``mu`` from
:mod:`ssbscope.materials` (xraylib, mixture rule) at ``e_kev``.  Pores/cracks/void are 0.
"""

from __future__ import annotations

import dataclasses

import logging
from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import ParameterError
from ssbscope.materials import get, nmc
from ssbscope.twin.ct_files import write_dxchange, write_tiff_volume
from ssbscope.twin.ct_project import CTScan, project, simulate_scan

__all__ = [
    "PHASES",
    "CODES",
    "CTPhantom",
    "coin_cell_000",
    "anode_free_001",
    "soft_short_002",
    "symmetric_li_lpscl",
    "faraday_thickness_um",
    "roughness_ra_rq",
    "project",
    "simulate_scan",
    "CTScan",
    "write_dxchange",
    "write_tiff_volume",
]

log = logging.getLogger(__name__)

PHASES = {0: "void", 1: "steel", 2: "li", 3: "spe", 4: "cathode", 5: "al", 6: "cu",
          7: "lpscl", 8: "pore", 9: "crack", 10: "li_filament"}
CODES = {v: k for k, v in PHASES.items()}

# Table 1 of 000_290f30815ae66793
_RA_000_UM = {"pristine": 5.1, "charged": 5.4, "discharged": 6.1}
_VOL_000 = {"pristine": 1.0, "charged": 1.037, "discharged": 1.037 * (1 - 0.014)}


@dataclass(frozen=True)
class CTPhantom:
    """A voxel phantom and its ground truth.

    Attributes
    ----------
    name : str
        Generator and state, e.g. ``"coin_cell_000/charged"``.
    labels : (n_z, n_y, n_x) ndarray of uint8
        Phase codes (:data:`PHASES`).
    mu_per_voxel : (n_z, n_y, n_x) ndarray of float32
        Linear attenuation per voxel (dimensionless per voxel length).
    voxel_size_um : float
        Cubic voxel edge (µm).
    e_kev : float
        Beam energy used for the attenuation (keV).
    cell_mask : (n_y, n_x) ndarray of bool
        Columns inside the cylindrical cell (where maps are defined).
    phase_volumes_um3 : dict
        Phase name -> volume (µm^3) counted from ``labels``.
    interfaces_z_vox : dict
        Interface name (``"li|spe"``, ``"cu|lpscl"``, ...) -> mean z position (voxel
        coordinate of the boundary, i.e. between the last voxel below and the first above).
    height_maps_um : dict
        Interface name -> (n_y, n_x) height (µm) of the interface above z = 0 per column,
        ``nan`` outside ``cell_mask``; exactly the boundary of the voxelised labels.
    roughness_um : dict
        Interface name -> (Ra, Rq) (µm) of its height map after plane detrending, Eqs. 6-7 of
        000_290f30815ae66793.
    thickness_maps_um : dict
        Layer name -> (n_y, n_x) thickness (µm) per column (voxel count x voxel size),
        ``nan`` outside ``cell_mask``.
    mean_thickness_um : dict
        Layer name -> mean thickness (µm) over ``cell_mask``.
    truth : dict
        Generator-specific numbers and masks (documented by each generator), e.g.
        ``crack_volume_um3``, ``connected_mask``, ``layer_fractions``.
    """

    name: str
    labels: np.ndarray
    mu_per_voxel: np.ndarray
    voxel_size_um: float
    e_kev: float
    cell_mask: np.ndarray
    phase_volumes_um3: dict = field(default_factory=dict)
    interfaces_z_vox: dict = field(default_factory=dict)
    height_maps_um: dict = field(default_factory=dict)
    roughness_um: dict = field(default_factory=dict)
    thickness_maps_um: dict = field(default_factory=dict)
    mean_thickness_um: dict = field(default_factory=dict)
    truth: dict = field(default_factory=dict)

    @property
    def voxel_volume_um3(self) -> float:
        """Volume of one voxel (µm^3)."""
        return self.voxel_size_um ** 3

    def mask(self, *phases: str) -> np.ndarray:
        """Boolean mask of the voxels of the named phases."""
        codes = [CODES[p] for p in phases]
        return np.isin(self.labels, codes)

    def scan(self, **kwargs) -> CTScan:
        """Simulate a CT scan of this phantom (arguments of :func:`simulate_scan`)."""
        kwargs.setdefault("voxel_size_um", self.voxel_size_um)
        return simulate_scan(self.mu_per_voxel, **kwargs)


# ----------------------------------------------------------------------------------------------
# helpers


def faraday_thickness_um(charge_mah_cm2: float) -> float:
    """Thickness (µm) of dense Li holding ``charge_mah_cm2`` (Faraday's law).

    ``h = Q M / (F rho)``; 3 mAh cm^-2 -> 14.5 µm (001_a2c994afa3295f29).  The one
    implementation is :func:`ssbscope.echem.faraday.lithium_thickness_um`.
    """
    from ssbscope.echem.faraday import lithium_thickness_um

    return float(lithium_thickness_um(float(charge_mah_cm2)))


def roughness_ra_rq(height_um, mask=None):
    """Ra and Rq (µm) of a height map after subtracting its least-squares plane.

    ``Ra = mean |Z - plane|``, ``Rq = sqrt(mean (Z - plane)^2)`` (Eqs. 6-7 of
    000_290f30815ae66793), over ``mask`` (default: finite values).
    """
    h = np.asarray(height_um, dtype=np.float64)
    m = np.isfinite(h) if mask is None else (np.asarray(mask, bool) & np.isfinite(h))
    yy, xx = np.nonzero(m)
    A = np.column_stack([np.ones(yy.size), yy, xx])
    coef, *_ = np.linalg.lstsq(A, h[m], rcond=None)
    r = h[m] - A @ coef
    return float(np.mean(np.abs(r))), float(np.sqrt(np.mean(r ** 2)))


def _grf2(shape, corr_vox, rng):
    """Zero-mean unit-variance 2-D Gaussian random field with Gaussian correlation length."""
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal(shape), corr_vox, mode="wrap")
    return (f - f.mean()) / f.std()


def _grf3(shape, corr_vox, rng):
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal(shape), corr_vox, mode="wrap")
    return (f - f.mean()) / f.std()


def _disk(n_y, n_x, radius):
    yy, xx = np.mgrid[:n_y, :n_x]
    return (yy - n_y // 2) ** 2 + (xx - n_x // 2) ** 2 <= radius ** 2


def _mu_table(e_kev, voxel_size_um, cathode=None):
    vox_cm = voxel_size_um * 1e-4
    mats = {1: get("steel"), 2: get("Li"), 3: get("PEO-LiTFSI"), 5: get("Al"), 6: get("Cu"),
            7: get("Li6PS5Cl"), 10: get("Li")}
    mu = np.zeros(len(PHASES), dtype=np.float64)
    for code, m in mats.items():
        mu[code] = m.linear_attenuation_1_cm(e_kev) * vox_cm
    if cathode is None:
        # composite cathode: 50 vol% NMC622, 45 vol% PEO-LiTFSI, 5 vol% carbon
        cathode = (0.50 * nmc(1.0).linear_attenuation_1_cm(e_kev)
                   + 0.45 * get("PEO-LiTFSI").linear_attenuation_1_cm(e_kev)
                   + 0.05 * get("carbon").linear_attenuation_1_cm(e_kev))
    mu[4] = cathode * vox_cm
    return mu


def _finish(name, labels, voxel_size_um, e_kev, cell_mask, interfaces, thickness_layers,
            truth, cathode_mu=None):
    """Common ground truth: volumes, mu, height maps, roughness, thickness maps."""
    vv = voxel_size_um ** 3
    counts = np.bincount(labels.ravel(), minlength=len(PHASES))
    vols = {PHASES[c]: float(counts[c] * vv) for c in PHASES if c != 0}
    mu = _mu_table(e_kev, voxel_size_um, cathode_mu)[labels].astype(np.float32)
    hmaps, rough, zpos = {}, {}, {}
    for key, hz in interfaces.items():
        hm = np.where(cell_mask, hz * voxel_size_um, np.nan)
        hmaps[key] = hm
        rough[key] = roughness_ra_rq(hm, cell_mask)
        zpos[key] = float(np.nanmean(np.where(cell_mask, hz, np.nan)))
    tmaps, tmean = {}, {}
    for key, tz in thickness_layers.items():
        tm = np.where(cell_mask, tz * voxel_size_um, np.nan)
        tmaps[key] = tm
        tmean[key] = float(np.nanmean(tm))
    labels.setflags(write=False)
    mu.setflags(write=False)
    for a in list(hmaps.values()) + list(tmaps.values()) + [cell_mask]:
        a.setflags(write=False)
    return CTPhantom(name=name, labels=labels, mu_per_voxel=mu, voxel_size_um=float(voxel_size_um),
                     e_kev=float(e_kev), cell_mask=cell_mask, phase_volumes_um3=vols,
                     interfaces_z_vox=zpos, height_maps_um=hmaps, roughness_um=rough,
                     thickness_maps_um=tmaps, mean_thickness_um=tmean, truth=truth)


def _check_sizes(n_xy, n_z, voxel_size_um, min_xy=24, min_z=24):
    if int(n_xy) < min_xy:
        raise ParameterError("n_xy", n_xy, f"must be >= {min_xy} voxels")
    if int(n_z) < min_z:
        raise ParameterError("n_z", n_z, f"must be >= {min_z} voxels")
    if not (voxel_size_um > 0 and np.isfinite(voxel_size_um)):
        raise ParameterError("voxel_size_um", voxel_size_um, "must be finite and > 0")


def _scaled_height(field, target_ra_vox, mean_vox):
    """Height map with a given mean and Ra (Gaussian field: Ra = sigma sqrt(2/pi))."""
    sigma = target_ra_vox / np.sqrt(2.0 / np.pi)
    return mean_vox + sigma * field


def _tube(labels, code, pts, radius, allowed):
    """Paint balls of ``radius`` (vox) along a polyline ``pts`` (z, y, x) where ``allowed``."""
    nz, ny, nx = labels.shape
    r = int(np.ceil(radius))
    offs = np.array([(dz, dy, dx) for dz in range(-r, r + 1) for dy in range(-r, r + 1)
                     for dx in range(-r, r + 1) if dz * dz + dy * dy + dx * dx <= radius ** 2 + 1e-9])
    for p0, p1 in zip(pts[:-1], pts[1:]):
        n = int(np.ceil(np.max(np.abs(np.subtract(p1, p0))) * 2)) + 1
        for t in np.linspace(0, 1, n):
            c = np.rint(np.asarray(p0) + t * (np.asarray(p1) - np.asarray(p0))).astype(int)
            q = c + offs
            ok = ((q[:, 0] >= 0) & (q[:, 0] < nz) & (q[:, 1] >= 0) & (q[:, 1] < ny)
                  & (q[:, 2] >= 0) & (q[:, 2] < nx))
            q = q[ok]
            sel = allowed[q[:, 0], q[:, 1], q[:, 2]]
            q = q[sel]
            labels[q[:, 0], q[:, 1], q[:, 2]] = code


# ----------------------------------------------------------------------------------------------
# (a) coin cell of 000_290f30815ae66793


def coin_cell_000(state: str = "pristine", *, n_xy: int = 64, n_z: int = 96,
                  voxel_size_um: float = 3.24, e_kev: float = 115.0,
                  li_thickness_um: float = 130.0, spe_thickness_um: float = 30.0,
                  cathode_thickness_um: float = 65.0, al_thickness_um: float = 15.0,
                  n_dendrites: int | None = None, n_subsurface_pores: int | None = None,
                  seed: int = 0) -> CTPhantom:
    """Phantom of the PEO-LiTFSI / NMC622 / Li coin cell (000_290f30815ae66793).

    Stack from z = 0 upward: steel casing (3 voxels), Li anode, 30 µm SPE, 65 µm composite
    cathode, Al foil, steel casing; a steel wall (2 voxels) closes the cylinder.  The Li|SPE
    interface is a Gaussian random height field (correlation length 3 voxels) whose Ra follows
    Table 1 (5.1 / 5.4 / 6.1 µm pristine / charged / discharged) and whose mean moves so that
    the total Li volume (bulk + dendrites) is +3.7 % after charge and then -1.4 % after
    discharge (Results, Fig. 3C).  The charged state adds sideways dendrites (Li filaments
    rising 2-4 voxels into the SPE, then running parallel to the interface); the discharged
    state adds more and subsurface pores (empty ellipsoids 1-3 voxels below the interface).
    The SPE sits on the Li surface, the cathode and Al are flat.

    Parameters
    ----------
    state : {"pristine", "charged", "discharged"}
    n_xy, n_z : int
        Lateral and stacking sizes (voxels).
    voxel_size_um : float
        Voxel edge (µm); 3.24 µm in the paper.
    e_kev : float
        Beam energy (115 keV in the paper).
    li_thickness_um, spe_thickness_um, cathode_thickness_um, al_thickness_um : float
        Layer thicknesses (µm) of the pristine cell.
    n_dendrites, n_subsurface_pores : int, optional
        Defaults: 0/0 pristine, 4/0 charged, 8/6 discharged.
    seed : int
        RNG seed; the same seed gives the same interface field across states, so a series
        evolves one surface.

    Returns
    -------
    CTPhantom
        ``height_maps_um["li|spe"]`` / ``roughness_um["li|spe"]`` is the bulk Li surface
        (without dendrites and pores); ``thickness_maps_um["li"]`` counts all phase-2 voxels per
        column (bulk minus pores); ``truth`` holds ``state``, ``target_ra_um``,
        ``anode_volume_um3`` (Li + Li filaments), ``anode_volume_change_pct`` (vs pristine),
        ``dendrite_mask``, ``pore_mask`` and ``n_dendrites``.
    """
    if state not in _RA_000_UM:
        raise ParameterError("state", state, f"must be one of {sorted(_RA_000_UM)}")
    _check_sizes(n_xy, n_z, voxel_size_um)
    vs = float(voxel_size_um)
    rng = np.random.default_rng(seed)
    base_field = _grf2((n_xy, n_xy), 3.0, rng)
    grow_field = _grf2((n_xy, n_xy), 2.0, rng)
    r_cell = 0.45 * n_xy
    cell = _disk(n_xy, n_xy, r_cell - 2)  # inside the steel wall
    wall = _disk(n_xy, n_xy, r_cell) & ~cell
    steel_vox = 3
    li_vox = li_thickness_um / vs
    spe_vox = max(2, int(round(spe_thickness_um / vs)))
    cat_vox = max(2, int(round(cathode_thickness_um / vs)))
    al_vox = max(1, int(round(al_thickness_um / vs)))
    need = steel_vox + li_vox * 1.1 + spe_vox + cat_vox + al_vox + steel_vox + 4
    if n_z < need:
        raise ParameterError("n_z", n_z, f"is too small for the stack ({need:.0f} voxels needed "
                             f"at {vs} µm)", "raise n_z or voxel_size_um")
    # fields per state: the surface evolves by mixing in a new component
    mix = {"pristine": 0.0, "charged": 0.35, "discharged": 0.6}[state]
    fld = np.sqrt(1 - mix ** 2) * base_field + mix * grow_field
    fld = (fld - fld[cell].mean()) / fld[cell].std()
    ra_vox = _RA_000_UM[state] / vs
    nd = {"pristine": 0, "charged": 4, "discharged": 8}[state] if n_dendrites is None else n_dendrites
    npores = {"pristine": 0, "charged": 0, "discharged": 6}[state] if n_subsurface_pores is None \
        else n_subsurface_pores
    z0 = steel_vox
    zz = np.arange(n_z)[:, None, None] + 0.5

    def build(mean_h):
        h = _scaled_height(fld, ra_vox, mean_h)  # Li top measured from z0 (voxels)
        top = z0 + h
        lab = np.zeros((n_z, n_xy, n_xy), dtype=np.uint8)
        li = (zz >= z0) & (zz < top[None])
        lab[li & cell[None]] = CODES["li"]
        # SPE rests on the mean Li surface level + its own thickness: its top is flat
        spe_top = int(np.ceil(z0 + mean_h + 0.5 * ra_vox * 4)) + spe_vox
        spe = (zz >= top[None]) & (zz < spe_top)
        lab[spe & cell[None]] = CODES["spe"]
        cat = (zz >= spe_top) & (zz < spe_top + cat_vox)
        lab[cat & cell[None]] = CODES["cathode"]
        al = (zz >= spe_top + cat_vox) & (zz < spe_top + cat_vox + al_vox)
        lab[al & cell[None]] = CODES["al"]
        top_steel = spe_top + cat_vox + al_vox
        lab[(zz[:, 0, 0] < z0)] = 0
        lab[:z0][:, cell | wall] = CODES["steel"]
        lab[top_steel:top_steel + steel_vox][:, cell | wall] = CODES["steel"]
        lab[z0:top_steel][:, wall] = CODES["steel"]
        return lab, top, spe_top

    # pristine mean height fixes V0; later states scale it (bisection on the mean height so the
    # voxel count matches the target volume including dendrites)
    h0 = li_vox
    lab0, _, _ = build(h0)
    v0 = int(np.count_nonzero(lab0 == CODES["li"]))
    target = _VOL_000[state] * v0
    rng_feat = np.random.default_rng([seed, 1 + list(_RA_000_UM).index(state)])
    feats_d = []
    for _ in range(nd):
        ang = rng_feat.uniform(0, 2 * np.pi)
        rr = rng_feat.uniform(0, 0.6 * r_cell)
        cy, cx = n_xy // 2 + rr * np.sin(ang), n_xy // 2 + rr * np.cos(ang)
        rise = rng_feat.uniform(2, 4)
        length = rng_feat.uniform(4, 9)
        dirn = rng_feat.uniform(0, 2 * np.pi)
        feats_d.append((cy, cx, rise, length, dirn))
    feats_p = []
    for _ in range(npores):
        ang = rng_feat.uniform(0, 2 * np.pi)
        rr = rng_feat.uniform(0, 0.7 * r_cell)
        feats_p.append((n_xy // 2 + rr * np.sin(ang), n_xy // 2 + rr * np.cos(ang),
                        rng_feat.uniform(1.0, 3.0), rng_feat.uniform(1.2, 2.2)))

    def decorate(lab, top):
        dmask = np.zeros(lab.shape, bool)
        pmask = np.zeros(lab.shape, bool)
        for cy, cx, rise, length, dirn in feats_d:
            iy, ix = int(round(cy)), int(round(cx))
            base = float(top[iy, ix])
            p0 = (base - 0.5, cy, cx)
            p1 = (base + rise, cy, cx)
            p2 = (base + rise, cy + length * np.sin(dirn), cx + length * np.cos(dirn))
            tmp = lab.copy()
            _tube(tmp, CODES["li_filament"], [p0, p1, p2], 0.9, lab == CODES["spe"])
            dmask |= (tmp == CODES["li_filament"]) & (lab == CODES["spe"])
        lab[dmask] = CODES["li_filament"]
        for cy, cx, depth, rad in feats_p:
            iy, ix = int(round(cy)), int(round(cx))
            zc = float(top[iy, ix]) - depth - rad
            zi, yi, xi = np.ogrid[:lab.shape[0], :lab.shape[1], :lab.shape[2]]
            ell = (((zi + 0.5 - zc) / (0.7 * rad)) ** 2 + ((yi - cy) / rad) ** 2
                   + ((xi - cx) / rad) ** 2) <= 1.0
            sel = ell & (lab == CODES["li"])
            pmask |= sel
        lab[pmask] = CODES["pore"]
        return lab, dmask, pmask

    lo, hi = 0.5 * li_vox, 1.5 * li_vox
    best = None
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lab, top, spe_top = build(mid)
        lab, dmask, pmask = decorate(lab, top)
        v = np.count_nonzero(lab == CODES["li"]) + np.count_nonzero(dmask)
        best = (lab, top, dmask, pmask, mid)
        if v < target:
            lo = mid
        else:
            hi = mid
        if abs(v - target) <= max(1.0, 1e-4 * target):
            break
    lab, top, dmask, pmask, mean_h = best
    # exact voxel heights of the bulk Li surface: count of li+pore voxels above z0 per column
    bulk = np.isin(lab[z0:], [CODES["li"], CODES["pore"]])
    h_vox = bulk.sum(axis=0).astype(np.float64)
    li_count = (lab == CODES["li"]).sum(axis=0).astype(np.float64)
    anode_v = float((np.count_nonzero(lab == CODES["li"]) + np.count_nonzero(dmask)) * vs ** 3)
    truth = {
        "state": state,
        "target_ra_um": _RA_000_UM[state],
        "anode_volume_um3": anode_v,
        "anode_volume_change_pct": 100.0 * (anode_v / (v0 * vs ** 3) - 1.0),
        "dendrite_mask": dmask,
        "pore_mask": pmask,
        "n_dendrites": int(nd),
        "li_bottom_z_vox": float(z0),
        "paper": "000_290f30815ae66793",
    }
    # z positions (voxel boundaries): li|spe = z0 + h; spe|cathode = spe_top; steel|li = z0
    interfaces = {"li|spe": z0 + h_vox}
    spe_top_z = int(np.max(np.nonzero((lab == CODES["cathode"]).any(axis=(1, 2)))[0].min()))
    truth["spe|cathode_z_vox"] = float(spe_top_z)
    truth["steel|li_z_vox"] = float(z0)
    return _finish(f"coin_cell_000/{state}", lab, vs, e_kev, cell, interfaces,
                   {"li": li_count, "spe": (lab == CODES["spe"]).sum(axis=0).astype(float)},
                   truth)


# ----------------------------------------------------------------------------------------------
# (b) anode-free cell of 001_a2c994afa3295f29


def _crack_network(rng, n_roots, r_cell, n_xy, z_base, max_len, branch_prob=0.25,
                   root_frac=(0.0, 0.74), tilt=(0.35, 0.9)):
    """Branching random walks rising from ``z_base``: list of (start, end, s_start) segments.

    Each segment is a straight piece of 2 voxels; ``s`` is the path length from the root
    (voxels).  Roots lie at radii ``root_frac`` x ``r_cell`` (uniform in area).
    """
    segs = []
    lo2, hi2 = root_frac[0] ** 2, root_frac[1] ** 2
    for _ in range(n_roots):
        ang = rng.uniform(0, 2 * np.pi)
        rr = r_cell * np.sqrt(rng.uniform(lo2, hi2))
        stack = [((z_base, n_xy // 2 + rr * np.sin(ang), n_xy // 2 + rr * np.cos(ang)), 0.0,
                  rng.uniform(0, 2 * np.pi))]
        while stack:
            p, s, heading = stack.pop()
            while s < max_len:
                step = 2.0
                heading += rng.normal(0, 0.5)
                t = rng.uniform(*tilt)  # mostly upward
                q = (p[0] + step * t, p[1] + step * np.sqrt(1 - t ** 2) * np.sin(heading),
                     p[2] + step * np.sqrt(1 - t ** 2) * np.cos(heading))
                segs.append((p, q, s))
                if rng.random() < branch_prob and s > 2:
                    stack.append((q, s + step, heading + rng.choice([-1, 1]) * 1.2))
                p, s = q, s + step
    return segs


def _ball_offsets(radius):
    r = int(np.ceil(radius))
    return np.array([(dz, dy, dx) for dz in range(-r, r + 1) for dy in range(-r, r + 1)
                     for dx in range(-r, r + 1)
                     if dz * dz + dy * dy + dx * dx <= radius ** 2 + 1e-9])


def _arrival(shape, segs, radius, allowed):
    """Path length (voxels) at which a growing crack network first reaches each voxel.

    Tubes of ``radius`` along the segments, only where ``allowed``; ``inf`` where never
    reached.  A network grown to path length ``s`` is ``arrival <= s``.
    """
    arr = np.full(shape, np.inf)
    offs = _ball_offsets(radius)
    lim = np.asarray(shape)
    for p, q, s in segs:
        p, q = np.asarray(p, float), np.asarray(q, float)
        seg_len = float(np.linalg.norm(q - p))
        ts = np.linspace(0.0, 1.0, int(np.ceil(seg_len * 2)) + 1)
        c = np.rint(p[None] + ts[:, None] * (q - p)[None]).astype(int)
        pts = (c[:, None, :] + offs[None]).reshape(-1, 3)
        val = np.repeat(s + ts * seg_len, len(offs))
        ok = np.all((pts >= 0) & (pts < lim), axis=1)
        pts, val = pts[ok], val[ok]
        ok = allowed[pts[:, 0], pts[:, 1], pts[:, 2]]
        pts, val = pts[ok], val[ok]
        np.minimum.at(arr, (pts[:, 0], pts[:, 1], pts[:, 2]), val)
    return arr


def _first_n(arrival, n):
    """Mask of the ``n`` voxels a network reaches first (ties in index order)."""
    out = np.zeros(arrival.shape, bool)
    if n <= 0:
        return out
    flat = arrival.ravel()
    idx = np.flatnonzero(np.isfinite(flat))
    if n > idx.size:
        raise ParameterError("n_xy", arrival.shape[1], f"the crack network holds {idx.size} "
                             f"voxels, fewer than the {n} the state needs",
                             "raise n_z (a thicker pellet) or the crack roots")
    sel = idx[np.argsort(flat[idx], kind="stable")[:n]]
    out.ravel()[sel] = True
    return out


def _grown_network(rng, n_min, shape, r_cell, n_xy, max_len, allowed, radius, n_roots,
                   **kw):
    """Arrival map of a network with at least ``n_min`` reachable voxels (adds roots)."""
    segs = []
    for _ in range(64):
        segs += _crack_network(rng, n_roots, r_cell, n_xy, 0.0, max_len, **kw)
        arr = _arrival(shape, segs, radius, allowed)
        if np.isfinite(arr).sum() >= n_min:
            return arr
    return arr


def _plating_pieces(case, charge_mah_cm2, stripped_mah_cm2):
    """Split a state of the case's protocol into charge per plating current.

    Returns ``(pieces, q_first_plate)``: ``pieces`` is a list of (current mA cm^-2,
    charge mAh cm^-2) of the plating done so far, in order.
    """
    from ssbscope.twin.params_001 import protocol

    steps = protocol(case)
    plates = [(j, q) for kind, j, q in steps if kind == "plate"]
    strip_cap = sum(q for kind, _, q in steps if kind == "strip")
    total = sum(q for _, q in plates)
    if charge_mah_cm2 > total + 1e-9:
        raise ParameterError("charge_mah_cm2", charge_mah_cm2,
                             f"exceeds the {total:g} mAh cm^-2 case {case}'s protocol plates")
    if stripped_mah_cm2 > strip_cap + 1e-9:
        raise ParameterError("stripped_mah_cm2", stripped_mah_cm2,
                             f"exceeds the {strip_cap:g} mAh cm^-2 case {case}'s protocol "
                             "strips (its first-cycle CE)")
    if stripped_mah_cm2 > 0 and charge_mah_cm2 > plates[0][1] + 1e-9 \
            and stripped_mah_cm2 < strip_cap - 1e-9:
        raise ParameterError("stripped_mah_cm2", stripped_mah_cm2,
                             f"case {case} re-plates only after the full strip ({strip_cap:g})")
    pieces, left = [], float(charge_mah_cm2)
    for j, q in plates:
        take = min(left, q)
        if take > 0:
            pieces.append((float(j), float(take)))
        left -= take
    return pieces


#: ``plating="model"``: charge (mAh cm^-2) of the nucleated layer that carries the table's
#: texture; the model grows the rest.
MODEL_PLATING_SEED_MAH_CM2 = 1.0
#: ``plating="model"``: charge (mAh cm^-2) plated per step at one predicted current map.
MODEL_PLATING_STEP_MAH_CM2 = 0.25


def model_plated_layer_um(charge_mah_cm2: float, texture, thickness_cv: float, cell,
                          voxel_size_um: float, electrolyte_um: float) -> np.ndarray:
    """Plated Li thickness grown at the interface model's own predicted current.

    The first :data:`MODEL_PLATING_SEED_MAH_CM2` is the nucleated layer,
    ``F(q) (1 + cv texture)`` (``F`` Faraday's thickness, the table's texture); every further
    :data:`MODEL_PLATING_STEP_MAH_CM2` adds ``F(dq) j(x, y) / mean(j)`` with ``j`` the
    current per projected area that :func:`ssbscope.interface.surface_current` predicts on
    the layer's surface at that moment: the primary distribution (equipotential Li, the
    kinetics-free limit of Zhang et al. 2024, doi:10.1039/d3ee03322h), the electrolyte
    conductivity of :mod:`ssbscope.interface.parameters` (the primary distribution does not
    depend on it) and the pellet above.  With the linearised Butler-Volmer kinetics at the
    project's R_ct of 10 Ohm cm^2 the kinetic length sigma R_ct = 200 um flattens the
    current on these ~12 um features to ~1 % contrast, which no CT map here resolves.

    Parameters
    ----------
    charge_mah_cm2 : float
        Net charge of the low-current layer (mAh cm^-2); stripping retraces the path.
    texture : (n, n) ndarray
        Unit-variance texture of the nucleated layer (0 outside the cell).
    thickness_cv : float
    cell : (n, n) bool ndarray
    voxel_size_um, electrolyte_um : float

    Returns
    -------
    (n, n) ndarray
        Thickness (µm), 0 outside the cell; its mean over the cell is ``F(charge)``.
    """
    from ssbscope.interface import surface_current
    from ssbscope.interface.parameters import PARAMETERS

    import hashlib

    sigma = next((float(r[1]) for r in PARAMETERS
                  if str(r[0]).startswith("electrolyte conductivity")), 2e-3)
    q_end = float(charge_mah_cm2)
    q_seed = min(q_end, MODEL_PLATING_SEED_MAH_CM2)
    key = hashlib.sha256(np.ascontiguousarray(texture, float).tobytes()
                         + np.ascontiguousarray(cell, bool).tobytes()
                         + np.asarray([thickness_cv, voxel_size_um, electrolyte_um]).tobytes()
                         ).hexdigest()
    path = _MODEL_PATHS.setdefault(key, {})  # charge after each step -> thickness (a series
    # asks for several charges along one path: each step is solved once)
    t = faraday_thickness_um(q_seed) * np.clip(1.0 + thickness_cv * texture, 0, None)
    t = np.where(cell, t, 0.0)
    q = q_seed
    while q < q_end - 1e-9:
        dq = min(MODEL_PLATING_STEP_MAH_CM2, q_end - q)
        k = round(q + dq, 9)
        if k not in path:
            r = surface_current(np.where(cell, t, np.nan), voxel_size_um,
                                conductivity_s_cm=sigma, thickness_um=electrolyte_um,
                                current_ma_cm2=1.0, r_ct_ohm_cm2=None, max_nodes=24)
            j = np.where(cell, r.projected_current_ma_cm2, 0.0)
            path[k] = t + faraday_thickness_um(dq) * j / j[cell].mean()
        t = path[k]
        q += dq
    return t.copy()


_MODEL_PATHS: dict = {}


def anode_free_001(charge_mah_cm2: float = 3.0, stripped_mah_cm2: float = 0.0, *,
                   case: str = "A", current_ma_cm2: float | None = None,
                   grain: str | None = None, porosity: float | None = None,
                   thickness_cv: float | None = None, n_xy: int = 64, n_z: int = 80,
                   voxel_size_um: float = 1.8, e_kev: float = 40.0,
                   counter_li_um: float | None = None, pellet_um: float | None = None,
                   n_cracks: int | None = None, max_charge_mah_cm2: float | None = None,
                   seed: int = 0, plating: str = "texture") -> CTPhantom:
    """Phantom of the anode-free Cu | Li6PS5Cl | Li cell of Sandoval et al. 2025 (cases A, B, C).

    Every number comes from the paper's table (:mod:`ssbscope.twin.params_001`; doi
    10.1039/d5eb00111k).  The state is a point of the case's protocol: ``charge_mah_cm2``
    deposited on the Cu so far and ``stripped_mah_cm2`` stripped back; the protocol says at
    which current each part was deposited.

    Geometry (z upward): Cu (``cu_voxels``), plated Li, Li6PS5Cl pellet, Li counter electrode,
    steel plunger (3 voxels).  **One pellet across a series**: the pellet is built once in its
    own frame (same seed: same pores, pre-existing empty cracks and crack paths) and each state
    places it; only plating/stripping and new cracks change the stack.

    Conservation rules (voxel-exact, per column of the cell):

    * Li: the Li that reaches the Cu side (plated layer + Li in new cracks) leaves the counter
      electrode in the same column (the counter thins by the Faraday amount on average).
    * The pellet does not grow or shrink except by new cracks: each pellet column is shifted up
      by the plated Li under it (the Li plates between the Cu and the pellet) and the Li6PS5Cl
      and pore voxels are kept, so the Li6PS5Cl and pore volumes are the same in every state.
    * A new crack is a displacement: a Li-filled crack voxel is *inserted* into the pellet
      column where the network reaches (the Li6PS5Cl above is pushed up, the counter above
      thins by the same Li); no Li6PS5Cl or pore voxel is turned into Li.  Cracks grow around
      pores (Fig. 2e), not into them.  The stack height (plunger) therefore never changes.

    Li partition (Faraday: plated layer + Li in cracks = net charge x M / (rho F) x area):

    * case A: no new crack up to ``crack_plateau_A`` (~1 mAh cm^-2, Fig. 3c); after it
      ``crack_li_fraction_A`` (49 %) of the deposited Li fills a branching network (tips last);
      on stripping the crack Li is stripped first (tips first) down to ``crack_residual_A``
      (20 %) of the peak crack volume, which stays as inactive Li, then the layer.
    * case B: a planar layer at 0.5 mA cm^-2 (no Li in the pellet, Fig. 1d); at >= 1.5
      mA cm^-2 ``edge_filament_fraction_B`` of that charge goes into filaments rooted in the
      edge ring (outside the central 75 %) and the layer increment is thicker in the centre,
      ``1 + a (1 - 2 r^2/R^2)`` (Fig. 5e).
    * case C: a planar layer; beyond 3 mAh cm^-2 ``filament_fraction_C`` of the charge grows one
      branching filament near the edge (Fig. 6).
    * The plated layer's low-current part is a Gaussian random field of relative std
      ``thickness_cv`` (Fig. 4b: 14.2 ± 2.4 µm).  With ``plating="model"`` only its first
      :data:`MODEL_PLATING_SEED_MAH_CM2` is (the nucleated layer); the rest grows, in steps
      of :data:`MODEL_PLATING_STEP_MAH_CM2`, at the local current that the interface model
      predicts on the layer's own surface (:func:`model_plated_layer_um`), so the twin's hot
      spots are the model's.
    * Sub-voxel faces: the labels hold whole voxels per column (the layer's voxel count is
      the continuous thickness rounded, the Li total exact), but the attenuation
      (``mu_per_voxel``) places the pellet on the continuous surface: the voxel each pellet
      face cuts mixes the two sides by their fractions.  The projections image the
      continuous surface; its Ra / Rq on the analysis' footprint is the roughness truth
      (``roughness_continuous_inner_um``; the staircase's ``roughness_um`` adds ~voxel /
      sqrt(12) of column-to-column steps no reconstruction at this voxel resolves).

    Layer thickness truth (the definition the measurement shares): the plated LAYER is the
    Li between the Cu and the pellet's lower face, per column ``t_cont`` (the continuous
    face the attenuation images; its whole-voxel count is ``thickness_maps_um["plated_li"]``).
    Li inside the pellet - Li-filled cracks (case A), edge filaments (case B), the filament
    (case C) - is never layer, also where a filament's root sits directly on the layer top
    (case B after the 1.5 mA cm^-2 step: 23 edge columns, seed 0, small); it is
    ``crack_li_volume_um3``.  This is the paper's definition: Sandoval et al. segment "the
    electrodeposited lithium volume at the working electrode" over the central ~75 % of the
    area (Fig. 5b, c, e) and report Li in the electrolyte separately as filaments / cracks
    (Figs. 2, 3c, 6, S7).  Counting the Li contiguous with the Cu in either form as layer
    would read that edge 18.61 µm instead of 17.89 on the whole voxels (centre - edge 0.78
    instead of 1.50; 1.55 on the continuous face).  The measurement's centre / edge
    (:func:`ssbscope.tomo.series_chunked.layer_centre_edge`) leaves out the columns where
    the layer's Li runs on into such Li for the same reason.

    Parameters
    ----------
    charge_mah_cm2 : float
        Charge deposited on the Cu so far (mAh cm^-2), along the case's protocol.
    stripped_mah_cm2 : float
        Charge stripped back (mAh cm^-2), at most the protocol's strip (CE x 3 mAh cm^-2).
    case : {"A", "B", "C"}
        The paper's cell.
    current_ma_cm2 : float, optional
        Current of the latest step; only checked against the protocol (kept for callers that
        name it).
    grain, porosity, thickness_cv, counter_li_um, n_cracks : optional
        Override the table's values (grain "fine"/"coarse", pore volume fraction, relative std
        of the plated layer, counter Li thickness µm, crack roots).
    n_xy, n_z, voxel_size_um, e_kev : int, int, float, float
        Volume size (voxels), voxel edge (µm) and beam energy (keV).
    pellet_um : float, optional
        Pellet thickness (µm); default fills the height left by Cu, counter and plunger.
    max_charge_mah_cm2 : float, optional
        Largest charge of the series (checked >= charge; the geometry does not depend on it).
    seed : int
    plating : {"texture", "model"}
        How the low-current layer's thickness varies over the cell: the table's random
        texture (default, independent of any model), or grown at the interface model's
        predicted current on its own surface (:func:`model_plated_layer_um`).

    Returns
    -------
    CTPhantom
        ``thickness_maps_um["plated_li"]``, ``["counter_li"]``; ``height_maps_um["li|lpscl"]``;
        ``interfaces_z_vox["cu|li"]``, ``["li|lpscl"]``, ``["lpscl|counter"]``; ``truth``:
        ``case``, ``faraday_thickness_um`` (net charge), ``deposited_li_volume_um3``,
        ``cell_area_um2``, ``pore_volume_um3`` (pores), ``preexisting_crack_volume_um3``,
        ``crack_li_volume_um3`` (Li in new cracks), ``crack_empty_volume_um3`` (empty cracks:
        the pre-existing ones), ``crack_volume_um3``, ``new_crack_volume_um3``,
        ``pore_crack_volume_um3`` (pores + all cracks), ``li_in_cracks_fraction`` (of the Li on
        the Cu side), ``crack_li_capacity_fraction`` (new cracks / deposited Li),
        ``plated_thickness_um`` (mean of the layer), ``plated_thickness_center_um`` /
        ``plated_thickness_edge_um`` (central disk of ``central_fraction`` of the cell eroded by
        one voxel - the analysis' ``inner`` footprint - and the ring outside it, as
        :func:`ssbscope.tomo.metrics.thickness_stats`; see "Layer thickness truth" above),
        ``plated_thickness_center_staircase_um`` / ``plated_thickness_edge_staircase_um`` (the
        same on the labels' whole voxels), ``central_fraction``,
        ``lpscl_volume_um3``, ``li_total_volume_um3``, ``high_current_mah_cm2``,
        ``crack_mask``, ``pore_mask``, ``edge_filament_mask``, ``n_edge_filaments``,
        ``pellet_z_vox`` (slab where every column is pellet: top of the highest plated column,
        bottom of the lowest counter column); ``pellet_interior_z_vox`` (slices ``[f0, f1)``:
        2 slices inside the pellet's mean faces) and ``pore_crack_volume_interior_um3`` (pores
        + empty + Li-filled cracks there, on ``inner_mask``, the cell eroded by one voxel: the
        region a CT partial volume of the pellet integrates without the Li layers' own low
        attenuation; Li is almost as transparent as a pore at these energies, so a Li-filled
        crack counts as pore + crack volume); ``height_continuous_um`` (``"li|lpscl"``,
        ``"lpscl|counter"``: the smooth surface the voxel staircase stands for, the layer
        thickness before it is cut into whole voxels per column) and
        ``roughness_continuous_inner_um`` (its Ra, Rq on ``inner_mask``).
    """
    from ssbscope.tomo.metrics import thickness_stats
    from ssbscope.twin.params_001 import case_value, p

    case = str(case).upper()
    if case not in ("A", "B", "C"):
        raise ParameterError("case", case, "must be 'A', 'B' or 'C'",
                             "see Sandoval et al. 2025 (doi:10.1039/d5eb00111k), Fig. 1")
    grain = case_value("grain", case) if grain is None else grain
    if grain not in ("fine", "coarse"):
        raise ParameterError("grain", grain, "must be 'fine' or 'coarse'")
    if charge_mah_cm2 < 0 or stripped_mah_cm2 < 0 or stripped_mah_cm2 > charge_mah_cm2:
        raise ParameterError("stripped_mah_cm2", stripped_mah_cm2,
                             f"must be within 0 ... charge_mah_cm2 ({charge_mah_cm2})")
    cv = p("thickness_cv") if thickness_cv is None else float(thickness_cv)
    if not (0 <= cv < 0.5):
        raise ParameterError("thickness_cv", thickness_cv, "must be within [0, 0.5)")
    if max_charge_mah_cm2 is not None and max_charge_mah_cm2 < charge_mah_cm2:
        raise ParameterError("max_charge_mah_cm2", max_charge_mah_cm2,
                             f"must be >= charge_mah_cm2 ({charge_mah_cm2})")
    _check_sizes(n_xy, n_z, voxel_size_um)
    por = case_value("porosity", case) if porosity is None else float(porosity)
    if not (0 <= por < 0.4):
        raise ParameterError("porosity", porosity, "must be within [0, 0.4)")
    pieces = _plating_pieces(case, float(charge_mah_cm2), float(stripped_mah_cm2))
    j_last = pieces[-1][0] if pieces else float(p("plate_current"))
    if current_ma_cm2 is not None and not np.isclose(current_ma_cm2, j_last):
        raise ParameterError("current_ma_cm2", current_ma_cm2,
                             f"case {case}'s protocol plates at {j_last:g} mA cm^-2 at "
                             f"{charge_mah_cm2:g} mAh cm^-2", "leave it out")
    thr = float(p("high_current_threshold"))
    q_high = sum(q for j, q in pieces if j >= thr)
    q_low = float(charge_mah_cm2) - q_high
    vs = float(voxel_size_um)
    vv = vs ** 3
    rng = np.random.default_rng(seed)
    r_cell = 0.45 * n_xy
    cell = _disk(n_xy, n_xy, r_cell)
    n_cell = int(cell.sum())
    area_um2 = n_cell * vs ** 2
    cu_vox, steel_vox = int(p("cu_voxels")), 3
    counter_um = p("counter_li_thickness") if counter_li_um is None else float(counter_li_um)
    c0 = int(round(counter_um / vs))
    if pellet_um is None:
        n_pel = n_z - cu_vox - c0 - steel_vox - 1
    else:
        n_pel = int(round(pellet_um / vs))
        if cu_vox + n_pel + c0 + steel_vox > n_z:
            raise ParameterError("pellet_um", pellet_um, f"does not fit n_z = {n_z} voxels")
    if n_pel < 12:
        raise ParameterError("n_z", n_z, "leaves fewer than 12 voxels for the pellet",
                             "raise n_z or voxel_size_um")

    def far_vox(q):
        return faraday_thickness_um(q) * area_um2 / vv

    # ---- the low-current thickness texture: a random field with no centre/edge trend
    # (same mean in the central disk and the edge ring: near-uniform at low current)
    from ssbscope.tomo.metrics import central_region

    import scipy.ndimage as ndi

    fld = _grf2((n_xy, n_xy), float(p("thickness_corr_length")), rng)
    cf = float(p("central_fraction"))
    # radially detrended: every ring of one voxel has mean 0, so no central disk / edge ring
    # split (whatever footprint the analysis finds) sees a trend
    yy, xx = np.mgrid[:n_xy, :n_xy]
    rbin = np.floor(np.hypot(yy - n_xy // 2, xx - n_xy // 2)).astype(int)
    for rb in np.unique(rbin[cell]):
        m = cell & (rbin == rb)
        fld[m] -= fld[m].mean()
    fld = np.where(cell, fld / fld[cell].std(), 0.0)
    # the analysis' footprint: the cell eroded by one voxel (tomo.series.cell_region)
    inner = ndi.binary_erosion(cell, iterations=1)
    creg = central_region(cell.shape, cf, footprint=inner)
    # ---- the pellet in its own frame (one geometry for the series)
    pel = np.zeros((n_pel, n_xy, n_xy), dtype=np.uint8)
    pel[:, cell] = CODES["lpscl"]
    pore_rng = np.random.default_rng([seed, 3])
    pr = p("pore_radius_fine") if grain == "fine" else p("pore_radius_coarse")
    zi, yi, xi = np.ogrid[:n_pel, :n_xy, :n_xy]
    pmask = np.zeros(pel.shape, bool)
    target = por * n_pel * n_cell
    for _ in range(20000):
        if pmask.sum() >= target:
            break
        rad = pore_rng.uniform(*pr)
        ang = pore_rng.uniform(0, 2 * np.pi)
        rr = (r_cell - rad - 1) * np.sqrt(pore_rng.uniform())
        zc = pore_rng.uniform(2, n_pel - 2)
        cy, cx = n_xy // 2 + rr * np.sin(ang), n_xy // 2 + rr * np.cos(ang)
        lo, hi = int(max(0, zc - rad - 1)), int(min(n_pel, zc + rad + 2))
        pmask[lo:hi] |= ((zi[lo:hi] + 0.5 - zc) ** 2 + (yi - cy) ** 2 + (xi - cx) ** 2
                         <= rad ** 2) & cell[None]
    pel[pmask] = CODES["pore"]
    # pre-existing empty cracks (short, mostly lateral), in the pellet's frame
    pre_rng = np.random.default_rng([seed, 5])
    pre = np.zeros(pel.shape, bool)
    for _ in range(int(case_value("preexisting_cracks", case))):
        ang = pre_rng.uniform(0, 2 * np.pi)
        rr = 0.6 * r_cell * np.sqrt(pre_rng.uniform())
        z = pre_rng.uniform(4, n_pel - 4)
        y, x = n_xy // 2 + rr * np.sin(ang), n_xy // 2 + rr * np.cos(ang)
        h = pre_rng.uniform(0, 2 * np.pi)
        pts = [(z + k * 0.3, y + k * 1.5 * np.sin(h), x + k * 1.5 * np.cos(h)) for k in range(5)]
        m = np.zeros(pel.shape, np.uint8)
        _tube(m, 1, pts, 1.0, pel == CODES["lpscl"])
        pre |= m.astype(bool)
    pel[pre] = CODES["crack"]
    allowed = pel == CODES["lpscl"]
    radius = float(p("crack_radius"))
    max_len = 0.8 * n_pel

    # ---- Li-filled new cracks: how many voxels this state holds (from the table)
    n_crack, arr = 0, None
    if case == "A":
        q_pl = float(p("crack_plateau_A"))
        f = float(p("crack_li_fraction_A"))
        res = float(p("crack_residual_A"))
        q_peak = min(float(charge_mah_cm2), float(p("plate_capacity")))
        n_peak = int(round(f * far_vox(max(0.0, q_peak - q_pl))))
        n_full = int(round(f * far_vox(max(0.0, float(p("plate_capacity")) - q_pl))))
        n_strip = min(far_vox(stripped_mah_cm2), (1.0 - res) * n_peak)
        n_crack = int(round(n_peak - n_strip))
        roots = int(case_value("crack_roots", case)) if n_cracks is None else int(n_cracks)
        if n_full > 0:
            arr = _grown_network(np.random.default_rng([seed, 7]), int(1.05 * n_full),
                                 pel.shape, r_cell, n_xy, max_len, allowed, radius, roots,
                                 root_frac=(0.0, 0.95))
    elif case == "B":
        f = float(p("edge_filament_fraction_B"))
        n_crack = int(round(f * far_vox(q_high)))
        q_high_full = sum(q for j, q in p("ramp_B") if j >= thr)
        n_full = int(round(f * far_vox(q_high_full)))
        roots = int(p("edge_filament_roots_B")) if n_cracks is None else int(n_cracks)
        if n_full > 0:
            ring = allowed & ~creg[None]  # no filament in the central region (Fig. 5e)
            arr = _grown_network(np.random.default_rng([seed, 11]), int(1.05 * n_full),
                                 pel.shape, r_cell, n_xy, max_len, ring, radius, roots,
                                 branch_prob=0.15, root_frac=tuple(p("edge_ring_B")),
                                 tilt=(0.35, 0.8))
    else:
        f = float(p("filament_fraction_C"))
        q0 = float(p("plate_capacity"))
        n_crack = int(round(f * far_vox(max(0.0, float(charge_mah_cm2) - q0))))
        n_full = int(round(f * far_vox(float(p("short_total_C")) - q0)))
        rf = float(p("filament_root_radius_C"))
        if n_full > 0:
            arr = _grown_network(np.random.default_rng([seed, 13]), int(1.05 * n_full),
                                 pel.shape, r_cell, n_xy, float(n_pel), allowed, radius,
                                 1 if n_cracks is None else int(n_cracks), branch_prob=0.3,
                                 root_frac=(rf, rf + 0.05), tilt=(0.6, 0.95))
    new_c = _first_n(arr, n_crack) if arr is not None else np.zeros(pel.shape, bool)

    # ---- the plated layer: Faraday's net Li minus the Li in the new cracks
    n_far = int(round(far_vox(float(charge_mah_cm2) - float(stripped_mah_cm2))))
    n_layer = n_far - int(new_c.sum())
    if n_layer < 0:
        raise ParameterError("charge_mah_cm2", charge_mah_cm2, "leaves less Li than the cracks "
                             "hold (check the table's crack fractions)")
    # low-current part (stripping removes from it) and high-current part (radial profile)
    q_strip_layer = float(stripped_mah_cm2)  # the layer's shape; its size is n_layer
    rho2 = ((yy - n_xy // 2) ** 2 + (xx - n_xy // 2) ** 2) / r_cell ** 2
    g = 1.0 - 2.0 * rho2
    g = g - g[cell].mean()
    a = float(case_value("centre_profile_amplitude", case))
    t_high = faraday_thickness_um(q_high)
    t_low = max(0.0, faraday_thickness_um(q_low - q_strip_layer))
    if plating == "model":
        low = model_plated_layer_um(max(0.0, q_low - q_strip_layer), fld, cv, cell, vs,
                                    n_pel * vs)
    elif plating == "texture":
        low = t_low * np.clip(1.0 + cv * fld, 0, None)
    else:
        raise ParameterError("plating", plating, "must be 'texture' or 'model'")
    t = low + t_high * np.clip(1.0 + a * g, 0, None)
    t = np.where(cell, t, 0.0)
    tv = t / vs
    n_map = np.zeros((n_xy, n_xy), np.int64)
    if n_layer > 0:
        tv = tv * (n_layer / tv[cell].sum())
        n_map = np.floor(tv).astype(np.int64)
        n_map[~cell] = 0
        rem = n_layer - int(n_map.sum())
        frac = np.where(cell, tv - np.floor(tv), -1.0).ravel()
        if rem > 0:
            top = np.argsort(-frac, kind="stable")[:rem]
            n_map.ravel()[top] += 1
    # ---- stack the columns
    k_map = new_c.sum(axis=0).astype(np.int64)          # crack voxels inserted per column
    counter_t = c0 - n_map - k_map
    if np.any(counter_t[cell] < 1):
        raise ParameterError("counter_li_um", counter_um, "is thinner than the Li this state "
                             "moves to the Cu side in some column", "raise counter_li_um")
    n_out = n_pel + int(k_map.max())
    ext = np.zeros((n_out,) + pel.shape[1:], bool)
    ext[:n_pel] = new_c
    cum = np.cumsum(ext, axis=0)
    ref = np.arange(n_out)[:, None, None] - cum
    ref_c = np.clip(ref, 0, n_pel - 1)
    body = np.take_along_axis(pel, ref_c, axis=0)
    body = np.where(ext, CODES["li_filament"], body)
    zz = np.arange(n_z)[:, None, None]
    b2 = cu_vox + n_map[None]
    b3 = b2 + n_pel + k_map[None]
    b4 = b3 + counter_t[None]
    b5 = b4 + steel_vox
    if int(b5[0][cell].max()) > n_z:
        raise ParameterError("n_z", n_z, "is too small for the stack")
    jpel = np.clip(zz - b2, 0, n_out - 1)
    pel_z = np.take_along_axis(np.broadcast_to(body, (n_out, n_xy, n_xy)),
                               np.broadcast_to(jpel, (n_z, n_xy, n_xy)).copy(), axis=0)
    u8 = np.uint8
    lab = np.select([zz < cu_vox, zz < b2, zz < b3, zz < b4, zz < b5],
                    [u8(CODES["cu"]), u8(CODES["li"]), pel_z, u8(CODES["li"]),
                     u8(CODES["steel"])], u8(CODES["void"])).astype(np.uint8)
    lab[:, ~cell] = CODES["void"]
    # masks of this state in the lab frame
    is_pel = (zz >= b2) & (zz < b3) & cell[None]
    crack_mask = is_pel & (lab == CODES["li_filament"])
    pore_mask = lab == CODES["pore"]
    pre_mask = lab == CODES["crack"]
    edge = crack_mask if case in ("B", "C") else np.zeros(lab.shape, bool)

    crack_li = float(crack_mask.sum() * vv)
    crack_empty = float(pre_mask.sum() * vv)
    pore_v = float(pore_mask.sum() * vv)
    plated_t = n_map.astype(float)
    counter_f = counter_t.astype(float)
    tmap_um = np.where(cell, plated_t * vs, np.nan)
    st_stair = thickness_stats(tmap_um, cf, footprint=inner)
    li_side = float(n_map.sum() * vv) + crack_li
    t_far = faraday_thickness_um(float(charge_mah_cm2) - float(stripped_mah_cm2))
    v_dep = faraday_thickness_um(float(charge_mah_cm2)) * area_um2
    top_plated = cu_vox + int(n_map[cell].max())
    bottom_counter = int(b3[0][cell].min())
    # the surface the voxels stand for: the continuous layer thickness before it is cut into
    # whole voxels per column (the staircase adds ~vs / sqrt(12) of column-to-column height
    # noise that no reconstruction at this voxel size resolves)
    t_cont = np.where(cell, tv, 0.0) if n_layer > 0 else np.zeros((n_xy, n_xy))
    # centre / edge of the plated LAYER (Sandoval et al. 2025, Fig. 5e: the electrodeposited
    # layer between the Cu and the pellet's lower face; Li in filaments / cracks inside the
    # pellet is not layer, it is crack_li_volume_um3): on the continuous face that the
    # attenuation places the pellet on and the projections image.  The whole-voxel labels'
    # staircase reads the low-current layers' edge 0.04-0.11 µm thick (the remainder voxels
    # go to the largest fractions), against a texture that is radially detrended
    st = thickness_stats(np.where(cell, t_cont * vs, np.nan), cf, footprint=inner)
    h_cont = {"li|lpscl": np.where(cell, (cu_vox + t_cont) * vs, np.nan),
              "lpscl|counter": np.where(cell, (cu_vox + t_cont + n_pel + k_map) * vs, np.nan)}
    # the pellet's interior: 2 slices inside its mean faces, on the inner columns (the
    # analysis' footprint); pores + empty + Li-filled cracks there
    f0 = int(round(cu_vox + float(np.mean(n_map[cell])))) + 2
    f1 = int(round(float(np.mean(b3[0][cell])))) - 2
    pc_all = np.isin(lab, [CODES["pore"], CODES["crack"], CODES["li_filament"]])
    pc_int = float(pc_all[max(f0, 0):max(f1, f0)][:, inner].sum() * vv)
    truth = {
        "case": case,
        "charge_mah_cm2": float(charge_mah_cm2),
        "stripped_mah_cm2": float(stripped_mah_cm2),
        "current_ma_cm2": float(j_last),
        "high_current_mah_cm2": float(q_high),
        "grain": grain,
        "faraday_thickness_um": t_far,
        "deposited_li_volume_um3": v_dep,
        "cell_area_um2": area_um2,
        "pore_volume_um3": pore_v,
        "preexisting_crack_volume_um3": crack_empty,
        "crack_li_volume_um3": crack_li,
        "crack_empty_volume_um3": crack_empty,
        "crack_volume_um3": crack_li + crack_empty,
        "new_crack_volume_um3": crack_li,
        "pore_crack_volume_um3": pore_v + crack_li + crack_empty,
        "li_in_cracks_fraction": crack_li / li_side if li_side > 0 else 0.0,
        "crack_li_capacity_fraction": crack_li / v_dep if v_dep > 0 else 0.0,
        "plated_thickness_um": float(np.mean(plated_t[cell]) * vs),
        "plated_thickness_center_um": st.mean_center_um,
        "plated_thickness_edge_um": st.mean_edge_um,
        "plated_thickness_center_staircase_um": st_stair.mean_center_um,
        "plated_thickness_edge_staircase_um": st_stair.mean_edge_um,
        "central_fraction": cf,
        "lpscl_volume_um3": float((lab == CODES["lpscl"]).sum() * vv),
        "li_total_volume_um3": float(np.isin(lab, [CODES["li"], CODES["li_filament"]]).sum() * vv),
        "crack_mask": crack_mask,
        "pore_mask": pore_mask,
        "edge_filament_mask": edge,
        "n_edge_filaments": int(p("edge_filament_roots_B")) if (case == "B" and crack_li > 0)
        else int(case == "C" and crack_li > 0),
        "pellet_z_vox": (float(top_plated), float(bottom_counter)),
        "pellet_interior_z_vox": (float(f0), float(f1)),
        "pore_crack_volume_interior_um3": pc_int,
        "inner_mask": inner,
        "height_continuous_um": h_cont,
        "roughness_continuous_inner_um": {k: roughness_ra_rq(h, inner) for k, h in
                                          h_cont.items()},
        "paper": "001_a2c994afa3295f29",
        "plating": plating,
    }
    interfaces = {"li|lpscl": cu_vox + plated_t, "cu|li": np.full((n_xy, n_xy), float(cu_vox)),
                  "lpscl|counter": (b3[0]).astype(float)}
    name = f"anode_free_001/{case}/q{charge_mah_cm2:g}-s{stripped_mah_cm2:g}"
    ph = _finish(name, lab, vs, e_kev, cell, interfaces,
                 {"plated_li": plated_t, "counter_li": counter_f}, truth)
    # the pellet sits on the continuous plated surface: the voxel each of its faces cuts
    # holds the two sides' attenuation in proportion (partial volume), so the projections
    # image the continuous surface and not the whole-voxel staircase of the labels
    mu_li = float(_mu_table(e_kev, vs)[CODES["li"]])
    mu = _subvoxel_faces(ph.mu_per_voxel, t_cont - n_map, cu_vox + n_map, b3[0], cell, mu_li)
    return dataclasses.replace(ph, mu_per_voxel=mu)


def _subvoxel_faces(mu, shift_vox, z_low, z_high, cell, mu_below):
    """Attenuation of a stack whose pellet is shifted by ``shift_vox`` (each column, within
    (-1, 1)) from its whole-voxel place ``[z_low, z_high)``: at each face the voxel the
    continuous face cuts mixes the two sides by the covered fractions (``mu_below``: the
    material under the lower face, the plated Li; the pellet's inside keeps its voxels).
    Returns a read-only copy."""
    mu = np.array(mu, dtype=np.float32)
    nz = mu.shape[0]
    yy, xx = np.nonzero(cell)
    f = np.asarray(shift_vox, float)[yy, xx]
    for low, zf in ((True, np.asarray(z_low)[yy, xx]), (False, np.asarray(z_high)[yy, xx])):
        zf = zf.astype(np.int64)
        up = f > 0      # face above its voxel boundary: the voxel at zf takes f of the below
        dn = f < 0      # below: the voxel at zf - 1 takes |f| of the above
        ok = up & (zf < nz) & (zf >= 1)
        a = np.float32(mu_below) if low else mu[zf[ok] - 1, yy[ok], xx[ok]]
        b = mu[zf[ok], yy[ok], xx[ok]]
        mu[zf[ok], yy[ok], xx[ok]] = f[ok] * a + (1 - f[ok]) * b
        ok = dn & (zf < nz) & (zf >= 1)
        g = -f[ok]
        a, b = mu[zf[ok] - 1, yy[ok], xx[ok]], mu[zf[ok], yy[ok], xx[ok]]
        mu[zf[ok] - 1, yy[ok], xx[ok]] = (1 - g) * a + g * b
    mu.setflags(write=False)
    return mu


# ----------------------------------------------------------------------------------------------
# (c) soft-short pellet of 002_3ee4edf529433f9c


def soft_short_002(*, n_xy: int = 64, n_z: int = 96, voxel_size_um: float = 1.62,
                   e_kev: float = 40.0, n_layers: int = 10, fraction_near: float = 0.3065,
                   fraction_far: float = 0.0991, isolated_fraction: float = 0.02,
                   li_thickness_um: float = 16.0, cathode_thickness_um: float = 16.0,
                   isolated_li_fraction: float = 0.0, pristine: bool = False,
                   seed: int = 0) -> CTPhantom:
    """Phantom of the sulfide pellet behind a soft short (002_3ee4edf529433f9c, Fig. 3I-J).

    Stack from z = 0: steel (3 voxels), Li anode, Li6PS5Cl electrolyte split in ``n_layers``
    equal slabs, NMC811 composite cathode, steel (3 voxels).  Low-attenuation filaments (Li,
    code 10) grow from the anode into the electrolyte: a column-like Gaussian random field
    (correlation 1.2 voxels across, 4 voxels along z) is thresholded layer by layer from the
    anode (bisection on each layer's threshold, a second sweep with every layer present so
    that loops through upper layers are counted) so that, keeping only the parts
    face-connected to the anode, the filament fraction of each layer is its target minus
    ``isolated_fraction``.  Isolated pores (code 8, empty; balls clipped to their layer) then
    fill each layer up to its target, at least one voxel (26-neighbourhood) away from any
    filament so that 6- and 26-connectivity classify them alike.  The low-attenuation
    (filament + pore) volume fraction of each layer follows a straight line from
    ``fraction_near`` (layer 0, at the anode) to ``fraction_far`` (last layer, at the
    cathode) within about 0.01: the defaults are Cao et al. 2023 (doi:10.1002/adfm.202307998)
    Fig. 3J, 30.65 % in their layer 10 (at the Li anode) to 9.91 % in their layer 1 (cathode
    side); :mod:`ssbscope.twin.params_002` holds the table.

    ``isolated_li_fraction`` > 0 adds dead Li (code 10, Li; Cao et al.'s blue regions hold
    "pores and inactive Li", and their phase-field model breaks dendrites off into dead Li
    under pressure, Fig. 4B): ellipsoids (1.0-1.8 voxels across, twice as long along z, as
    broken filament pieces) at least one voxel (26-neighbourhood) away from the filaments,
    up to ``isolated_li_fraction`` x (layer's target / mean target) of each layer, taken
    from the layer's pore budget (placed before the pores, which keep one voxel away from
    them too; a separate random stream, so 0 leaves the phantom unchanged).  ``pristine``:
    the same pellet before plating (assumption: the filaments and dead Li fill no pore, the
    Li6PS5Cl they displaced is restored and the anode keeps its thickness), i.e. the same
    pores with every filament and dead-Li voxel Li6PS5Cl again; the truth's connected and
    dead-Li volumes are then 0.

    Returns
    -------
    CTPhantom
        ``truth``: ``connected_mask`` (filaments, connected to the anode through faces),
        ``isolated_mask`` (pores and dead Li), ``layer_edges_z_vox`` (n_layers + 1,),
        ``layer_fraction_connected`` and ``layer_fraction_low_attenuation`` (n_layers,)
        volume fractions of each layer's cell volume, numbered from the anode (layer 0 at
        the Li), ``target_layer_fraction`` (same order); the same low-attenuation fractions
        under explicit names: ``layer_fraction_from_anode`` and ``layer_fraction_paper_order``
        (Cao et al.'s numbering: layer 1 at the cathode side, layer n at the Li anode);
        ``interfaces_z_vox["li|lpscl"]``, ``["lpscl|cathode"]``; ``isolated_li_mask`` and
        ``isolated_li_volume_um3`` (dead Li), ``pore_volume_um3`` (the pores, equal to
        ``isolated_volume_um3`` less the dead Li), ``pristine``.
    """
    from scipy.ndimage import binary_dilation, gaussian_filter, label

    _check_sizes(n_xy, n_z, voxel_size_um)
    if not (0 <= fraction_far <= fraction_near < 0.6):
        raise ParameterError("fraction_near", fraction_near,
                             "need 0 <= fraction_far <= fraction_near < 0.6")
    if n_layers < 1:
        raise ParameterError("n_layers", n_layers, "must be >= 1")
    vs = float(voxel_size_um)
    rng = np.random.default_rng(seed)
    r_cell = 0.45 * n_xy
    cell = _disk(n_xy, n_xy, r_cell)
    steel, li_vox = 3, max(3, int(round(li_thickness_um / vs)))
    cat_vox = max(3, int(round(cathode_thickness_um / vs)))
    z_se0 = steel + li_vox
    se_vox = n_z - z_se0 - cat_vox - steel
    se_vox -= se_vox % n_layers
    if se_vox < 2 * n_layers:
        raise ParameterError("n_z", n_z, f"leaves {se_vox} voxels for {n_layers} layers",
                             "raise n_z or lower n_layers")
    z_se1 = z_se0 + se_vox
    g = gaussian_filter(rng.standard_normal((se_vox, n_xy, n_xy)), (4.0, 1.2, 1.2), mode="wrap")
    g = (g - g.mean()) / g.std()
    layer_of_z = np.arange(se_vox) * n_layers // se_vox
    target = np.linspace(fraction_near, fraction_far, n_layers) if n_layers > 1 \
        else np.array([fraction_near])
    if isolated_fraction < 0 or isolated_fraction > fraction_far:
        raise ParameterError("isolated_fraction", isolated_fraction,
                             f"need 0 <= isolated_fraction <= fraction_far ({fraction_far})")
    target_conn = target - isolated_fraction
    n_cell = cell.sum()
    anode_face = np.zeros((1, n_xy, n_xy), bool)
    anode_face[0] = cell
    # per-z thresholds of the field, as quantiles over the cell: sel(f) grows with f
    g_cell = np.where(cell[None], g, -np.inf)
    order_vals = np.sort(g[:, cell], axis=1)  # (se_vox, n_cell) ascending

    def select(z, f):
        if f <= 0:
            return np.zeros((n_xy, n_xy), bool)
        q = order_vals[z, max(0, int(np.ceil((1.0 - f) * n_cell)) - 1)]
        return g_cell[z] >= q

    def connected(sel):
        full = np.concatenate([anode_face, sel], axis=0)
        lab, _ = label(full)  # face connectivity
        keep = np.unique(lab[0][cell])
        keep = keep[keep > 0]
        return np.isin(lab[1:], keep)

    # layer by layer from the anode: bisection on the selected fraction of each layer so that
    # its anode-connected fraction meets the target (monotone in the fraction); layers above
    # are empty meanwhile, so connections run through the layers below
    sel = np.zeros_like(g, dtype=bool)
    for sweep in range(2):  # the second sweep counts connections through the layers above
        for k in range(n_layers):
            zs = np.nonzero(layer_of_z == k)[0]
            lo, hi = 0.0, 0.95
            for _ in range(14):
                f = 0.5 * (lo + hi)
                for z in zs:
                    sel[z] = select(z, f)
                got = connected(sel)[zs].sum() / (zs.size * n_cell)
                if got < target_conn[k]:
                    lo = f
                else:
                    hi = f
            for z in zs:
                sel[z] = select(z, hi)
    conn = connected(sel)
    # isolated pores: random balls away from the filaments
    forbidden = binary_dilation(np.concatenate([anode_face, conn], axis=0),
                                structure=np.ones((3, 3, 3), bool))[1:]
    iso = np.zeros_like(conn)
    pr = np.random.default_rng([seed, 5])
    zi, yi, xi = np.ogrid[:se_vox, :n_xy, :n_xy]
    dead = np.zeros_like(conn)
    if not (0.0 <= isolated_li_fraction < 0.2):
        raise ParameterError("isolated_li_fraction", isolated_li_fraction, "need 0 <= f < 0.2")
    if isolated_li_fraction > 0:  # dead Li first: ellipsoids away from the filaments
        dr = np.random.default_rng([seed, 7])
        for k in range(n_layers):
            zs = np.nonzero(layer_of_z == k)[0]
            za, zb = int(zs[0]), int(zs[-1]) + 1
            room = target[k] * zs.size * n_cell - conn[za:zb].sum()
            want = min(isolated_li_fraction * target[k] / target.mean() * zs.size * n_cell,
                       0.6 * room)
            have, tries = 0, 0
            while have < want and tries < 3000:
                tries += 1
                rad = dr.uniform(1.0, 1.8)
                ang = dr.uniform(0, 2 * np.pi)
                rr = (r_cell - 2) * np.sqrt(dr.uniform())
                cz = dr.uniform(za, zb)
                cy, cx = n_xy // 2 + rr * np.sin(ang), n_xy // 2 + rr * np.cos(ang)
                z0b, z1b = max(za, int(cz - 2 * rad - 1)), min(zb, int(cz + 2 * rad + 2))
                y0b, y1b = max(0, int(cy - rad - 1)), min(n_xy, int(cy + rad + 2))
                x0b, x1b = max(0, int(cx - rad - 1)), min(n_xy, int(cx + rad + 2))
                ell = ((((zi[z0b:z1b] + 0.5 - cz) / 2.0) ** 2 + (yi[:, y0b:y1b] - cy) ** 2
                        + (xi[:, :, x0b:x1b] - cx) ** 2) <= rad ** 2)
                ell &= cell[None, y0b:y1b, x0b:x1b]
                if (ell & forbidden[z0b:z1b, y0b:y1b, x0b:x1b]).any():
                    continue
                new = int((ell & ~dead[z0b:z1b, y0b:y1b, x0b:x1b]).sum())
                if new == 0 or have + new > 1.2 * want:
                    continue
                dead[z0b:z1b, y0b:y1b, x0b:x1b] |= ell
                have += new
        forbidden = forbidden | binary_dilation(dead, structure=np.ones((3, 3, 3), bool))
    # per layer: pores up to the layer's low-attenuation target (a ball is kept only if it
    # brings the layer's count closer to the target)
    for k in range(n_layers):
        zs = np.nonzero(layer_of_z == k)[0]
        za, zb = int(zs[0]), int(zs[-1]) + 1
        want = target[k] * zs.size * n_cell - conn[za:zb].sum() - dead[za:zb].sum()
        have, tries = 0, 0
        while have < want and tries < 3000:
            tries += 1
            rad = pr.uniform(0.9, 1.8)
            ang = pr.uniform(0, 2 * np.pi)
            rr = (r_cell - 2) * np.sqrt(pr.uniform())
            cz = pr.uniform(za, zb)
            cy, cx = n_xy // 2 + rr * np.sin(ang), n_xy // 2 + rr * np.cos(ang)
            z0b, z1b = max(za, int(cz - rad - 1)), min(zb, int(cz + rad + 2))
            y0b, y1b = max(0, int(cy - rad - 1)), min(n_xy, int(cy + rad + 2))
            x0b, x1b = max(0, int(cx - rad - 1)), min(n_xy, int(cx + rad + 2))
            ball = (((zi[z0b:z1b] + 0.5 - cz) ** 2 + (yi[:, y0b:y1b] - cy) ** 2
                     + (xi[:, :, x0b:x1b] - cx) ** 2) <= rad ** 2)
            ball &= cell[None, y0b:y1b, x0b:x1b]
            if (ball & forbidden[z0b:z1b, y0b:y1b, x0b:x1b]).any():
                continue
            new = int((ball & ~iso[z0b:z1b, y0b:y1b, x0b:x1b]).sum())
            if new == 0 or abs(have + new - want) >= abs(have - want):
                if new > 0 and rad > 1.0:
                    continue  # try a smaller ball
                if new > 0:
                    break
                continue
            iso[z0b:z1b, y0b:y1b, x0b:x1b] |= ball
            have += new
    if pristine:  # before plating: the same pores, no filament, no dead Li
        conn = np.zeros_like(conn)
        dead = np.zeros_like(dead)
    labels = np.zeros((n_z, n_xy, n_xy), dtype=np.uint8)
    labels[:steel][:, cell] = CODES["steel"]
    labels[steel:z_se0][:, cell] = CODES["li"]
    se = np.where(conn | dead, CODES["li_filament"],
                  np.where(iso, CODES["pore"], CODES["lpscl"]))
    se = np.where(cell[None], se, 0).astype(np.uint8)
    labels[z_se0:z_se1] = se
    labels[z_se1:z_se1 + cat_vox][:, cell] = CODES["cathode"]
    labels[z_se1 + cat_vox:z_se1 + cat_vox + steel][:, cell] = CODES["steel"]
    conn_full = np.zeros(labels.shape, bool)
    conn_full[z_se0:z_se1] = conn
    iso_full = np.zeros(labels.shape, bool)
    iso_full[z_se0:z_se1] = iso | dead
    dead_full = np.zeros(labels.shape, bool)
    dead_full[z_se0:z_se1] = dead
    per_z_c = conn.reshape(se_vox, -1).sum(axis=1) / n_cell
    per_z_l = (conn | iso | dead).reshape(se_vox, -1).sum(axis=1) / n_cell
    lf_c = np.array([per_z_c[layer_of_z == k].mean() for k in range(n_layers)])
    lf_l = np.array([per_z_l[layer_of_z == k].mean() for k in range(n_layers)])
    edges = z_se0 + np.arange(n_layers + 1) * (se_vox // n_layers)
    cathode_mu = (0.6 * nmc(1.0, 0.8, 0.1, 0.1).linear_attenuation_1_cm(e_kev)
                  + 0.4 * get("Li6PS5Cl").linear_attenuation_1_cm(e_kev))
    truth = {
        "connected_mask": conn_full,
        "isolated_mask": iso_full,
        "layer_edges_z_vox": edges.astype(float),
        "layer_fraction_connected": lf_c,
        "layer_fraction_low_attenuation": lf_l,
        "target_layer_fraction": target,
        "layer_fraction_from_anode": lf_l,
        "layer_fraction_paper_order": lf_l[::-1].copy(),
        "connected_volume_um3": float(conn.sum() * vs ** 3),
        "isolated_volume_um3": float((iso | dead).sum() * vs ** 3),
        "isolated_li_mask": dead_full,
        "isolated_li_volume_um3": float(dead.sum() * vs ** 3),
        "pore_volume_um3": float(iso.sum() * vs ** 3),
        "pristine": bool(pristine),
        "paper": "002_3ee4edf529433f9c",
    }
    interfaces = {"li|lpscl": np.full((n_xy, n_xy), float(z_se0)),
                  "lpscl|cathode": np.full((n_xy, n_xy), float(z_se1))}
    return _finish("soft_short_002", labels, vs, e_kev, cell, interfaces,
                   {"li": (labels[:z_se0] == CODES["li"]).sum(axis=0).astype(float)}, truth,
                   cathode_mu=cathode_mu)


# ----------------------------------------------------------------------------------------------
# (d) symmetric Li | Li6PS5Cl | Li cell plated from the top electrode onto the bottom one


def symmetric_li_lpscl(charge_mah_cm2: float = 0.0, *, n_xy: int = 40, n_z: int = 56,
                       voxel_size_um: float = 3.0, e_kev: float = 22.0, li_um: float = 30.0,
                       pellet_um: float | None = None, ra_um: float | None = None,
                       counter_ra_um: float | None = None, porosity: float = 0.02,
                       max_charge_mah_cm2: float = 3.0, seed: int = 0) -> CTPhantom:
    """Phantom of a symmetric Li | Li6PS5Cl | Li cell after plating ``charge_mah_cm2``.

    Stack from z = 0 upward: steel plunger (3 voxels), bottom Li electrode, dense Li6PS5Cl
    pellet with a little porosity (isolated spherical pores), top Li electrode, steel plunger
    (3 voxels); a cylinder of radius ``0.45 n_xy`` with void outside (the Li | Li6PS5Cl | Li
    cells of 003_103f2bf5a3479ade, as imaged by the CT of 001_a2c994afa3295f29).

    Plating moves Li from the top electrode to the bottom one:

    * the bottom layer's voxel count grows by Faraday's law,
      :func:`ssbscope.echem.faraday.lithium_thickness_um` (3 mAh cm^-2 = 14.5 µm) over the
      cell footprint (bisection on the mean height of the voxelised surface: exact to a
      voxel);
    * the top layer loses the same number of voxels: the total Li volume is conserved to a
      few voxels;
    * the steel plungers do not move (the stack height is constant because the Li volume is);
      the pellet translates rigidly upward with its top face, by about the Faraday thickness
      (``truth["pellet_shift_um"]``); its bottom face conforms to the bottom Li surface; the
      pores move with the pellet;
    * the bottom Li | Li6PS5Cl interface is a Gaussian random height field (correlation 3
      voxels) whose shape evolves with the charge (a second field is mixed in) and whose Ra
      is ``ra_um``; the top Li6PS5Cl | Li interface keeps its shape (Ra ``counter_ra_um``).

    Parameters
    ----------
    charge_mah_cm2 : float
        Charge plated onto the bottom electrode so far (mAh cm^-2), within
        ``0 ... max_charge_mah_cm2``.
    n_xy, n_z : int
        Lateral and stacking sizes (voxels).
    voxel_size_um, e_kev : float
        Voxel edge (µm) and beam energy (keV); 3 µm and 22 keV keep the Li / Li6PS5Cl contrast
        of a 40-voxel phantom through a 16-bit scan (as the CT demo twin).
    li_um : float
        Pristine thickness of each Li electrode (µm).
    pellet_um : float, optional
        Pellet thickness (µm); default: what ``n_z`` leaves between the electrodes.
    ra_um : float, optional
        Target Ra (µm) of the bottom Li | Li6PS5Cl interface at this charge; default
        ``(1.5 + 0.5 charge_mah_cm2) voxel_size_um`` (1.5 -> 3 voxels over 0 -> 3 mAh cm^-2).
        The exact Ra/Rq of the voxelised surface are in ``roughness_um["li|lpscl"]``.
    counter_ra_um : float, optional
        Ra (µm) of the top Li6PS5Cl | Li interface; default 0.75 voxel.
    porosity : float
        Pore volume fraction of the pellet (pores of 0.8-1.3 voxel radius, kept 2 voxels away
        from the Li so that they do not merge with the electrodes).
    max_charge_mah_cm2 : float
        Largest charge of the series: checks that the top electrode keeps >= 2 voxels and
        fixes the evolution of the surface shape (same seed: one geometry across a series).
    seed : int

    Returns
    -------
    CTPhantom
        ``thickness_maps_um`` / ``mean_thickness_um``: ``"li"`` (bottom electrode),
        ``"pellet"`` (Li6PS5Cl + pores), ``"counter_li"`` (top electrode);
        ``height_maps_um`` / ``roughness_um`` / ``interfaces_z_vox``: ``"steel|li"``,
        ``"li|lpscl"``, ``"lpscl|counter"``, ``"counter|steel"``; ``truth``:
        ``charge_mah_cm2``, ``faraday_thickness_um``, ``target_ra_um``,
        ``li_volume_um3`` (both electrodes), ``li_bottom_volume_um3``, ``li_top_volume_um3``,
        ``li_volume_pristine_um3``, ``pore_volume_um3``, ``pore_crack_volume_um3`` (= pores),
        ``pellet_shift_um`` (top face vs pristine), ``cell_area_um2``, ``pore_mask``.
    """
    from scipy.ndimage import binary_dilation

    from ssbscope.echem.faraday import lithium_thickness_um

    _check_sizes(n_xy, n_z, voxel_size_um)
    q = float(charge_mah_cm2)
    if not (np.isfinite(q) and 0 <= q <= max_charge_mah_cm2):
        raise ParameterError("charge_mah_cm2", charge_mah_cm2,
                             f"must be within 0 ... max_charge_mah_cm2 ({max_charge_mah_cm2})")
    if not (0 <= porosity < 0.3):
        raise ParameterError("porosity", porosity, "must be within [0, 0.3)")
    vs = float(voxel_size_um)
    ra_vox = (1.5 + 0.5 * q) if ra_um is None else float(ra_um) / vs
    ra_t_vox = 0.75 if counter_ra_um is None else float(counter_ra_um) / vs
    if not (np.isfinite(ra_vox) and ra_vox > 0):
        raise ParameterError("ra_um", ra_um, "must be finite and > 0")
    if not (np.isfinite(ra_t_vox) and ra_t_vox >= 0):
        raise ParameterError("counter_ra_um", counter_ra_um, "must be finite and >= 0")
    li_vox = float(li_um) / vs
    t_far_vox = lithium_thickness_um(q) / vs
    t_max_vox = lithium_thickness_um(float(max_charge_mah_cm2)) / vs
    if li_vox - t_max_vox - 3 * ra_t_vox / np.sqrt(2 / np.pi) < 2:
        raise ParameterError("li_um", li_um, f"leaves the top electrode less than 2 voxels after "
                             f"{max_charge_mah_cm2} mAh cm⁻² ({lithium_thickness_um(max_charge_mah_cm2):.1f} "
                             "µm plated)", "raise li_um or lower max_charge_mah_cm2")
    steel = 3
    if pellet_um is None:
        pel_vox = n_z - 2 * steel - 2 * int(round(li_vox))
    else:
        pel_vox = int(round(float(pellet_um) / vs))
    if pel_vox < 12:
        raise ParameterError("n_z", n_z, "leaves fewer than 12 voxels for the pellet",
                             "raise n_z or lower li_um")
    z0 = steel                                   # top of the bottom plunger
    z_st = steel + 2 * int(round(li_vox)) + pel_vox  # bottom of the top plunger (fixed)
    if z_st + steel > n_z:
        raise ParameterError("n_z", n_z, f"is too small for the stack ({z_st + steel} voxels)",
                             "raise n_z or lower pellet_um / li_um")
    rng = np.random.default_rng(seed)
    base = _grf2((n_xy, n_xy), 3.0, rng)
    grow = _grf2((n_xy, n_xy), 3.0, rng)
    top_f = _grf2((n_xy, n_xy), 3.0, rng)
    r_cell = 0.45 * n_xy
    cell = _disk(n_xy, n_xy, r_cell)
    n_cell = int(cell.sum())
    mix = 0.6 * min(1.0, q / max_charge_mah_cm2) if max_charge_mah_cm2 > 0 else 0.0
    fld = np.sqrt(1 - mix ** 2) * base + mix * grow
    fld = (fld - fld[cell].mean()) / fld[cell].std()
    tf = (top_f - top_f[cell].mean()) / top_f[cell].std()

    def bottom_counts(mean_vox, ra):
        h = np.clip(_scaled_height(fld, ra, mean_vox), 1.0, None)
        return np.clip(np.ceil(h - 0.5), 0, None) * cell

    def top_counts(offset_vox):
        ht = z_st - li_vox + offset_vox + ra_t_vox / np.sqrt(2 / np.pi) * tf  # pellet top face
        lo = np.clip(np.ceil(ht - 0.5), z0 + 1, z_st)
        return (z_st - lo) * cell

    def solve(fun, target, lo, hi):
        best = None
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            v = float(fun(mid).sum())
            if best is None or abs(v - target) < abs(best[1] - target):
                best = (mid, v)
            if v < target:
                lo = mid
            else:
                hi = mid
        return best[0]

    # bottom electrode: pristine voxel count + Faraday; the top one gives what it gained
    nb0 = float(round(n_cell * li_vox))
    nt0 = float(top_counts(0.0).sum())
    nb_target = round(n_cell * (li_vox + t_far_vox))
    mb = solve(lambda m: bottom_counts(m, ra_vox), nb_target, 0.0, 2 * (li_vox + t_far_vox) + 10)
    cb = bottom_counts(mb, ra_vox)
    nb = float(cb.sum())
    # the top face's offset (the pellet's shift) that leaves the top electrode nt_target
    nt_target = nt0 - (nb - nb0)
    off = solve(lambda o: -top_counts(o), -nt_target, -2.0, t_max_vox + 6.0)
    ct_ = top_counts(off)
    z_top_li = z_st - ct_  # first top-Li voxel per column
    if np.any((z0 + cb >= z_top_li - 3) & cell):
        raise ParameterError("n_z", n_z, "leaves the pellet thinner than 3 voxels in places",
                             "raise n_z or pellet_um, or lower ra_um")
    zz = np.arange(n_z)[:, None, None]
    lab = np.zeros((n_z, n_xy, n_xy), dtype=np.uint8)
    c3 = cell[None]
    lab[(zz < z0) & c3] = CODES["steel"]
    lab[(zz >= z0) & (zz < z0 + cb[None]) & c3] = CODES["li"]
    lab[(zz >= z0 + cb[None]) & (zz < z_top_li[None]) & c3] = CODES["lpscl"]
    lab[(zz >= z_top_li[None]) & (zz < z_st) & c3] = CODES["li"]
    lab[(zz >= z_st) & (zz < z_st + steel) & c3] = CODES["steel"]
    # pores: fixed in the pellet's frame (its top face), 2 voxels clear of the Li
    pore_rng = np.random.default_rng([seed, 3])
    li = lab == CODES["li"]
    allowed = (lab == CODES["lpscl"]) & ~binary_dilation(li, iterations=2)
    pmask = np.zeros(lab.shape, bool)
    if porosity > 0:
        top_face0 = z_st - li_vox            # pristine mean top face of the pellet
        sig_b_max = (1.5 + 0.5 * max_charge_mah_cm2) / np.sqrt(2 / np.pi)
        z_lo = z0 + li_vox + t_max_vox + 2.5 * sig_b_max + 2 - top_face0  # frame coordinates
        z_hi = -2.5 * ra_t_vox / np.sqrt(2 / np.pi) - 2
        if z_hi - z_lo < 2:
            z_lo, z_hi = -pel_vox + 3, -3
        zi, yi, xi = np.ogrid[:n_z, :n_xy, :n_xy]
        acc, target = 0.0, porosity * pel_vox * n_cell
        n_p = 0
        while acc < target and n_p < 20000:
            n_p += 1
            rad = pore_rng.uniform(0.8, 1.3)
            ang = pore_rng.uniform(0, 2 * np.pi)
            rr = (r_cell - rad - 1) * np.sqrt(pore_rng.uniform())
            zc = top_face0 + off + pore_rng.uniform(z_lo, z_hi)
            cy, cx = n_xy // 2 + rr * np.sin(ang), n_xy // 2 + rr * np.cos(ang)
            lo_z, hi_z = int(max(0, zc - rad - 1)), int(min(n_z, zc + rad + 2))
            ball = ((zi[lo_z:hi_z] + 0.5 - zc) ** 2 + (yi - cy) ** 2 + (xi - cx) ** 2) <= rad ** 2
            pmask[lo_z:hi_z] |= ball & allowed[lo_z:hi_z]
            acc += 4.0 / 3.0 * np.pi * rad ** 3
        lab[pmask] = CODES["pore"]
    vv = vs ** 3
    area_um2 = n_cell * vs ** 2
    pel_t = np.isin(lab, [CODES["lpscl"], CODES["pore"]]).sum(axis=0).astype(float)
    truth = {
        "charge_mah_cm2": q,
        "faraday_thickness_um": float(lithium_thickness_um(q)),
        "target_ra_um": ra_vox * vs,
        "li_volume_um3": float((nb + ct_.sum()) * vv),
        "li_bottom_volume_um3": float(nb * vv),
        "li_top_volume_um3": float(ct_.sum() * vv),
        "li_volume_pristine_um3": float((nb0 + nt0) * vv),
        "pore_volume_um3": float(pmask.sum() * vv),
        "pore_crack_volume_um3": float(pmask.sum() * vv),
        "pellet_shift_um": float(off * vs),
        "cell_area_um2": float(area_um2),
        "pore_mask": pmask,
        "plunger_z_vox": (float(z0), float(z_st)),
        "paper": "003_103f2bf5a3479ade (cell), 001_a2c994afa3295f29 (CT)",
    }
    interfaces = {"steel|li": np.full((n_xy, n_xy), float(z0)),
                  "li|lpscl": (z0 + cb).astype(float),
                  "lpscl|counter": z_top_li.astype(float),
                  "counter|steel": np.full((n_xy, n_xy), float(z_st))}
    return _finish(f"symmetric_li_lpscl/q{q:g}", lab, vs, e_kev, cell, interfaces,
                   {"li": cb.astype(float), "pellet": pel_t, "counter_li": ct_.astype(float)},
                   truth)
