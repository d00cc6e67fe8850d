"""Predicted hot spots against the measured current-density map through ``ssbscope run`` (issue 17 §2).

The positive case the anode-free demo cannot give (there the predicted current varies by ~1 %,
far below the measured map's noise): raw files are three reconstructed CT volumes
(multi-page TIFF, ``kind: volume``) of a tiny Cu | Li | Li6PS5Cl | Li cell (anode-free geometry: the series registers
on the static Cu) whose plated Li surface
carries protrusions several voxels high.  Between scans the Li grows, column by column, by
Faraday's law at the current per projected area that the interface model itself predicts
on the *true* surface of the earlier scan (:func:`ssbscope.interface.surface_current`,
linearised Butler-Volmer with ``sigma R_ct`` = 5 um, far below the bumps' size), with
partial-volume grey values at the faces and grey-level noise.  ``ssbscope run`` segments the
volumes, maps the Li|Li6PS5Cl heights and the Li thickness, turns the thickness change into
current-density maps (transport) and predicts the current on each *measured* surface.

References: the imposed plating (the model on the true surface) for the hot spots; the
noise floor is checked separately against a known noise in tests/interface/test_topography.py.
What this checks is the chain (segmentation, height and thickness maps, Faraday maps, the
comparison) and the verdict: ``resolvable`` and a top-decile overlap far above the shuffled
baseline.  The imposed hot spots are the model's own, so the test does not validate the model's
physics (tests/interface/test_topography.py does, against analytic solutions).
"""

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow(seconds=40)

NZ, N, VS = 48, 40, 2.0
SIGMA_S_CM, R_CT, ELECTROLYTE_UM = 1e-3, 0.5, 30.0
PLATE_VOX = 2.5  # mean Li grown per interval (voxels)
DT_S = 3600.0
LI, LPSCL, CU = 1.0, 3.0, 6.0  # grey levels (attenuation order)
CU_VOX = 4  # static Cu collector at the bottom: the series registers on it


def _true_surfaces():
    """Li|Li6PS5Cl heights (voxels from z = 0) of the three scans and the imposed growth."""
    from ssbscope.interface import surface_current

    yy, xx = np.mgrid[:N, :N]
    rng = np.random.default_rng(5)
    h = np.full((N, N), CU_VOX + 5.0)
    for cy, cx in rng.uniform(6, N - 6, (7, 2)):
        h += 4.0 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 2.5 ** 2))
    hs, growth = [h], []
    for _ in range(2):
        r = surface_current(hs[-1] * VS, VS, conductivity_s_cm=SIGMA_S_CM,
                            thickness_um=ELECTROLYTE_UM, current_ma_cm2=1.0,
                            r_ct_ohm_cm2=R_CT, max_nodes=20)
        g = PLATE_VOX * r.projected_current_ma_cm2 / r.projected_current_ma_cm2.mean()
        growth.append(g)
        hs.append(hs[-1] + g)
    return hs, growth


def _column_fill(z, lo, hi):
    """Fraction of voxel ``z`` (an (NZ, 1, 1) index) inside ``[lo, hi)`` per column."""
    return np.clip(np.minimum(z + 1, hi[None]) - np.maximum(z, lo[None]), 0.0, 1.0)


