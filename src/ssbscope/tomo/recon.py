"""Filtered back-projection for parallel-beam tomography (180 deg and 360 deg off-centre scans).

Geometry convention (used by every function of ``ssbscope.tomo`` and by ``ssbscope.twin.ct``)
-------------------------------------------------------------------------------------------
* A sinogram is ``(n_angles, n_detector)``: row ``a`` is the projection (line integral of the
  attenuation, in units of attenuation-per-pixel times pixels, i.e. dimensionless ``-ln(I/I0)``)
  at rotation angle ``angles_rad[a]``.
* The rotation axis projects onto detector coordinate ``center`` (in pixels; pixel ``j`` has its
  centre at coordinate ``j``).  The default is ``n_detector // 2``, the convention of
  ``skimage.transform.radon``/``iradon``, so our sinograms and skimage's agree.
* The reconstructed slice is ``(n_out, n_out)`` (default ``n_out = n_detector``), centred on the
  rotation axis: pixel ``(i, j)`` (row, column) sits at ``x = j - n_out // 2``,
  ``y = i - n_out // 2`` from the axis, and a point there projects onto detector coordinate
  ``t = center + x cos(theta) - y sin(theta)``.
* Output is in units of attenuation per pixel: a disk of ``mu = 0.01`` per pixel reconstructs to
  0.01 (multiply by ``1e4 / pixel_size_um`` for 1/cm).

The default engine ``"ssbscope"`` evaluates the discrete FBP sum, with the filtered projections
interpolated between detector pixels band-limited (sinc, default), by Keys' cubic
convolution, or linearly, by the Fourier-slice theorem: the spectrum of the interpolated projection
(periodic spectrum of the samples times the interpolation kernel's transfer function; the
output is sampled at integer pixels, so frequencies above 0.5 cycles/px alias exactly as a
pixel-driven back-projector's do) is spread on a 2x-oversampled Cartesian frequency grid with an
"exponential of semicircle" kernel (non-uniform FFT of type 1, Barnett et al., SIAM J. Sci.
Comput. 41, C479 (2019)), inverse-FFT'd and deapodised.  Its cost is O(N^2 log N + n_angles N W^2)
instead of the O(n_angles N^2) of a pixel-driven back-projector.  The spreading is parallel over
bands of grid rows, each band adding its points in one fixed order, so the result is the same
bytes whatever the number of threads.  ``engine="skimage"`` and ``engine="algotom"`` call those
libraries (when installed) with the same geometry, for comparison.

The FBP sum (Kak & Slaney, *Principles of Computerized Tomographic Imaging*, ch. 3, Eq. 61-63)::

    f(x, y) = sum_a w_a q_a(center + x cos(theta_a) - y sin(theta_a)),
    q_a = IFFT(H * FFT(p_a))

with ``H`` the FFT of the spatial-domain Ram-Lak kernel (``h(0) = 1/4``, ``h(n) = -1/(pi n)^2``
for odd ``n``) times an optional window and ``w_a`` the angular quadrature weight (``pi /
n_angles`` for uniform 180 deg scans; see :func:`angular_weights`).
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache

import numpy as np

from ssbscope.errors import DataQualityError, InputError, ParameterError

__all__ = [
    "fbp",
    "reconstruct",
    "angular_weights",
    "ramp_filter",
    "stitch_360",
    "FILTERS",
    "ENGINES",
    "INTERPOLATIONS",
]

log = logging.getLogger(__name__)

FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann")
ENGINES = ("ssbscope", "skimage", "algotom")
INTERPOLATIONS = ("cubic", "linear", "sinc")

# ----------------------------------------------------------------------------------------------
# validation helpers


def _check_sinogram(sinogram, angles_rad, name="sinogram"):
    sino = np.asarray(sinogram)
    if sino.ndim != 2:
        raise InputError(f"{name}: expected a 2-D array (n_angles, n_detector), got shape "
                         f"{sino.shape}; pass one slice's sinogram, or use reconstruct() for a "
                         "stack of projections")
    if not np.issubdtype(sino.dtype, np.number) or np.iscomplexobj(sino):
        raise InputError(f"{name}: dtype {sino.dtype} is not a real number type")
    if sino.shape[0] < 2 or sino.shape[1] < 4:
        raise InputError(f"{name}: shape {sino.shape} is too small (need >= 2 angles and "
                         ">= 4 detector pixels)")
    ang = np.asarray(angles_rad, dtype=np.float64)
    if ang.ndim != 1 or ang.shape[0] != sino.shape[0]:
        raise InputError(f"angles_rad: {ang.shape[0] if ang.ndim == 1 else ang.shape} angles "
                         f"do not match the {sino.shape[0]} projections (rows) of {name}; pass "
                         "one angle per projection, in radians")
    if not np.all(np.isfinite(ang)):
        raise InputError("angles_rad: contains NaN or inf")
    bad = ~np.isfinite(sino)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise DataQualityError(f"{name}: {int(bad.sum())} non-finite value(s) (NaN/inf), first "
                               f"at (angle {idx[0]}, pixel {idx[1]}); correct flats/darks or "
                               "remove zingers/dead pixels before reconstructing")
    return sino, ang


def angular_weights(angles_rad) -> np.ndarray:
    """Quadrature weights (rad) of the FBP angular integral over [0, pi).

    Angles are reduced modulo pi (a 360 deg centred scan then counts each direction twice and
    each gets half the weight); each angle gets half the gap to its two neighbours on the circle
    of period pi.  For ``n`` uniform angles over 180 deg (or 360 deg) every weight is ``pi/n``.

    Parameters
    ----------
    angles_rad : (n_angles,) array
        Rotation angles (rad), any order.

    Returns
    -------
    (n_angles,) ndarray
        Weights (rad), summing to pi.
    """
    ang = np.asarray(angles_rad, dtype=np.float64)
    red = np.mod(ang, np.pi)
    order = np.argsort(red, kind="stable")
    s = red[order]
    gaps = np.diff(np.concatenate([s, [s[0] + np.pi]]))
    # weight_i = (gap before + gap after) / 2
    w_sorted = 0.5 * (gaps + np.roll(gaps, 1))
    w = np.empty_like(w_sorted)
    w[order] = w_sorted
    # tiny numeric noise -> exact uniform weights when the spacing is uniform
    if np.allclose(w, np.pi / ang.size, rtol=1e-6, atol=0):
        w[:] = np.pi / ang.size
    return w


@lru_cache(maxsize=16)
def _ramp_cached(n_pad: int, filter_name: str) -> np.ndarray:
    i = np.arange(n_pad)
    d = np.minimum(i, n_pad - i)  # circular distance
    h = np.zeros(n_pad)
    h[0] = 0.25
    odd = d % 2 == 1
    h[odd] = -1.0 / (np.pi * d[odd]) ** 2
    resp = np.real(np.fft.fft(h))  # real, even; resp[0] > 0 keeps the mean exact
    f = np.fft.fftfreq(n_pad)  # cycles per pixel
    if filter_name == "ramp":
        win = 1.0
    elif filter_name == "shepp-logan":
        win = np.sinc(f)
    elif filter_name == "cosine":
        win = np.cos(np.pi * f)
    elif filter_name == "hamming":
        win = 0.54 + 0.46 * np.cos(2 * np.pi * f)
    elif filter_name == "hann":
        win = 0.5 + 0.5 * np.cos(2 * np.pi * f)
    else:  # pragma: no cover - checked by caller
        raise ParameterError("filter_name", filter_name, f"must be one of {FILTERS}")
    out = resp * win
    out.setflags(write=False)
    return out


def ramp_filter(n_pad: int, filter_name: str = "ramp") -> np.ndarray:
    """Frequency response (length ``n_pad``, FFT order) of the windowed Ram-Lak filter.

    The response is the FFT of the spatial-domain Ram-Lak kernel (Kak & Slaney Eq. 61), which
    keeps the zero-frequency term exact, times the window named by ``filter_name``
    (``"ramp"``, ``"shepp-logan"`` = sinc, ``"cosine"``, ``"hamming"``, ``"hann"``).
    """
    if filter_name not in FILTERS:
        raise ParameterError("filter_name", filter_name, f"must be one of {FILTERS}")
    if n_pad < 4:
        raise ParameterError("n_pad", n_pad, "must be >= 4")
    return _ramp_cached(int(n_pad), filter_name)


# ----------------------------------------------------------------------------------------------
# NUFFT (type 1) gridding kernel


def _es_beta(width: int) -> float:
    return 2.30 * width  # Barnett et al. 2019, for oversampling 2


def _es_kernel(z, width: int, beta: float):
    """Exponential-of-semicircle kernel on |z| < width/2 (grid units)."""
    u = 2.0 * np.asarray(z, dtype=np.float64) / width
    out = np.zeros_like(u)
    m = np.abs(u) < 1
    out[m] = np.exp(beta * (np.sqrt(1.0 - u[m] ** 2) - 1.0))
    return out


@lru_cache(maxsize=8)
def _deapod(n_out: int, grid: int, width: int) -> np.ndarray:
    """Fourier transform of the kernel at output offsets x = -n_out//2 ... (1-D)."""
    beta = _es_beta(width)
    nq = 4096
    z = (np.arange(nq) + 0.5) / nq * (width / 2.0)  # half kernel (even)
    phi = _es_kernel(z, width, beta)
    x = np.arange(n_out) - n_out // 2
    ft = 2.0 * (np.cos(2 * np.pi * np.outer(x, z) / grid) @ phi) * (width / 2.0) / nq
    ft.setflags(write=False)
    return ft


