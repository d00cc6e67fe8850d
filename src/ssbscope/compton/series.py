"""Operando XCS series: unmixing of beam positions into the cell's layers (000_290f30815ae66793).

The sheet beam (250 um high in Huang et al., Cell Rep. Phys. Sci. 5, 101995 (2024),
doi:10.1016/j.xcrp.2024.101995) is thicker than the thin layers of a solid-state cell, so
each exposure at a beam height ``h_i`` sees a mixture of layers.  With ``f[i, j]`` the
fraction of the sheet filled by component j at position i (from the declared layer
thicknesses, :func:`sheet_layer_fractions`, or from the segmented CT,
:func:`ct_sheet_fractions`) and ``s_j`` the spectrum of a unit volume of component j, the
spectra (per unit monitor) are ``r_i = sum_j f[i, j] s_j``; the component spectra follow by
least squares, ``s = P r`` with ``P = pinv(f)`` (one matrix for every energy bin: linear,
hence unbiased even where the counts are few, unlike a non-negative fit).

The EMF of a component (Eqs. 3-5) is a ratio of two linear functionals of its spectrum,
``E_L = a . s_j`` and ``E_H = b . s_j``, whose coefficients ``a``, ``b`` include the detector
corrections of each exposure (tail removal measured on the flood line, division by the
CdZnTe efficiency: ``a_i = a C_i``; :func:`window_coefficients`).  So

``E_L(j) = sum_i P[j, i] a_i . r_i / m_i``

with ``r_i`` the raw (angle-aligned) counts of exposure i and ``m_i`` its monitor; the counts
of different bins and exposures are independent Poisson variables, so the variances and
the covariance of ``E_L`` and ``E_H`` follow exactly (:func:`unmix_emf`), and with them the
EMF's 1-sigma uncertainty.  The same holds per block of pixels for EMF maps
(:func:`unmix_emf_blocks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import EmptyResultError, InputError, ParameterError

__all__ = ["UnmixedEmf", "sheet_layer_fractions", "ct_sheet_fractions", "window_coefficients",
           "detector_correction", "unmix_emf", "unmix_emf_blocks", "emf_x_calibration"]


# ----------------------------------------------------------------------------- fractions
def sheet_layer_fractions(thickness_um, beam_centre_um: float, beam_thickness_um: float):
    """Fraction of a top-hat sheet filled by each layer of a flat stack.

    Parameters
    ----------
    thickness_um : (n_layers,) array
        Layer thicknesses (um), bottom (z = 0) to top.
    beam_centre_um : float
        Height of the sheet's centre above z = 0 (um).
    beam_thickness_um : float
        Sheet height along the stacking axis (um).

    Returns
    -------
    (n_layers,) ndarray
        Overlap of the sheet with each layer divided by the sheet height (sums to < 1 where
        the sheet leaves the stack).
    """
    t = np.asarray(thickness_um, float)
    if t.ndim != 1 or np.any(~np.isfinite(t)) or np.any(t < 0):
        raise InputError(f"thickness_um: need finite layer thicknesses >= 0 um, got {t}")
    if not (np.isfinite(beam_thickness_um) and beam_thickness_um > 0):
        raise ParameterError("beam_thickness_um", beam_thickness_um, "must be > 0 um")
    top = np.cumsum(t)
    bot = top - t
    lo, hi = beam_centre_um - beam_thickness_um / 2, beam_centre_um + beam_thickness_um / 2
    return np.clip(np.minimum(hi, top) - np.maximum(lo, bot), 0.0, None) / beam_thickness_um


def ct_sheet_fractions(labels, voxel_size_um: float, beam_centre_um: float, beam_thickness_um: float,
                       n_phases: int, cell_mask=None):
    """Fraction of a top-hat sheet filled by each phase of a segmented CT volume.

    Parameters
    ----------
    labels : (z, y, x) integer ndarray
        Phase index per voxel (z = 0 the bottom of the cell stack); values >= ``n_phases``
        (undeclared material, outside) count as none of the phases.
    voxel_size_um : float
    beam_centre_um, beam_thickness_um : float
        Sheet centre above z = 0 and its height (um).
    n_phases : int
    cell_mask : (y, x) bool ndarray, optional
        Columns inside the cell (default all).

    Returns
    -------
    (n_phases,) ndarray
        Volume fraction of each phase in the part of the sheet inside the volume and the
        cell mask, times the fraction of the sheet height inside the volume.
    """
    lab = np.asarray(labels)
    if lab.ndim != 3:
        raise InputError(f"labels: need (z, y, x), got shape {lab.shape}")
    if not voxel_size_um > 0:
        raise ParameterError("voxel_size_um", voxel_size_um, "must be > 0")
    zc = (np.arange(lab.shape[0]) + 0.5) * float(voxel_size_um)
    inz = np.abs(zc - beam_centre_um) <= beam_thickness_um / 2
    if not inz.any():
        raise EmptyResultError(f"beam_centre_um={beam_centre_um:g}: the sheet misses the CT volume "
                               f"(0-{lab.shape[0] * voxel_size_um:g} um)")
    m = np.ones(lab.shape[1:], bool) if cell_mask is None else np.asarray(cell_mask, bool)
    if m.shape != lab.shape[1:] or not m.any():
        raise InputError(f"cell_mask: shape {m.shape} (need {lab.shape[1:]}) or empty")
    cols = lab[inz][:, m]
    frac = np.array([(cols == k).mean() for k in range(int(n_phases))])
    return frac * min(1.0, inz.sum() * voxel_size_um / beam_thickness_um)


# ----------------------------------------------------------------------------- EMF operator
def detector_correction(edges_kev, flood_edges_kev=None, flood_counts=None, *, flood_line_kev: float = 59.5409,
                        sensor_thickness_mm: float | None = None, tail_scaling: str = "none"):
    """Linear detector correction ``C`` (corrected = C @ counts) and the fitted line response.

    Tail removal (the low-energy tail of the flood's line,
    :func:`ssbscope.compton.electron_momentum.fit_line_response`) then division by the
    CdZnTe efficiency of ``sensor_thickness_mm`` (None: no efficiency correction).
    ``tail_scaling`` carries the tail from the flood's line to the Compton peak's energies
    (``energy_scaling`` of :func:`~ssbscope.compton.electron_momentum.fit_line_response`:
    "none" or "charge_sharing", :func:`~ssbscope.compton.electron_momentum.tail_energy_scale`;
    "auto": the one the flood's second line supports,
    :func:`~ssbscope.compton.electron_momentum.choose_tail_scaling`).

    A flood whose tail is not resolved (``response.tail_resolved`` False: too few counts for a
    tail fraction within :data:`ssbscope.compton.electron_momentum.MAX_TAIL_FRACTION_UNC`)
    gives the unresolved response and a ``C`` without the tail removal (efficiency only, or
    None): the caller decides; the XCS series stage, like the input stage, then gives no EMF
    for the states measured with it (NaN, the reason stored) rather than one biased low by the
    tail.  A flood whose line cannot be fitted at all raises (EmptyResultError,
    DataQualityError, InputError from :func:`fit_line_response`).

    Returns
    -------
    C : (n, n) ndarray or None
        None when nothing is corrected.
    response : LineResponse or None
        Check ``response.tail_resolved`` before trusting ``C``'s tail removal.
    """
    from ssbscope.compton.electron_momentum import (_correction_matrix, choose_tail_scaling, detector_efficiency,
                                                    fit_line_response)

    edges = np.asarray(edges_kev, float)
    resp = None
    if flood_counts is not None and tail_scaling == "auto":
        tail_scaling = choose_tail_scaling(np.asarray(flood_edges_kev, float), np.asarray(flood_counts, float),
                                           float(flood_line_kev)).scaling
    if flood_counts is not None:
        resp = fit_line_response(np.asarray(flood_edges_kev, float), np.asarray(flood_counts, float),
                                 float(flood_line_kev), energy_scaling=tail_scaling)
    eff = None
    if sensor_thickness_mm is not None:
        def eff(x, _t=float(sensor_thickness_mm)):
            return detector_efficiency(x, thickness_mm=_t, material="CdZnTe")
    tail = resp if resp is not None and resp.tail_resolved else None
    if tail is None and eff is None:
        return None, resp
    return _correction_matrix(edges, tail, eff, None), resp


def window_coefficients(edges_kev, e_incident_kev: float = 115.0, angle_deg: float = 90.0, *,
                        low_au=(0.0, 1.0), high_au=(1.0, 5.0), correction=None):
    """Coefficients ``a``, ``b`` with ``E_L = a . counts`` and ``E_H = b . counts`` (Eqs. 3-5).

    The detector lines near the Compton peak are bridged as :func:`ssbscope.compton.emf`
    does; ``correction`` (n, n) is applied first (:func:`detector_correction`).

    Returns
    -------
    a, b : (n,) ndarray
    """
    from ssbscope.compton.electron_momentum import _build_operator, _check_windows, _resolve_lines

    edges = np.asarray(edges_kev, float)
    lo, hi = _check_windows(edges, e_incident_kev, angle_deg, low_au, high_au)
    lines = _resolve_lines("default", e_incident_kev, angle_deg)
    op, _ = _build_operator(edges, float(e_incident_kev), float(angle_deg), low_au=lo, high_au=hi,
                            background=None, lines=lines, line_halfwidth_kev=1.0, correction=correction)
    return np.asarray(op.a_low, float), np.asarray(op.a_high, float)


# ----------------------------------------------------------------------------- unmixing
@dataclass(frozen=True)
class UnmixedEmf:
    """EMF of each component of one state from the exposures at several beam heights.

    Attributes
    ----------
    components : tuple of str
    emf, emf_unc : (n_components,) ndarray
        EMF and its 1-sigma counting uncertainty (NaN where the windows are empty).
    e_low, e_high : (n_components,) ndarray
        Window integrals of the component spectra (per unit monitor and sheet fraction).
    unmixing : (n_components, n_positions) ndarray
        ``P = pinv(fractions)``.
    condition : float
        Condition number of the fraction matrix (large: positions barely distinguish the
        components).
    """

    components: tuple
    emf: np.ndarray = field(repr=False)
    emf_unc: np.ndarray = field(repr=False)
    e_low: np.ndarray = field(repr=False)
    e_high: np.ndarray = field(repr=False)
    unmixing: np.ndarray = field(repr=False)
    condition: float = float("nan")


def _pinv(fractions, components):
    f = np.asarray(fractions, float)
    if f.ndim != 2 or f.shape[1] != len(components):
        raise InputError(f"fractions: need (n_positions, {len(components)}), got {f.shape}")
    if np.any(~np.isfinite(f)) or np.any(f < 0):
        raise InputError("fractions: must be finite and >= 0")
    if f.shape[0] < f.shape[1]:
        raise InputError(f"{f.shape[1]} components ({', '.join(components)}) from {f.shape[0]} beam "
                         "positions is under-determined; measure more beam heights or give fewer "
                         "analysis.compton.components")
    absent = [c for c, k in zip(components, f.sum(axis=0)) if k <= 0]
    if absent:
        raise EmptyResultError(f"component(s) {absent} are in no sheet; check beam_height_um and the "
                               "layer thicknesses, or leave them out of analysis.compton.components")
    if np.linalg.matrix_rank(f, tol=1e-6) < f.shape[1]:
        raise InputError(f"the beam positions do not distinguish the components {list(components)} "
                         f"(rank-deficient sheet fractions {np.round(f, 3).tolist()}); measure at "
                         "beam heights where their fractions differ")
    return np.linalg.pinv(f), float(np.linalg.cond(f))


def _ratio(el, eh, vl, vh, cv):
    with np.errstate(divide="ignore", invalid="ignore"):
        val = el / eh
        var = val**2 * (vl / el**2 + vh / eh**2 - 2 * cv / (el * eh))
    bad = ~(eh > 0) | ~np.isfinite(val)
    return np.where(bad, np.nan, val), np.where(bad, np.nan, np.sqrt(np.maximum(var, 0.0)))


def unmix_emf(counts, fractions, coeff_low, coeff_high, *, monitors=None, components=None) -> UnmixedEmf:
    """EMF per component from the raw spectra of several beam positions of one state.

    Parameters
    ----------
    counts : (n_positions, n) array
        Counts per energy bin of each exposure (angle-aligned sums over the analysed pixels;
        Poisson).
    fractions : (n_positions, n_components) array
        Sheet fraction of each component at each position (:func:`sheet_layer_fractions`,
        :func:`ct_sheet_fractions`).
    coeff_low, coeff_high : (n_positions, n) array
        Window coefficients of each exposure, detector corrections included
        (:func:`window_coefficients`).
    monitors : (n_positions,) array, optional
        Relative incident fluence x live time (default 1).
    components : sequence of str, optional

    Returns
    -------
    UnmixedEmf
    """
    r = np.asarray(counts, float)
    npos = r.shape[0]
    comps = tuple(components) if components is not None else tuple(f"c{k}" for k in range(np.shape(fractions)[1]))
    P, cond = _pinv(fractions, comps)
    a = np.asarray(coeff_low, float)
    b = np.asarray(coeff_high, float)
    if a.shape != r.shape or b.shape != r.shape:
        raise InputError(f"coefficients {a.shape}/{b.shape} and counts {r.shape} differ")
    m = np.ones(npos) if monitors is None else np.asarray(monitors, float)
    if np.any(r < 0):
        raise InputError("counts: must be >= 0")
    # per exposure: window integrals and their (co)variances under Poisson counts
    ul, uh = (r * a).sum(axis=1) / m, (r * b).sum(axis=1) / m
    wll, whh, wlh = (r * a * a).sum(axis=1) / m**2, (r * b * b).sum(axis=1) / m**2, (r * a * b).sum(axis=1) / m**2
    el, eh = P @ ul, P @ uh
    vl, vh, cv = (P**2) @ wll, (P**2) @ whh, (P**2) @ wlh
    val, unc = _ratio(el, eh, vl, vh, cv)
    return UnmixedEmf(components=comps, emf=val, emf_unc=unc, e_low=el, e_high=eh, unmixing=P,
                      condition=cond)


def unmix_emf_blocks(block_counts, fractions, coeff_low, coeff_high, *, monitors=None,
                     min_counts: float = 100.0):
    """EMF maps: :func:`unmix_emf` on every block of pixels.

    Parameters
    ----------
    block_counts : (n_positions, n_rows, n_cols, n) array
        Angle-aligned counts of each block of pixels (0 outside the analysed pixels).
    fractions, coeff_low, coeff_high, monitors
        As :func:`unmix_emf` (one fraction matrix for every block).
    min_counts : float
        Blocks with fewer counts at some position are NaN.

    Returns
    -------
    emf, emf_unc : (n_components, n_rows, n_cols) ndarray
    """
    c = np.asarray(block_counts, float)
    npos = c.shape[0]
    P, _ = _pinv(fractions, tuple(f"c{k}" for k in range(np.shape(fractions)[1])))
    a = np.asarray(coeff_low, float)[:, None, None, :]
    b = np.asarray(coeff_high, float)[:, None, None, :]
    m = (np.ones(npos) if monitors is None else np.asarray(monitors, float))[:, None, None]
    ul, uh = (c * a).sum(-1) / m, (c * b).sum(-1) / m
    wll, whh, wlh = (c * a * a).sum(-1) / m**2, (c * b * b).sum(-1) / m**2, (c * a * b).sum(-1) / m**2
    el, eh = np.tensordot(P, ul, 1), np.tensordot(P, uh, 1)
    vl, vh, cv = (np.tensordot(P**2, w, 1) for w in (wll, whh, wlh))
    val, unc = _ratio(el, eh, vl, vh, cv)
    few = (c.sum(-1) < float(min_counts)).any(axis=0)
    val[:, few] = np.nan
    unc[:, few] = np.nan
    return val, unc


# ----------------------------------------------------------------------------- calibration
def emf_x_calibration(reference_emf, reference_x):
    """Linear EMF <-> Li content calibration through reference states (000_ Fig. 2F, ICP-OES).

    ``EMF = slope x + intercept``: exact through two points, least squares (with the
    residual covariance) through more.

    Returns
    -------
    ssbscope.compton.electron_momentum.EmfCalibration
        ``li_content(emf, emf_unc)`` gives x and its uncertainty.
    """
    from ssbscope.compton.electron_momentum import EmfCalibration, calibrate_emf

    e = np.asarray(reference_emf, float)
    x = np.asarray(reference_x, float)
    if e.shape != x.shape or e.size < 2 or np.unique(x).size < 2:
        raise InputError("reference points: need >= 2 {emf, x} with different x")
    if e.size == 2:
        slope = (e[1] - e[0]) / (x[1] - x[0])
        if slope == 0:
            raise InputError("reference points: equal EMF at different x; the EMF does not measure x")
        return EmfCalibration(slope=float(slope), intercept=float(e[0] - slope * x[0]),
                              covariance=np.zeros((2, 2)), n_points=2)
    return calibrate_emf(x, e)
