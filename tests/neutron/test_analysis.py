"""Profiles, layer boundaries, space-time maps, bands P1-P4, soft-short onset, Li thickness."""

import numpy as np
import pytest

from ssbscope.errors import DataQualityError, EmptyResultError
from ssbscope.neutron import (ROI, detect_bands, layer_boundaries, li_thickness_change_um, median_bin,
                              profile, space_time_map)
from ssbscope.neutron.analysis import fluctuation_onset, soft_short_onset


@pytest.fixture(scope="module")
def maps(twin, reduced):
    rois = twin.truth.rois
    out = {}
    for name in ("I", "II"):
        st = space_time_map(reduced.ratio, ROI(*rois[name], name=name), reduced.time_s, reduced.ratio_sigma)
        out[name] = (st, detect_bands(st))
    return out


def test_profile_of_a_step_and_its_boundary_analytic():
    img = np.ones((20, 5))
    img[8:] = 0.3
    prof = profile(img)
    lb = layer_boundaries(prof)
    assert lb.position_px.tolist() == [7.5] and lb.step[0] < 0


def test_acceptance_layer_boundaries_within_one_pixel(twin, reduced):
    prof = profile(reduced.transmission[0], twin.truth.rois["I"])
    found = layer_boundaries(prof).position_px
    true = np.array(sorted(twin.truth.layer_boundaries_px.values()))
    assert found.size == true.size
    assert np.max(np.abs(found - true)) < 1.0


def test_acceptance_bands_found_at_true_positions_with_sign(twin, maps):
    for name, b in twin.truth.bands.items():
        st, bands = maps[b["roi"]]
        r0, r1 = b["rows"]
        hits = [x for x in bands if r0 - 1 <= x.position_px <= r1 and x.sign == b["sign"]]
        assert len(hits) == 1, (name, [(x.position_px, x.kind) for x in bands])
        assert hits[0].kind == b["kind"]
    # no spurious bands in the middle of the electrolyte, nothing where nothing changed
    st, bands = maps["I"]
    assert len(bands) == 4
    assert not any(22 <= x.position_px <= 38 for x in bands)


def test_band_onsets_follow_the_truth(twin, maps, reduced):
    step = np.diff(reduced.time_s)[0]
    for name, b in twin.truth.bands.items():
        st, bands = maps[b["roi"]]
        r0, r1 = b["rows"]
        hit = next(x for x in bands if r0 - 1 <= x.position_px <= r1 and x.sign == b["sign"])
        # the first significant bin is at most two bins after the true onset, never before it
        assert b["onset_s"] - step / 2 <= hit.onset_s <= b["onset_s"] + 2.5 * step


def test_acceptance_soft_short_onset_within_one_binned_frame(twin, maps, reduced):
    st, bands = maps["I"]
    t_on, idx, where = soft_short_onset(bands, reduced.time_s)
    bin_s = reduced.bin_stop_s[0] - reduced.bin_start_s[0] + twin.config.frame_interval_s
    assert t_on is not None
    assert abs(t_on - twin.truth.soft_short_onset_s) <= bin_s
    # the electrochemistry twin's voltage stops rising at the same time
    assert twin.truth.soft_short_onset_s == pytest.approx(4.5 * 3600.0)


def test_no_soft_short_no_onset():
    from ssbscope.twin.neutron import simulate_radiography
    from ssbscope.neutron.stream import reduce_series

    tw = simulate_radiography(n_frames=240, soft_short_onset_s=None, shape_yx=(48, 96), seed=5)
    tr = tw.truth
    rs = reduce_series(tw.images, tw.open_beam, tw.dark, tw.time_s, beam_roi=tr.rois["beam"],
                       background_roi=tr.rois["background"], gain_adu_per_count=2.0)
    st = space_time_map(rs.ratio, tr.rois["I"], rs.time_s, rs.ratio_sigma)
    assert soft_short_onset(detect_bands(st), rs.time_s)[0] is None