def _numba_kernels():
    from numba import njit, prange

    @njit(parallel=True, cache=True, fastmath=False, boundscheck=False)
    def spread(cf, cosa, nsin, nu, wrap, low, high, order, lo, hi, band_rows, row_min, grid,
               width, beta):
        """Add each point's kernel-weighted value on the (grid, grid) complex grid.

        Point ``m = a * kmax + k`` (angle ``a``, frequency ``k``) sits at ``x = cos(theta_a)
        nu_k grid``, ``y = -sin(theta_a) nu_k grid`` (wrapped to [-grid/2, grid/2) when
        ``wrap``) with the value ``cf[a, 2k] + i cf[a, 2k + 1]``; entries ``n + j`` of
        ``order`` are copies of point ``low[j]`` shifted by +grid in y, then those of
        ``high`` shifted by -grid.  ``order`` lists the entries sorted by their first kernel
        row; band b owns unwrapped rows [row_min + b*band_rows, row_min + (b+1)*band_rows)
        and visits ``order[lo[b]:hi[b]]`` in that order, so every cell receives its
        contributions in one fixed order.
        """
        # complex64 grid stored as interleaved float32 (re, im) pairs
        out = np.zeros((grid, 2 * grid), dtype=np.float32)
        kmax = nu.shape[0]
        n = cosa.shape[0] * kmax
        nl = low.shape[0]
        nb = lo.shape[0]
        half = width / 2.0
        g2 = grid / 2
        for b in prange(nb):
            r0 = row_min + b * band_rows
            r1 = min(r0 + band_rows, row_min + grid)
            wy = np.empty(width)
            wx = np.empty(width)
            cols = np.empty(width, dtype=np.int64)
            for s in range(lo[b], hi[b]):
                p = np.int64(order[s])
                if p < n:
                    m = p
                elif p < n + nl:
                    m = np.int64(low[p - n])
                else:
                    m = np.int64(high[p - n - nl])
                a = m // kmax
                k = m - a * kmax
                x = cosa[a] * nu[k] * grid
                y = nsin[a] * nu[k] * grid
                if wrap:
                    x = (x + g2) % grid - g2
                    y = (y + g2) % grid - g2
                if p >= n:
                    if p < n + nl:
                        y = y + grid
                    else:
                        y = y - grid
                iy0 = int(math.ceil(y - half))
                ix0 = int(math.ceil(x - half))
                for d in range(width):
                    u = 2.0 * (iy0 + d - y) / width
                    wy[d] = math.exp(beta * (math.sqrt(max(0.0, 1.0 - u * u)) - 1.0))
                    u = 2.0 * (ix0 + d - x) / width
                    wx[d] = math.exp(beta * (math.sqrt(max(0.0, 1.0 - u * u)) - 1.0))
                    cc = ix0 + d
                    if cc < 0:
                        cc += grid
                    elif cc >= grid:
                        cc -= grid
                    cols[d] = 2 * cc
                vr = cf[a, 2 * k]
                vi = cf[a, 2 * k + 1]
                for dy in range(width):
                    r = iy0 + dy
                    if r < r0 or r >= r1:
                        continue
                    rr = r % grid
                    fy = wy[dy]
                    fr = vr * fy
                    fi = vi * fy
                    for dx in range(width):
                        c2 = cols[dx]
                        out[rr, c2] += np.float32(fr * wx[dx])
                        out[rr, c2 + 1] += np.float32(fi * wx[dx])
        return out

    @njit(cache=True, boundscheck=False)
    def counting_order(key, key_low, key_high, n_keys, order):
        """Stable sort of the entries (points, then their +grid and -grid copies) by key
        (0 <= key < n_keys): writes the entries' positions into ``order`` and returns each
        key's first position (``start[v]``: entries with a key below v)."""
        n = key.shape[0]
        nl = key_low.shape[0]
        start = np.zeros(n_keys + 1, dtype=np.int64)
        for p in range(n):
            start[key[p] + 1] += 1
        for p in range(nl):
            start[key_low[p] + 1] += 1
        for p in range(key_high.shape[0]):
            start[key_high[p] + 1] += 1
        for v in range(n_keys):
            start[v + 1] += start[v]
        pos = start[:-1].copy()
        for p in range(n):
            v = key[p]
            order[pos[v]] = p
            pos[v] += 1
        for p in range(nl):
            v = key_low[p]
            order[pos[v]] = n + p
            pos[v] += 1
        for p in range(key_high.shape[0]):
            v = key_high[p]
            order[pos[v]] = n + nl + p
            pos[v] += 1
        return start

    return spread, counting_order


