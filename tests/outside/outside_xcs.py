"""An operando XCS series written without ssbscope, as an outside checker would.

A micro-cell (steel can | Li_xSi anode | Li6PS5Cl separator | Li_yFePO4 cathode | steel cap) is
lithiated in three states: the anode's Li content x rises 1.0 -> 1.75 -> 2.5 (and the anode
swells with it), the cathode's y falls 1.0 -> 0.625 -> 0.25.  A horizontal 115 keV sheet beam
(60 um high, along +x) crosses the cell at three heights; a pinhole camera above the cell
(8 x 8 pixels, 0.25 mm pitch, its own scattering angle per pixel, 90 +- 2.5 degrees) records
the Compton-scattered photons.  Only numpy and xraylib are used; the files follow the README
(``.ssbevt`` event files in ADU with a per-pixel ``calibration.npz``, an Am-241 flood, an
``angle_map.npy``) and the experiment file its XCS section.

Physics of the simulation (independent of ssbscope's implementation):

* double-differential cross-section of the relativistic impulse approximation (Ribberfors
  1975, as written in the PENELOPE manual): ``d2s/dOmega dE2 ~ (E2/E1) X(p_z) |dp_z/dE2| J(p_z)``
  with ``X = R/R' + R'/R + 2(1/R - 1/R') + (1/R - 1/R')^2`` (energies in m c^2), ``J`` of a
  formula unit from xraylib's atomic Compton profiles, per formula unit and per volume
  (``n = rho N_A / M``);
* attenuation in (115 keV, along x from the cell's edge to the scattering point, in the
  layer at that height) and out (at E2, straight up through the layers above), xraylib mu;
* detector: CdZnTe efficiency 1 - exp(-mu(E2) 2 mm); a low-energy tail (12 % of the photons
  lose D ~ exponential(1 keV), D < 4.5 keV, the same in keV at every energy); Gaussian
  electronic resolution FWHM = sqrt(0.7^2 + (0.008 E)^2) keV (1.0 keV at 94 keV); 5 % of
  the photons split their charge between two neighbouring pixels in the same frame; per-pixel
  gains (0.03 keV/ADU +- 5 %) and offsets (+- 0.5 keV); Poisson counts.

Truth (``truth.json``), per state and component:

* ``emf_material``: Eqs. 3-5 of Huang et al. 2024 (doi:10.1016/j.xcrp.2024.101995) on the
  material's Compton profile J(p_z) (|p_z| < 1 a.u. over 1 < |p_z| < 5 a.u.);
* ``emf_detected``: the same integrals on the component's spectrum at 90 degrees after exit
  attenuation and the Gaussian resolution (converted back to J with the simulation's own
  cross-section): what a measurement corrected for tail, efficiency and angles can give, as
  the README states its corrections (the resolution is not deconvolved);
* ``x``: the anode's Li content.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ME = 510.99895            # keV
ALPHA = 7.2973525693e-3
NA = 6.02214076e23
E1 = 115.0                # keV
N_PIX = 8
PITCH_MM = 0.25
L_MM = 20.0               # sample (sheet centre) to pinhole; pinhole to detector = 20 mm too
CELL_D_MM = 3.0
BEAM_UM = 60.0

# (name, material formula, density g/cm3) bottom (z = 0) to top; anode/cathode per state below
STATES = [  # label, time_s, anode x, cathode y
    ("x=1.00", 0.0, 1.00, 1.000),
    ("x=1.75", 7200.0, 1.75, 0.625),
    ("x=2.50", 14400.0, 2.50, 0.250),
]
HEIGHTS_UM = (130.0, 200.0, 280.0)   # sheet centres, fixed at the first state's layer centres
MONITORS = (1.0, 1.3, 0.8)           # relative fluence x live time per height (also in the YAML)
EVENTS_PER_MONITOR = 300_000          # recorded photons of an exposure with monitor 1 (about)


def _anode(x):
    """Li_xSi: formula, density (molar volume 12.06 + 9.0 x cm3 per mol Si) and thickness."""
    v = 12.06 + 9.0 * x
    m = 28.0855 + 6.94 * x
    return f"Li{x:g}Si", m / v, 60.0 * v / (12.06 + 9.0)


def _cathode(y):
    """Li_yFePO4 (olivine, ~3.6 g/cm3 for y = 1, same volume)."""
    return f"Li{y:g}FePO4", 3.6 * (150.83 + 6.94 * y) / 157.77


def layers_of(x, y):
    an, rho_a, t_a = _anode(x)
    ca, rho_c = _cathode(y)
    return [("can", "Fe", 7.87, 100.0), ("anode", an, rho_a, t_a),
            ("separator", "Li6PS5Cl", 1.64, 80.0), ("cathode", ca, rho_c, 80.0),
            ("cap", "Fe", 7.87, 100.0)]


# ----------------------------------------------------------------------------- physics
def _xl():
    import xraylib
    return xraylib


def composition(formula):
    c = _xl().CompoundParser(formula)
    return dict(zip(c["Elements"], c["nAtoms"])), c["molarMass"]


def j_formula(formula, pz):
    """Compton profile of one formula unit (electrons per a.u.), xraylib atomic profiles."""
    xl = _xl()
    comp, _ = composition(formula)
    a = np.abs(np.asarray(pz, float)).ravel()
    out = np.zeros(a.size)
    for z, n in comp.items():
        out += n * np.array([xl.ComptonProfile(int(z), float(p)) for p in a])
    return out.reshape(np.shape(pz))


def mu_1_cm(formula, rho, e_kev):
    xl = _xl()
    e = np.atleast_1d(np.asarray(e_kev, float))
    return rho * np.array([xl.CS_Total_CP(formula, float(v)) for v in e])


def pz_au(e2, theta_deg):
    c = np.cos(np.radians(theta_deg))
    q = np.sqrt(E1 ** 2 + e2 ** 2 - 2 * E1 * e2 * c)
    return (e2 - E1 + E1 * e2 * (1 - c) / ME) / q / ALPHA


def ia_factor(e2, theta_deg):
    """(E2/E1) X |dp_z/dE2| of the relativistic impulse approximation (counts per keV per J)."""
    c = np.cos(np.radians(theta_deg))
    pz = pz_au(e2, theta_deg)
    h = 1e-3
    jac = np.abs(pz_au(e2 + h, theta_deg) - pz_au(e2 - h, theta_deg)) / (2 * h)
    k, kp = E1 / ME, e2 / ME
    qc = np.sqrt(k * k + kp * kp - 2 * k * kp * c)
    p = pz * ALPHA                                   # p_z / (m c)
    r = k * (np.sqrt(1 + p * p) + (k - kp * c) / qc * p)
    rp = r - k * kp * (1 - c)
    x = r / rp + rp / r + 2 * (1 / r - 1 / rp) + (1 / r - 1 / rp) ** 2
    return (e2 / E1) * x * jac


def fwhm_kev(e):
    return np.sqrt(0.7 ** 2 + (0.008 * np.asarray(e, float)) ** 2)


def cdznte_efficiency(e):
    return 1 - np.exp(-mu_1_cm("Cd0.9Zn0.1Te", 5.78, e) * 0.2)


def window_emf(pz, j):
    """Eqs. 3-5: integral of J over |p_z| < 1 over 1 < |p_z| < 5 (trapezoid on a fine grid)."""
    lo = np.abs(pz) <= 1.0
    hi = (np.abs(pz) >= 1.0) & (np.abs(pz) <= 5.0)
    el = np.trapezoid(np.where(lo, j, 0.0), pz)
    eh = np.trapezoid(np.where(hi, j, 0.0), pz)
    return float(el / eh)


def _broaden(e, s):
    """Gaussian resolution whose width follows the true energy (what each photon suffers)."""
    sig = fwhm_kev(e) / 2.3548
    k = np.exp(-0.5 * ((e[:, None] - e[None, :]) / sig[None, :]) ** 2) / sig[None, :]
    return k @ s * (e[1] - e[0]) / np.sqrt(2 * np.pi)


# ----------------------------------------------------------------------------- geometry
def pixel_geometry():
    """Object point (x, y) in mm seen by each pixel and its scattering angle (degrees).

    The camera looks down onto the sheet; magnification 1 (both distances 20 mm); detector
    column increases along the beam (+x), row along +y.
    """
    c = (np.arange(N_PIX) - (N_PIX - 1) / 2) * PITCH_MM
    yy, xx = np.meshgrid(c, c, indexing="ij")
    theta = np.degrees(np.arccos(-xx / np.sqrt(xx ** 2 + yy ** 2 + L_MM ** 2)))
    return xx, yy, theta


def exposure_spectra(layers, height_um, e):
    """Expected detected-photon density per pixel (before the detector's tail/noise), (8, 8, n).

    Per unit monitor (arbitrary common scale); sums the scattering of every layer inside the
    sheet, with attenuation in and out and the CdZnTe efficiency.
    """
    xx, yy, theta = pixel_geometry()
    r_mm = CELL_D_MM / 2
    tops = np.cumsum([t for *_, t in layers])
    bots = tops - np.array([t for *_, t in layers])
    zs = np.arange(height_um - BEAM_UM / 2 + 0.5, height_um + BEAM_UM / 2, 1.0)   # 1 um steps
    mu_out = [mu_1_cm(f, rho, e) for _, f, rho, _ in layers]
    mu_in = [float(mu_1_cm(f, rho, E1)[0]) for _, f, rho, _ in layers]
    path_in_cm = (xx + np.sqrt(r_mm ** 2 - yy ** 2)) * 0.1                    # (8, 8)
    eff = cdznte_efficiency(e)
    out = np.zeros(xx.shape + (e.size,))
    per_layer = {}
    for k, (name, f, rho, _) in enumerate(layers):
        zk = zs[(zs >= bots[k]) & (zs < tops[k])]
        if zk.size == 0:
            continue
        _, m = composition(f)
        n_fu = rho * NA / m * 1e-22                                            # per um^3 (scaled)
        # exit: rest of this layer above z, then every layer above
        t_out = np.zeros(e.size)
        for z in zk:
            d = (tops[k] - z) * 1e-4 * mu_out[k]
            for j in range(k + 1, len(layers)):
                d = d + layers[j][3] * 1e-4 * mu_out[j]
            t_out += np.exp(-d)
        per_layer[name] = (f, n_fu, t_out)
    for iy in range(N_PIX):
        for ix in range(N_PIX):
            th = theta[iy, ix]
            g = ia_factor(e, th)
            pz = pz_au(e, th)
            s = np.zeros(e.size)
            for k, (name, f, rho, _) in enumerate(layers):
                if name not in per_layer:
                    continue
                ff, n_fu, t_out = per_layer[name]
                t_in = np.exp(-mu_in[k] * path_in_cm[iy, ix])
                s += n_fu * t_in * t_out * g * _j_cached(ff, pz)
            out[iy, ix] = s * eff
    return out


_J_CACHE: dict = {}


def _j_cached(formula, pz):
    """J(p_z) of a formula by interpolation on a fine |p_z| grid (xraylib is slow per point)."""
    if formula not in _J_CACHE:
        grid = np.linspace(0.0, 100.0, 4001)
        _J_CACHE[formula] = (grid, j_formula(formula, grid))
    grid, j = _J_CACHE[formula]
    return np.interp(np.abs(pz), grid, j, right=0.0)


# ----------------------------------------------------------------------------- detector
def _detect(rng, e_true):
    """Tail deficit, then Gaussian noise: recorded energies (keV)."""
    n = e_true.size
    tail = rng.random(n) < 0.12
    d = rng.exponential(1.0, n)
    while np.any(d >= 4.5):
        bad = d >= 4.5
        d[bad] = rng.exponential(1.0, int(bad.sum()))
    e = e_true - np.where(tail, d, 0.0)
    return e + rng.normal(0.0, 1.0, n) * fwhm_kev(e_true) / 2.3548


def _sample(rng, e, density, scale):
    """Poisson counts per pixel (mean ``scale`` x the pixel's integrated density), energies by
    inverse CDF on the fine grid (uniform within a grid step)."""
    de = e[1] - e[0]
    rows, cols, es = [], [], []
    for iy in range(N_PIX):
        for ix in range(N_PIX):
            s = density[iy, ix]
            n = rng.poisson(scale * s.sum())
            cdf = np.concatenate([[0.0], np.cumsum(s)])
            cdf /= cdf[-1]
            edges = np.concatenate([e - de / 2, [e[-1] + de / 2]])
            es.append(np.interp(rng.random(n), cdf, edges))
            rows.append(np.full(n, iy))
            cols.append(np.full(n, ix))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(es)


def _to_events(rng, rows, cols, e_true, gain, offset):
    """Shuffle photons into frames (one per frame; 5 % shared with a neighbour), in ADU."""
    n = e_true.size
    order = rng.permutation(n)
    rows, cols, e_rec = rows[order], cols[order], _detect(rng, e_true[order])
    share = rng.random(n) < 0.05
    frame = np.arange(n, dtype=np.uint32)
    # a shared photon: part u on its pixel, 1 - u on the neighbour to the right (left at the edge)
    u = rng.uniform(0.15, 0.85, n)
    ncol = np.where(cols < N_PIX - 1, cols + 1, cols - 1)
    e_main = np.where(share, u * e_rec, e_rec)
    rec_f = np.concatenate([frame, frame[share]])
    rec_r = np.concatenate([rows, rows[share]])
    rec_c = np.concatenate([cols, ncol[share]])
    rec_e = np.concatenate([e_main, (1 - u[share]) * e_rec[share]])
    keep = rec_e > 1.0                                     # below the hit threshold: no record
    rec_f, rec_r, rec_c, rec_e = rec_f[keep], rec_r[keep], rec_c[keep], rec_e[keep]
    srt = np.argsort(rec_f, kind="stable")
    rec_f, rec_r, rec_c, rec_e = rec_f[srt], rec_r[srt], rec_c[srt], rec_e[srt]
    adu = (rec_e - offset[rec_r, rec_c]) / gain[rec_r, rec_c]
    return rec_f, rec_r, rec_c, adu, int(share.sum())


EVENT_DTYPE = np.dtype([("frame", "<u4"), ("row", "u1"), ("col", "u1"), ("flags", "<u2"),
                        ("value", "<f4")])


def write_ssbevt(path, frame, row, col, value, *, value_unit="adu", frame_rate_hz=9000.0):
    """The README's event file: magic, n_events (u8), header length (u4), JSON, 12-byte records."""
    import struct

    rec = np.zeros(len(frame), EVENT_DTYPE)
    rec["frame"], rec["row"], rec["col"], rec["value"] = frame, row, col, value
    head = json.dumps({"format": "ssbscope-events", "version": 1, "value_unit": value_unit,
                       "n_rows": N_PIX, "n_cols": N_PIX, "frame_rate_hz": frame_rate_hz,
                       "metadata": {"writer": "tests/outside/outside_xcs.py"}}).encode()
    with open(path, "wb") as fh:
        fh.write(b"SSBEVT\x00\x01" + struct.pack("<QI", len(rec), len(head)) + head)
        fh.write(rec.tobytes())


# ----------------------------------------------------------------------------- truth
def truth_emfs(formula, out_layers):
    """(emf_material, emf_detected) of a component; ``out_layers``: [(formula, rho, um)] above."""
    pz = np.linspace(-5.0, 5.0, 4001)
    em = window_emf(pz, j_formula(formula, pz))
    e = np.arange(70.0, 112.0, 0.02)
    g = ia_factor(e, 90.0)
    pze = pz_au(e, 90.0)
    t_out = np.exp(-sum(mu_1_cm(f, rho, e) * um * 1e-4 for f, rho, um in out_layers)) if out_layers else 1.0
    s = _broaden(e, g * _j_cached(formula, pze) * t_out)
    jd = s / g                                              # back to J with the same cross-section
    sel = np.abs(pze) <= 5.2
    fine = np.linspace(-5.0, 5.0, 4001)
    ed = window_emf(fine, np.interp(fine, pze[sel], jd[sel]))
    return em, ed


def write_series(folder, *, seed=11, events_per_monitor=EVENTS_PER_MONITOR, flood_events=300_000):
    """Write the experiment folder (event files, flood, calibration, angle map, YAML, truth)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    gain = 0.03 * (1 + 0.05 * rng.uniform(-1, 1, (N_PIX, N_PIX)))
    offset = rng.uniform(-0.5, 0.5, (N_PIX, N_PIX))
    np.savez(folder / "calibration.npz", gain_kev_per_unit=gain, offset_kev=offset)
    _, _, theta = pixel_geometry()
    np.save(folder / "angle_map.npy", theta)
    e = np.arange(55.0, 114.0, 0.02)
    truth = {"states": [], "components": ["anode", "separator", "cathode"],
             "heights_um": list(HEIGHTS_UM), "beam_thickness_um": BEAM_UM, "monitors": list(MONITORS),
             "n_shared": 0}
    entries = []
    scale = None
    for si, (label, t_s, x, y) in enumerate(STATES):
        layers = layers_of(x, y)
        st = {"state": label, "time_s": t_s, "x": x, "y": y,
              "anode_thickness_um": layers[1][3], "emf_material": {}, "emf_detected": {}}
        for k, name in ((1, "anode"), (2, "separator"), (3, "cathode")):
            above = [(f, rho, t) for _, f, rho, t in layers[k + 1:]]
            # exit through half the layer itself on average
            above.append((layers[k][1], layers[k][2], layers[k][3] / 2))
            em, ed = truth_emfs(layers[k][1], above)
            st["emf_material"][name], st["emf_detected"][name] = em, ed
        truth["states"].append(st)
        for hi, (h, mon) in enumerate(zip(HEIGHTS_UM, MONITORS)):
            dens = exposure_spectra(layers, h, e)
            if scale is None:   # one photon scale for every exposure: intensities stay physical
                scale = events_per_monitor / dens.sum()
            rows, cols, et = _sample(rng, e, dens, scale * mon)
            f, r, c, adu, n_sh = _to_events(rng, rows, cols, et, gain, offset)
            truth["n_shared"] += n_sh
            name = f"s{si}_z{hi + 1}.ssbevt"
            truth.setdefault("files", {})[name[:-7]] = {"n_records": int(len(f)), "n_photons": int(et.size),
                                                        "n_shared": n_sh}
            write_ssbevt(folder / name, f, r, c, adu)
            entries.append((name, label, t_s, h, mon, layers[1][3]))
    # Am-241 flood: 59.54 keV line (+ 26.34 keV line, flat continuum), same detector
    n = rng.poisson(flood_events)
    which = rng.random(n)
    et = np.where(which < 0.8, 59.5409, np.where(which < 0.9, 26.3446, rng.uniform(15, 70, n)))
    rows = rng.integers(0, N_PIX, n)
    cols = rng.integers(0, N_PIX, n)
    f, r, c, adu, _ = _to_events(rng, rows, cols, et, gain, offset)
    write_ssbevt(folder / "am241_flood.ssbevt", f, r, c, adu)

    lay0 = layers_of(STATES[0][2], STATES[0][3])
    inputs = "\n".join(
        f"    - {{path: {nm}, series: xcs, state: \"{lab}\", time_s: {t:g}, beam_height_um: {h:g}, "
        f"beam_thickness_um: {BEAM_UM:g}, monitor: {mon:g}, calibration: calibration.npz, "
        f"flood: am241_flood.ssbevt, angle_map: angle_map.npy, "
        f"layer_thickness_um: {{anode: {ta:.4f}}}}}"
        for nm, lab, t, h, mon, ta in entries)
    s0, s2 = truth["states"][0], truth["states"][-1]
    yaml = f"""\
name: outside check, XCS of a Li_xSi | Li6PS5Cl | Li_yFePO4 micro-cell
cell:
  diameter_mm: {CELL_D_MM}
  layers:                       # bottom of the can (z = 0) to the cap
    - {{name: can, material: steel, thickness_um: {lay0[0][3]:g}}}
    - {{name: anode, material: LiSi, density_g_cm3: {lay0[1][2]:.4f}, thickness_um: {lay0[1][3]:g}}}
    - {{name: separator, material: Li6PS5Cl, thickness_um: {lay0[2][3]:g}}}
    - {{name: cathode, material: LiFePO4, density_g_cm3: {lay0[3][2]:.4f}, thickness_um: {lay0[3][3]:g}}}
    - {{name: cap, material: steel, thickness_um: {lay0[4][3]:g}}}
inputs:
  compton:
{inputs}
analysis:
  compton:
    components: [anode, separator, cathode]
    emf_map_block_px: 4
    reference_component: anode
    reference_points: [{{emf: {s0['emf_detected']['anode']:.5f}, x: {s0['x']}}}, {{emf: {s2['emf_detected']['anode']:.5f}, x: {s2['x']}}}]
"""
    (folder / "experiment.yaml").write_text(yaml)
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth


if __name__ == "__main__":  # pragma: no cover
    import sys
    import time
    t0 = time.time()
    print(json.dumps(write_series(sys.argv[1]), indent=1))
    print(f"{time.time() - t0:.1f} s")