def test_fluctuation_onset_ignores_a_single_kink():
    t = np.arange(20.0)
    y = np.where(t < 4, 0.0, 0.1 * (t - 4))
    assert fluctuation_onset(y, 0.001, t) == (None, None)
    y2 = y.copy()
    y2[12:] += 0.1 * np.array([1, -1, 1, -1, 1, -1, 1, -1])
    # first fluctuating frame 12; the onset time is the boundary between frames 11 and 12
    assert fluctuation_onset(y2, 0.001, t) == (11.5, 12)
    y3 = y.copy()
    y3[12:] += 0.1 * np.array([-0.02, 1, -1, 1, -1, 1, -1, 1])  # frame 12 barely moves
    assert fluctuation_onset(y3, 0.001, t)[1] in (12, 13)
    # kinks in a monotonic series (a front crossing rows) are not fluctuations
    y4 = np.cumsum(np.where(np.arange(20) % 3 == 0, 0.3, 0.05))
    assert fluctuation_onset(y4, 0.001, t) == (None, None)


def test_acceptance_li_thickness_change_within_10_percent(twin, reduced):
    d_true = median_bin(twin.truth.delta_li_um, 30)[-1]
    d_est = li_thickness_change_um(reduced.ratio[-1], reduced.transmission[0])
    for name, b in twin.truth.bands.items():
        r0, r1 = b["rows"]
        _, _, x0, x1 = twin.truth.rois[b["roi"]]
        est = float(d_est[r0:r1, x0:x1].sum())
        true = float(d_true[r0:r1, x0:x1].sum())
        assert abs(est / true - 1) < 0.10, (name, est, true)


def test_empty_roi_and_masked_rows():
    with pytest.raises(EmptyResultError, match="is empty"):
        profile(np.ones((5, 5)), (2, 2, 0, 5))
    m = np.ma.MaskedArray(np.ones((5, 5)), mask=np.zeros((5, 5), bool))
    m.mask[2] = True
    with pytest.raises(EmptyResultError, match="no valid pixel"):
        profile(m, (0, 5, 0, 5))
    with pytest.raises(DataQualityError, match="non-finite"):
        layer_boundaries(np.array([1.0, 2.0, np.nan, 1.0, 1.0, 1.0]))


def test_space_time_map_to_xarray(maps):
    st, _ = maps["I"]
    ds = st.to_xarray(pixel_size_um=50.0)
    assert ds["ratio"].dims == ("time_s", "position_px")
    assert float(ds["ratio"][0].mean()) == pytest.approx(1.0)


def test_li_thickness_sigma_predicts_the_scatter(twin, reduced):
    from ssbscope.neutron import li_thickness_sigma_um

    d_true = median_bin(twin.truth.delta_li_um, 30)[-1]
    d_est = li_thickness_change_um(reduced.ratio[-1], reduced.transmission[0])
    sig = li_thickness_sigma_um(reduced.ratio[-1], reduced.ratio_sigma[-1], reduced.transmission[0])
    cell = (median_bin(twin.truth.transmission, 30)[0] > 0.02) & (sig.data > 0)
    z = (d_est.data - d_true)[cell] / sig.data[cell]
    # counting noise dominates: the z-scores have unit spread (the model bias is small)
    assert 0.85 < 1.4826 * np.median(np.abs(z - np.median(z))) < 1.15


@pytest.mark.parametrize("seed,onset_h", [(1, 3.0), (3, 6.0)])
def test_soft_short_onset_other_seeds_and_onsets(seed, onset_h):
    """Acceptance, beyond the default draw: onset within one binned frame."""
    from ssbscope.neutron.stream import reduce_series
    from ssbscope.twin.neutron import simulate_radiography

    tw = simulate_radiography(seed=seed, soft_short_onset_s=onset_h * 3600.0)
    tr = tw.truth
    rs = reduce_series(tw.images, tw.open_beam, tw.dark, tw.time_s, beam_roi=tr.rois["beam"],
                       gain_adu_per_count=2.0, read_noise_adu=2.0)
    st = space_time_map(rs.ratio, ROI(*tr.rois["I"], name="I"), rs.time_s, rs.ratio_sigma)
    t_on = soft_short_onset(detect_bands(st), rs.time_s)[0]
    assert t_on is not None and abs(t_on - tr.soft_short_onset_s) <= 30 * tw.config.frame_interval_s