_KERNELS = None
#: Padded projection values per batch of the spectrum (:func:`_fbp_gridding`; 2 MB of float64).
_BATCH_VALUES = 2**18


def _get_kernels():
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = _numba_kernels()
    return _KERNELS


def _interp_transfer(nu, interpolation):
    """Fourier transform of the detector interpolation kernel at frequency ``nu`` (cycles/px)."""
    if interpolation == "sinc":
        return np.where(np.abs(nu) < 0.5, 1.0, 0.0)
    if interpolation == "linear":
        return np.sinc(nu) ** 2
    if interpolation == "cubic":  # Keys (a = -0.5), Catmull-Rom
        return _keys_ft(np.asarray(nu, dtype=np.float64), -0.5)
    raise ParameterError("interpolation", interpolation, f"must be one of {INTERPOLATIONS}")


def _keys_kernel(x, a=-0.5):
    """Keys' cubic convolution kernel, support |x| < 2 (R. G. Keys, IEEE Trans. ASSP 29,
    1153 (1981); a = -0.5: Catmull-Rom, third-order accurate)."""
    ax = np.abs(x)
    return np.where(ax <= 1, (a + 2) * ax**3 - (a + 3) * ax**2 + 1,
                    np.where(ax < 2, a * ax**3 - 5 * a * ax**2 + 8 * a * ax - 4 * a, 0.0))


