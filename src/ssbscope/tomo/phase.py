"""Single-distance propagation-based phase retrieval (Paganin et al. 2002).

With a coherent, monochromatic beam and a detector at distance ``z`` behind the sample, edges
of a weakly absorbing material (Li metal at 115 keV: delta/beta ~ 1300) appear as bright/dark
Fresnel fringes while the absorption contrast is tiny.  For a *homogeneous* object (one
delta/beta everywhere, or two materials of similar delta/beta) the transport-of-intensity
equation inverts in one step (Paganin, Mayo, Gureyev, Miller & Wilkins 2002, J. Microsc. 206,
33-40, doi:10.1046/j.1365-2818.2002.01010.x, Eq. 10)::

    mu T(x, y) = -ln( F^-1[ F[I/I0] / (1 + pi lambda z (delta/beta) |u|^2) ] )

with ``u`` the spatial frequency (cycles per length) on the detector, ``lambda`` the
wavelength and ``mu = 4 pi beta / lambda`` the linear attenuation coefficient.  The left side
is the attenuation line integral ``mu T`` -- the same quantity (and units: dimensionless
``-ln(I/I0)``) that :func:`ssbscope.tomo.flat_dark_correct` gives and FBP takes, so a
phase-retrieved projection drops into the reconstruction unchanged; the reconstructed grey
value of a material is its ``mu`` per voxel as without retrieval (for the material whose
delta/beta was used; others are scaled by the ratio of their delta/beta to it).  The filter is a
low-pass of the transmission: it removes the fringes and the noise above the kernel's
frequency, raising the contrast-to-noise ratio of weak edges at the cost of resolution.

Kernel width.  With ``a = pi lambda z delta/beta`` the filter is ``1 / (1 + a u^2)``, whose
2-D real-space kernel is ``K0(r / L) / (2 pi L^2)`` (``K0`` the modified Bessel function) with
the *kernel width*

    L = sqrt(a) / (2 pi) = sqrt(lambda z delta/beta / (4 pi))        (length; / pixel -> px)

(:func:`paganin_kernel_width_px`).  Integrated over the columns the kernel is
``exp(-|y| / L) / (2 L)``: a fraction ``exp(-d / L) / 2`` of its weight lies beyond ``d`` rows on
one side.

Discrete ``|u|^2``.  On the pixel grid, ``|u|^2`` sampled up to the Nyquist frequency has a
kink there (it is not periodic-smooth), which gives the discrete kernel an algebraic ``1/r^2``
tail (measured: 6e-5 of ``-ln T`` at 14 px for L = 1.2 px), so a block of rows with any
finite halo would differ from the whole projection by that much.  By default
(``laplacian="fd4"``) ``|u|^2`` is therefore evaluated as the symbol of the 4th-order
finite-difference Laplacian, ``(sin^2(pi u) + sin^4(pi u) / 3) / pi^2`` per axis: equal to
``u^2`` within 0.03 % up to 0.1 cycles/px and 5.5 % low at 0.25 cycles/px (where the filter
of a kernel wider than a pixel is already below 0.3), analytic and periodic, so the kernel
decays exponentially at a rate ``kappa = 2 asinh(sqrt(S))`` per px, ``S = (3 - sqrt(9 -
3 / L^2)) / 2`` (``kappa -> 1/L`` for ``L >> 1``).  ``laplacian="exact"`` keeps ``u^2``.
:func:`paganin_halo_px` returns the ``d`` at which the one-sided tail ``exp(-kappa d) / 2``
is :data:`HALO_TAIL` (1e-5: ``d ~ 10.8 L``), plus 2 px; it is both the padding of each projection's FFT
(reflect padding, so the periodic FFT wraps no detector edge onto the other) and the number of
halo rows a block of detector rows is read with in the streamed reconstruction
(:mod:`ssbscope.tomo.stream`), so a block gives the whole projection's result to within
that fraction of the transmission's variation.  Example, the set-up of Huang et al. 2024
(doi:10.1016/j.xcrp.2024.101995): Li at 115 keV (delta/beta = 1271), 3.24 um pixels, z = 100
mm: L = 10.4 um = 3.2 px, halo 37 px.
"""

from __future__ import annotations

import math

import numpy as np

from ssbscope.errors import InputError, ParameterError

