"""The twin plating at its own predicted current: the hot-spot comparison has skill to find.

The default anode-free twin plates a random texture that no model predicts, so its
comparison can never show skill (and says "not resolvable": tests/report/test_report.py).
With ``plating="model"`` the twin grows the Li, after a nucleated layer of the table's texture,
at the current the interface model's primary distribution predicts on the layer's own surface
(:func:`ssbscope.twin.ct.model_plated_layer_um`).  Raw files -> ``ssbscope run`` -> the
comparison on the *measured* surfaces and current-density maps must then find the imposed
hot spots: "resolvable" and a top-decile overlap far above the shuffled baseline.  The
truth (the plating rule) stays in the twin; the analysis reads only the raw files.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.slow(seconds=240)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from ssbscope.config import load
    from ssbscope.store import Store
    from ssbscope.twin.folder import write_ct_experiment
    from ssbscope.workflow import run_experiment

    root = tmp_path_factory.mktemp("model_plating")
    f = write_ct_experiment(root / "experiment", design="anode_free", size="tiny",
                            plating="model")
    res = run_experiment(load(f.yaml_path), root / "out", quiet=True)
    return Store.open(res.store_path)


def test_model_growth_follows_the_model_on_the_true_surface():
    # the twin's own rule, checked on its truth: the growth between 1.5 and 3 mAh/cm2
    # correlates with the primary current on the 1.5 mAh/cm2 surface
    from ssbscope.interface import surface_current
    from ssbscope.twin import ct

    kw = dict(case="B", n_xy=24, n_z=48, voxel_size_um=3.0, e_kev=40.0, seed=0,
              plating="model")
    a, b = ct.anode_free_001(1.5, **kw), ct.anode_free_001(3.0, **kw)
    ha = np.asarray(a.truth["height_continuous_um"]["li|lpscl"])
    g = np.asarray(b.truth["height_continuous_um"]["li|lpscl"]) - ha
    ok = np.isfinite(g)
    assert np.nanmean(g) == pytest.approx(ct.faraday_thickness_um(1.5), rel=0.02)
    r = surface_current(ha, 3.0, conductivity_s_cm=2e-3, thickness_um=100.0,
                        current_ma_cm2=1.0, max_nodes=24)
    p = r.projected_current_ma_cm2
    assert np.corrcoef(g[ok], p[ok])[0, 1] > 0.8
    assert a.truth["plating"] == "model"


def test_the_comparison_on_the_model_plated_twin_is_resolvable_with_skill(store):
    ds = store.read("interface/anode_free/surface_current").load()
    v = [str(x) for x in ds["verdict"].values]
    plating = [k for k, x in enumerate(v) if x != "no comparison"]
    assert plating, v
    print({k: (v[k], float(ds["contrast_to_noise"].values[k]), float(ds["overlap"].values[k]),
               float(ds["baseline_overlap"].values[k]), float(ds["overlap_z"].values[k]),
               float(ds["correlation"].values[k]), float(ds["correlation_z"].values[k]))
           for k in plating})
    assert ds.attrs["r_ct_ohm_cm2"] != ds.attrs["r_ct_ohm_cm2"]  # NaN: primary distribution
    assert ds.attrs["smoothing_um"] > 0
    for k in plating:
        assert v[k] == "resolvable", (k, float(ds["contrast_to_noise"].values[k]))
        assert ds["overlap"].values[k] > ds["baseline_overlap"].values[k] + 0.2
        assert ds["overlap_z"].values[k] > 3 and ds["correlation_z"].values[k] > 2
