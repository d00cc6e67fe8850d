"""Wagner-number study of the contour sweeps (ssbscope.interface.kinetics_sweep, gain_maximum)."""

import numpy as np
import pandas as pd
import pytest

from ssbscope.errors import ParameterError
from ssbscope.interface import gain_maximum, kinetics_sweep


def test_gain_maximum_recovers_parabola_vertex_on_uneven_samples():
    x = np.array([5.0, 25.0, 50.0, 75.0, 100.0, 150.0])
    df = pd.DataFrame({"height_um": x, "g": 1.2 - 3e-5 * (x - 83.0) ** 2, "k": 1})
    m = gain_maximum(df, y="g", by="k").iloc[0]
    assert m["interior"]
    assert m["x_at_max"] == pytest.approx(83.0, rel=1e-9)
    assert m["y_at_max"] == pytest.approx(1.2, rel=1e-12)
    # a monotone series has no interior maximum: its end sample is returned
    mono = pd.DataFrame({"height_um": x, "g": -x, "k": [1, 1, 1, 2, 2, 2]})
    out = gain_maximum(mono, y="g", by="k")
    assert not out["interior"].any()
    assert out["x_at_max"].tolist() == [5.0, 75.0]
    assert out["trend"].tolist() == ["falling", "falling"]
    # a local peak lower than the first sample is still the maximum inside the sweep
    dip = pd.DataFrame({"height_um": x, "g": [1.0, 0.9, 0.95, 0.97, 0.96, 0.9]})
    m2 = gain_maximum(dip, y="g", by=None).iloc[0]
    assert m2["interior"] and 50.0 < m2["x_at_max"] < 100.0 and m2["trend"] == "non-monotonic"
    with pytest.raises(ParameterError, match="not a column"):
        gain_maximum(df, y="nope")


def test_kinetic_length_decides_whether_critical_current_peaks_against_height():
    # 003_ Figs. 3b, 4a: the critical current passes through a maximum against H at fixed S.
    # With sigma R_ct = 0.2 mm (comparable to S = 150 um) the creep pressure wins from the
    # start; with 0.8 mm the area benefit first grows faster than the pressure penalty and the
    # maximum appears (measured, 12 current intervals and 4 Stokes elements: 0.988, 1.001,
    # 0.996, 0.973 at H = 75-150; peak near H = 106 um)
    hs = (25, 50, 75, 100, 125, 150)
    df = kinetics_sweep([(h, 150) for h in hs], (10.0, 40.0), n_xy=12, stokes_n_xy=4)
    assert df["kinetic_length_um"].unique().tolist() == pytest.approx([200.0, 800.0])
    short = df[df["r_ct_ohm_cm2"] == 10.0].sort_values("height_um")
    long_ = df[df["r_ct_ohm_cm2"] == 40.0].sort_values("height_um")
    assert np.all(np.diff(short["gain_over_flat"]) < 0), short["gain_over_flat"].tolist()
    m = gain_maximum(df).set_index("r_ct_ohm_cm2")
    assert not m.loc[10.0, "interior"]
    assert m.loc[40.0, "interior"] and 75.0 < m.loc[40.0, "x_at_max"] < 150.0, m
    # with the longer kinetic length the maximum current falls with H (003_ Fig. 3c) towards
    # the uniform current per true area, 1 / area ratio, and stays above it
    r = long_["max_kinetic_over_geometric"].to_numpy()
    assert np.all(np.diff(r) < 0)
    assert np.all(r >= 1.0 / long_["area_ratio"].to_numpy() - 1e-9)
    # the pressure at the Li protrusion barely depends on the kinetics (within 15 %)
    np.testing.assert_allclose(long_["site_excess_pressure_mpa"].to_numpy(),
                               short["site_excess_pressure_mpa"].to_numpy(), rtol=0.15)
    assert np.all(df["gain_over_flat"] <= df["area_ratio"] + 1e-9)


def test_kinetics_sweep_bad_input():
    with pytest.raises(ParameterError, match="r_ct_values_ohm_cm2"):
        kinetics_sweep([(25, 150)], r_ct_ohm_cm2=10.0)
    for bad in ((), (10.0, -1.0), (float("nan"),), (float("inf"),)):
        with pytest.raises(ParameterError, match="r_ct_values_ohm_cm2"):
            kinetics_sweep([(25, 150)], bad)
