"""Per-pixel gain/offset from known lines (twin Am-241 flood) and bad-pixel masks."""

import numpy as np
import pytest

from ssbscope.compton import (calibrate_pixels, calibration_lines_kev, events_to_cube,
                              find_bad_pixels)
from ssbscope.errors import DataQualityError
from ssbscope.twin.xcs import DetectorModel, calibration_flood


def test_gain_offset_recovered_from_am241_flood():
    det = DetectorModel(charge_sharing=False, hits_per_frame=5.0)
    fl = calibration_flood(1_000_000, detector=det, seed=3)
    edges = np.arange(0.0, 2600.0, 4.0)  # ADU; nominal 0.03 keV/ADU
    cube = events_to_cube(fl.events, energy_edges_kev=edges, gain_kev_per_unit=1.0, offset_kev=0.0,
                          charge_sharing="none")
    lines = calibration_lines_kev()
    cal = calibrate_pixels(cube, edges, lines, gain_guess_kev_per_unit=0.03)
    ok = cal.ok
    assert ok.mean() > 0.95  # pixels with fewer than two lines keep the global calibration
    g_err = cal.gain_kev_per_unit[ok] / fl.gain_kev_per_adu[ok] - 1
    # energy error at the Compton peak (94 keV), the quantity that matters for p_z
    adu94 = (93.9 - fl.offset_kev) / fl.gain_kev_per_adu
    e94 = cal.gain_kev_per_unit * adu94 + cal.offset_kev
    assert np.median(np.abs(g_err)) < 0.01
    assert np.percentile(np.abs(e94[ok] - 93.9), 95) < 0.5
    # uncalibrated spread is much larger than the calibrated error (the test can fail)
    raw = 0.03 * adu94
    assert np.std(raw) > 3 * np.std(e94[ok])


def test_calibration_needs_lines():
    cube = np.zeros((2, 2, 100))
    with pytest.raises(DataQualityError, match="fewer than two calibration lines"):
        calibrate_pixels(cube, np.arange(101.0), [59.54, 23.17], gain_guess_kev_per_unit=1.0)


def test_find_bad_pixels():
    rng = np.random.default_rng(0)
    m = rng.poisson(1000, (80, 80)).astype(float)
    m[3, 3] = 0
    m[10, 20] = 30
    m[50, 60] = 5000
    good = find_bad_pixels(m)
    assert not good[3, 3] and not good[10, 20] and not good[50, 60]
    assert good.sum() == 6400 - 3
