"""Li change in a region of a real neutron series, through the user's path, against the twin.

The twin (:func:`ssbscope.twin.neutron.simulate_radiography`, Cao et al. 2023,
doi:10.1002/adfm.202307998) plates a known Li amount at the Li|SE interface at a constant
current (P2) and removes it from the cathode (P1); Li also creeps from the Li|steel side into
the rod–tube gap (P3 -> P4, conserved within the Li-side region).  The field here is widened
(cell axis 4.1 mm from the left edge) so the whole cell width is in view, and the Cd marker
sits in the open beam.  FITS frames + open beam + dark + a BioLogic .mpt of the same constant
current + a YAML run through ``ssbscope run``.

References (independent of the code under test):

* truth: the twin's Li path-length change per pixel (``truth.delta_li_um``, median-binned as
  the frames), summed over the region times the pixel area = the Li volume change;
* Faraday: ``Q M_Li / (F rho_Li)`` over the electrode area for the log's ``I t``.

Tolerances: the stage reports the standard deviation from counting noise and the
beam-intensity correction (0.26 µm over the Li-side region of 28 x 150 px, 0.08 µm over the
cathode rows; over 7 seeds the errors / sigma lay within -0.6 .. 2.3) and the inversion has a
beam-hardening model bias (the reference attenuation is treated as lithium-equivalent),
measured on the twin's noise-free transmission at +1.1 % for Li plated into the electrolyte
plus +0.06 µm per hour of Li creep behind the steel rod (+3.2 % in all at 11.6 µm).  So:
|measured - truth| <= 3 sigma + 5 % of the truth.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

F, M_LI, RHO_LI = 96485.33212, 6.941, 0.534
J_MA_CM2 = 0.6                     # plating current density (3 x the paper's C/20)
R_UM = 3175.0                      # electrode (rod) radius of the twin; diameter 6.35 mm
AREA_CM2 = np.pi * (R_UM * 1e-4) ** 2
N_FRAMES, DT_S, BIN = 150, 120.0, 30
PX_UM = 50.0
TWIN = dict(shape_yx=(48, 172), cell_axis_x_um=4100.0, n_frames=N_FRAMES, frame_interval_s=DT_S,
            soft_short_onset_s=None, seed=0, cd_marker=(2, 8, 164, 170), current_density_ma_cm2=J_MA_CM2)
LI_ROI = (6, 34, 0, 150)           # gap Li front (row ~8) to the P2 tail in the electrolyte
CATHODE_ROI = (38, 46, 0, 150)     # cathode rows 40.6-42.6 and the rod below
BEAM_ROI = (12, 46, 163, 172)      # open beam right of the tube


def faraday_um(q_mah_cm2):
    """Dense-Li thickness (µm) for an areal charge (mAh cm^-2)."""
    return np.asarray(q_mah_cm2) * 3.6 / F * M_LI / RHO_LI * 1e4


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from ssbscope.cli import main
    from ssbscope.store import Store
    from ssbscope.twin.formats import write_mpt
    from ssbscope.twin.neutron import simulate_radiography, write_series

    d = tmp_path_factory.mktemp("li_roi")
    tw = simulate_radiography(**TWIN)
    write_series(tw, d / "neutron", fmt="fits")
    t = np.arange(0.0, N_FRAMES * DT_S + 61.0, 60.0)
    log = pd.DataFrame({"time_s": t, "voltage_V": 3.6 + 1e-5 * t,
                        "current_A": np.full(t.size, J_MA_CM2 * AREA_CM2 * 1e-3)})
    (d / "echem").mkdir()
    write_mpt(d / "echem" / "charge.mpt", log, area_cm2=AREA_CM2)

    def item(label, roi, gains):
        y0, y1, x0, x1 = roi
        return (f"    - {{path: neutron/sample, open_beam: neutron/open_beam, dark: neutron/dark, "
                f"label: {label}, time_s: 0, pixel_size_um: {PX_UM},\n"
                f"       beam_roi: {{rows: [{BEAM_ROI[0]}, {BEAM_ROI[1]}], cols: [{BEAM_ROI[2]}, {BEAM_ROI[3]}]}},\n"
                f"       li_roi: {{rows: [{y0}, {y1}], cols: [{x0}, {x1}], gains_on_charge: {gains}}}}}\n")

    (d / "exp.yaml").write_text(
        "name: neutron Li twin\ncell: {diameter_mm: 6.35}\ninputs:\n  echem:\n"
        "    - {path: echem/charge.mpt}\n  neutron:\n"
        + item("li", LI_ROI, "true") + item("cathode", CATHODE_ROI, "false"))
    # the store only: the report's neutron and correlation parts are checked on the store
    # (test_report_shows_the_region_against_faraday)
    assert main(["run", str(d / "exp.yaml"), "--out", str(d / "run"), "--quiet", "--no-report"]) == 0
    st = Store.open(d / "run" / "store.zarr")
    dt = tw.truth.delta_li_um[: (N_FRAMES // BIN) * BIN].reshape(-1, BIN, *TWIN["shape_yx"])
    truth = np.median(dt, axis=1)
    truth = truth - truth[0]
    return {"store": st, "truth_map_um": truth, "twin": tw, "dir": d}


def _truth_volume(truth, roi):
    y0, y1, x0, x1 = roi
    return truth[:, y0:y1, x0:x1].sum(axis=(1, 2)) * PX_UM ** 2


@pytest.mark.parametrize("label,roi,sign", [("li", LI_ROI, 1.0), ("cathode", CATHODE_ROI, -1.0)])
def test_region_li_volume_recovers_the_twin(run, label, roi, sign):
    ds = run["store"][f"neutron/input/{label}"].load()
    vol = ds["li_volume_change_roi_um3"].values
    sig = ds["li_volume_change_roi_sigma_um3"].values
    truth = _truth_volume(run["truth_map_um"], roi)
    assert vol[0] == 0.0 and sig[0] == 0.0                        # the reference bin
    assert np.all(sign * truth[1:] > 0)                           # the twin moved Li there
    tol = 3 * sig[1:] + 0.05 * np.abs(truth[1:])
    assert np.all(np.abs(vol[1:] - truth[1:]) <= tol), (vol / truth, sig / np.abs(truth))
    # the sigma is a measurement, not a blanket: below 5 % of the last bin's change
    assert 0 < sig[-1] < 0.05 * abs(truth[-1])
    # region mean x region area = volume; units and conventions recorded
    y0, y1, x0, x1 = roi
    area = (y1 - y0) * (x1 - x0) * PX_UM ** 2
    np.testing.assert_allclose(ds["li_thickness_change_roi_um"].values * area, vol, rtol=1e-6)
    assert ds["li_thickness_change_roi_um"].attrs["units"] == "um"
    assert ds["li_volume_change_roi_um3"].attrs["units"] == "um^3"
    assert json.loads(ds.attrs["li_roi_px"]) == {"rows": [y0, y1], "cols": [x0, x1]}
    assert "side-on" in ds.attrs["li_geometry"] and ds.attrs["li_roi_area_um2"] == pytest.approx(area)
    assert ds["li_thickness_change_um"].dims == ("bin", "y", "x")


def test_li_map_follows_the_plating_band(run):
    """Per pixel: the P2 band (rows 17-19, cell middle) gains, the cathode rows lose Li."""
    ds = run["store"]["neutron/input/li"].load()
    m = ds["li_thickness_change_um"].values[-1]
    tr = run["truth_map_um"][-1]
    mid = slice(60, 100)                                       # |u| < 1.1 mm: chord ~ 6 mm
    band, truth_band = np.nanmean(m[17:20, mid]), tr[17:20, mid].mean()
    assert truth_band > 100                                    # µm of Li path along the beam
    assert band == pytest.approx(truth_band, rel=0.1)
    assert np.nanmean(m[40:43, mid]) < -0.5 * abs(tr[40:43, mid].mean())


def test_correlate_neutron_rows_against_faraday(run):
    c = run["store"]["correlate/states"].load()
    t_bin = (np.arange(N_FRAMES // BIN) * BIN + (BIN - 1) / 2 + 0.5) * DT_S
    for name in ("neutron/li", "neutron/cathode"):
        s = c.isel(time_s=c["series"].values == name)
        np.testing.assert_allclose(s["time_s"].values, t_bin)
        dq = J_MA_CM2 * (t_bin - t_bin[0]) / 3600.0
        np.testing.assert_allclose(s["charge_since_first_mah_cm2"].values, dq, rtol=1e-5, atol=1e-8)
        h_f = faraday_um(dq)
        per_area = s["neutron_li_change_per_area_um"].values
        sig = s["neutron_li_change_sigma_um"].values
        # Faraday over the electrode area: the same tolerance as against the twin truth, plus
        # the twin truth's own 1 % over Faraday (chord sums of the pixel grid)
        assert np.all(np.abs(per_area[1:] - h_f[1:]) <= 3 * sig[1:] + 0.06 * h_f[1:]), per_area / np.where(h_f, h_f, 1)
        res = s["neutron_li_residual_pct"].values
        assert np.isnan(res[0])
        h_code = s["faraday_thickness_change_um"].values
        np.testing.assert_allclose(h_code, h_f, rtol=1e-4)
        np.testing.assert_allclose(res[1:], 100 * (per_area[1:] - h_code[1:]) / h_code[1:], rtol=1e-9)
        assert abs(res[-1]) < 100 * 3 * sig[-1] / h_f[-1] + 6.0    # ~ 12 %: "small"
        assert s["neutron_li_residual_pct"].attrs["units"] == "percent"
        assert np.all(np.isnan(s["plated_thickness_change_um"].values))   # CT columns stay NaN
    info = json.loads(c.attrs["series"])
    assert info["neutron/cathode"]["li_gains_on_charge"] is False


def test_report_shows_the_region_against_faraday(run):
    from ssbscope.report.correlate import section as corr_section
    from ssbscope.report.neutron import section

    sec = section(run["store"])
    assert "li: Li volume change in li_roi" in sec.html and "Faraday" in sec.html
    csec = corr_section(run["store"])
    assert "neutron Li" in csec.html


# ------------------------------------------------------------------------------ library
def test_region_li_change_analytic():
    from ssbscope.neutron.attenuation import li_cross_section_1_cm
    from ssbscope.neutron.lithium import monochromatic, region_li_change

    sp = monochromatic(3.0)
    sig_um = li_cross_section_1_cm(3.0) * 1e-4
    dx = np.zeros((3, 4, 5))
    dx[1, 1:3, 1:4] = 20.0
    dx[2, 1:3, 1:4] = -8.0
    ratio = np.exp(-sig_um * dx)
    ratio[2, 0, 0] = np.nan                                   # a masked pixel: counted at the mean
    res = region_li_change(ratio, np.full((4, 5), 0.3), roi=(1, 3, 1, 4), pixel_size_um=10.0, spectrum=sp)
    np.testing.assert_allclose(res.mean_um, [0.0, 20.0, -8.0], atol=1e-6)
    np.testing.assert_allclose(res.volume_um3, [0.0, 20.0 * 6 * 100, -8.0 * 6 * 100], atol=1e-3)
    whole = region_li_change(ratio, np.full((4, 5), 0.3), pixel_size_um=10.0, spectrum=sp)
    assert whole.n_valid.tolist() == [20, 20, 19]
    np.testing.assert_allclose(whole.mean_um[1], 20.0 * 6 / 20, rtol=1e-6)
    assert np.isnan(region_li_change(ratio, np.ones((4, 5)), spectrum=sp).area_um2)


def test_median_and_beam_sigmas_match_monte_carlo():
    from ssbscope.neutron.lithium import beam_factor_sigma, median_standard_error

    rng = np.random.default_rng(3)
    s = 0.02
    frames = 0.5 + 1e-4 * np.arange(30)[:, None, None] + s * rng.normal(size=(30, 40, 40))
    se = median_standard_error(frames)
    # the slow trend cancels; the median's standard error is sqrt(pi/2) s / sqrt(30)
    assert np.median(se) == pytest.approx(np.sqrt(np.pi / 2) * s / np.sqrt(30), rel=0.08)
    # beam factor: Monte Carlo of the bin's median of per-frame region medians
    meds = [np.median(np.median((1 + s * rng.normal(size=(30, 100))), axis=1)) for _ in range(400)]
    est = beam_factor_sigma(1 + s * rng.normal(size=(30, 10, 10)))
    assert est == pytest.approx(np.std(meds), rel=0.25)


def test_li_roi_errors(tmp_path):
    from ssbscope.config import from_dict
    from ssbscope.errors import ParameterError
    from ssbscope.neutron.stages import _region_px

    with pytest.raises(Exception, match="first < end"):
        from_dict({"inputs": {"neutron": [{"path": "x/*.fits", "li_roi": {"rows": [5, 2], "cols": [0, 3]}}]}},
                  base_dir=tmp_path)
    exp = from_dict({"inputs": {"neutron": [{"path": "x/*.fits", "pixel_size_um": 50,
                                             "li_roi": {"rows": [100, 300], "cols": [0, 500], "units": "um"}}]}},
                    base_dir=tmp_path)
    roi = exp.inputs.neutron[0].li_roi.model_dump()
    assert _region_px(roi, "li_roi", (48, 96), 50.0, "x") == (2, 6, 0, 10)
    with pytest.raises(ParameterError, match="outside the 48 x 96"):
        _region_px({"rows": [0, 60], "cols": [0, 5]}, "li_roi", (48, 96), None, "x")
    with pytest.raises(ParameterError, match="pixel_size_um"):
        _region_px(roi, "li_roi", (48, 96), None, "x")


def test_monochromatic_stage_is_beer_lambert(tmp_path):
    """wavelength_a: Δx = -ln(Tr_t/Tr_0) / Σ_Li(λ), exactly, through the input stage."""
    from ssbscope.config import from_dict
    from ssbscope.neutron.attenuation import li_cross_section_1_cm
    from ssbscope.neutron.io import write_fits_series
    from ssbscope.neutron.stages import input_stages
    from ssbscope.pipeline import run as run_stages
    from ssbscope.store import Store

    lam, li6 = 2.5, 0.3                                   # enriched Li
    sig_um = li_cross_section_1_cm(lam, li6_fraction=li6) * 1e-4
    frames = np.full((6, 8, 8), 0.5)
    frames[3:, 2:5, 1:7] *= np.exp(-sig_um * 12.0)        # 12 µm more Li in 3 x 6 px
    write_fits_series(tmp_path / "s", (frames * 4000).astype(np.float32), np.arange(6.0))
    write_fits_series(tmp_path / "ob", np.full((2, 8, 8), 4000.0, np.float32), np.arange(2.0))
    exp = from_dict({"inputs": {"neutron": [{"path": "s", "open_beam": "ob", "label": "m", "bin_frames": 3,
                                             "gamma_filter": False, "pixel_size_um": 10, "wavelength_a": lam,
                                             "li6_fraction": li6,
                                             "li_roi": {"rows": [0, 80], "cols": [0, 80], "units": "um"}}]}},
                    base_dir=tmp_path)
    st = Store.create(tmp_path / "store.zarr")
    run_stages(input_stages(exp), st, config=exp, quiet=True)
    ds = st["neutron/input/m"].load()
    np.testing.assert_allclose(ds["li_thickness_change_um"].values[1, 2:5, 1:7], 12.0, rtol=1e-5)
    np.testing.assert_allclose(ds["li_thickness_change_um"].values[1, 0], 0.0, atol=1e-5)
    np.testing.assert_allclose(ds["li_volume_change_roi_um3"].values, [0.0, 12.0 * 18 * 100], rtol=1e-5)
    assert "monochromatic 2.5 A" in ds.attrs["li_spectrum"] and ds.attrs["li6_fraction"] == li6
    assert "no beam_roi" in ds["li_thickness_change_roi_sigma_um"].attrs["description"]