__all__ = ["paganin_filter", "paganin_kernel_width_px", "paganin_halo_px", "delta_beta",
           "resolve_delta_beta", "wavelength_m", "HALO_TAIL"]

#: Fraction of the kernel's (column-integrated) weight left beyond the halo on one side.
HALO_TAIL = 1e-5
#: h c in keV m (CODATA 2018).
HC_KEV_M = 1.239841984e-9
#: Transmissions below this are clipped before the log (as flat_dark_correct does).
MIN_TRANSMISSION = 1e-6


def wavelength_m(energy_kev: float) -> float:
    """X-ray wavelength (m) at ``energy_kev`` (keV): ``lambda = h c / E``."""
    e = float(energy_kev)
    if not (e > 0 and math.isfinite(e)):
        raise ParameterError("energy_kev", energy_kev, "must be a positive number of keV")
    return HC_KEV_M / e


def _check(pixel_size_um, distance_mm, energy_kev, delta_beta_):
    for name, v in (("pixel_size_um", pixel_size_um), ("energy_kev", energy_kev),
                    ("delta_beta", delta_beta_)):
        if not (np.isfinite(v) and v > 0):
            raise ParameterError(name, v, "must be a positive finite number")
    if not (np.isfinite(distance_mm) and distance_mm >= 0):
        raise ParameterError("distance_mm", distance_mm, "must be >= 0 (sample-detector distance)")


def paganin_kernel_width_px(*, pixel_size_um: float, distance_mm: float, energy_kev: float,
                            delta_beta: float) -> float:
    """Width ``L`` (px) of the Paganin filter's real-space kernel ``K0(r/L) / (2 pi L^2)``.

    ``L = sqrt(lambda z delta/beta / (4 pi)) / pixel`` (see the module docstring).

    Parameters
    ----------
    pixel_size_um : float
        Detector pixel size at the sample (um).
    distance_mm : float
        Sample-detector propagation distance (mm).
    energy_kev : float
        Photon energy (keV).
    delta_beta : float
        Ratio of the refractive index decrement to the absorption index of the material.

    Returns
    -------
    float
    """
    _check(pixel_size_um, distance_mm, energy_kev, delta_beta)
    lam = wavelength_m(energy_kev)
    l_m = math.sqrt(lam * float(distance_mm) * 1e-3 * float(delta_beta) / (4 * math.pi))
    return l_m / (float(pixel_size_um) * 1e-6)


def _decay_per_px(L: float) -> float:
    """Exponential decay rate (1/px) of the fd4 kernel (module docstring); 1/L if L^2 < 1/3."""
    if L * L < 1.0 / 3.0:
        return 1.0 / max(L, 1e-12)
    S = (3.0 - math.sqrt(max(0.0, 9.0 - 3.0 / (L * L)))) / 2.0
    return 2.0 * math.asinh(math.sqrt(S))


def paganin_halo_px(*, pixel_size_um: float, distance_mm: float, energy_kev: float,
                    delta_beta: float, tail: float = HALO_TAIL) -> int:
    """Rows (px) beyond which a fraction ``tail`` of the kernel's weight lies on one side.

    ``ceil(ln(1 / (2 tail)) / kappa) + 2`` with ``kappa`` the kernel's decay rate per px
    (``~1/L``, ``L`` from :func:`paganin_kernel_width_px`; the kernel integrated over columns
    is ``~exp(-kappa |y|) / (2L)``): the FFT padding of each projection and the halo rows of a
    block in the streamed reconstruction.

    Returns
    -------
    int
        >= 1.
    """
    if not (0 < tail < 0.5):
        raise ParameterError("tail", tail, "must be within (0, 0.5)")
    L = paganin_kernel_width_px(pixel_size_um=pixel_size_um, distance_mm=distance_mm,
                                energy_kev=energy_kev, delta_beta=delta_beta)
    if L <= 0:
        return 1
    return max(1, int(math.ceil(math.log(1.0 / (2.0 * tail)) / _decay_per_px(L))) + 2)