def _write_folder(root: Path):
    import tifffile
    import yaml

    hs, growth = _true_surfaces()
    yy, xx = np.mgrid[:N, :N]
    cell = (yy - N / 2 + 0.5) ** 2 + (xx - N / 2 + 0.5) ** 2 <= (0.45 * N) ** 2
    z = np.arange(NZ, dtype=float)[:, None, None]
    e_vox = ELECTROLYTE_UM / VS
    for k, h in enumerate(hs):
        # the pellet rides on the plated Li (each column shifted up); counter Li above it
        top = h + e_vox
        lpscl = _column_fill(z, h, top)
        v = (LI * (1.0 - lpscl) + LPSCL * lpscl).astype(np.float32)
        v[:CU_VOX] = CU
        v[:, ~cell] = 0.0
        v += np.random.default_rng(10 + k).normal(0.0, 0.05, v.shape).astype(np.float32)
        tifffile.imwrite(root / f"v{k}.tif", v)
    exp = {"name": "hot spots end to end",
           "cells": {"c": {"diameter_mm": 0.08, "layers": [
               {"name": "Cu", "material": "Cu", "thickness_um": CU_VOX * VS},
               {"name": "Li", "material": "Li", "thickness_um": 24},
               {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": ELECTROLYTE_UM},
               {"name": "counter", "material": "Li", "thickness_um": 30}]}},
           "inputs": {"tomo": [{"path": f"v{k}.tif", "kind": "volume", "series": "c",
                                "time_s": DT_S * k, "voxel_size_um": VS, "energy_kev": 22}
                               for k in range(3)]},
           "analysis": {"tomo": {"interfaces": ["Li|LPSCl"]},
                        "interface": {"conductivity_s_cm": SIGMA_S_CM, "topography": {
                            "r_ct_ohm_cm2": R_CT, "current_ma_cm2": 1.0, "max_nodes": 20,
                            "n_shuffle": 100, "smoothing_um": 2.0}}}}
    f = root / "experiment.yaml"
    f.write_text(yaml.safe_dump(exp))
    return f, cell, growth


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from ssbscope.cli import main
    from ssbscope.store import Store

    root = tmp_path_factory.mktemp("hot_spots")
    f, cell, growth = _write_folder(root)
    assert main(["run", str(f), "--out", str(root / "out"), "--quiet"]) == 0
    return Store.open(root / "out" / "store.zarr"), root, cell, growth


def test_the_comparison_is_resolvable_and_finds_the_imposed_hot_spots(run):
    st, _, _, _ = run
    ds = st.read("interface/c/surface_current").load()
    assert ds.attrs["smoothing_um"] == pytest.approx(2.0)
    assert list(ds["verdict"].values) == ["resolvable", "resolvable"]
    # the predicted contrast (the bumps give tens of %) lies far above the measured floor
    assert np.all(ds["predicted_contrast"].values > 0.1), ds["predicted_contrast"].values
    # measured 18 and 23 (the shared noise model; the former spectrum floor gave 4.3 and 2.7)
    assert np.all(ds["contrast_to_noise"].values > 2), ds["contrast_to_noise"].values
    ov, base = ds["overlap"].values, ds["baseline_overlap"].values
    # top decile: the shuffled baseline sits near 0.1; the imposed hot spots are found
    assert np.all(ov > 0.7) and np.all(base < 0.2), (ov, base)
    assert np.all(ds["overlap_z"].values > 5), ds["overlap_z"].values
    assert np.all(ds["correlation"].values > 0.9)
    assert np.all(ds["correlation_z"].values > 3), ds["correlation_z"].values
    # beyond the height (ssbscope.interface.height_conditioned_skill): computed for both
    # intervals; not asserted either way, the imposed growth peaks on the bumps' tops, where
    # the height is highest too
    print({v: np.round(ds[v].values, 3).tolist() for v in (
        "partial_correlation", "partial_correlation_z", "partial_correlation_p",
        "conditional_baseline_overlap", "conditional_overlap_z", "height_only_overlap")},
          ds["skill_beyond_height"].values)
    assert np.all(np.isfinite(ds["partial_correlation_p"].values))
    assert set(ds["skill_beyond_height"].values) <= {"skill beyond height", "no skill beyond height"}


def test_measured_maps_follow_the_imposed_growth_and_the_floor_matches_their_error(run):
    # the truth the comparison never sees: the growth imposed between the scans (Faraday)
    from ssbscope.interface import smooth_map
    from ssbscope.transport.current_density import thickness_change_to_current_ma_cm2

    st, _, _, growth = run
    cd = st.read("transport/c/current_density").load()
    ds = st.read("interface/c/surface_current").load()
    for k, g in enumerate(growth):
        m = np.abs(cd["current_density_ma_cm2"].isel(interval=k).values.astype(float))
        ok = np.isfinite(m)
        assert ok.sum() > 0.5 * N * N
        truth = np.where(ok, thickness_change_to_current_ma_cm2(g * VS, DT_S), np.nan)
        ms, ts = smooth_map(m, VS, 2.0), smooth_map(truth, VS, 2.0)
        assert np.nanmean(ms) == pytest.approx(np.nanmean(ts), rel=0.03)
        err = np.nanstd(ms - ts) / np.nanmean(ms)  # the measured map's actual error
        floor = float(ds["measured_noise_floor"].values[k])
        # the floor estimated from the map alone (spatial correlation included) is not
        # below the error against the truth (the direction that would call a comparison
        # resolvable that is not); measured 0.92x and 1.42x with the shared noise model
        # (ssbscope.mapnoise: the robust variogram trims the pairs across the growth's sharp
        # hot spots and voxel steps), where the former spectrum fit read 3.9x and 11.9x
        # (the hot spots' power at periods of 2-5 pixels taken for correlated noise)
        assert 0.6 * err < floor < 15.0 * err, (k, floor, err)


def test_report_states_the_verdict_and_the_skill(run):
    _, root, _, _ = run
    html = (root / "out" / "report.html").read_text()
    assert "resolvable (contrast" in html and "skill: top-decile overlap" in html
    assert "beyond the height: partial correlation" in html
    assert "height-conditioned baseline" in html and "height-only overlap" in html
    assert "smoothed by a Gaussian of 2 µm" in html
