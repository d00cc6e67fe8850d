"""Compton peak, Compton profile J(p_z) from a spectrum, and the electron momentum factor.

Implements Eqs. 2-5 of 000_290f30815ae66793: a scattered-energy spectrum (counts per
energy bin) is converted to J(p_z) by the inverse of the impulse-approximation cross-section
(:func:`ssbscope.compton.ddcs_cm2_sr_kev`: ``counts ~ (E_2/E_C) J(p_z) dp_z/dE_2 dE_2``), and
the EMF is the ratio of the integrals of J over a low- and a high-momentum window
(defaults ``|p_z| < 1`` and ``1 < |p_z| < 5`` a.u.).

Every step (background subtraction, removal of fluorescence lines by a local quadratic
bridge, division by the cross-section, window integration with the bins cut by a window edge
shared by the cubic interpolant of the cumulative, :func:`_window_weights`) is linear in
the counts, so the EMF is a ratio of two weighted sums ``E_L = a . N``, ``E_H = c . N`` and
its counting-statistics uncertainty follows exactly from Poisson variances
(``var(E_L) = sum a^2 N``, covariance ``sum a c N``).  The same coefficient vectors serve
one spectrum (:func:`emf`) and 80 x 80 cubes (:func:`emf_map`).

Examples
--------
>>> import numpy as np
>>> from ssbscope.compton import emf, profile, ddcs_cm2_sr_kev, window_ratio
>>> edges = np.arange(80.0, 110.0001, 0.05)
>>> e = 0.5 * (edges[1:] + edges[:-1])
>>> counts = 1e9 * ddcs_cm2_sr_kev(e, 115.0, 90.0, lambda p: profile("Li", p)) / 1e-26
>>> r = emf(e, counts)
>>> bool(abs(r.value / window_ratio("Li") - 1) < 0.01)
True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ssbscope.compton.physics import compton_energy_kev, dpz_de2_au_per_kev, momentum_au
from ssbscope.errors import DataQualityError, EmptyResultError, InputError, ParameterError

__all__ = [
    "ComptonPeak",
    "ProfileResult",
    "EmfResult",
    "EmfMap",
    "EmfCalibration",
    "default_lines_kev",
    "fit_compton_peak",
    "weight_perturbations",
    "perturbed_coefficients",
    "spectrum_to_profile",
    "emf",
    "emf_map",
    "calibrate_emf",
    "broaden_spectrum",
    "LineResponse",
    "fit_line_response",
    "tail_matrix",
    "tail_energy_scale",
    "choose_tail_scaling",
    "TailScalingChoice",
    "sharing_sigma_over_pitch",
    "detector_efficiency",
    "transmittance",
]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- lines
def default_lines_kev(e_incident_kev: float = 115.0, angle_deg: float = 90.0) -> dict[str, float]:
    """Detector and shielding lines of an XCS spectrum (keV), from xraylib.

    Cd and Te K fluorescence of the CdZnTe sensor, W (pinhole) and Pb (shielding) K lines,
    and the Cd/Te K-alpha escape peaks of the Compton peak (000_290f30815ae66793, Fig. 2C).
    """
    import xraylib

    out = {}
    for el in ("Cd", "Te", "W", "Pb"):
        z = xraylib.SymbolToAtomicNumber(el)
        for name, line in (("Ka1", xraylib.KA1_LINE), ("Ka2", xraylib.KA2_LINE),
                           ("Kb1", xraylib.KB1_LINE), ("Kb2", xraylib.KB2_LINE)):
            out[f"{el} {name}"] = float(xraylib.LineEnergy(z, line))
    ec = compton_energy_kev(e_incident_kev, angle_deg)
    for el in ("Cd", "Te"):
        out[f"Compton - {el} Ka escape"] = ec - out[f"{el} Ka1"]
    return out


# ----------------------------------------------------------------------------- validation
def _edges_from(energy_kev, n):
    """Bin edges from bin centres (or pass-through when n + 1 edges are given)."""
    e = np.asarray(energy_kev, dtype=float)
    if e.ndim != 1:
        raise InputError(f"energy_kev: must be 1-D, got shape {e.shape}")
    if np.any(~np.isfinite(e)):
        raise InputError("energy_kev: contains NaN/inf; pass finite bin energies in keV")
    if np.any(e < 0):
        raise InputError(f"energy_kev: negative energies (min {e.min():g} keV); "
                         "calibrate the spectrum to keV first")
    if e.size == n + 1:
        edges = e
    elif e.size == n:
        if n < 3:
            raise InputError("energy_kev: need at least 3 bins")
        mid = 0.5 * (e[1:] + e[:-1])
        edges = np.concatenate([[e[0] - (mid[0] - e[0])], mid, [e[-1] + (e[-1] - mid[-1])]])
    else:
        raise InputError(f"energy_kev has {e.size} values for {n} count bins; "
                         "pass bin centres (same length) or edges (one more)")
    if np.any(np.diff(edges) <= 0):
        raise InputError("energy_kev: must be strictly increasing")
    if edges[0] <= 0:
        edges = edges.copy()
        edges[0] = min(1e-6, edges[1] / 2)
    return edges


def _counts_2d(counts):
    c = np.asarray(counts, dtype=float)
    if np.any(~np.isfinite(c)):
        raise InputError("counts: contains NaN/inf")
    if np.any(c < 0):
        raise InputError(f"counts: negative values (min {c.min():g}); pass raw counts per bin "
                         "(subtract backgrounds with the background= option instead)")
    return c


# ----------------------------------------------------------------------------- peak fit
@dataclass(frozen=True)
class ComptonPeak:
    """Gaussian fit to the top of the Compton peak.

    Attributes
    ----------
    centre_kev, centre_unc_kev : float
        Peak centre and its 1-sigma fit uncertainty (keV).
    fwhm_kev : float
        Full width at half maximum of the fitted Gaussian (keV).
    amplitude : float
        Peak height (counts per bin) above the fitted constant.
    expected_kev : float
        E_C of the nominal geometry.
    angle_deg_fitted : float
        Scattering angle for which E_C equals the fitted centre.
    """

    centre_kev: float
    centre_unc_kev: float
    fwhm_kev: float
    amplitude: float
    expected_kev: float
    angle_deg_fitted: float


def fit_compton_peak(energy_kev, counts, e_incident_kev: float = 115.0, angle_deg: float = 90.0,
                     *, search_kev: float = 6.0, min_significance: float = 5.0) -> ComptonPeak:
    """Find and fit the Compton peak near E_C (Gaussian plus constant on its upper half).

    Parameters
    ----------
    energy_kev : (n,) ndarray
        Bin centres (or n + 1 edges) in keV.
    counts : (n,) ndarray
        Counts per bin.
    e_incident_kev, angle_deg : float
        Nominal geometry; the peak is searched within ``E_C +- search_kev``.
    min_significance : float
        The peak must exceed the median of the search window by this many Poisson sigmas.

    Raises
    ------
    EmptyResultError
        No Compton peak in range (no counts, flat spectrum, or window outside the data).
    """
    from scipy.optimize import curve_fit

    c = _counts_2d(counts)
    if c.ndim != 1:
        raise InputError(f"counts: must be 1-D for a peak fit, got shape {c.shape}")
    edges = _edges_from(energy_kev, c.size)
    e = 0.5 * (edges[1:] + edges[:-1])
    ec = compton_energy_kev(e_incident_kev, angle_deg)
    sel = np.abs(e - ec) <= search_kev
    if sel.sum() < 5:
        raise EmptyResultError(
            f"no Compton peak in range: the spectrum ({edges[0]:.1f}-{edges[-1]:.1f} keV) does not "
            f"cover E_C = {ec:.2f} keV +- {search_kev} keV; check e_incident_kev/angle_deg and the "
            "energy calibration")
    ew, cw = e[sel], c[sel]
    imax = int(np.argmax(cw))
    base = float(np.median(cw))
    if cw[imax] <= 0 or cw[imax] - base < min_significance * np.sqrt(max(base, 1.0)):
        raise EmptyResultError(
            f"no Compton peak in range: counts within {ec:.2f} +- {search_kev} keV show no "
            f"significant maximum (max {cw[imax]:g}, median {base:g}); check the energy calibration "
            "or the region mask")
    half = cw >= base + 0.5 * (cw[imax] - base)
    # contiguous run of bins above half maximum around the maximum
    lo = imax
    while lo > 0 and half[lo - 1]:
        lo -= 1
    hi = imax
    while hi < cw.size - 1 and half[hi + 1]:
        hi += 1
    fwhm0 = max(ew[hi] - ew[lo], edges[1] - edges[0])
    fit = np.abs(ew - ew[imax]) <= max(fwhm0, 3 * (edges[1] - edges[0]))
    x, y = ew[fit], cw[fit]

    def g(xx, a, mu, s, b):
        return a * np.exp(-0.5 * ((xx - mu) / s) ** 2) + b

    p0 = [cw[imax] - base, ew[imax], fwhm0 / 2.355, base]
    try:
        p, cov = curve_fit(g, x, y, p0=p0, sigma=np.sqrt(np.maximum(y, 1.0)), absolute_sigma=True,
                           maxfev=4000)
        ok = np.all(np.isfinite(p)) and abs(p[1] - ew[imax]) < fwhm0 and p[2] > 0
    except (RuntimeError, ValueError):
        ok = False
    if not ok:
        p, cov = np.array(p0, dtype=float), np.full((4, 4), np.nan)
        cov[1, 1] = (fwhm0 / 2.355) ** 2 / max(cw[imax], 1.0)
    mu = float(p[1])
    from ssbscope.compton.physics import ME_C2_KEV

    cos_t = 1.0 - ME_C2_KEV * (1.0 / mu - 1.0 / e_incident_kev)
    ang = float(np.degrees(np.arccos(np.clip(cos_t, -1.0, 1.0))))
    return ComptonPeak(centre_kev=mu, centre_unc_kev=float(np.sqrt(abs(cov[1, 1]))),
                       fwhm_kev=float(2.3548200450309493 * abs(p[2])), amplitude=float(p[0]),
                       expected_kev=float(ec), angle_deg_fitted=ang)


# ----------------------------------------------------------------------------- linear operators
@dataclass(frozen=True)
class _Operator:
    """Linear map counts -> J at bin centres, plus window coefficients."""

    pz: np.ndarray  # (n,) p_z at bin centres
    j_of_counts: np.ndarray  # (n, n) J = M @ counts
    a_low: np.ndarray  # (n,) E_L = a_low @ counts
    a_high: np.ndarray  # (n,)
    excluded: np.ndarray  # (n,) bool: bins removed as lines
    bkg_of_counts: np.ndarray | None  # (n, n) background estimate per bin


def _cumulative_weights(edges, x):
    """Weights ``v`` with ``Q(x) = v . q`` for the cubic interpolant of a histogram's cumulative.

    ``q_i`` is the content of bin ``[edges[i], edges[i + 1]]``; the cumulative
    ``Q(edges[j]) = sum_{i < j} q_i`` is known exactly at the edges and is interpolated at
    ``x`` by the Lagrange cubic through the four edges around ``x`` (error ``O(h^4)`` in the
    bin width ``h`` for a smooth density).  ``x`` outside the edges gives all 0 or all 1.
    """
    n = edges.size - 1
    v = np.zeros(n)
    if x <= edges[0]:
        return v
    if x >= edges[-1]:
        v[:] = 1.0
        return v
    k = int(np.searchsorted(edges, x, side="right")) - 1  # edges[k] <= x < edges[k + 1]
    j0 = min(max(k - 1, 0), max(n - 3, 0))
    js = np.arange(j0, min(j0 + 4, n + 1))
    xs = edges[js]
    lag = np.array([np.prod([(x - xs[m]) / (xs[i] - xs[m]) for m in range(js.size) if m != i])
                    for i in range(js.size)])
    v[:js[0]] = 1.0
    for jj, lj in zip(js, lag):
        v[js[0]:jj] += lj  # Q(edges[jj]) holds every bin i < jj
    return v


def _window_weights(pz_edges, a, b):
    """Share of each bin's content inside ``a <= |p_z| <= b`` (both signs), cubic cumulative.

    With ``q_i = int_bin J dp_z`` the window integral is ``sum_i w_i q_i``: ``w_i = 1`` for
    the bins inside, 0 for those away from it, and at each window edge ``p_e`` the weights
    of the neighbouring bins are those of the interpolated cumulative ``Q(p_e)``
    (:func:`_cumulative_weights`).  Giving the straddling bin its overlap fraction instead
    (J flat within the bin) misses ``J' d (h - d) / 2`` at an edge a distance ``d`` into a
    bin of width ``h``, ``J' h^2 / 12`` on average and of one sign, because J falls away
    from ``p_z = 0`` on both sides: with 0.2 keV bins (0.18 a.u. at 115 keV, 90 degrees)
    that lowered the EMF of a Li_xSi profile broadened by 1 keV FWHM by 0.3 %.
    """
    w = np.zeros(pz_edges.size - 1)
    for lo, hi in ((a, b), (-b, -a)):
        w += _cumulative_weights(pz_edges, hi) - _cumulative_weights(pz_edges, lo)
    return w


def _build_operator(edges, e_incident_kev, angle_deg, *, low_au, high_au, background, lines,
                    line_halfwidth_kev, correction=None):
    n = edges.size - 1
    e = 0.5 * (edges[1:] + edges[:-1])
    de = np.diff(edges)
    ec = compton_energy_kev(e_incident_kev, angle_deg)
    pz_e = momentum_au(edges, e_incident_kev, angle_deg)
    pz_c = momentum_au(e, e_incident_kev, angle_deg)
    g = (e / ec) * dpz_de2_au_per_kev(e, e_incident_kev, angle_deg)  # counts/keV per unit J
    eye = np.eye(n)
    # background: least-squares polynomial in energy through the band bins
    bkg = None
    if background is not None:
        if np.isscalar(background):
            b = float(background)
            if not np.isfinite(b) or b < 0:
                raise ParameterError("background", background, "must be >= 0 counts per keV")
            bkg_const = b * de
            bkg = ("const", bkg_const)
        else:
            bands = np.asarray(background, dtype=float).reshape(-1, 2)
            inb = np.zeros(n, bool)
            for lo, hi in bands:
                inb |= (e >= lo) & (e <= hi)
            if inb.sum() < 2:
                raise ParameterError("background", background, "the bands hold fewer than 2 bins",
                                     "give (lo, hi) keV bands inside the spectrum, away from the peak")
            deg = 0 if bands.shape[0] == 1 else 1
            v = np.vander(e[inb], deg + 1)
            # least-squares fit of counts per keV in the bands: coef = pinv(V) (N / dE)
            coef_of_counts = np.zeros((deg + 1, n))
            coef_of_counts[:, inb] = np.linalg.pinv(v) / de[inb][None, :]
            bkg = ("fit", (np.vander(e, deg + 1) @ coef_of_counts) * de[:, None])
    # line exclusion mask
    excl = np.zeros(n, bool)
    for le in lines:
        excl |= np.abs(e - le) <= line_halfwidth_kev
    m = eye.copy()
    if bkg is not None and bkg[0] == "fit":
        m = m - bkg[1]
    if correction is not None:
        m = correction @ m  # tail removal and division by efficiency x t2 (after background)
    m = m / (de * g)[:, None]  # J at bin centres (unnormalised)
    if excl.any():
        keep = np.flatnonzero(~excl)
        if keep.size < 2:
            raise ParameterError("exclude_lines", lines, "excludes every bin")
        # J of excluded bins: quadratic in p_z fitted to up to 6 kept bins on each side of each
        # excluded run (least squares, linear in the counts)
        p = np.zeros((n, n))
        p[keep, keep] = 1.0
        runs = np.split(np.flatnonzero(excl), np.flatnonzero(np.diff(np.flatnonzero(excl)) > 1) + 1)
        for run in runs:
            left = keep[keep < run[0]][-6:]
            right = keep[keep > run[-1]][:6]
            nb = np.concatenate([left, right])
            if left.size == 0 or right.size == 0 or nb.size < 3:
                continue  # at the spectrum's end: left at zero (outside the windows in practice)
            x0 = pz_c[run].mean()
            vn = np.vander(pz_c[nb] - x0, 3)
            ve = np.vander(pz_c[run] - x0, 3)
            p[np.ix_(run, nb)] = ve @ np.linalg.pinv(vn)
        m = p @ m
    # window integrals of J (Eqs. 3-5): sum_i w_i J_i dp_i, the bins at each window edge
    # shared by the cubic interpolant of the cumulative (_window_weights)
    dpz = np.diff(pz_e)
    wl = _window_weights(pz_e, *low_au) * dpz
    wh = _window_weights(pz_e, *high_au) * dpz
    a_low = wl @ m
    a_high = wh @ m
    const = None
    if bkg is not None and bkg[0] == "const":
        const = bkg[1]
    op = _Operator(pz=pz_c, j_of_counts=m, a_low=a_low, a_high=a_high, excluded=excl,
                   bkg_of_counts=None if bkg is None or bkg[0] == "const" else bkg[1])
    return op, const


def _check_windows(edges, e_incident_kev, angle_deg, low_au, high_au):
    lo = tuple(float(v) for v in low_au)
    hi = tuple(float(v) for v in high_au)
    for nm, w in (("low_au", lo), ("high_au", hi)):
        if len(w) != 2 or not (0 <= w[0] < w[1]) or not np.all(np.isfinite(w)):
            raise ParameterError(nm, w, "must be (a, b) with 0 <= a < b (a.u.)")
    pmax = max(lo[1], hi[1])
    pz0, pz1 = momentum_au(edges[[0, -1]], e_incident_kev, angle_deg)
    if pz0 > -pmax or pz1 < pmax:
        raise InputError(
            f"energy_kev: spectrum {edges[0]:.2f}-{edges[-1]:.2f} keV covers p_z {pz0:.2f} to "
            f"{pz1:.2f} a.u., not the windows up to |p_z| = {pmax:g} a.u. at E_1 = "
            f"{e_incident_kev} keV, {angle_deg} deg; extend the energy range")
    return lo, hi


def _resolve_lines(exclude_lines, e_incident_kev, angle_deg):
    if exclude_lines is None or exclude_lines is False:
        return []
    if exclude_lines is True or (isinstance(exclude_lines, str) and exclude_lines == "default"):
        return list(default_lines_kev(e_incident_kev, angle_deg).values())
    vals = np.atleast_1d(np.asarray(exclude_lines, dtype=float))
    if np.any(~np.isfinite(vals)) or np.any(vals <= 0):
        raise ParameterError("exclude_lines", exclude_lines, "line energies must be > 0 keV")
    return list(vals)


# ----------------------------------------------------------------------------- profile
@dataclass(frozen=True)
class ProfileResult:
    """A Compton profile extracted from a spectrum (Eq. 2 of 000_290f30815ae66793).

    Attributes
    ----------
    pz_au : (n,) ndarray
        p_z at the bin centres (a.u.), increasing.
    j : (n,) ndarray
        J(p_z), normalised as requested (NaN for excluded line bins outside the windows).
    j_unc : (n,) ndarray
        1-sigma counting uncertainty of ``j``.
    energy_kev : (n,) ndarray
        Bin centres (keV).
    excluded : (n,) ndarray of bool
        Bins removed as fluorescence/escape lines and filled by interpolation.
    norm : float
        The factor J was divided by.
    peak : ComptonPeak or None
    """

    pz_au: np.ndarray = field(repr=False)
    j: np.ndarray = field(repr=False)
    j_unc: np.ndarray = field(repr=False)
    energy_kev: np.ndarray = field(repr=False)
    excluded: np.ndarray = field(repr=False)
    norm: float
    peak: ComptonPeak | None


def spectrum_to_profile(energy_kev, counts, e_incident_kev: float = 115.0, angle_deg: float = 90.0,
                        *, background=None, exclude_lines="default", line_halfwidth_kev: float = 1.0,
                        symmetrise: bool = False, normalise: str | None = "area",
                        norm_range_au: float = 5.0, recentre: bool = False, response=None,
                        efficiency=None, transmittance=None) -> ProfileResult:
    """Convert a scattered-energy spectrum to the Compton profile J(p_z).

    ``J(p_z(E_2)) = (N(E_2)/dE_2 - B) / ((E_2/E_C) dp_z/dE_2)`` (inverse of the impulse
    approximation; Eq. 2 of 000_290f30815ae66793 for p_z).

    Parameters
    ----------
    energy_kev : (n,) or (n + 1,) ndarray
        Bin centres or edges (keV), increasing.
    counts : (n,) ndarray
        Counts per bin (>= 0).
    e_incident_kev, angle_deg : float
        Geometry (keV, degrees).
    background : None, float or sequence of (lo, hi) keV bands
        None: no background (default); a number: constant counts per keV; bands: a constant
        (one band) or straight line (two or more) fitted to counts per keV in the bands.
        Bands must lie where no Compton scattering is expected (e.g. above E_1): the core
        electron profile of heavy elements extends tens of keV below E_C.
    exclude_lines : "default", None or sequence of float
        Line energies (keV) whose bins (+- ``line_halfwidth_kev``) are replaced by a quadratic
        in p_z fitted to the neighbouring bins; "default" = :func:`default_lines_kev`.
    symmetrise : bool
        Return ``(J(p) + J(-p))/2`` (interpolated at -p).
    normalise : {"area", "peak", None}
        Divide J by its integral over ``|p_z| < norm_range_au`` or by its maximum.
    recentre : bool
        Fit the Compton peak and use the scattering angle that puts E_C at its centre
        (corrects the +-2 % angle offsets of 000_290f30815ae66793).
    response : LineResponse, optional
        Detector line shape (:func:`fit_line_response` on a calibration flood): its
        low-energy tail is removed by solving ``T N' = N`` (:func:`tail_matrix`), leaving
        the Gaussian resolution.  Default None (no tail correction).
    efficiency : callable, float or (n,) ndarray, optional
        Detector efficiency ``eps(E_2)`` (e.g. :func:`detector_efficiency`); counts are divided
        by it.  Default None.
    transmittance : callable, float or (n,) ndarray, optional
        Transmittance ``t2(E_2)`` of the sample above the scattering volume (Eq. 1 of
        000_290f30815ae66793; e.g. ``lambda e: transmittance(e, layers_above)``); counts are
        divided by it.  Default None.
    """
    c = _counts_2d(counts)
    if c.ndim != 1:
        raise InputError(f"counts: must be 1-D, got shape {c.shape}; use emf_map for cubes")
    edges = _edges_from(energy_kev, c.size)
    peak = None
    if recentre:
        peak = fit_compton_peak(edges, c, e_incident_kev, angle_deg)
        angle_deg = peak.angle_deg_fitted
    lines = _resolve_lines(exclude_lines, e_incident_kev, angle_deg)
    op, const = _build_operator(edges, e_incident_kev, angle_deg, low_au=(0, 1), high_au=(1, 5),
                                background=background, lines=lines,
                                line_halfwidth_kev=line_halfwidth_kev,
                                correction=_correction_matrix(
                                    edges, response, efficiency, transmittance,
                                    _needed_bins(edges, e_incident_kev, angle_deg, norm_range_au)))
    cc = c if const is None else c - const
    j = op.j_of_counts @ cc
    j_unc = np.sqrt((op.j_of_counts ** 2) @ c)
    pz = op.pz
    if symmetrise:
        jm = np.interp(-pz, pz, j, left=np.nan, right=np.nan)
        um = np.interp(-pz, pz, j_unc, left=np.nan, right=np.nan)
        j = 0.5 * (j + jm)
        j_unc = 0.5 * np.sqrt(j_unc**2 + um**2)
    norm = 1.0
    if normalise == "area":
        de = np.abs(np.diff(momentum_au(edges, e_incident_kev, angle_deg)))
        sel = np.abs(pz) < norm_range_au
        norm = float(np.nansum(j[sel] * de[sel]))
    elif normalise == "peak":
        norm = float(np.nanmax(j))
    elif normalise is not None:
        raise ParameterError("normalise", normalise, "must be 'area', 'peak' or None")
    if not np.isfinite(norm) or norm <= 0:
        raise DataQualityError(f"counts: the profile has no positive area to normalise "
                               f"(norm={norm:g}); check the background option")
    return ProfileResult(pz_au=pz, j=j / norm, j_unc=j_unc / norm, energy_kev=0.5 * (edges[1:] + edges[:-1]),
                         excluded=op.excluded, norm=norm, peak=peak)


# ----------------------------------------------------------------------------- EMF
@dataclass(frozen=True)
class EmfResult:
    """Electron momentum factor (Eqs. 3-5 of 000_290f30815ae66793).

    Attributes
    ----------
    value : float
        EMF = E_L / E_H (NaN with ``reason`` set when a window holds no counts).
    uncertainty : float
        1-sigma counting uncertainty (propagated, or bootstrap standard deviation).
    e_low, e_high : float
        Window integrals of the (unnormalised) profile.
    low_au, high_au : tuple of float
        Window limits (|p_z|, a.u.).
    method : str
        "propagated" or "bootstrap".
    n_counts : float
        Counts in the spectrum.
    peak : ComptonPeak or None
    reason : str or None
        Why ``value`` is NaN.
    """

    value: float
    uncertainty: float
    e_low: float
    e_high: float
    low_au: tuple
    high_au: tuple
    method: str
    n_counts: float
    peak: ComptonPeak | None = None
    reason: str | None = None


def emf(energy_kev, counts, e_incident_kev: float = 115.0, angle_deg: float = 90.0, *,
        low_au=(0.0, 1.0), high_au=(1.0, 5.0), background=None, exclude_lines="default",
        line_halfwidth_kev: float = 1.0, recentre: bool = False, check_peak: bool = True,
        uncertainty: str = "propagated", n_bootstrap: int = 200, seed: int = 0,
        on_empty: str = "raise", response=None, efficiency=None, transmittance=None) -> EmfResult:
    """Electron momentum factor of a spectrum (Eqs. 3-5 of 000_290f30815ae66793).

    ``EMF = E_L / E_H`` with ``E_L = int_{|p_z|<1} J dp_z`` and
    ``E_H = int_{1<|p_z|<5} J dp_z`` (windows are parameters; Huang et al. 2024, Cell Rep.
    Phys. Sci. 5, 101995, doi:10.1016/j.xcrp.2024.101995, Eqs. 3-5).

    From a histogram the integrals are ``E = sum_i w_i J_i dp_i`` with ``J_i`` the profile of
    bin ``i`` (width ``dp_i`` in p_z), ``w_i = 1`` inside the window and, for the bins around
    a window edge ``p_e``, the weights that give ``Q(p_e)``, the Lagrange cubic through the
    cumulative ``Q(p_j) = sum_{i<j} J_i dp_i`` at the four bin edges around ``p_e``
    (:func:`_window_weights`).  Bin contents are integrals, so only the cut bins need a model
    of J inside them.  A flat one (the overlap fraction) misses ``J' d (h - d) / 2`` at an edge
    ``d`` into a bin of width ``h`` (in p_z); J falls away from ``p_z = 0`` on both sides, so
    on average ``E_L`` loses and ``E_H`` gains ``2 |J'(1)| h^2 / 12`` and the EMF reads low:
    0.33 % at 0.2 keV bins (0.18 a.u.) for Li_1.75Si with 1 keV FWHM resolution.  With the
    cubic the EMF at 0.1-0.2 keV bins equals the 0.02 keV one within 0.01 %
    (tests/compton/test_binning_bias.py).

    The measured spectrum is ``N = R [eps t2 n (dsigma/dOmega dE_2)]`` (Eq. 1 of
    000_290f30815ae66793 with the detector efficiency ``eps`` and response ``R``).  With
    the defaults nothing but background and lines is corrected (a spectrum of an ideal
    detector); for real data give the detector's ``response`` (its low-energy tail, from
    the calibration flood) and ``efficiency``, and the sample's ``transmittance``: each
    distorts the profile asymmetrically (on the XCS twin with the full HEXITEC model the
    sub-threshold charge-sharing tail alone lowers the EMF of Li by 30 %, the efficiency
    slope and t2 by < 0.5 %).  The Gaussian resolution is not removed: compare with a reference
    profile broadened by the same resolution.

    Parameters
    ----------
    energy_kev : (n,) or (n + 1,) ndarray
        Bin centres or edges (keV).
    counts : (n,) ndarray
        Counts per bin.
    e_incident_kev, angle_deg : float
        Geometry (keV, degrees); defaults 115 keV, 90 degrees.
    low_au, high_au : (float, float)
        |p_z| limits of the low and high windows (a.u.).
    background, exclude_lines, line_halfwidth_kev, recentre
        See :func:`spectrum_to_profile`.
    check_peak : bool
        Require a significant Compton peak near E_C (raises
        :class:`~ssbscope.errors.EmptyResultError` otherwise).
    uncertainty : {"propagated", "bootstrap"}
        Poisson propagation through the linear chain, or the standard deviation over
        ``n_bootstrap`` Poisson resamplings (seeded with ``seed``).
    on_empty : {"raise", "nan"}
        A window without counts raises EmptyResultError, or returns NaN with ``reason``.
    response, efficiency, transmittance : optional
        Detector tail, detector efficiency and sample transmittance t2 to correct, see
        :func:`spectrum_to_profile`.  The corrections are linear, so the propagated
        uncertainty includes them.

    Returns
    -------
    EmfResult
    """
    c = _counts_2d(counts)
    if c.ndim != 1:
        raise InputError(f"counts: must be 1-D, got shape {c.shape}; use emf_map for cubes")
    if on_empty not in ("raise", "nan"):
        raise ParameterError("on_empty", on_empty, "must be 'raise' or 'nan'")
    if uncertainty not in ("propagated", "bootstrap"):
        raise ParameterError("uncertainty", uncertainty, "must be 'propagated' or 'bootstrap'")
    edges = _edges_from(energy_kev, c.size)
    peak = None
    if check_peak or recentre:
        peak = fit_compton_peak(edges, c, e_incident_kev, angle_deg)
        if recentre:
            angle_deg = peak.angle_deg_fitted
    lo, hi = _check_windows(edges, e_incident_kev, angle_deg, low_au, high_au)
    lines = _resolve_lines(exclude_lines, e_incident_kev, angle_deg)
    op, const = _build_operator(edges, e_incident_kev, angle_deg, low_au=lo, high_au=hi,
                                background=background, lines=lines,
                                line_halfwidth_kev=line_halfwidth_kev,
                                correction=_correction_matrix(
                                    edges, response, efficiency, transmittance,
                                    _needed_bins(edges, e_incident_kev, angle_deg, max(lo[1], hi[1]))))
    res = _emf_from_coeffs(op, const, c[None, :], uncertainty, n_bootstrap, seed)
    value, unc, el, eh = (float(v[0]) for v in res[:4])
    reason = res[4][0]
    if reason is not None and on_empty == "raise":
        raise EmptyResultError(f"counts: {reason}; widen the windows, add counts or check the "
                               "energy calibration")
    return EmfResult(value=value, uncertainty=unc, e_low=el, e_high=eh, low_au=lo, high_au=hi,
                     method=uncertainty, n_counts=float(c.sum()), peak=peak, reason=reason)


def _emf_from_coeffs(op, const, c2, uncertainty, n_bootstrap, seed):
    """EMF for each row of ``c2`` (m, n): returns arrays value, unc, e_low, e_high, reason."""
    a, b = op.a_low, op.a_high
    off_l = 0.0 if const is None else float(a @ const)
    off_h = 0.0 if const is None else float(b @ const)
    el = c2 @ a - off_l
    eh = c2 @ b - off_h
    sl = (c2 > 0) @ (np.abs(a) > 0)
    sh = (c2 > 0) @ (np.abs(b) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = el / eh
        var_l = c2 @ (a * a)
        var_h = c2 @ (b * b)
        cov = c2 @ (a * b)
        var = val**2 * (var_l / el**2 + var_h / eh**2 - 2 * cov / (el * eh))
    unc = np.sqrt(np.maximum(var, 0.0))
    reason = np.full(c2.shape[0], None, dtype=object)
    reason[sh == 0] = "zero counts in the high-momentum window"
    reason[sl == 0] = "zero counts in the low-momentum window"
    bad_h = (sh > 0) & ~(eh > 0)
    reason[bad_h] = "non-positive high-window integral after background subtraction"
    bad = reason != None  # noqa: E711 - object array comparison
    if uncertainty == "bootstrap":
        rng = np.random.default_rng(seed)
        boots = np.empty((n_bootstrap, c2.shape[0]))
        for k in range(n_bootstrap):
            r = rng.poisson(c2).astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                boots[k] = (r @ a - off_l) / (r @ b - off_h)
        unc = np.nanstd(boots, axis=0, ddof=1)
    val = np.where(bad, np.nan, val)
    unc = np.where(bad, np.nan, unc)
    return val, unc, el, eh, reason


@dataclass(frozen=True)
class EmfMap:
    """EMF per pixel (Fig. 3A of 000_290f30815ae66793).

    Attributes
    ----------
    value, uncertainty : (ny, nx) ndarray
        EMF and its 1-sigma counting uncertainty (NaN where undefined).
    counts : (ny, nx) ndarray
        Counts per pixel within the spectrum.
    reason : (ny, nx) ndarray of object
        None, or why the pixel is NaN (masked, too few counts, empty window).
    """

    value: np.ndarray = field(repr=False)
    uncertainty: np.ndarray = field(repr=False)
    counts: np.ndarray = field(repr=False)
    reason: np.ndarray = field(repr=False)


def emf_map(cube, energy_kev, e_incident_kev: float = 115.0, angle_deg=90.0, *,
            low_au=(0.0, 1.0), high_au=(1.0, 5.0), background=None, exclude_lines="default",
            line_halfwidth_kev: float = 1.0, mask=None, min_counts: float = 1.0,
            response=None, efficiency=None, transmittance=None) -> EmfMap:
    """EMF of every pixel of a spectral cube (Eqs. 3-5 of 000_290f30815ae66793).

    Parameters
    ----------
    cube : (ny, nx, n) ndarray
        Counts per pixel and energy bin (e.g. from :func:`events_to_cube`).
    energy_kev : (n,) or (n + 1,) ndarray
        Bin centres or edges (keV).
    angle_deg : float or (ny, nx) ndarray
        Scattering angle, one value or one per pixel (off-axis pixels of a pinhole camera).
    mask : (ny, nx) bool ndarray, optional
        Pixels to evaluate (others NaN, reason "masked").
    min_counts : float
        Pixels with fewer counts are NaN (reason "too few counts").
    response, efficiency, transmittance : optional
        Corrections applied to every pixel, see :func:`emf`.

    Returns
    -------
    EmfMap
    """
    cb = _counts_2d(cube)
    if cb.ndim != 3:
        raise InputError(f"cube: must be (ny, nx, n_bins), got shape {cb.shape}")
    ny, nx, n = cb.shape
    edges = _edges_from(energy_kev, n)
    ang = np.broadcast_to(np.asarray(angle_deg, dtype=float), (ny, nx))
    use = np.ones((ny, nx), bool) if mask is None else np.asarray(mask, bool)
    if use.shape != (ny, nx):
        raise InputError(f"mask: shape {use.shape} does not match the cube's pixels {(ny, nx)}")
    value = np.full((ny, nx), np.nan)
    unc = np.full((ny, nx), np.nan)
    reason = np.full((ny, nx), None, dtype=object)
    reason[~use] = "masked"
    tot = cb.sum(axis=2)
    few = use & (tot < min_counts)
    reason[few] = "too few counts"
    todo = use & ~few
    # group pixels by angle (a handful of distinct values in practice: round to 1e-6 deg)
    keys = np.round(ang, 6)
    corr = _correction_matrix(edges, response, efficiency, transmittance,
                              _needed_bins(edges, e_incident_kev, ang,
                                           max(float(low_au[1]), float(high_au[1]))))
    for key in np.unique(keys[todo]):
        sel = todo & (keys == key)
        lo, hi = _check_windows(edges, e_incident_kev, float(key), low_au, high_au)
        lines = _resolve_lines(exclude_lines, e_incident_kev, float(key))
        op, const = _build_operator(edges, e_incident_kev, float(key), low_au=lo, high_au=hi,
                                    background=background, lines=lines,
                                    line_halfwidth_kev=line_halfwidth_kev, correction=corr)
        v, u, _, _, r = _emf_from_coeffs(op, const, cb[sel], "propagated", 0, 0)
        value[sel], unc[sel], reason[sel] = v, u, r
    return EmfMap(value=value, uncertainty=unc, counts=tot, reason=reason)


# ----------------------------------------------------------------------------- detector corrections
#: Energy scalings of the flood's tail (:func:`tail_energy_scale`); the first is the default.
TAIL_ENERGY_SCALINGS = ("none", "charge_sharing")

#: Default threshold (keV) of the neighbouring pixels in the charge-sharing scaling
#: (:func:`tail_energy_scale`): HEXITEC's usual 3 keV.  The scaling depends on it weakly (a
#: 5 keV threshold moves the scale at 94 keV by 0.1 %).
DEFAULT_SHARING_THRESHOLD_KEV = 3.0


@dataclass(frozen=True)
class LineResponse:
    """Low-energy tail of the detector's line shape, measured on a monoenergetic line.

    A photon of energy E is recorded at ``E - D`` (before the Gaussian electronic noise)
    with probability ``weights[k]`` for the deficit ``D = deficit_kev[k]``; ``weights[0]``
    (``D = 0``) is the full-energy fraction.  The tail comes from charge shared with a
    neighbouring pixel below its threshold (invisible to charge-sharing discrimination)
    and from incomplete charge collection.  It is measured on one line (the Am-241 59.54 keV
    line of a calibration flood) and applied at every energy (the Compton peak near 94 keV)
    as ``energy_scaling`` says (:func:`tail_energy_scale`, :func:`tail_matrix`):
    ``"charge_sharing"`` scales each deficit's weight by the sub-threshold charge-sharing
    model, ``"none"`` keeps the deficit distribution in keV the same at every energy.

    Attributes
    ----------
    deficit_kev : (k,) ndarray
        Deficits ``0, step, 2 step, ...`` (keV).
    weights : (k,) ndarray
        Probability of each deficit (sum 1).
    line_kev : float
        Nominal line energy (keV).
    centre_kev : float
        Fitted full-energy position (keV).
    fwhm_kev : float
        Fitted Gaussian FWHM at the line (keV).
    tail_fraction : float
        ``1 - weights[0]``.
    background_per_kev : float
        Fitted flat continuum (counts per keV).
    n_counts : float
        Counts in the fitted range.
    tail_fraction_unc, centre_unc_kev, fwhm_unc_kev : float
        Standard errors (Fisher information of the Poisson likelihood); NaN when unknown.
    tail_resolved : bool
        False when the flood does not measure the tail (``tail_fraction`` NaN, see ``reason``).
    weights_cov : (k, k) ndarray or None
        Covariance of ``weights`` (Fisher information of the fit, delta method); its
        eigen-directions propagate the flood's statistics into the EMF
        (:func:`weight_perturbations`).
    reason : str or None
        Why the tail is not resolved.
    energy_scaling : {"none", "charge_sharing"}
        How the tail measured at ``line_kev`` is carried to other energies
        (:func:`tail_energy_scale`).
    sigma_over_pitch, threshold_kev : float
        Charge-cloud width over pixel pitch (:func:`sharing_sigma_over_pitch`, from the
        line's tail) and the neighbours' threshold (keV) of the charge-sharing scaling.
    """

    deficit_kev: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    line_kev: float
    centre_kev: float
    fwhm_kev: float
    tail_fraction: float
    background_per_kev: float
    n_counts: float
    tail_fraction_unc: float = float("nan")
    centre_unc_kev: float = float("nan")
    fwhm_unc_kev: float = float("nan")
    tail_resolved: bool = True
    reason: str | None = None
    weights_cov: np.ndarray | None = field(default=None, repr=False)
    energy_scaling: str = "none"
    sigma_over_pitch: float = 0.0
    threshold_kev: float = DEFAULT_SHARING_THRESHOLD_KEV

    def weights_at(self, energy_kev) -> np.ndarray:
        """Deficit weights of a photon of each energy, (k, n) for ``energy_kev`` (n,) (keV).

        ``W[k, j] = weights[k] R(D_k; E_j)`` for ``k >= 1`` (:func:`tail_energy_scale`) and
        ``W[0, j] = weights[0] + sum_k (1 - R(D_k; E_j)) weights[k]`` (each column sums to
        ``sum(weights)``; linear in ``weights``).
        """
        e = np.atleast_1d(np.asarray(energy_kev, float))
        w = np.asarray(self.weights, float)
        r = tail_energy_scale(self.deficit_kev, e, self.line_kev, self.energy_scaling,
                              sigma_over_pitch=self.sigma_over_pitch, threshold_kev=self.threshold_kev)
        out = w[:, None] * r
        out[0] = w[0] + ((1.0 - r[1:]) * w[1:, None]).sum(axis=0)
        return out


def _z_phi(x):
    """``z = Phi^-1(1 - x)`` and ``phi(z)`` for shared fractions ``0 < x <= 1/2``."""
    from scipy.special import ndtri

    z = -ndtri(np.clip(x, 1e-300, 0.5))
    return z, np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)


def sharing_sigma_over_pitch(deficit_kev, weights, line_kev: float, fwhm_kev: float,
                             threshold_kev: float = DEFAULT_SHARING_THRESHOLD_KEV) -> float:
    """Charge-cloud width over pixel pitch, ``s = sigma / p``, from a line's tail weights.

    The sub-threshold charge-sharing model (:func:`tail_energy_scale`) gives the weight of
    the deficits ``D_k`` (step ``dD``) among the accepted events of a line at ``E``:
    ``w_k = 4 s dD / (E phi(z(D_k / E))) / (1 - 2 s z(T / E))``.  Summed over the deficits
    from one FWHM (below it the fit takes the density as flat) up to ``T - FWHM / 2``:
    ``W = 4 s G / (1 - 2 s z_T)`` with ``G = sum_k dD / (E phi_k)``, so

    ``s = W / (4 G + 2 z_T W)``.

    Returns 0 when no deficit lies in that range (the scaling then has no acceptance term).
    """
    d = np.asarray(deficit_kev, float)
    w = np.asarray(weights, float)
    if d.size < 2:
        return 0.0
    step = float(d[1] - d[0])
    use = (d > fwhm_kev) & (d <= threshold_kev - 0.5 * fwhm_kev)
    if not use.any():
        return 0.0
    _, ph = _z_phi(d[use] / line_kev)
    g = float(np.sum(step / (line_kev * ph)))
    wsum = float(max(np.sum(w[use]), 0.0))
    zt, _ = _z_phi(threshold_kev / line_kev)
    return float(wsum / (4.0 * g + 2.0 * float(zt) * wsum))


def tail_energy_scale(deficit_kev, energy_kev, line_kev: float, scaling: str = "none", *,
                      sigma_over_pitch: float = 0.0,
                      threshold_kev: float = DEFAULT_SHARING_THRESHOLD_KEV) -> np.ndarray:
    """Ratio ``R[k, j] = w(D_k; E_j) / w(D_k; E_line)`` of the tail's deficit weights.

    ``"charge_sharing"``: the tail left by charge-sharing discrimination (events with a
    neighbour above threshold discarded) is charge shared with a neighbouring pixel below
    that pixel's threshold ``T``.  A Gaussian charge cloud of width ``sigma`` centred a
    distance ``u`` from a pixel edge gives the neighbour the fraction ``f = Phi(-u / sigma)``
    of the charge; with ``u`` uniform over the pixel (pitch ``p``, ``s = sigma / p << 1``)
    the probability per absorbed photon of a deficit ``D = f E`` (``D < T``) across the 4
    edges is

    ``rho(D; E) dD = 4 s dD / (E phi(z(D / E)))``, ``z(x) = Phi^-1(1 - x)``

    (``phi``, ``Phi`` the standard normal density and distribution).  Along one axis a
    neighbour fires (the event is discarded) with probability ``P(E) = 2 s z(T / E)``, so
    among the accepted events (``(1 - P)^2``, both axes) the weight of ``D`` is
    ``w(D; E) = rho(D; E) (1 - P(E)) / (1 - P(E))^2`` and

    ``R(D; E) = [E_line phi(z(D / E_line)) / (E phi(z(D / E)))] (1 - P(E_line)) / (1 - P(E))``.

    The cloud's width (and its spread over interaction depths) cancels in the first factor
    as long as it does not depend on E; ``s`` (:func:`sharing_sigma_over_pitch`, from the
    flood's own tail) and ``T`` enter only the acceptance factor.  The scale falls with E:
    on the HEXITEC twin (s = 0.06, T = 3 keV) 0.98 at D = 0.4 keV and 0.96 at D = 2 keV for
    94 keV against a 59.54 keV line, as a 94 keV line through its detector model gives
    (0.99 and 0.94).  Above ``T`` the neighbour fires, so the measured weights already stop
    near ``D = T``.  E is floored at ``4 max(D)`` (f <= 1/4, where the model holds) so that
    low bins keep a tail below 1/2.

    ``"none"`` (default): ``R = 1``, the same deficit distribution in keV at every energy
    (a tail from incomplete charge collection).

    Measured on the HEXITEC twin (Li anode region, 2e5 photons, Am-241 flood of 2e5, 6 seeds,
    ``benchmarks/xcs_tail_energy_scaling.py``; the EMF against the resolution-broadened truth,
    EMF standard error about 1.1 %): with charge sharing as the only tail (no K fluorescence,
    no shielding lines) ``"none"`` +1.35 % (mean z +1.25), ``"charge_sharing"`` -0.12 % (-0.71
    to +0.74, mean z -0.11); with the full detector model +0.88 % and -0.59 %.  That
    difference was seed noise, not the fluorescence / shielding lines: at 1e6 photons and a
    2e6-photon flood (3 seeds each) "charge_sharing" gives -0.36 % (full), -0.56 % (sharing
    only), -0.19 % (no shielding lines), -0.08 % (no fluorescence), -0.30 +- 0.10 % over all
    12; a 93.87 keV line's own tail, fitted with this model's density in the segments, gives
    -0.02 % on the same seeds (flat segments -0.56 %): the rest is the carry of the deficits
    below about one FWHM, which the flood cannot resolve.  With flat fit segments the model predicted the
    tail at 93.9 keV from the flood as 0.256 on average, and a 93.9 keV line through the twin's
    detector fits 0.256.
    On a tail that is the same in keV at every energy (tests/outside/outside_xcs.py) it lowers
    the EMFs by 0.33-0.41 % and fails that check (chi2 26.7 of 9 z-scores), so the scaling is
    not assumed: YAML ``flood_tail_scaling: auto`` (the default) reads it from the flood's
    second line (:func:`choose_tail_scaling`), which picks "none" there and "charge_sharing" on
    the twin.

    Parameters
    ----------
    deficit_kev : (k,) array
        Deficits (keV); ``D = 0`` is the full-energy peak (R = 1).
    energy_kev : (n,) array
        Photon energies (keV).
    line_kev : float
        Energy of the line the tail was measured on (keV).
    scaling : {"none", "charge_sharing"}
    sigma_over_pitch : float
        ``s = sigma / p`` (0: no acceptance factor).
    threshold_kev : float
        Threshold ``T`` of the neighbouring pixels (keV).

    Returns
    -------
    (k, n) ndarray
    """
    if scaling not in TAIL_ENERGY_SCALINGS:
        raise ParameterError("energy_scaling", scaling, f"must be one of {TAIL_ENERGY_SCALINGS}")
    if not (np.isfinite(sigma_over_pitch) and 0.0 <= sigma_over_pitch < 0.25):
        raise ParameterError("sigma_over_pitch", sigma_over_pitch, "must be in [0, 0.25)")
    if not (np.isfinite(threshold_kev) and threshold_kev > 0):
        raise ParameterError("threshold_kev", threshold_kev, "must be > 0 keV")
    d = np.asarray(deficit_kev, float)[:, None]
    e = np.atleast_1d(np.asarray(energy_kev, float))[None, :]
    if scaling == "none" or d.size == 0:
        return np.ones((d.shape[0], e.shape[1]))
    floor = 4.0 * max(float(np.max(d)), 0.25 * threshold_kev)
    e0 = max(float(line_kev), floor)
    ee = np.maximum(e, floor)

    def g(en):
        _, ph = _z_phi(d / en)
        return en * ph

    def accepted(en):
        zt, _ = _z_phi(threshold_kev / en)
        return 1.0 - 2.0 * sigma_over_pitch * zt

    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        r = g(e0) / g(ee) * (accepted(e0) / accepted(ee))
    r = np.where(np.isfinite(r), r, 1.0)
    r[d[:, 0] <= 0] = 1.0
    return r


#: Smallest default deficit step (keV) of :func:`fit_line_response`: a fifth of a CdZnTe
#: pixel's ~1 keV FWHM, the same as the default 0.2 keV bins.
TAIL_MIN_STEP_KEV = 0.2

#: Largest standard error of the tail fraction for which :func:`fit_line_response` calls the
#: tail resolved.  A tail fraction t lowers the EMF of Li by about 0.8 t (a 0.25 tail: -20 %),
#: so 0.05 is a 4 % EMF error from the correction alone: beyond it the flood does not
#: measure the tail and the tail fraction is reported as NaN with the reason.
MAX_TAIL_FRACTION_UNC = 0.05

#: A fitted amplitude at its bound (0) whose score over its Fisher standard error is below
#: this counts as free in the error estimate of :func:`fit_line_response`.
WEAK_BOUND_SCORE = 2.0


def _tail_basis(d, step, fwhm_kev, density=None):
    """Map ``P`` (k, m + 1): grid weights ``w = P @ A`` from the amplitudes of the fit.

    Column 0 is the full-energy peak (``D = 0``); column 1 a tail density constant over the
    first FWHM of deficit ``0 < D <= D_1``; the others constant over segments of half a FWHM
    (each at least one ``step``) up to the longest deficit.  Deficits within one FWHM cannot
    be told from the peak's own width at a flood's counts (with a free weight on every 0.2 keV
    step the fitted tail of a true 0.12 tail read 0.106-0.446 over 12 seeds), so the tail's
    density there is taken as flat, or as ``density`` (k,) (a model's shape, e.g. sub-threshold
    charge sharing's) within each segment.
    """
    n1 = max(1, int(round(fwhm_kev / step)))
    ns = max(1, int(round(0.5 * fwhm_kev / step)))
    j = np.arange(1, d.size)
    seg = np.r_[0, np.where(j <= n1, 1, (j - n1 - 1) // ns + 2)]
    shape = np.ones(d.size) if density is None else np.asarray(density, float)
    p = np.zeros((d.size, int(seg.max()) + 1))
    for k in range(p.shape[1]):
        on = seg == k
        p[on, k] = shape[on] / shape[on].sum()
    return p


def _poisson_deviance_terms(y, lam):
    """Per-bin Poisson deviance ``2 (lambda - y + y ln(y / lambda))`` (>= 0; 0 ln 0 = 0)."""
    ylog = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / lam), 0.0)
    return np.maximum(2.0 * (lam - y + ylog), 0.0)


def fit_line_response(energy_kev, counts, line_kev: float, *, max_deficit_kev: float = 5.0,
                      step_kev: float | None = None, above_kev: float = 3.0,
                      energy_scaling: str = TAIL_ENERGY_SCALINGS[0],
                      threshold_kev: float = DEFAULT_SHARING_THRESHOLD_KEV) -> LineResponse:
    """Measure the low-energy tail of a monoenergetic line (e.g. Am-241, 59.54 keV).

    The counts ``y_i`` of the bins near the line are Poisson with mean

    ``lambda_i = sum_k A_k [G_i(c - D_k, sigma)] + b (E_i+ - E_i-)``

    where ``G_i(mu, sigma)`` is the fraction of a Gaussian in bin i, ``D_k = k step``
    (``0 <= D_k <= max_deficit_kev``) the deficits and ``A_k`` their counts (``A_0`` the
    full-energy peak), ``b`` a flat continuum (counts per keV).  The tail's ``A_k`` are
    constant over segments (:func:`_tail_basis`): over the first FWHM of deficit, then over
    half FWHMs.  All parameters (segment amplitudes >= 0, ``b >= 0``, centre ``c`` within
    +-0.15 FWHM and ``sigma`` within 0.5-1.5 times the tail-free upper half of the peak's)
    maximise the Poisson likelihood (deviance residuals ``sign(lambda - y) sqrt(2 (lambda - y
    + y ln(y / lambda)))``, bounded trust-region least squares).  Standard errors come from
    the Fisher information ``J^T diag(y / lambda^2) J`` of the parameters not at a bound;
    the tail fraction's by the delta method.  Process the flood exactly as the measurement
    (same calibration and charge-sharing discrimination).

    Measured on Poisson floods of a 0.12 tail spread evenly over 0.2-3.0 keV (FWHM 0.8 keV,
    3e5 counts, 20 seeds, ``benchmarks/flood_tail_seeds.py``): 0.118 +- 0.005 (reported
    0.0044), pulls of width 1.2; the former least-squares fit with a free weight per step
    gave 0.106-0.446.  The errors are statistical, within the model: the flat density
    below one FWHM is an assumption.  Measured over 12 seeds, a 0.12 tail whose density
    falls linearly to zero at 3 keV reads 0.111 (-2 sigma), one falling exponentially (1 keV)
    0.098 (-5 sigma): counts at deficits below the resolution are taken as peak width.  They
    shift a Compton spectrum by less than the resolution, so the EMF hardly notices (on the
    twin, floods whose fitted tails differed by 0.11 gave EMFs within 1.3 %).

    Parameters
    ----------
    energy_kev : (n,) or (n + 1,) ndarray
        Bin centres or edges (keV) of a calibrated spectrum.
    counts : (n,) ndarray
        Counts per bin (e.g. the summed flood of the good pixels).
    line_kev : float
        Energy of the line (keV), e.g. :data:`ssbscope.compton.AM241_KEV`.
    max_deficit_kev : float
        Longest deficit fitted (keV); beyond it the line's counts are taken as continuum.
    step_kev : float, optional
        Deficit step (keV); default the bin width, at least :data:`TAIL_MIN_STEP_KEV`.
    above_kev : float
        Fit range above the line (keV).
    energy_scaling : {"none", "charge_sharing"}
        How :func:`tail_matrix` carries the tail to other energies (:func:`tail_energy_scale`):
        unchanged in keV (default) or by the sub-threshold charge-sharing model; with the
        latter the tail's density within each segment follows the model's
        ``1 / phi(z(D / E))`` instead of being flat (it rises towards D = 0, where the flat
        first segment under-read the twin's tail), and ``sigma_over_pitch`` is estimated
        (:func:`sharing_sigma_over_pitch`).
    threshold_kev : float
        Threshold of the neighbouring pixels (keV) for the charge-sharing scaling.

    Returns
    -------
    LineResponse
        With ``tail_fraction_unc``, ``centre_unc_kev``, ``fwhm_unc_kev`` (standard errors).
        When the tail fraction's error exceeds :data:`MAX_TAIL_FRACTION_UNC` (or the Fisher
        information is singular), ``tail_resolved`` is False, ``tail_fraction`` NaN and
        ``reason`` says why; :func:`tail_matrix` refuses such a response.

    Raises
    ------
    EmptyResultError
        Too few counts near the line.
    DataQualityError
        No full-energy peak, or more than half of the line's counts in the tail.
    """
    from scipy.optimize import curve_fit, least_squares
    from scipy.special import ndtr

    c = _counts_2d(counts)
    if c.ndim != 1:
        raise InputError(f"counts: must be 1-D, got shape {c.shape}")
    edges = _edges_from(energy_kev, c.size)
    if not (np.isfinite(line_kev) and line_kev > 0):
        raise ParameterError("line_kev", line_kev, "must be > 0 keV")
    if energy_scaling not in TAIL_ENERGY_SCALINGS:
        raise ParameterError("energy_scaling", energy_scaling, f"must be one of {TAIL_ENERGY_SCALINGS}")
    if not (np.isfinite(threshold_kev) and threshold_kev > 0):
        raise ParameterError("threshold_kev", threshold_kev, "must be > 0 keV")
    if not max_deficit_kev > 0 or not above_kev > 0:
        raise ParameterError("max_deficit_kev/above_kev", (max_deficit_kev, above_kev), "must be > 0")
    width = float(np.median(np.diff(edges)))
    step = max(width, TAIL_MIN_STEP_KEV) if step_kev is None else float(step_kev)
    if not step > 0:
        raise ParameterError("step_kev", step_kev, "must be > 0 keV")
    a, b, y, lo_e, hi_e = _line_window(edges, c, line_kev, max_deficit_kev, above_kev)
    if y.sum() < 100 or y.max() < 20:
        raise EmptyResultError(f"counts: only {y.sum():g} counts within {lo_e:.1f}-{hi_e:.1f} keV; "
                               f"the {line_kev} keV line is too weak to measure its shape")
    d = np.arange(0.0, max_deficit_kev + 1e-9, step)
    dw = b - a
    x = 0.5 * (a + b)

    # centre and width first from the tail-free upper side of the peak (maximum and above)
    imax = int(np.argmax(y))
    half = y >= 0.5 * y[imax]
    fw = max(float(b[half].max() - a[half].min()), 2 * width)
    up = (x >= x[imax] - 0.5 * width) & (x <= x[imax] + 1.5 * fw)

    def gauss(xx, amp, mu, sig, bg):
        return amp * np.exp(-0.5 * ((xx - mu) / sig) ** 2) + bg

    try:
        p, _ = curve_fit(gauss, x[up], y[up], p0=[y[imax], x[imax], fw / 2.3548, 0.0],
                         sigma=np.sqrt(np.maximum(y[up], 1.0)), maxfev=4000)
        c0, s0 = float(p[1]), abs(float(p[2]))
        if not (abs(c0 - x[imax]) < fw and 0.2 * fw < 2.3548 * s0 < 3 * fw):
            raise ValueError("implausible")
    except (RuntimeError, ValueError):
        c0, s0 = float(x[imax]), fw / 2.3548
    dens = None
    if energy_scaling == "charge_sharing":  # the model's density 1 / (E phi(z(D / E))) within segments
        dens = 1.0 / _z_phi(np.maximum(d, 1e-9) / float(line_kev))[1]
    basis = _tail_basis(d, step, 2.3548200450309493 * s0, dens)
    m = basis.shape[1]
    n_tot = float(y.sum())
    span = hi_e - lo_e

    # parameters th = (A_0..A_{m-1} / n_tot, b span / n_tot, c, ln sigma): all O(1)
    def model(th):
        amp, bkg, cen, sig = th[:m] * n_tot, th[m] * n_tot / span, th[m + 1], float(np.exp(th[m + 2]))
        mu = cen - d
        zb = (b[:, None] - mu[None, :]) / sig
        za = (a[:, None] - mu[None, :]) / sig
        pb, pa = np.exp(-0.5 * zb * zb), np.exp(-0.5 * za * za)
        g = (ndtr(zb) - ndtr(za)) @ basis
        gc = (-(pb - pa) / (sig * np.sqrt(2 * np.pi))) @ basis  # d G / d c
        gs = (-(pb * zb - pa * za) / np.sqrt(2 * np.pi)) @ basis  # d G / d ln sigma
        lam = g @ amp + bkg * dw
        jac = np.hstack([g * n_tot, (dw * n_tot / span)[:, None], (gc @ amp)[:, None], (gs @ amp)[:, None]])
        return np.maximum(lam, 1e-300), jac

    def deviance_terms(lam):
        return _poisson_deviance_terms(y, lam)

    def resid(th):
        lam, _ = model(th)
        return np.sign(lam - y) * np.sqrt(deviance_terms(lam))

    def resid_jac(th):
        lam, jac = model(th)
        r = np.sign(lam - y) * np.sqrt(deviance_terms(lam))
        near = np.abs(lam - y) <= 1e-6 * np.maximum(lam, 1.0)
        dr = np.where(near, 1.0 / np.sqrt(lam), (1.0 - y / lam) / np.where(r == 0, 1.0, r))
        return jac * dr[:, None]

    # initial values from the data: continuum from the bins below the longest deficit,
    # the peak's counts within +-1 FWHM of its centre, the rest of the line as tail
    dc = 0.15 * 2.3548 * s0
    below = x < line_kev - max_deficit_kev - 0.5
    b0 = float(y[below].sum() / dw[below].sum()) if below.any() else 0.0
    line_counts = max(n_tot - b0 * span, 1.0)
    pk = float(np.clip((y[np.abs(x - c0) <= 2.3548 * s0].sum() - b0 * 4.71 * s0) / 0.98, 0.5 * line_counts,
                       line_counts))
    th0 = np.r_[pk / n_tot, np.full(m - 1, max(line_counts - pk, 0.01 * line_counts) / (m - 1) / n_tot),
                max(b0, 1e-3 * n_tot / span) * span / n_tot, c0, np.log(s0)]
    lo = np.r_[np.zeros(m + 1), c0 - dc, np.log(0.5 * s0)]
    hi = np.r_[np.full(m + 1, np.inf), c0 + dc, np.log(1.5 * s0)]
    th0 = np.clip(th0, lo + 1e-9, hi - 1e-9)
    fit = least_squares(resid, th0, jac=resid_jac, bounds=(lo, hi), method="trf", x_scale="jac",
                        xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=500)
    th = fit.x
    amp, bkg = th[:m] * n_tot, float(th[m] * n_tot / span)
    if amp.sum() <= 0 or amp[0] <= 0:
        raise DataQualityError(f"counts: no full-energy peak fitted at the {line_kev} keV line")
    wk = basis @ amp
    wk = wk / wk.sum()
    tail = float(1.0 - wk[0])
    if wk[0] <= 0.5:
        raise DataQualityError(
            f"counts: the {line_kev} keV line has {100 * tail:.0f} % of its counts in the "
            "low-energy tail (more than half); the tail cannot be removed stably - check the "
            "calibration and the charge-sharing discrimination of the flood")

    # standard errors: Fisher information of the free parameters (those not at a bound)
    lam, jac = model(th)
    info = jac.T @ (jac * (y / lam ** 2)[:, None])
    free = fit.active_mask == 0
    # a bound held weakly (NLL rises by < 2 per standard error of the bound parameter freed,
    # Schur complement over the free ones) is counted as free: at a flood's counts the first
    # tail segment, traded with the peak's width, can sit at 0 with a large error
    score = jac.T @ (1.0 - y / lam)  # gradient of the negative log-likelihood
    for k in np.flatnonzero(~free):
        try:
            schur = info[k, k] - info[k, free] @ np.linalg.solve(info[np.ix_(free, free)], info[free, k])
        except np.linalg.LinAlgError:
            break
        if schur > 0 and score[k] / np.sqrt(schur) < WEAK_BOUND_SCORE:
            free[k] = True
    cov = np.full(info.shape, np.nan)
    reason = None
    try:
        sub = info[np.ix_(free, free)]
        if not np.all(np.isfinite(sub)) or np.linalg.cond(sub) > 1e14:
            raise np.linalg.LinAlgError("ill-conditioned")
        cov[np.ix_(free, free)] = np.linalg.inv(sub)
        cov[~free, :] = 0.0
        cov[:, ~free] = 0.0
    except np.linalg.LinAlgError:
        reason = "the Fisher information of the line's fit is singular"
    grad = np.r_[-(amp[1:].sum()), np.full(m - 1, amp[0])] / amp.sum() ** 2 * n_tot  # d tail / d th_A
    var = float(grad @ cov[:m, :m] @ grad)
    jw = (basis - wk[:, None]) * (n_tot / amp.sum())  # d weights / d th_A, (k, m)
    wcov = jw @ cov[:m, :m] @ jw.T if np.all(np.isfinite(cov[:m, :m])) else None
    tail_unc = float(np.sqrt(var)) if np.isfinite(var) and var >= 0 else float("nan")
    cen_unc = float(np.sqrt(cov[m + 1, m + 1])) if np.isfinite(cov[m + 1, m + 1]) else float("nan")
    fwhm = float(2.3548200450309493 * np.exp(th[m + 2]))
    fwhm_unc = float(fwhm * np.sqrt(cov[m + 2, m + 2])) if np.isfinite(cov[m + 2, m + 2]) else float("nan")
    if reason is None and not (tail_unc <= MAX_TAIL_FRACTION_UNC):
        reason = (f"the tail fraction's standard error {tail_unc:.3f} exceeds {MAX_TAIL_FRACTION_UNC} "
                  f"at {n_tot:g} counts; a flood with more counts measures it")
    if reason is not None:
        log.warning("fit_line_response: tail not resolved: %s", reason)
    s_over_p = 0.0
    if energy_scaling == "charge_sharing" and reason is None:
        s_over_p = min(sharing_sigma_over_pitch(d, wk, float(line_kev), fwhm, threshold_kev), 0.2)
    return LineResponse(deficit_kev=d, weights=wk, line_kev=float(line_kev), centre_kev=float(th[m + 1]),
                        fwhm_kev=fwhm, tail_fraction=tail if reason is None else float("nan"),
                        background_per_kev=bkg, n_counts=n_tot, tail_fraction_unc=tail_unc,
                        centre_unc_kev=cen_unc, fwhm_unc_kev=fwhm_unc, tail_resolved=reason is None,
                        reason=reason, weights_cov=wcov, energy_scaling=energy_scaling,
                        sigma_over_pitch=s_over_p, threshold_kev=float(threshold_kev))


#: Am-241's second gamma line (keV, 2.3 % of decays against 35.9 % at 59.54 keV), where
#: ``flood_tail_scaling: auto`` (:func:`choose_tail_scaling`) tests the tail's energy scaling.
AM241_SECOND_KEV = 26.3446

#: Deviance difference (``2 ln`` of the likelihood ratio; the two scalings have the same free
#: parameters) at the second flood line from which :func:`choose_tail_scaling` takes the
#: better scaling: 6, a likelihood ratio of 20 : 1, where "strong" evidence begins on the scale
#: of Kass & Raftery, J. Am. Stat. Assoc. 90, 773 (1995), doi:10.1080/01621459.1995.10476572.
TAIL_SCALING_DEVIANCE_THRESHOLD = 6.0


#: Lines of a CdTe / CdZnTe sensor's own K shell near Am-241's 26.34 keV line (keV, relative
#: emission within a group; Thompson et al., X-ray Data Booklet, LBNL 2009): Np L-gamma1 of the
#: Am-241 source, Cd K-alpha, Cd K-beta, Te K-alpha, and the escape peak of Te K-beta from the
#: 59.54 keV line.  Each group
#: has its own amplitude (>= 0; 0 on a sensor without them) in :func:`_fixed_tail_fit`.
CDTE_K_GROUPS_KEV = (((20.784, 1.0),), ((22.984, 0.53), (23.174, 1.0)), ((26.095, 1.0),),
                     ((27.202, 0.54), (27.472, 1.0)), ((59.5409 - 30.995, 1.0),))


def _line_window(edges, c, line_kev, max_deficit_kev, above_kev):
    """Bins of a spectrum from ``max_deficit_kev`` + 2 keV below a line to ``above_kev`` above
    it: lower edges, upper edges and counts of those bins, and the window's bounds (keV).
    Raises :class:`InputError` when the spectrum does not cover the window or holds < 10 of
    its bins."""
    lo_e, hi_e = line_kev - max_deficit_kev - 2.0, line_kev + above_kev
    sel = (edges[:-1] >= lo_e) & (edges[1:] <= hi_e)
    if sel.sum() < 10 or edges[0] > lo_e or edges[-1] < hi_e:
        raise InputError(f"energy_kev: spectrum {edges[0]:.1f}-{edges[-1]:.1f} keV does not cover "
                         f"{lo_e:.1f}-{hi_e:.1f} keV around the {line_kev} keV line")
    return edges[:-1][sel], edges[1:][sel], c[sel], lo_e, hi_e


def _fixed_tail_fit(energy_kev, counts, line_kev, response, *, groups=(), max_deficit_kev=5.0,
                    above_kev=3.0, without_line=False):
    """Poisson deviance of a line whose tail is fixed: (deviance, fitted dict).

    ``lambda_i = sum_g A_g sum_(l in g) r_l sum_k W_k(E_l) G_i(c + E_l - E_0 - D_k, sigma)
    + b (E_i+ - E_i-)`` over the bins of ``E_0 - max_deficit_kev - 2`` to ``E_0 + above_kev``
    (``E_0 = line_kev``, its own group first), with ``W(E_l)`` the deficit weights of
    ``response`` carried to each line's energy (:meth:`LineResponse.weights_at`, fixed).  Free:
    ``A_g >= 0`` (``groups``: ((energy keV, relative weight), ...) per group), ``b >= 0``, the
    centre ``c`` within +-0.15 FWHM and ``sigma`` within 0.5-1.5 times the half-maximum width
    of the peak near ``E_0``.  Minimised as in :func:`fit_line_response`.  ``without_line``:
    the same fit with ``A_0 = 0`` (is the line there?).
    """
    from scipy.optimize import least_squares
    from scipy.special import ndtr

    c = _counts_2d(counts)
    edges = _edges_from(energy_kev, c.size)
    a, b, y, lo_e, hi_e = _line_window(edges, c, line_kev, max_deficit_kev, above_kev)
    dw, x = b - a, 0.5 * (a + b)
    n_tot = float(y.sum())
    if n_tot < 100 or y.max() < 20:
        raise EmptyResultError(f"counts: only {n_tot:g} counts near the {line_kev} keV line")
    d = np.asarray(response.deficit_kev, float)
    grp = [((float(line_kev), 1.0),)][int(bool(without_line)):] + [
        g for g in groups if any(lo_e - 1.0 < e_l < hi_e + 1.0 for e_l, _ in g)]
    if not grp:
        raise InputError(f"groups: no line within {lo_e:.1f}-{hi_e:.1f} keV to fit")
    e_l = np.array([e for g in grp for e, _ in g])
    r_l = np.array([r / sum(rr for _, rr in g) for g in grp for _, r in g])
    g_of = np.array([j for j, g in enumerate(grp) for _ in g])
    w_l = response.weights_at(e_l)  # (k, lines)
    ng = len(grp)
    near = np.abs(x - line_kev) <= 1.5
    imax = int(np.flatnonzero(near)[np.argmax(y[near])]) if near.any() else int(np.argmax(y))
    half = near & (y >= 0.5 * y[imax])
    fw = max(float(b[half].max() - a[half].min()) if half.any() else 0.0, 2 * float(np.median(dw)))
    s0, c0 = min(fw, 2.0) / 2.3548, float(x[imax])
    below = x < line_kev - max_deficit_kev - 0.5
    b0 = float(y[below].sum() / dw[below].sum()) if below.any() else 0.0
    span = hi_e - lo_e

    def lam_of(th):
        amp, bkg, cen, sig = th[:ng] * n_tot, th[ng] * n_tot / span, th[ng + 1], float(np.exp(th[ng + 2]))
        lam = bkg * dw
        for j in range(e_l.size):
            mu = cen + (e_l[j] - line_kev) - d
            g = (ndtr((b[:, None] - mu[None, :]) / sig) - ndtr((a[:, None] - mu[None, :]) / sig)) @ w_l[:, j]
            lam = lam + amp[g_of[j]] * r_l[j] * g
        return np.maximum(lam, 1e-300)

    def resid(th):
        lam = lam_of(th)
        return np.sign(lam - y) * np.sqrt(_poisson_deviance_terms(y, lam))

    dc = 0.15 * 2.3548 * s0
    line0 = max(n_tot - b0 * span, 1.0) / n_tot
    th0 = np.r_[line0, np.full(ng - 1, 0.05 * line0), max(b0, 1e-3 * n_tot / span) * span / n_tot, c0, np.log(s0)]
    lo = np.r_[np.zeros(ng + 1), c0 - dc, np.log(0.5 * s0)]
    hi = np.r_[np.full(ng + 1, np.inf), c0 + dc, np.log(1.5 * s0)]
    th0 = np.clip(th0, lo + 1e-9, hi - 1e-9)
    fit = least_squares(resid, th0, bounds=(lo, hi), method="trf", x_scale="jac", xtol=1e-10, ftol=1e-10,
                        gtol=1e-10, max_nfev=400)
    dev = float(_poisson_deviance_terms(y, lam_of(fit.x)).sum())
    return dev, {"centre_kev": float(fit.x[ng + 1]), "fwhm_kev": float(2.3548200450309493 * np.exp(fit.x[ng + 2])),
                 "line_counts": float(fit.x[0] * n_tot), "n_bins": int(y.size), "n_counts": n_tot,
                 "n_params": int(ng + 3)}


#: Outcomes of :func:`choose_tail_scaling` (``status``).
TAIL_SCALING_STATUSES = ("chosen", "inconclusive", "single line")

#: Deviance gain (``2 ln`` of the likelihood ratio) a second line must give over the same
#: fit without it for :func:`choose_tail_scaling` to count it as present: 25 (5 sigma).
SECOND_LINE_MIN_DEVIANCE = 25.0


@dataclass(frozen=True)
class TailScalingChoice:
    """The tail's energy scaling chosen from a flood's two lines (:func:`choose_tail_scaling`).

    Attributes
    ----------
    scaling : {"none", "charge_sharing"}
        The scaling to use.
    status : {"chosen", "inconclusive", "single line"}
        ``"chosen"``: the second line prefers ``scaling`` by at least ``threshold``;
        otherwise the fallback ``"none"`` (the tail's deficits in keV the same at every energy).
    reason : str
        One line: the deviances, the rule and the outcome (stored as an attribute).
    line_kev, second_line_kev : float
        The flood's line the tail is measured on, the line the scaling is tested on (keV).
    deviance : dict
        Poisson deviance of the second line's region with the tail carried by each scaling.
    delta_deviance : float
        ``deviance["none"] - deviance["charge_sharing"]`` (``2 ln`` of the likelihood ratio;
        > 0 favours charge sharing); NaN without a second line.
    second_line_deviance : float
        Deviance gain of the second line over the same fit without it (NaN when not fitted).
    threshold : float
        The decision's threshold on ``|delta_deviance|``.
    response : LineResponse or None
        The line's tail fitted with ``scaling`` (:func:`fit_line_response`), ready for
        :func:`tail_matrix`.
    """

    scaling: str
    status: str
    reason: str
    line_kev: float
    second_line_kev: float
    deviance: dict = field(default_factory=dict)
    delta_deviance: float = float("nan")
    second_line_deviance: float = float("nan")
    threshold: float = TAIL_SCALING_DEVIANCE_THRESHOLD
    response: LineResponse | None = field(default=None, repr=False)

    def attrs(self) -> dict:
        """The choice as store attributes (``flood_tail_scaling_*``)."""
        return {"flood_tail_scaling_requested": "auto", "flood_tail_scaling_status": self.status,
                "flood_tail_scaling_reason": self.reason,
                "flood_tail_scaling_second_line_kev": float(self.second_line_kev),
                "flood_tail_scaling_delta_deviance": float(self.delta_deviance),
                "flood_tail_scaling_threshold": float(self.threshold)}


def choose_tail_scaling(energy_kev, counts, line_kev: float, *, second_line_kev: float | None = None,
                        threshold: float = TAIL_SCALING_DEVIANCE_THRESHOLD,
                        threshold_kev: float = DEFAULT_SHARING_THRESHOLD_KEV) -> TailScalingChoice:
    """Choose the tail's energy scaling (:func:`tail_energy_scale`) from a flood's two lines.

    The tail is measured on ``line_kev`` (:func:`fit_line_response`) once per scaling, carried
    by that scaling to the flood's second line (Am-241: 26.34 keV) and to the sensor's own K
    lines near it (:data:`CDTE_K_GROUPS_KEV`, amplitudes free, 0 when absent), and the region
    of the second line is fitted with that fixed tail (:func:`_fixed_tail_fit`: free
    amplitudes, background, centre and width, the same parameters for both scalings).  The
    difference of the Poisson deviances

    ``Delta = D_none - D_charge_sharing = 2 ln (L_charge_sharing / L_none)``

    decides: ``|Delta| >= threshold`` (default :data:`TAIL_SCALING_DEVIANCE_THRESHOLD`, 6: a
    likelihood ratio of 20 : 1) takes the better scaling (status ``"chosen"``); below it the
    data do not tell the two apart and the fallback ``"none"`` is used (``"inconclusive"``), so
    charge sharing is used only when the flood favours it by 20 : 1.  Without a second line (not given, outside
    the spectrum, its fit failing, or its peak adding less than
    :data:`SECOND_LINE_MIN_DEVIANCE` to the fit) the fallback is ``"none"`` too (``"single
    line"``).  Either fallback logs a warning; ``reason`` says which.

    Measured: floods of the outside check's writer (tests/outside/outside_xcs.py: 300 000
    photons, 10 % at 26.34 keV, a 0.12 tail the same in keV at every energy), 20 seeds: Delta
    -11.3 +- 6.7 (-25.0 to +1.0), 14 "chosen" none, 6 inconclusive (none), never charge
    sharing.  The HEXITEC twin's detector (full model, ``ssbscope.twin.xcs``: a 0.27-0.29
    tail of sub-threshold charge sharing), Am-241 with its 26.34 keV line at its 6.3 %
    emission ratio, 500 000 photons, 8 seeds: +41 +- 14 (+24 to +59), all charge sharing;
    100 000 photons: -3 to +9 over 4 seeds, mostly inconclusive (a weak flood falls back).

    Parameters
    ----------
    energy_kev : (n,) or (n + 1,) ndarray
        Bin centres or edges (keV) of the calibrated flood spectrum.
    counts : (n,) ndarray
        Flood counts per bin.
    line_kev : float
        The line the tail is measured on (keV).
    second_line_kev : float, optional
        The second line (keV); default :data:`AM241_SECOND_KEV` when ``line_kev`` is Am-241's
        59.54 keV line, else none.
    threshold : float
        Decision threshold on ``|Delta|``.
    threshold_kev : float
        Neighbour threshold of the charge-sharing scaling (keV).

    Returns
    -------
    TailScalingChoice

    Raises
    ------
    As :func:`fit_line_response` on ``line_kev`` (the tail cannot be measured at all).
    """
    if not (np.isfinite(threshold) and threshold >= 0):
        raise ParameterError("threshold", threshold, "must be >= 0")
    if second_line_kev is None and abs(float(line_kev) - 59.5409) < 0.5:
        second_line_kev = AM241_SECOND_KEV
    resp = {s: fit_line_response(energy_kev, counts, line_kev, energy_scaling=s, threshold_kev=threshold_kev)
            for s in TAIL_ENERGY_SCALINGS}

    def fallback(status, why, dev=None, delta=float("nan"), line_dev=float("nan")):
        msg = f"{why}; flood_tail_scaling auto falls back to 'none' (deficits in keV the same at every energy)"
        log.warning("choose_tail_scaling: %s", msg)
        return TailScalingChoice("none", status, msg, float(line_kev),
                                 float("nan") if second_line_kev is None else float(second_line_kev),
                                 dev or {}, delta, line_dev, float(threshold), resp["none"])

    if second_line_kev is None:
        return fallback("single line", f"no second line known for a flood line at {line_kev:g} keV")
    if not all(r.tail_resolved for r in resp.values()):
        return fallback("single line", f"the tail of the {line_kev:g} keV line is not resolved")
    dev = {}
    try:
        for s, r in resp.items():
            dev[s], _ = _fixed_tail_fit(energy_kev, counts, float(second_line_kev), r, groups=CDTE_K_GROUPS_KEV)
        d0, _ = _fixed_tail_fit(energy_kev, counts, float(second_line_kev), resp["none"],
                                groups=CDTE_K_GROUPS_KEV, without_line=True)
    except (InputError, EmptyResultError) as err:
        return fallback("single line", f"no second line at {second_line_kev:g} keV ({err})")
    line_dev = float(d0 - dev["none"])
    if not line_dev >= SECOND_LINE_MIN_DEVIANCE:
        return fallback("single line", f"the {second_line_kev:g} keV line lowers the deviance by only "
                        f"{line_dev:.1f} (< {SECOND_LINE_MIN_DEVIANCE:g}): not resolved", dev, float("nan"), line_dev)
    delta = float(dev["none"] - dev["charge_sharing"])
    rule = (f"deviance at the {second_line_kev:g} keV line with the {line_kev:g} keV tail carried: none "
            f"{dev['none']:.1f}, charge_sharing {dev['charge_sharing']:.1f}, Delta {delta:+.1f} (threshold "
            f"{threshold:g})")
    if abs(delta) < threshold:
        return fallback("inconclusive", rule + ": inconclusive", dev, delta, line_dev)
    pick = "charge_sharing" if delta > 0 else "none"
    return TailScalingChoice(pick, "chosen", f"{rule}: {pick}", float(line_kev), float(second_line_kev), dev,
                             delta, line_dev, float(threshold), resp[pick])


def weight_perturbations(response: LineResponse | None, *, rel_floor: float = 1e-6) -> list:
    """Pairs of responses ``(w - d_j, w + d_j)`` along the eigen-directions of ``weights_cov``.

    ``weights_cov = sum_j d_j d_j^T`` with ``d_j = sqrt(lambda_j) u_j`` (eigenvalues below
    ``rel_floor`` times the largest dropped).  For any quantity ``q`` of the corrected spectrum
    (an EMF), linear error propagation of the flood's fit gives

    ``sigma_q^2 = g^T weights_cov g = sum_j ((q(w + d_j) - q(w - d_j)) / 2)^2``

    with ``g = dq/dw`` (central differences, exact for ``q`` linear in ``w``).  The deficits
    the fit cannot tell from the peak's width carry most of ``tail_fraction_unc`` but move a
    Compton spectrum by less than its resolution: this propagates that, where scaling the
    whole tail by ``tail_fraction_unc`` would not.

    Parameters
    ----------
    response : LineResponse or None
        From :func:`fit_line_response`.

    Returns
    -------
    list of (LineResponse, LineResponse)
        Empty without a resolved response with a finite covariance.
    """
    from dataclasses import replace

    if response is None or not response.tail_resolved or response.weights_cov is None:
        return []
    cov = np.asarray(response.weights_cov, float)
    if not np.all(np.isfinite(cov)):
        return []
    lam, u = np.linalg.eigh(0.5 * (cov + cov.T))
    if not lam.size or lam.max() <= 0:
        return []
    keep = lam > rel_floor * lam.max()
    w = np.asarray(response.weights, float)
    out = []
    for lj, uj in zip(lam[keep], u[:, keep].T):
        dj = np.sqrt(lj) * uj
        out.append(tuple(replace(response, weights=w + sgn * dj, tail_fraction=float(1.0 - w[0] - sgn * dj[0]),
                                 weights_cov=None) for sgn in (-1.0, 1.0)))
    return out


def tail_matrix(edges_kev, response: LineResponse) -> np.ndarray:
    """Matrix ``T`` of the low-energy tail: ``recorded = T @ incident`` (counts per bin).

    ``T[i, j]`` is the probability that a photon of bin j is recorded in bin i: bin j
    shifted down by each deficit ``D_k`` of ``response``, shared by overlap, with the
    weights at bin j's energy (:meth:`LineResponse.weights_at`, the response's
    ``energy_scaling``).  ``T`` is upper
    triangular with ``weights[0]`` (the full-energy fraction) near its diagonal, so
    ``solve(T, recorded)`` removes the tail stably (a convergent Neumann series while the
    tail fraction is below 1/2).

    Parameters
    ----------
    edges_kev : (n + 1,) ndarray
        Bin edges (keV), increasing.
    response : LineResponse
        From :func:`fit_line_response`.

    Returns
    -------
    (n, n) ndarray
    """
    edges = np.asarray(edges_kev, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise InputError("edges_kev: need increasing 1-D bin edges (keV)")
    if not isinstance(response, LineResponse):
        raise ParameterError("response", type(response).__name__, "must be a LineResponse",
                             "measure it with fit_line_response on a calibration flood")
    if not response.tail_resolved:
        raise DataQualityError(f"response: the flood's tail is not resolved ({response.reason}); "
                               "measure a flood with more counts or correct without a response")
    a, b = edges[:-1], edges[1:]
    wj = b - a
    wk = response.weights_at(0.5 * (a + b))  # (k, n): the deficit weights of each incident bin
    t = np.zeros((a.size, a.size))
    for dk, pk in zip(response.deficit_kev, wk):
        if not np.any(pk):  # (a perturbed weight may be < 0: T stays linear in the weights)
            continue
        lo = a - dk
        hi = b - dk
        ov = np.clip(np.minimum(b[:, None], hi[None, :]) - np.maximum(a[:, None], lo[None, :]), 0.0, None)
        t += ov * (pk / wj)[None, :]
    return t


def detector_efficiency(energy_kev, *, thickness_mm: float = 2.0, material="CdZnTe"):
    """Interaction probability of a planar sensor: ``1 - exp(-mu(E) t)`` (xraylib mu).

    The HEXITEC sensor of 000_290f30815ae66793 is 2 mm CdZnTe: 0.92 at 90 keV, 0.85 at
    100 keV, so the efficiency falls by 7 % across the EMF windows and tilts the Compton
    profile towards low energies unless divided out (a nearly linear tilt: it changes the
    EMF of symmetric windows by < 0.5 %).

    Parameters
    ----------
    energy_kev : float or ndarray
        Photon energies (keV).
    thickness_mm : float
        Sensor thickness (mm).
    material : str or Material
        Sensor material (name of :mod:`ssbscope.materials`).
    """
    from ssbscope import materials

    if not thickness_mm > 0:
        raise ParameterError("thickness_mm", thickness_mm, "must be > 0 mm")
    mat = material if isinstance(material, materials.Material) else materials.get(str(material))
    e = np.asarray(energy_kev, dtype=float)
    mu = np.asarray(mat.linear_attenuation_1_cm(np.maximum(e, 1.0)), float)
    return 1.0 - np.exp(-mu * thickness_mm * 0.1)


def _mixture_mu_1_cm(material, e):
    from ssbscope import materials

    if isinstance(material, (tuple, list)) and material and isinstance(material[0], (tuple, list)):
        return sum(float(f) * _mixture_mu_1_cm(m, e) for m, f in material if float(f) > 0)
    mat = material if isinstance(material, materials.Material) else materials.get(str(material))
    if mat.density_g_cm3 <= 0:
        return np.zeros_like(e)
    return np.asarray(mat.linear_attenuation_1_cm(e), float)


def transmittance(energy_kev, layers):
    """Transmittance ``t = exp(-sum_l mu_l(E) d_l)`` of stacked layers (t1, t2 of Eq. 1 of 000_...).

    Parameters
    ----------
    energy_kev : float or ndarray
        Photon energies (keV).
    layers : sequence of (material, thickness_mm)
        ``material`` a name or :class:`~ssbscope.materials.Material`, or a mixture given as a
        sequence of (Material, volume fraction).

    Returns
    -------
    float or ndarray
        Same shape as ``energy_kev``.
    """
    e = np.maximum(np.asarray(energy_kev, dtype=float), 1.0)
    tau = np.zeros_like(e)
    for item in layers:
        try:
            mat, thick = item
        except (TypeError, ValueError):
            raise ParameterError("layers", item, "each entry must be (material, thickness_mm)") from None
        if not float(thick) >= 0:
            raise ParameterError("layers", item, "thickness_mm must be >= 0")
        tau = tau + _mixture_mu_1_cm(mat, e) * float(thick) * 0.1
    out = np.exp(-tau)
    return out if out.ndim else float(out)


def _factor_on_bins(name, value, e, needed):
    """An energy-dependent factor (callable, scalar or per-bin array) on the bin centres.

    Bins outside ``needed`` where the factor is not positive (e.g. a transmittance that
    underflows at a few keV) get an infinite divisor: their counts are dropped.
    """
    f = value(e) if callable(value) else value
    f = np.array(np.broadcast_to(np.asarray(f, dtype=float), e.shape))
    bad = ~np.isfinite(f) | (f <= 1e-12)
    if np.any(bad & needed):
        raise ParameterError(name, "values", "must be finite and > 0 on every bin of the p_z windows",
                             f"give a callable of energy (keV) or one value per bin ({e.size})")
    f[bad] = np.inf
    return f


def _correction_matrix(edges, response, efficiency, transmittance_, needed=None):
    """``C`` with corrected counts = C @ counts: tail removal, then division by eff x t2."""
    e = 0.5 * (edges[1:] + edges[:-1])
    n = e.size
    if needed is None:
        needed = np.ones(n, bool)
    c = None
    if response is not None:
        from scipy.linalg import solve_triangular

        t = tail_matrix(edges, response)
        if np.any(np.diag(t) <= 0):
            raise ParameterError("response", "weights", "give no full-energy weight on some bins")
        c = solve_triangular(t, np.eye(n), lower=False)
    scale = np.ones(n)
    if efficiency is not None:
        scale = scale * _factor_on_bins("efficiency", efficiency, e, needed)
    if transmittance_ is not None:
        scale = scale * _factor_on_bins("transmittance", transmittance_, e, needed)
    if c is None and np.all(scale == 1.0):
        return None
    if c is None:
        return np.diag(1.0 / scale)
    return c / scale[:, None]


def perturbed_coefficients(edges_kev, coeffs, pairs, efficiency=None, needed=None) -> list:
    """Window coefficients through the correction of each perturbed response of ``pairs``.

    With the windows' coefficients ``coeffs`` (k, n) of the uncorrected counts (no background
    subtraction: then ``E = coeffs . (C counts)``), the corrected ones are
    ``coeffs @ C = (T^-T coeffs^T)^T / f`` for ``C = diag(1/f) T^-1`` (:func:`tail_matrix`
    ``T``, efficiency ``f``): one triangular solve per response instead of ``T``'s inverse.

    Parameters
    ----------
    edges_kev : (n + 1,) ndarray
    coeffs : (k, n) ndarray
    pairs : list of (LineResponse, LineResponse)
        From :func:`weight_perturbations`.
    efficiency : callable, scalar or (n,) array, optional
        As for :func:`emf`.
    needed : (n,) bool ndarray, optional
        Bins where the efficiency must be valid (default all).

    Returns
    -------
    list of ((k, n) ndarray, (k, n) ndarray)
    """
    from scipy.linalg import solve_triangular

    edges = np.asarray(edges_kev, float)
    e = 0.5 * (edges[1:] + edges[:-1])
    co = np.atleast_2d(np.asarray(coeffs, float))
    f = np.ones(e.size) if efficiency is None else _factor_on_bins(
        "efficiency", efficiency, e, np.ones(e.size, bool) if needed is None else needed)
    out = []
    for pair in pairs:
        out.append(tuple(solve_triangular(tail_matrix(edges, rj), co.T, lower=False, trans="T",
                                          check_finite=False).T / f[None, :]
                         for rj in pair))
    return out


def _needed_bins(edges, e_incident_kev, angle_deg, pmax_au):
    """Bins whose p_z lies within ``pmax_au`` (+1 a.u. for line bridges)."""
    e = np.maximum(0.5 * (edges[1:] + edges[:-1]), 1e-3)
    pz = momentum_au(e, e_incident_kev, np.max(np.atleast_1d(angle_deg)))
    return np.abs(pz) <= pmax_au + 1.0


# ----------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class EmfCalibration:
    """Linear EMF <-> Li content calibration ``EMF = slope x + intercept``.

    Attributes
    ----------
    slope, intercept : float
    covariance : (2, 2) ndarray
        Covariance of (slope, intercept).
    n_points : int
    """

    slope: float
    intercept: float
    covariance: np.ndarray = field(repr=False)
    n_points: int

    def emf(self, x_li):
        """EMF predicted at Li content ``x_li``."""
        return self.slope * np.asarray(x_li, dtype=float) + self.intercept

    def li_content(self, emf_value, emf_uncertainty=0.0):
        """Invert the calibration: Li content x and its 1-sigma uncertainty.

        ``x = (EMF - b)/a``; the variance adds the EMF uncertainty and the fit covariance
        (first-order propagation).
        """
        e = np.asarray(emf_value, dtype=float)
        s = np.asarray(emf_uncertainty, dtype=float)
        a, b = self.slope, self.intercept
        x = (e - b) / a
        dxda = -(e - b) / a**2
        dxdb = -1.0 / a
        cv = self.covariance
        var = (s / a) ** 2 + dxda**2 * cv[0, 0] + dxdb**2 * cv[1, 1] + 2 * dxda * dxdb * cv[0, 1]
        xs = np.sqrt(np.maximum(var, 0.0))
        if x.ndim == 0:
            return float(x), float(xs)
        return x, xs


def calibrate_emf(x_li, emf_values, emf_uncertainties=None) -> EmfCalibration:
    """Fit EMF = a x + b to reference states of known Li content (weighted least squares).

    Parameters
    ----------
    x_li : (m,) array
        Li contents of the reference states (e.g. ICP-OES x of Li_x NMC).
    emf_values : (m,) array
    emf_uncertainties : (m,) array, optional
        1-sigma; weights 1/sigma^2 and an absolute covariance.  Without them the
        covariance is scaled by the residual variance (needs m >= 3).
    """
    x = np.asarray(x_li, dtype=float)
    y = np.asarray(emf_values, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise InputError(f"x_li and emf_values: need equal 1-D shapes, got {x.shape}, {y.shape}")
    if np.any(~np.isfinite(x)) or np.any(~np.isfinite(y)):
        raise InputError("x_li/emf_values: contain NaN; drop failed reference states first")
    if x.size < 2 or np.ptp(x) == 0:
        raise InputError("x_li: need at least two reference states with different Li content")
    v = np.vstack([x, np.ones_like(x)]).T
    if emf_uncertainties is None:
        if x.size < 3:
            raise InputError("emf_uncertainties: needed with only two reference states")
        w = np.ones_like(x)
    else:
        s = np.asarray(emf_uncertainties, dtype=float)
        if s.shape != x.shape or np.any(~(s > 0)):
            raise ParameterError("emf_uncertainties", emf_uncertainties, "must be > 0, one per state")
        w = 1.0 / s**2
    vw = v * w[:, None]
    cov = np.linalg.inv(v.T @ vw)
    p = cov @ (vw.T @ y)
    if emf_uncertainties is None:
        res = y - v @ p
        cov = cov * float(res @ res) / (x.size - 2)
    if p[0] == 0:
        raise DataQualityError("emf_values: EMF does not change with x_li; no calibration possible")
    return EmfCalibration(slope=float(p[0]), intercept=float(p[1]), covariance=cov, n_points=int(x.size))


def broaden_spectrum(energy_kev, values, fwhm_kev):
    """Convolve a spectrum (per keV, on bin centres) with an energy-dependent Gaussian.

    Parameters
    ----------
    energy_kev : (n,) ndarray
        Uniformly spaced energies (keV).
    values : (n,) ndarray
        Spectral density on ``energy_kev``.
    fwhm_kev : float, ndarray or callable
        Resolution FWHM (keV), constant, per energy, or ``f(E)`` such as
        :func:`ssbscope.twin.xcs.resolution_fwhm_kev`.

    Returns
    -------
    (n,) ndarray
        ``sum_j v_j G(E_i; E_j, sigma(E_j)) dE`` (each source energy spread with its own
        width; counts conserved away from the ends).
    """
    e = np.asarray(energy_kev, dtype=float)
    v = np.asarray(values, dtype=float)
    if e.ndim != 1 or v.shape != e.shape:
        raise InputError(f"energy_kev/values: need equal 1-D shapes, got {e.shape}, {v.shape}")
    de = np.diff(e)
    if np.any(de <= 0) or np.ptp(de) > 1e-6 * de.mean():
        raise InputError("energy_kev: must be uniformly spaced and increasing")
    f = fwhm_kev(e) if callable(fwhm_kev) else np.broadcast_to(np.asarray(fwhm_kev, float), e.shape)
    if np.any(~(np.asarray(f) > 0)):
        raise ParameterError("fwhm_kev", "values", "must be > 0")
    sig = np.asarray(f, float) / 2.3548200450309493
    # kernel matrix K[i, j] = G(E_i - E_j; sigma_j) dE (normalised per column)
    d = e[:, None] - e[None, :]
    k = np.exp(-0.5 * (d / sig[None, :]) ** 2)
    k /= k.sum(axis=0, keepdims=True)
    return k @ v
