"""The series' write step assembles numbers; it reads no scan volume (issue 13).

At 4 x 512^3 the final write's peak RSS rose from 1.11 to 2.70 GB (about the whole float32
series) when the resolution-corrected Ra fitted each scan's lateral PSF at write time on the
whole electrolyte band of ``res.volumes`` (``np.asarray(res.volumes[i, b0 + 2:b1 - 2])``,
~230 MB a scan at 512^3).  The PSF is now measured with the scan
(``ScanMeasurement.psf_sigma_vox``, :func:`ssbscope.tomo.series_chunked._lateral_psf`, at most
``PSF_SLICES`` slices of the band, read slab by slab), so :func:`ssbscope.tomo.stages.series_datasets` must not read
``res.volumes`` at all: it hands the store a lazy array that the store writes slab by slab.

The series is a small synthetic Li | Li6PS5Cl | Li stack (a disc in vacuum, a rough lower
interface, Gaussian blur of 0.6 voxel, white noise), analysed in memory; its volumes are then
replaced by a lazy Dask array over a reader that counts the voxels it is asked for.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from ssbscope.tomo.series import analyse_series
from ssbscope.tomo.series_chunked import PSF_SLICES, _lateral_psf

VS = 3.0
LI, LPS = 0.00003, 0.0021
LAYERS = [dict(name="Li", material="Li", thickness_um=24),
          dict(name="LPSCl", material="Li6PS5Cl", thickness_um=60),
          dict(name="counter", material="Li", thickness_um=24)]
BLUR = 0.6


def _volume(seed, nz=40, n=40):
    rng = np.random.default_rng(seed)
    t = ndimage.gaussian_filter(rng.standard_normal((n, n)), 2.0, mode="wrap")
    top_li = 8.0 + 1.2 * (t - t.mean()) / t.std()
    z = np.arange(nz)[:, None, None] + 0.0
    f = np.clip(np.minimum(z + 1, 28.0) - np.maximum(z, top_li[None]), 0, 1)
    v = f * LPS + (1 - f) * LI
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    v = np.where(((yy ** 2 + xx ** 2) <= (n / 2 - 3) ** 2)[None], v, 0.0)
    v = ndimage.gaussian_filter(v, BLUR)
    return (v + rng.normal(0.0, 0.0002, v.shape)).astype(np.float32)


class _CountingReader:
    """An array-like over a NumPy array that counts the voxels read through it."""

    def __init__(self, a):
        self.a, self.shape, self.dtype, self.ndim = a, a.shape, a.dtype, a.ndim
        self.voxels_read = 0
        self.largest_read = 0

    def __getitem__(self, key):
        out = self.a[key]
        self.voxels_read += int(np.size(out))
        self.largest_read = max(self.largest_read, int(np.size(out)))
        return out


@pytest.fixture(scope="module")
def series():
    return analyse_series([_volume(0), _volume(1)], LAYERS, VS, energy_kev=22,
                          interfaces=["Li|LPSCl"])


def test_series_write_reads_no_volume(series):
    import dask.array as da

    from ssbscope.tomo.stages import series_datasets

    reader = _CountingReader(np.asarray(series.volumes))
    lazy = da.from_array(reader, chunks=(1, 4) + reader.shape[2:], asarray=False)
    res = dataclasses.replace(series, volumes=lazy)
    out = series_datasets(res, [0.0, 3600.0], ["a", "b"], VS, central_fraction=0.75,
                          series="s")
    met = next(ds for k, ds in out.items() if k.endswith("/metrics"))
    # the old write read both scans' electrolyte bands here (2 x 16 slices x 40 x 40 voxels)
    assert reader.voxels_read == 0, reader.voxels_read
    psf = met["psf_sigma_vox"].values
    # the PSF measured with the scan, on a few slices: the applied blur within 0.15 voxel
    # (the cell wall's edge spread; measured 0.6x, see the docstring of _lateral_psf)
    assert np.all(np.abs(psf - BLUR) < 0.15), psf
    assert np.isfinite(met["ra_resolution_corrected_um"].values).all()


def test_lateral_psf_reads_the_band_slab_by_slab(series):
    from ssbscope.tomo.metrics import lateral_edge_spread

    s = series.scans[0]
    reader = _CountingReader(np.asarray(series.volumes[0]))
    mask = np.asarray(series.region.mask)
    sig = _lateral_psf(reader, s.location, s.electrolyte, mask, cz=4)
    ny, nx = reader.shape[1:]
    b0, b1 = s.location.band(s.electrolyte)
    n = min(PSF_SLICES, b1 - b0 - 4)
    # at most PSF_SLICES slices of the band, one slab of 4 slices at a time
    assert reader.voxels_read == n * ny * nx, (reader.voxels_read, n)
    assert reader.largest_read <= 4 * ny * nx
    # the band's voxels fitted at once (the former estimate at the write): the same least
    # squares on the per-distance sums, equal to the solver's tolerance (measured 2e-6)
    whole = lateral_edge_spread(np.asarray(series.volumes[0, b0 + 2:b1 - 2]), mask).sigma_vox
    assert sig == pytest.approx(whole, abs=1e-4), (sig, whole)
    assert sig == pytest.approx(s.psf_sigma_vox)