def delta_beta(material: str, density_g_cm3: float, energy_kev: float) -> float:
    """delta/beta of a material at an energy, from xraylib's refractive index.

    ``n = 1 - delta + i beta``: ``delta = 1 - xraylib.Refractive_Index_Re``, ``beta =
    xraylib.Refractive_Index_Im`` (beta from the total cross section, Compton included, which
    dominates light elements at high energy).

    Parameters
    ----------
    material : str
        Chemical formula xraylib parses (``"Li"``, ``"Li6PS5Cl"``, ``"C2H4O"``) or a name of
        xraylib's NIST compound list.
    density_g_cm3 : float
        Mass density (g/cm^3).
    energy_kev : float
        Photon energy (keV).

    Returns
    -------
    float

    Examples
    --------
    >>> round(delta_beta("Li", 0.534, 115.0))
    1271
    """
    import xraylib

    if not (np.isfinite(density_g_cm3) and density_g_cm3 > 0):
        raise ParameterError("density_g_cm3", density_g_cm3, "must be > 0 g/cm^3")
    wavelength_m(energy_kev)
    name = str(material)
    try:
        xraylib.CompoundParser(name)
    except ValueError:
        try:
            name = xraylib.GetCompoundDataNISTByName(name)["name"]
        except ValueError:
            raise ParameterError("material", material,
                                 "is neither a chemical formula nor a NIST compound name xraylib "
                                 "knows", "write it as a formula, e.g. 'Li' or 'Li6PS5Cl'") from None
    d = 1.0 - xraylib.Refractive_Index_Re(name, float(energy_kev), float(density_g_cm3))
    b = xraylib.Refractive_Index_Im(name, float(energy_kev), float(density_g_cm3))
    if not (d > 0 and b > 0):
        raise ParameterError("material", material, f"gives delta={d:g}, beta={b:g} at "
                             f"{energy_kev:g} keV; delta/beta is undefined")
    return float(d / b)


def resolve_delta_beta(spec, energy_kev: float) -> float:
    """delta/beta from a number or a ``{material, density_g_cm3}`` mapping (or model).

    Parameters
    ----------
    spec : float or mapping or object with ``material`` and ``density_g_cm3``
        The YAML's ``phase_retrieval.delta_beta``.
    energy_kev : float
        Photon energy (keV), used for a material.

    Returns
    -------
    float
    """
    if isinstance(spec, (int, float, np.floating, np.integer)) and not isinstance(spec, bool):
        v = float(spec)
        if not (np.isfinite(v) and v > 0):
            raise ParameterError("delta_beta", spec, "must be > 0")
        return v
    if isinstance(spec, dict):
        mat, rho = spec.get("material"), spec.get("density_g_cm3")
    else:
        mat, rho = getattr(spec, "material", None), getattr(spec, "density_g_cm3", None)
    if mat is None or rho is None:
        raise ParameterError("delta_beta", spec, "must be a number or {material, density_g_cm3}")
    return delta_beta(mat, float(rho), energy_kev)


_FILTERS: dict = {}


def _u2(u, laplacian):
    if laplacian == "exact":
        return u * u
    s2 = np.sin(np.pi * u) ** 2
    return (s2 + s2 * s2 / 3.0) / np.pi**2


def _filter(shape, a_px2, laplacian="fd4"):
    """``1 / (1 + a |u|^2)`` on the rfft2 grid of ``shape`` (u in cycles/px, a in px^2)."""
    key = (tuple(shape), float(a_px2), laplacian)
    f = _FILTERS.get(key)
    if f is None:
        uy = _u2(np.fft.fftfreq(shape[0]), laplacian)[:, None]
        ux = _u2(np.fft.rfftfreq(shape[1]), laplacian)[None, :]
        f = (1.0 / (1.0 + a_px2 * (uy + ux))).astype(np.float32)
        f.setflags(write=False)
        if len(_FILTERS) > 16:
            _FILTERS.clear()
        _FILTERS[key] = f
    return f