def _keys_ft(nu, a=-0.5):
    """Fourier transform of :func:`_keys_kernel` (Gauss-Legendre on each cubic piece; the
    integrand oscillates < 2 periods per piece for |nu| <= 2, 24 nodes give ~1e-15)."""
    g, wg = np.polynomial.legendre.leggauss(24)
    xs = np.concatenate([0.5 * (g + 1), 1.5 + 0.5 * g])  # nodes on [0, 1] and [1, 2]
    ws = np.concatenate([0.5 * wg, 0.5 * wg])
    return 2 * (np.cos(2 * np.pi * np.multiply.outer(nu, xs)) @ (_keys_kernel(xs, a) * ws))




def _fbp_gridding(sino, ang, center, n_out, filter_name, width, workers, interpolation="sinc",
                  nu_max=1.0):
    """Gridding FBP of one sinogram (see the module docstring), lean in memory.

    Per point of the half spectrum (``n_angles x kmax``, ``kmax = n_pad / 2`` for sinc) only
    the weighted coefficient (complex128, 16 bytes), a sort key (int16, 2 bytes) and its
    position in the sorted order (int32, 4 bytes) are held: the spectrum is computed in
    batches of angles, the points' coordinates are recomputed inside the spreading kernel, and
    the sort is a counting sort over kernel rows.  Then the ``grid x grid`` complex64 array is
    transformed in place.  The arithmetic and the order of the additions are those of the
    earlier version, which held float64 copies, the full spectrum, coordinates and sort
    arrays (112 bytes per point): the output is the same bytes.
    """
    import scipy.fft as sfft
    import numba

    n_a, n_d = sino.shape
    n_pad = 2 * sfft.next_fast_len(max(32, n_d))  # even, >= 2 n_d (no wrap-around)
    w_ang = angular_weights(ang)
    H = ramp_filter(n_pad, filter_name)
    sinc = interpolation == "sinc"
    if sinc:
        kmax = n_pad // 2  # keep k = 0 .. kmax-1 (drop the Nyquist term)
        k = np.arange(kmax)
        Hk = H[:kmax]
    else:
        kmax = int(round(nu_max * n_pad))
        k = np.arange(kmax)
        # the interpolated projection's spectrum: the periodic DTFT times the kernel's FT
        Hk = H[k % n_pad] * _interp_transfer(k / n_pad, interpolation)
    # coefficients: Hermitian half-plane, doubled except k = 0; phase moves the axis to 0
    kw = (Hk * np.where(k == 0, 1.0, 2.0) / n_pad) * np.exp(2j * np.pi * k * (center / n_pad))
    # frequencies (cycles/pixel) nu_x = (k/n_pad) cos, nu_y = -(k/n_pad) sin  (t = x c - y s)
    grid = sfft.next_fast_len(2 * n_out)
    grid += grid % 2
    nu = k / n_pad
    cosa = np.cos(ang)
    nsin = -np.sin(ang)
    beta = _es_beta(width)
    # Rows wrap with period `grid`.  Bands own the wrapped rows [-grid/2, grid/2) exactly once:
    # a point whose kernel crosses -grid/2 or grid/2 gets a copy shifted by +-grid, and each
    # copy adds only its rows inside the band range, so no two bands touch the same row (no
    # race between threads) and every cell receives its terms in one fixed order.
    half_g = grid // 2
    # first kernel rows lie in [-half_g - width, half_g + width] (copies included)
    off = half_g + width
    n_keys = grid + 2 * width + 1
    n = n_a * kmax
    coef = np.empty((n_a, kmax), dtype=np.complex128)
    key = np.empty(n, dtype=np.int16 if n_keys < 2**15 else np.int32)
    low, high, key_low, key_high = [], [], [], []
    batch = max(8, _BATCH_VALUES // n_pad)  # angles per batch: ~2 MB of float64 padded rows
    for a0 in range(0, n_a, batch):
        a1 = min(n_a, a0 + batch)
        sb = sino[a0:a1].astype(np.float64, copy=False)
        if sinc:
            spec = sfft.rfft(sb, n=n_pad, axis=1, workers=workers)
            spec_k = spec[:, :kmax]
        else:
            spec = sfft.fft(sb, n=n_pad, axis=1, workers=workers)
            spec_k = spec[:, :kmax] if kmax <= n_pad else spec[:, k % n_pad]
        cb = coef[a0:a1]
        np.multiply(spec_k, kw[None, :], out=cb)
        cb *= w_ang[a0:a1, None]
        del sb, spec, spec_k, cb  # (a view of coef would keep it alive)
        uy = nsin[a0:a1, None] * nu[None, :] * grid
        if not sinc:
            # the output is sampled at integer pixels: frequencies alias with period 1 cycle/px
            uy = (uy + grid / 2) % grid - grid / 2
        uy = uy.ravel()
        iy0 = np.ceil(uy - width / 2.0).astype(np.int64)
        lo_b = np.nonzero(iy0 < -half_g)[0]
        hi_b = np.nonzero(iy0 + width > half_g)[0]
        if lo_b.size:
            low.append(lo_b + a0 * kmax)
            key_low.append(np.ceil((uy[lo_b] + grid) - width / 2.0).astype(np.int64) + off)
        if hi_b.size:
            high.append(hi_b + a0 * kmax)
            key_high.append(np.ceil((uy[hi_b] - grid) - width / 2.0).astype(np.int64) + off)
        iy0 += off
        key[a0 * kmax:a1 * kmax] = iy0
        del uy, iy0
    idx_t = np.int32 if n + 2 * n < 2**31 else np.int64

    def _cat(parts, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    low, high = _cat(low, idx_t), _cat(high, idx_t)
    key_low, key_high = _cat(key_low, key.dtype), _cat(key_high, key.dtype)
    for kk in (key_low, key_high):
        if kk.size and not (0 <= int(kk.min()) and int(kk.max()) < n_keys):  # pragma: no cover
            raise RuntimeError("FBP gridding: a kernel row outside the grid's range")
    spread, counting_order = _get_kernels()
    # stable sort by first kernel row (points in index order, then the +grid copies, then
    # the -grid copies), cut into row bands
    order = np.empty(n + low.size + high.size, dtype=idx_t)
    start = counting_order(key, key_low, key_high, n_keys, order)
    del key, key_low, key_high
    row_min = -half_g
    row_max = half_g
    n_bands = max(1, min(64, 4 * numba.get_num_threads()))
    band_rows = max(width, -(-(row_max - row_min) // n_bands))
    n_bands = -(-(row_max - row_min) // band_rows)
    # band b owns rows [r0, r0 + band_rows) and needs the points with first row in
    # [r0 - width + 1, r0 + band_rows): a contiguous run of the sorted entries
    r0s = row_min + np.arange(n_bands) * band_rows
    lo = start[np.clip(r0s - width + 1 + off, 0, n_keys)].astype(np.int64)
    hi = start[np.clip(r0s + band_rows + off, 0, n_keys)].astype(np.int64)
    from ssbscope.tomo.filters import _launch  # threadsafe launch (Dask's slab threads)

    g = _launch(spread, coef.view(np.float64), cosa, nsin, nu, not sinc, low, high, order,
                lo, hi, int(band_rows), row_min, int(grid), int(width), float(beta))
    del coef, order
    g = sfft.ifft2(g.view(np.complex64), workers=workers, overwrite_x=True)
    # output offsets x = j - n_out//2 live at index x mod grid
    idx = (np.arange(n_out) - n_out // 2) % grid
    img = g[np.ix_(idx, idx)]
    del g
    img *= grid * grid
    img = img.real
    d = _deapod(n_out, grid, width)
    img /= d[:, None] * d[None, :]
    return img


def _shift_sinogram(sino, shift):
    """Shift each projection by ``shift`` pixels (linear interpolation, zero outside)."""
    if shift == 0:
        return sino
    from scipy.ndimage import shift as ndshift

    return ndshift(sino, (0, shift), order=1, mode="constant", cval=0.0, prefilter=False)


@lru_cache(maxsize=8)
def _circle_mask(n_out: int, radius: float) -> np.ndarray:
    c = n_out // 2
    d = (np.arange(n_out) - c) ** 2
    m = d[:, None] + d[None, :] <= radius ** 2
    m.setflags(write=False)
    return m


def fbp(sinogram, angles_rad, center=None, *, filter_name: str = "ramp", output_size=None,
        circle: bool = True, engine: str = "ssbscope", kernel_width: int = 6,
        interpolation: str = "sinc", workers: int | None = None,
        truncated: bool = False) -> np.ndarray:
    """Filtered back-projection of one parallel-beam sinogram.

    Parameters
    ----------
    sinogram : (n_angles, n_detector) array
        Line integrals ``-ln(I/I0)`` (attenuation-per-pixel x pixels), one row per angle.
    angles_rad : (n_angles,) array
        Rotation angles (rad).  Any coverage of 180 deg (or a centred 360 deg scan) works;
        quadrature weights from :func:`angular_weights`.  For a 360 deg *off-centre* scan,
        first call :func:`stitch_360`.
    center : float, optional
        Detector coordinate (pixels) of the rotation axis; default ``n_detector // 2``.
    filter_name : {"ramp", "shepp-logan", "cosine", "hamming", "hann"}
        Window on the Ram-Lak ramp.
    output_size : int, optional
        Side of the square output (default ``n_detector``); centred on the rotation axis.
    circle : bool
        Set pixels outside the reconstruction circle (radius ``n_detector / 2`` about the
        axis) to 0.
    engine : {"ssbscope", "skimage", "algotom"}
        ``"ssbscope"``: our NUFFT-gridding FBP (default, fastest, deterministic).
        ``"skimage"``: ``skimage.transform.iradon`` (linear interpolation).
        ``"algotom"``: ``algotom.rec.reconstruction.dfi_reconstruction`` (direct Fourier
        inversion; needs the ``bench`` extra).  All engines share our geometry and units.
    kernel_width : int
        Width (grid points) of the gridding kernel, 4-12; 6 gives ~1e-5 relative accuracy
        against the exact FBP sum.
    interpolation : {"cubic", "linear", "sinc"}
        How the filtered projections are interpolated between detector pixels (engine
        ``"ssbscope"``).  ``"sinc"`` (default): band-limited (the exact discrete FBP sum; its
        slowly decaying tails carry the ringing of sharp edges across the slice, but it is the
        fastest and reads interface roughness closest to truth through the CT chain: the
        symmetric-cell Ra is -2.5/-7.5/-7.6 % from truth with sinc, -5.0/-9.5/-10.1 % with
        cubic); ``"linear"``: the pixel-driven back-projector of most packages (algotom,
        ASTRA); ``"cubic"``: Keys' cubic convolution (a = -0.5), the most accurate on a
        point-sampled Shepp-Logan phantom (RMSE 6 % below sinc, 3 % below linear at 2048 px x
        1800 angles, below algotom FBP; see ``benchmarks/README.md``) at ~0.5-0.8 CPU-s more
        per 2048-px row.  Linear and cubic are evaluated exactly in Fourier space:
        the periodic spectrum of the sampled projection times the kernel's transfer function,
        kept up to 0.75 (cubic) or 1.0 (linear) cycles/pixel.
    workers : int, optional
        Threads for scipy.fft (default: all).
    truncated : bool
        The sample is wider than the detector (region-of-interest scan): each row is extended
        on both sides by its edge value tapered to zero over a length (at most
        ``n_detector`` px) estimated from the edge profile (:func:`ssbscope.tomo.roi.taper_lengths`,
        :func:`ssbscope.tomo.roi.extend_sinogram`), before filtering, so the ramp filter
        sees no step at the detector edges (no bright rim, less cupping).  The output grid,
        centre and circle stay those of the original detector.

    Returns
    -------
    (n_out, n_out) ndarray of float32
        Attenuation per pixel (1/pixel), rows = y, columns = x (see the module docstring).

    Raises
    ------
    InputError
        Wrong shape, or the number of angles does not match the projections.
    DataQualityError
        NaN/inf in the sinogram.
    ParameterError
        Unknown filter or engine, centre outside the detector, bad sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from ssbscope.tomo import fbp
    >>> n = 64; ang = np.linspace(0, np.pi, 90, endpoint=False)
    >>> t = np.arange(n) - n // 2
    >>> chord = 2 * np.sqrt(np.clip(20.0**2 - t**2, 0, None))  # disk r=20 px
    >>> img = fbp(0.01 * np.tile(chord, (90, 1)), ang)
    >>> round(float(img[32, 32]), 3)
    0.01
    """
    sino, ang = _check_sinogram(sinogram, angles_rad)
    n_a, n_d = sino.shape
    if filter_name not in FILTERS:
        raise ParameterError("filter_name", filter_name, f"must be one of {FILTERS}")
    if engine not in ENGINES:
        raise ParameterError("engine", engine, f"must be one of {ENGINES}")
    c = n_d // 2 if center is None else float(center)
    if not np.isfinite(c) or c < 0 or c > n_d - 1:
        raise ParameterError("center", center, f"must lie on the detector (0 ... {n_d - 1} px)",
                             "use find_center() to estimate it")
    n_out = n_d if output_size is None else int(output_size)
    if n_out < 2:
        raise ParameterError("output_size", output_size, "must be >= 2")
    if not (2 <= int(kernel_width) <= 16):
        raise ParameterError("kernel_width", kernel_width, "must be within 2-16 (6 is default)")

    if interpolation not in INTERPOLATIONS:
        raise ParameterError("interpolation", interpolation, f"must be one of {INTERPOLATIONS}")
    n_fov = n_d
    if truncated:
        from ssbscope.tomo.roi import extend_sinogram, taper_lengths

        # the taper ends within max(taper) px; the FFT's own zero padding does the rest
        tapers = taper_lengths(sino, c)
        sino = extend_sinogram(sino, max(tapers), taper_px=tapers)
        c += max(tapers)
        n_d = sino.shape[1]
    if engine == "ssbscope":
        img = _fbp_gridding(sino, ang, c, n_out, filter_name, int(kernel_width), workers,
                            interpolation, 0.75 if interpolation == "cubic" else 1.0)
    elif engine == "skimage":
        from skimage.transform import iradon

        # skimage puts the axis at n_d // 2 and uses the same orientation as ours
        s = _shift_sinogram(sino.astype(np.float64), n_d // 2 - c)
        # iradon weights every angle by pi / n_angles (uniform angles assumed)
        img = iradon(s.T, theta=np.rad2deg(ang), filter_name=filter_name, circle=True,
                     output_size=n_out, preserve_range=True)
    else:
        try:
            from algotom.rec.reconstruction import dfi_reconstruction
        except ImportError as exc:  # pragma: no cover - depends on environment
            raise ParameterError("engine", engine, "algotom is not installed",
                                 "pip install 'ssbscope[bench]' or use engine='ssbscope'") from exc
        wins = {"ramp": None, "hann": "hann", "hamming": "hamming"}
        if filter_name not in wins:
            raise ParameterError("filter_name", filter_name,
                                 f"is not offered by algotom's DFI; use one of {sorted(wins)}")
        win = wins[filter_name]
        s = sino.astype(np.float32)
        # measured: algotom's DFI output has the axis at pixel n // 2 like ours (within 0.2 px)
        rec = dfi_reconstruction(s, c, angles=ang, filter_name=win, apply_log=False, ratio=1.0)
        img = _recentre_algotom(rec, n_out)
    img = np.asarray(img, dtype=np.float32)
    if circle:
        img[~_circle_mask(n_out, n_fov / 2.0)] = 0.0
    return img


def _recentre_algotom(rec, n_out):
    """Crop/pad algotom's square output (axis at its pixel n // 2, as ours) to ``n_out``."""
    n = rec.shape[0]
    out = np.zeros((n_out, n_out), dtype=np.float32)
    c_in, c_out = n // 2, n_out // 2
    lo = max(-c_in, -c_out)
    hi = min(n - c_in, n_out - c_out)
    out[c_out + lo:c_out + hi, c_out + lo:c_out + hi] = rec[c_in + lo:c_in + hi, c_in + lo:c_in + hi]
    return out


def stitch_360(sinogram, angles_rad, center):
    """Turn a 360 deg off-centre (extended field of view) sinogram into a 180 deg one.

    In an off-centre scan the rotation axis sits near one edge of the detector, so each
    projection sees only about half the sample; the projection at ``theta + pi``, mirrored
    about the axis, sees the other half: ``p(theta + pi, t) = p(theta, 2 center - t)``.  For
    every angle ``theta`` in the first half-turn the projection and the mirrored opposite one
    (nearest angle to ``theta + pi``) are joined on a wider detector; in their overlap
    ``|t - center| <= min(center, n - 1 - center)`` they are blended with linear weights.  The
    mirrored projection is resampled by linear interpolation when ``2 center`` is not an
    integer.

    Parameters
    ----------
    sinogram : (n_angles, n_detector) array
        Line integrals over a full turn.
    angles_rad : (n_angles,) array
        Angles covering [theta0, theta0 + 2 pi); each angle in the first half needs a partner
        within half an angular step of ``theta + pi``.
    center : float
        Detector coordinate (px) of the rotation axis.

    Returns
    -------
    sinogram_180 : (n_half, n_wide) ndarray
        Stitched sinogram, axis at ``center_180``; ``n_wide = 2 floor(e) + 1`` with ``e`` the
        larger of ``center`` and ``n_detector - 1 - center``.
    angles_180_rad : (n_half,) ndarray
        Angles of the first half-turn.
    center_180 : float
        Axis position on the stitched detector (px).
    """
    sino, ang = _check_sinogram(sinogram, angles_rad)
    n_a, n_d = sino.shape
    c = float(center)
    if not (0 <= c <= n_d - 1):
        raise ParameterError("center", center, f"must lie on the detector (0 ... {n_d - 1} px)")
    a0 = ang.min()
    span = ang.max() - a0
    step = np.median(np.diff(np.sort(ang))) if n_a > 1 else 0.0
    if span + step < 2 * np.pi - 1.5 * step:
        raise InputError(f"angles_rad: cover {np.rad2deg(span + step):.1f} deg; a 360 deg "
                         "off-centre scan needs a full turn; use fbp() directly for 180 deg scans")
    first = np.nonzero(ang < a0 + np.pi - 0.5 * step)[0]
    target = ang[first] + np.pi
    order = np.argsort(ang)
    sa = ang[order]
    pos = np.clip(np.searchsorted(sa, target), 1, n_a - 1)
    left, right = sa[pos - 1], sa[pos]
    pick = np.where(np.abs(target - left) <= np.abs(right - target), pos - 1, pos)
    partner = order[pick]
    if np.any(np.abs(ang[partner] - target) > 0.5 * step + 1e-9):
        raise InputError("angles_rad: some angles have no opposite projection (theta + 180 deg) "
                         "within half a step; resample the scan to pairs of opposite angles")
    right_long = (n_d - 1 - c) >= c
    ext = (n_d - 1 - c) if right_long else c
    half_w = int(np.floor(ext))
    n_wide = 2 * half_w + 1
    c_new = float(half_w)
    tt = np.arange(n_wide) - half_w  # offset from the axis (px)
    jd = c + tt  # direct projection: detector coordinate c + t
    jm = c - tt  # opposite projection mirrored: coordinate c - t
    valid_d = (jd >= 0) & (jd <= n_d - 1)
    valid_m = (jm >= 0) & (jm <= n_d - 1)
    ov = min(c, n_d - 1 - c)  # overlap half-width
    sgn = 1.0 if right_long else -1.0
    wd = np.clip(0.5 + 0.5 * sgn * tt / max(ov, 1e-9), 0.0, 1.0)
    wd = np.where(valid_d & ~valid_m, 1.0, np.where(valid_m & ~valid_d, 0.0, wd))
    wm = 1.0 - wd
    direct = _interp_rows(sino[first], jd, valid_d)
    mirror = _interp_rows(sino[partner], jm, valid_m)
    out = direct * wd[None, :] + mirror * wm[None, :]
    return out.astype(np.float32), ang[first].copy(), c_new


def _interp_rows(rows, coord, valid):
    """Linear interpolation of each row at fractional detector coordinates (0 where invalid)."""
    n_d = rows.shape[1]
    cc = np.clip(coord, 0, n_d - 1)
    k = np.minimum(np.floor(cc).astype(np.int64), n_d - 2)
    w = cc - k
    v = rows[:, k] * (1 - w)[None, :] + rows[:, k + 1] * w[None, :]
    v[:, ~valid] = 0.0
    return v


def reconstruct(projections, angles_rad, center=None, *, rows=None, scan: str = "180",
                filter_name: str = "ramp", output_size=None, circle: bool = True,
                engine: str = "ssbscope", interpolation: str = "sinc",
                truncated: bool = False) -> np.ndarray:
    """Reconstruct a stack of slices from (corrected, -log) projections.

    Parameters
    ----------
    projections : (n_angles, n_rows, n_detector) array
        Line integrals (output of :func:`ssbscope.tomo.flat_dark_correct`).  May be a dask
        array: only the requested rows are read.
    angles_rad : (n_angles,) array
        Rotation angles (rad).
    center : float, optional
        Rotation axis on the detector (px); default ``n_detector // 2``.
    rows : sequence of int or slice, optional
        Detector rows (slices) to reconstruct; default all.
    scan : {"180", "360-offset"}
        ``"360-offset"`` stitches opposite projections first (:func:`stitch_360`); slices
        are then ``2 floor(max(center, n - 1 - center)) + 1`` pixels wide unless
        ``output_size`` is given.
    filter_name, output_size, circle, engine, interpolation, truncated
        As in :func:`fbp` (``truncated`` extends each sinogram, after stitching for
        ``"360-offset"``).

    Returns
    -------
    (n_slices, n_out, n_out) ndarray of float32
        Attenuation per voxel (1/voxel); axis 0 follows the detector rows (the rotation axis,
        z), so the result is a ``(z, y, x)`` volume.
    """
    if projections is None or np.ndim(projections) != 3:
        raise InputError(f"projections: expected (n_angles, n_rows, n_detector), got "
                         f"{None if projections is None else np.shape(projections)}")
    n_a, n_r, n_d = projections.shape
    if np.ndim(angles_rad) != 1 or len(angles_rad) != n_a:
        raise InputError(f"angles_rad: {np.size(angles_rad)} angles do not match the {n_a} "
                         "projections; pass one angle per projection")
    if scan not in ("180", "360-offset"):
        raise ParameterError("scan", scan, "must be '180' or '360-offset'")
    if scan == "360-offset" and center is None:
        raise ParameterError("center", None, "is needed for a 360-offset scan",
                             "estimate it with find_center(..., scan='360-offset')")
    sel = np.atleast_1d(np.arange(n_r)[rows] if rows is not None else np.arange(n_r))
    out = None
    block, b0 = None, None
    for i, r in enumerate(sel):
        # read detector rows in blocks of 16 (a dask/HDF5 chunk is then read once per block)
        if block is None or not (b0 <= r < b0 + block.shape[1]):
            b0 = int(r)
            block = np.asarray(projections[:, b0:min(n_r, b0 + 16), :], dtype=np.float32)
        sino = block[:, int(r) - b0, :]
        ang = np.asarray(angles_rad, dtype=np.float64)
        c = center
        if scan == "360-offset":
            sino, ang, c = stitch_360(sino, ang, center)
        img = fbp(sino, ang, c, filter_name=filter_name, output_size=output_size, circle=circle,
                  engine=engine, interpolation=interpolation, truncated=truncated)
        if out is None:
            out = np.empty((sel.size,) + img.shape, dtype=np.float32)
        out[i] = img
        log.debug("reconstructed row %d (%d/%d)", r, i + 1, sel.size)
    return out
