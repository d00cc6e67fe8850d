"""Voxel phantoms of the papers' cells with ground truth, and their simulated CT scans.

Four generators, each returning a :class:`CTPhantom` (label volume, attenuation volume and
the ground-truth numbers a measurement must recover):

* :func:`coin_cell_000` - the PEO-LiTFSI / NMC622 / Li coin cell of 000_290f30815ae66793 at
  the states ``"pristine"``, ``"charged"``, ``"discharged"``: Li|SPE interface height field with
  Ra 5.1 -> 5.4 -> 6.1 µm (Table 1), anode volume +3.7 % on charge and -1.4 % on discharge,
  sideways dendrites, subsurface pores formed on stripping.
* :func:`anode_free_001` - the anode-free Cu | Li6PS5Cl | Li cell of 001_a2c994afa3295f29: a
  plated Li layer whose mean thickness follows Faraday's law (3 mAh cm^-2 = 14.5 µm), with a
  thickness non-uniformity; pellet porosity (fine or coarse grained); branching Li-filled
  filament cracks that grow with the deposited charge, shrink on stripping and leave residual
  (empty) crack volume; extra filaments near the edge at high current density.
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


def _crack_network(rng, n_roots, r_cell, n_xy, z_base, max_len, branch_prob=0.25):
    """Branching random walks rising from the interface: list of (points, s_start) segments.

    Each segment is a short straight piece; ``s`` is the path length from the root (voxels).
    """
    segs = []
    for _ in range(n_roots):
        ang = rng.uniform(0, 2 * np.pi)
        rr = r_cell * np.sqrt(rng.uniform(0, 0.55))
        stack = [((z_base, n_xy // 2 + rr * np.sin(ang), n_xy // 2 + rr * np.cos(ang)), 0.0,
                  rng.uniform(0, 2 * np.pi))]
        while stack:
            p, s, heading = stack.pop()
            while s < max_len:
                step = 2.0
                heading += rng.normal(0, 0.5)
                tilt = rng.uniform(0.35, 0.9)  # mostly upward
                q = (p[0] + step * tilt, p[1] + step * np.sqrt(1 - tilt ** 2) * np.sin(heading),
                     p[2] + step * np.sqrt(1 - tilt ** 2) * np.cos(heading))
                segs.append((p, q, s))
                if rng.random() < branch_prob and s > 2:
                    stack.append((q, s + step, heading + rng.choice([-1, 1]) * 1.2))
                p, s = q, s + step
    return segs


def _paint_segments(shape, segs, s_lo, s_hi, radius, allowed):
    """Mask of tubes along the segments whose path length s lies in [s_lo, s_hi)."""
    lab = np.zeros(shape, dtype=np.uint8)
    for p, q, s in segs:
        if s_lo <= s < s_hi:
            _tube(lab, 1, [p, q], radius, allowed)
    return lab.astype(bool)


def anode_free_001(charge_mah_cm2: float = 3.0, stripped_mah_cm2: float = 0.0, *,
                   current_ma_cm2: float = 0.5, grain: str = "fine", porosity: float | None = None,
                   thickness_cv: float = 0.17, n_xy: int = 64, n_z: int = 80,
                   voxel_size_um: float = 1.8, e_kev: float = 40.0,
                   counter_li_um: float = 40.0, pellet_um: float | None = None,
                   n_cracks: int = 8, max_charge_mah_cm2: float = 4.0,
                   seed: int = 0) -> CTPhantom:
    """Phantom of the anode-free Cu | Li6PS5Cl | Li cell (001_a2c994afa3295f29).

    Stack from z = 0 upward: Cu current collector (4 voxels), plated Li layer, Li6PS5Cl pellet
    with pores, Li counter electrode, steel plunger (3 voxels).  The deposited Li splits
    between the plated layer and Li-filled filament cracks in the pellet:

    * Faraday's law gives the volume of Li per area from the net charge
      (``charge - stripped``): ``faraday_thickness_um`` (3 mAh cm^-2 = 14.5 µm).
    * Cracks: a seeded branching network rises from the Li|pellet interface; its Li-filled
      extent grows in proportion to the deposited charge (full length at 3 mAh cm^-2); on
      stripping the Li-filled extent shrinks with the net charge and half of the emptied path
      stays open as empty crack (residual crack volume), the rest closes.
    * The plated layer holds the rest of the Li; its thickness map is a Gaussian random field
      with relative std ``thickness_cv`` (Fig. 4d: 15.0 ± 2.6 µm) about the mean.
    * The counter electrode loses the net charge's Li thickness.
    * At ``current_ma_cm2 >= 1.5`` extra filaments grow near the edge (outer 20 % of the
      radius), their extent rising with the current (Fig. 5).

    Parameters
    ----------
    charge_mah_cm2 : float
        Total charge deposited on the Cu so far (mAh cm^-2).
    stripped_mah_cm2 : float
        Charge stripped back afterwards (mAh cm^-2), <= charge.
    current_ma_cm2 : float
        Current density of the latest deposition step.
    grain : {"fine", "coarse"}
        Pellet microstructure: fine (small pores, 2 % porosity) or coarse (larger pores, 8 %).
    porosity : float, optional
        Overrides the pellet's pore volume fraction.
    thickness_cv : float
        Relative std of the plated thickness.
    n_xy, n_z, voxel_size_um, e_kev : as in :func:`coin_cell_000` (1.8 µm, 40 keV defaults).
    counter_li_um : float
        Pristine Li counter electrode thickness (µm).
    pellet_um : float, optional
        Pellet thickness (µm); default fills the remaining height.
    n_cracks : int
        Crack networks (roots).
    max_charge_mah_cm2 : float
        Largest charge of the series: fixes the pellet's position and thickness so that every
        state of a series shares one geometry (same seed, same pores and crack paths).
    seed : int

    Returns
    -------
    CTPhantom
        ``thickness_maps_um["plated_li"]``, ``["counter_li"]``; ``height_maps_um["li|lpscl"]``
        (top of the plated layer), ``interfaces_z_vox["cu|li"]``, ``["lpscl|counter"]``;
        ``truth``: ``faraday_thickness_um``, ``deposited_li_volume_um3`` (Faraday, over the
        cell area), ``pore_volume_um3``, ``crack_li_volume_um3``, ``crack_empty_volume_um3``,
        ``crack_volume_um3`` (both), ``pore_crack_volume_um3``, ``crack_li_capacity_fraction``
        (crack volume / deposited Li volume), ``edge_filament_mask``, ``crack_mask``,
        ``pore_mask``, ``n_edge_filaments``.
    """
    if grain not in ("fine", "coarse"):
        raise ParameterError("grain", grain, "must be 'fine' or 'coarse'")
    if charge_mah_cm2 < 0 or stripped_mah_cm2 < 0 or stripped_mah_cm2 > charge_mah_cm2:
        raise ParameterError("stripped_mah_cm2", stripped_mah_cm2,
                             f"must be within 0 ... charge_mah_cm2 ({charge_mah_cm2})")
    if not (0 <= thickness_cv < 0.5):
        raise ParameterError("thickness_cv", thickness_cv, "must be within [0, 0.5)")
    _check_sizes(n_xy, n_z, voxel_size_um)
    por = (0.02 if grain == "fine" else 0.08) if porosity is None else float(porosity)
    if not (0 <= por < 0.4):
        raise ParameterError("porosity", porosity, "must be within [0, 0.4)")
    vs = float(voxel_size_um)
    rng = np.random.default_rng(seed)
    r_cell = 0.45 * n_xy
    cell = _disk(n_xy, n_xy, r_cell)
    area_um2 = float(cell.sum()) * vs ** 2
    cu_vox, steel_vox = 4, 3
    q_net = charge_mah_cm2 - stripped_mah_cm2
    t_far = faraday_thickness_um(q_net)
    v_dep = faraday_thickness_um(charge_mah_cm2) * area_um2
    counter_vox = max(2.0, (counter_li_um - t_far) / vs)
    if max_charge_mah_cm2 < charge_mah_cm2:
        raise ParameterError("max_charge_mah_cm2", max_charge_mah_cm2,
                             f"must be >= charge_mah_cm2 ({charge_mah_cm2})")
    max_plated_vox = faraday_thickness_um(max_charge_mah_cm2) / vs * (1 + 4 * thickness_cv) + 2
    z_pel0_nominal = cu_vox + int(np.ceil(max_plated_vox))
    if pellet_um is None:
        pel_vox = n_z - z_pel0_nominal - int(np.ceil(counter_li_um / vs)) - steel_vox - 1
    else:
        pel_vox = int(round(pellet_um / vs))
    if pel_vox < 12:
        raise ParameterError("n_z", n_z, "leaves fewer than 12 voxels for the pellet",
                             "raise n_z or voxel_size_um")
    # the pellet sits on top of the plated layer: it is displaced upward by the layer
    # (operando cells expand); the crack network moves with the pellet
    zz = np.arange(n_z)[:, None, None] + 0.5
    fld = _grf2((n_xy, n_xy), 4.0, rng)
    segs_rng = np.random.default_rng([seed, 7])
    max_len = 0.8 * pel_vox
    segs = _crack_network(segs_rng, n_cracks, r_cell, n_xy, 0.0, max_len)
    edge_rng = np.random.default_rng([seed, 11])
    n_edge = 0
    edge_segs = []
    if current_ma_cm2 >= 1.5:
        n_edge = int(round(2 + 2 * (current_ma_cm2 - 1.5)))
        for _ in range(n_edge):
            ang = edge_rng.uniform(0, 2 * np.pi)
            rr = r_cell * edge_rng.uniform(0.8, 0.9)
            p = (0.0, n_xy // 2 + rr * np.sin(ang), n_xy // 2 + rr * np.cos(ang))
            length = min(0.8 * pel_vox, 4.0 * current_ma_cm2)
            q = (p[0] + length, p[1] + edge_rng.normal(0, 1.5), p[2] + edge_rng.normal(0, 1.5))
            edge_segs.append((p, q, 0.0))
    frac_peak = min(1.0, charge_mah_cm2 / 3.0)
    frac_li = min(1.0, q_net / 3.0)
    s_li = frac_li * max_len
    s_peak = frac_peak * max_len
    s_empty = s_li + 0.5 * (s_peak - s_li)

    def layout(mean_plated_vox):
        t = np.clip(mean_plated_vox * (1 + thickness_cv * fld), 0, None) if mean_plated_vox > 0 \
            else np.zeros((n_xy, n_xy))
        top_li = cu_vox + t
        z_pel0 = cu_vox + int(np.ceil(mean_plated_vox * (1 + 4 * thickness_cv))) + 1 \
            if mean_plated_vox > 0 else cu_vox
        lab = np.zeros((n_z, n_xy, n_xy), dtype=np.uint8)
        lab[:cu_vox][:, cell] = CODES["cu"]
        li = (zz >= cu_vox) & (zz < top_li[None])
        lab[li & cell[None]] = CODES["li"]
        # pellet fills from the plated surface up to z_pel0 + pel_vox (it conforms below)
        pel = (zz >= top_li[None]) & (zz < z_pel0 + pel_vox) & (zz >= cu_vox)
        lab[pel & cell[None]] = CODES["lpscl"]
        z_cnt0 = z_pel0 + pel_vox
        z_cnt1 = int(round(z_cnt0 + counter_vox))
        lab[z_cnt0:z_cnt1][:, cell] = CODES["li"]
        lab[z_cnt1:z_cnt1 + steel_vox][:, cell] = CODES["steel"]
        return lab, top_li, z_pel0, z_cnt0, z_cnt1

    # pores (fixed in the pellet's frame)
    pore_rng = np.random.default_rng([seed, 3])
    pr = (0.8, 1.3) if grain == "fine" else (1.5, 2.6)
    pores = []
    pel_volume = pel_vox * cell.sum()
    acc = 0.0
    while acc < por * pel_volume and len(pores) < 20000:
        rad = pore_rng.uniform(*pr)
        ang = pore_rng.uniform(0, 2 * np.pi)
        rr = (r_cell - rad - 1) * np.sqrt(pore_rng.uniform())
        pores.append((pore_rng.uniform(2, pel_vox - 2), n_xy // 2 + rr * np.sin(ang),
                      n_xy // 2 + rr * np.cos(ang), rad))
        acc += 4.0 / 3.0 * np.pi * rad ** 3

    def decorate(lab, z_pel0, z_cnt0):
        pel_mask = lab == CODES["lpscl"]
        pmask = np.zeros(lab.shape, bool)
        zi, yi, xi = np.ogrid[:n_z, :n_xy, :n_xy]
        for zc, cy, cx, rad in pores:
            lo = int(max(0, z_pel0 + zc - rad - 1))
            hi = int(min(n_z, z_pel0 + zc + rad + 2))
            sub = ((zi[lo:hi] + 0.5 - z_pel0 - zc) ** 2 + (yi - cy) ** 2 + (xi - cx) ** 2) <= rad ** 2
            pmask[lo:hi] |= sub & pel_mask[lo:hi]
        lab[pmask] = CODES["pore"]
        allowed = lab == CODES["lpscl"]
        shifted = [((p[0] + z_pel0, p[1], p[2]), (q[0] + z_pel0, q[1], q[2]), s) for p, q, s in segs]
        li_c = _paint_segments(lab.shape, shifted, 0.0, s_li, 1.0, allowed) if s_li > 0 else \
            np.zeros(lab.shape, bool)
        empty_c = _paint_segments(lab.shape, shifted, s_li, s_empty, 1.0, allowed & ~li_c) \
            if s_empty > s_li else np.zeros(lab.shape, bool)
        edge = np.zeros(lab.shape, bool)
        if edge_segs:
            e_sh = [((p[0] + z_pel0 - 1, p[1], p[2]), (q[0] + z_pel0, q[1], q[2]), s)
                    for p, q, s in edge_segs]
            edge = _paint_segments(lab.shape, e_sh, 0.0, 1.0, 1.0, allowed & ~li_c & ~empty_c)
        lab[li_c | edge] = CODES["li_filament"]
        lab[empty_c] = CODES["crack"]
        return lab, pmask, li_c | edge, empty_c, edge

    # Li in cracks is taken from the Faraday volume; the layer gets the rest (bisection)
    v_far = t_far * area_um2 / vs ** 3  # voxels of Li from the net charge
    lo, hi = 0.0, max(1.0, t_far / vs * 1.2)
    best = None
    for _ in range(40):
        mid = 0.5 * (lo + hi) if v_far > 0 else 0.0
        lab, top_li, z_pel0, z_cnt0, z_cnt1 = layout(mid)
        lab, pmask, li_c, empty_c, edge = decorate(lab, z_pel0, z_cnt0)
        plated = np.count_nonzero(lab[:z_pel0 + 1] == CODES["li"])
        v = plated + np.count_nonzero(li_c)
        best = (lab, top_li, z_pel0, z_cnt0, z_cnt1, pmask, li_c, empty_c, edge)
        if v_far <= 0:
            break
        if v < v_far:
            lo = mid
        else:
            hi = mid
        if abs(v - v_far) <= max(1.0, 1e-4 * v_far):
            break
    lab, top_li, z_pel0, z_cnt0, z_cnt1, pmask, li_c, empty_c, edge = best
    plated_t = (lab[:z_pel0 + 1] == CODES["li"]).sum(axis=0).astype(float)
    counter_t = (lab[z_cnt0:] == CODES["li"]).sum(axis=0).astype(float)
    vv = vs ** 3
    crack_li = float(np.count_nonzero(li_c) * vv)
    crack_empty = float(np.count_nonzero(empty_c) * vv)
    pore_v = float(np.count_nonzero(pmask) * vv)
    truth = {
        "charge_mah_cm2": float(charge_mah_cm2),
        "stripped_mah_cm2": float(stripped_mah_cm2),
        "current_ma_cm2": float(current_ma_cm2),
        "grain": grain,
        "faraday_thickness_um": t_far,
        "deposited_li_volume_um3": v_dep,
        "cell_area_um2": area_um2,
        "pore_volume_um3": pore_v,
        "crack_li_volume_um3": crack_li,
        "crack_empty_volume_um3": crack_empty,
        "crack_volume_um3": crack_li + crack_empty,
        "pore_crack_volume_um3": pore_v + crack_li + crack_empty,
        "crack_li_capacity_fraction": (crack_li + crack_empty) / v_dep if v_dep > 0 else 0.0,
        "crack_mask": li_c | empty_c,
        "pore_mask": pmask,
        "edge_filament_mask": edge,
        "n_edge_filaments": int(n_edge),
        "pellet_z_vox": (float(z_pel0), float(z_cnt0)),
        "paper": "001_a2c994afa3295f29",
    }
    interfaces = {"li|lpscl": cu_vox + plated_t, "cu|li": np.full((n_xy, n_xy), float(cu_vox)),
                  "lpscl|counter": np.full((n_xy, n_xy), float(z_cnt0))}
    name = f"anode_free_001/q{charge_mah_cm2:g}-s{stripped_mah_cm2:g}"
    return _finish(name, lab, vs, e_kev, cell, interfaces,
                   {"plated_li": plated_t, "counter_li": counter_t}, truth)


# ----------------------------------------------------------------------------------------------
# (c) soft-short pellet of 002_3ee4edf529433f9c


def soft_short_002(*, n_xy: int = 64, n_z: int = 96, voxel_size_um: float = 1.62,
                   e_kev: float = 40.0, n_layers: int = 10, fraction_near: float = 0.3065,
                   fraction_far: float = 0.0991, isolated_fraction: float = 0.02,
                   li_thickness_um: float = 16.0, cathode_thickness_um: float = 16.0,
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

    Returns
    -------
    CTPhantom
        ``truth``: ``connected_mask`` (filaments, connected to the anode through faces),
        ``isolated_mask`` (pores), ``layer_edges_z_vox`` (n_layers + 1,),
        ``layer_fraction_connected`` and ``layer_fraction_low_attenuation`` (n_layers,)
        volume fractions of each layer's cell volume, numbered from the anode (layer 0 at
        the Li), ``target_layer_fraction`` (same order); the same low-attenuation fractions
        under explicit names: ``layer_fraction_from_anode`` and ``layer_fraction_paper_order``
        (Cao et al.'s numbering: layer 1 at the cathode side, layer n at the Li anode);
        ``interfaces_z_vox["li|lpscl"]``, ``["lpscl|cathode"]``.
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
    # per layer: pores up to the layer's low-attenuation target (a ball is kept only if it
    # brings the layer's count closer to the target)
    for k in range(n_layers):
        zs = np.nonzero(layer_of_z == k)[0]
        za, zb = int(zs[0]), int(zs[-1]) + 1
        want = target[k] * zs.size * n_cell - conn[za:zb].sum()
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
    labels = np.zeros((n_z, n_xy, n_xy), dtype=np.uint8)
    labels[:steel][:, cell] = CODES["steel"]
    labels[steel:z_se0][:, cell] = CODES["li"]
    se = np.where(conn, CODES["li_filament"], np.where(iso, CODES["pore"], CODES["lpscl"]))
    se = np.where(cell[None], se, 0).astype(np.uint8)
    labels[z_se0:z_se1] = se
    labels[z_se1:z_se1 + cat_vox][:, cell] = CODES["cathode"]
    labels[z_se1 + cat_vox:z_se1 + cat_vox + steel][:, cell] = CODES["steel"]
    conn_full = np.zeros(labels.shape, bool)
    conn_full[z_se0:z_se1] = conn
    iso_full = np.zeros(labels.shape, bool)
    iso_full[z_se0:z_se1] = iso
    per_z_c = conn.reshape(se_vox, -1).sum(axis=1) / n_cell
    per_z_l = (conn | iso).reshape(se_vox, -1).sum(axis=1) / n_cell
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
        "isolated_volume_um3": float(iso.sum() * vs ** 3),
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
                             f"{max_charge_mah_cm2} mAh/cm2 ({lithium_thickness_um(max_charge_mah_cm2):.1f} "
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