def paganin_filter(transmission, *, pixel_size_um: float, distance_mm: float,
                   energy_kev: float, delta_beta: float, pad_px: int | None = None,
                   pad_mode: str = "reflect", laplacian: str = "fd4", batch: int = 16,
                   workers: int | None = None) -> np.ndarray:
    """Paganin phase retrieval of flat/dark-corrected projections -> attenuation line integrals.

    ``-ln(F^-1[F[I/I0] / (1 + pi lambda z (delta/beta) |u|^2)])`` per projection (2-D FFT over
    rows x columns), see the module docstring (Paganin et al. 2002, J. Microsc. 206, 33,
    doi:10.1046/j.1365-2818.2002.01010.x).  Each projection is padded by ``pad_px`` on every
    side (``pad_mode``, default reflect) before the FFT so that the periodic transform wraps
    no edge onto the opposite one; the padding is cropped afterwards.

    Parameters
    ----------
    transmission : (n_angles, rows, cols) or (rows, cols) array
        Flat/dark-corrected transmission ``I/I0`` (float32 recommended).
    pixel_size_um : float
        Detector pixel size at the sample (um).
    distance_mm : float
        Sample-detector propagation distance (mm); 0 gives ``-ln(I/I0)`` unchanged.
    energy_kev : float
        Photon energy (keV) (monochromatic beam).
    delta_beta : float
        delta/beta of the (homogeneous) material (:func:`delta_beta` from a formula).
    pad_px : int, optional
        Padding (px) on each side; default :func:`paganin_halo_px` (10.8 kernel widths).
    pad_mode : str
        ``numpy.pad`` mode (``"reflect"``, ``"edge"``, ``"symmetric"``).
    laplacian : {"fd4", "exact"}
        How ``|u|^2`` is evaluated on the pixel grid (module docstring): the 4th-order
        finite-difference symbol (default; exponentially decaying kernel, so blocks of rows
        with a halo reproduce the whole projection) or ``u^2`` itself.
    batch : int
        Projections transformed at once (bounds the complex work array).
    workers : int, optional
        Threads of scipy.fft.

    Returns
    -------
    ndarray of float32
        Same shape as the input: the attenuation line integral ``mu T`` (dimensionless, as
        ``-ln(I/I0)``).  Filtered transmissions below 1e-6 are clipped before the log.

    Raises
    ------
    InputError
        Wrong dimensionality, or NaN/inf in the input.
    ParameterError
        Non-positive pixel size, energy or delta/beta, negative distance.
    """
    import scipy.fft as sfft

    t = np.asarray(transmission)
    if t.ndim not in (2, 3):
        raise InputError(f"transmission: expected (n_angles, rows, cols) or (rows, cols), got "
                         f"shape {t.shape}")
    squeeze = t.ndim == 2
    if squeeze:
        t = t[None]
    if not np.all(np.isfinite(t)):
        raise InputError("transmission: has NaN/inf values; flat/dark-correct (and mask bad "
                         "pixels) before phase retrieval")
    _check(pixel_size_um, distance_mm, energy_kev, delta_beta)
    if laplacian not in ("fd4", "exact"):
        raise ParameterError("laplacian", laplacian, "must be 'fd4' or 'exact'")
    lam = wavelength_m(energy_kev)
    px = float(pixel_size_um) * 1e-6
    a_px2 = math.pi * lam * float(distance_mm) * 1e-3 * float(delta_beta) / (px * px)
    if pad_px is None:
        pad_px = paganin_halo_px(pixel_size_um=pixel_size_um, distance_mm=distance_mm,
                                 energy_kev=energy_kev, delta_beta=delta_beta)
    P = max(0, int(pad_px))
    n, r, c = t.shape
    out = np.empty((n, r, c), np.float32)
    shape = (sfft.next_fast_len(r + 2 * P, real=True), sfft.next_fast_len(c + 2 * P, real=True))
    H = _filter(shape, a_px2, laplacian)
    for s in range(0, n, max(1, int(batch))):
        blk = np.asarray(t[s:s + batch], np.float32)
        if P:
            blk = np.pad(blk, ((0, 0), (P, P), (P, P)), mode=pad_mode)
        # the FFT grid is a little larger than the padded block: fill the rest by padding
        # further in the same mode (keeps the wrap-around seam away from the data)
        er, ec = shape[0] - blk.shape[1], shape[1] - blk.shape[2]
        if er or ec:
            blk = np.pad(blk, ((0, 0), (0, er), (0, ec)), mode=pad_mode if P else "edge")
        spec = sfft.rfft2(blk, axes=(1, 2), workers=workers)
        del blk
        spec *= H[None]
        f = sfft.irfft2(spec, s=shape, axes=(1, 2), workers=workers)
        del spec
        f = f[:, P:P + r, P:P + c]
        np.maximum(f, MIN_TRANSMISSION, out=f)
        out[s:s + batch] = -np.log(f)
    return out[0] if squeeze else out
