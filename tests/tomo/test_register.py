"""Rigid registration: recover known sub-voxel shifts and a small rotation."""

import numpy as np
import pytest
import scipy.ndimage as ndi

import ssbscope.tomo as tomo
from ssbscope.errors import DataQualityError, InputError
from ssbscope.tomo.register import apply_rigid


def _texture(shape=(32, 48, 48), seed=0):
    return ndi.gaussian_filter(np.random.default_rng(seed).random(shape), 2.0)


def test_fourier_shift_recovered_to_hundredth_voxel():
    f = _texture()
    true = (1.3, -2.45, 0.7)
    m = np.fft.ifftn(ndi.fourier_shift(np.fft.fftn(f), [-t for t in true])).real
    t = tomo.register_rigid(f, m)
    np.testing.assert_allclose(t.shift_vox, true, atol=0.01)
    assert t.rotation_deg == 0.0 and t.error < 1e-3


def test_spline_shift_nonperiodic_recovered():
    # phase correlation alone is biased by the edges here; the refinement removes it
    f = _texture(seed=1)
    m = ndi.shift(f, (-0.4, 1.75, -0.6), order=3, mode="nearest")
    t = tomo.register_rigid(f, m)
    np.testing.assert_allclose(t.shift_vox, (0.4, -1.75, 0.6), atol=0.01)
    aligned = apply_rigid(m, t)
    inner = (slice(3, -3),) * 3
    assert np.abs(aligned[inner] - f[inner]).max() < 0.01 * np.ptp(f)


def test_small_rotation_about_z_recovered():
    f = _texture(seed=2)
    m = ndi.rotate(f, -1.2, axes=(2, 1), reshape=False, order=3, mode="nearest")
    m = ndi.shift(m, (0.0, 0.5, -0.3), order=3, mode="nearest")
    t = tomo.register_rigid(f, m, rotation=True)
    assert abs(t.rotation_deg) == pytest.approx(1.2, abs=0.02)
    assert t.error < 1e-4
    aligned = apply_rigid(m, t)
    inner = (slice(3, -3), slice(6, -6), slice(6, -6))
    assert np.abs(aligned[inner] - f[inner]).max() < 0.02 * np.ptp(f)


def test_registration_before_difference_cancels_drift():
    f = _texture(seed=3)
    m = ndi.shift(f, (0.3, -0.8, 0.45), order=3, mode="nearest")
    naive = np.abs(m - f)[4:-4, 4:-4, 4:-4].mean()
    t = tomo.register_rigid(f, m)
    diff = np.abs(apply_rigid(m, t) - f)[4:-4, 4:-4, 4:-4].mean()
    assert diff < naive / 50


def test_apply_rigid_bool_mask():
    m = np.zeros((10, 20, 20), bool)
    m[3:7, 5:10, 5:10] = True
    out = apply_rigid(m, tomo.register.RigidTransform((0.0, 2.0, -1.0), 0.0, 0.0))
    assert out.dtype == bool and out[3:7, 7:12, 4:9].all() and out.sum() == m.sum()


def test_register_bad_input():
    f = _texture((8, 10, 10))
    with pytest.raises(InputError, match="differs from fixed"):
        tomo.register_rigid(f, f[:, :, :9])
    bad = f.copy()
    bad[1, 1, 1] = np.nan
    with pytest.raises(DataQualityError, match="moving: 1 NaN/inf"):
        tomo.register_rigid(f, bad)
