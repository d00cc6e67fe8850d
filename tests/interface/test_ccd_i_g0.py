"""i_g0 of the dendrite criterion from the critical current density the echem analysis measured
(issue 17 §1: "i_g0 from the flat-interface critical current the user measured (echem CCD)").

Reference: the twin's stepped CCD log with a known critical step (1.5 mA/cm2); the contour
study must take that value (and say where from), and its critical current must follow the
criterion solved directly with that i_g0.
"""

from __future__ import annotations

import pytest


def test_contour_study_takes_i_g0_from_the_measured_ccd(tmp_path):
    import yaml

    from ssbscope.cli import main
    from ssbscope.interface import critical_current
    from ssbscope.store import Store
    from ssbscope.twin import echem as E
    from ssbscope.twin import formats as F

    tw = E.ccd_staircase(dt_s=20.0, plating_sign=1, ccd_ma_cm2=1.5)
    F.write_twin(tw, tmp_path / "ccd.csv")
    exp = {"name": "i_g0 from the CCD", "cell": {"area_cm2": float(tw.area_cm2)},
           "inputs": {"echem": [{"path": "ccd.csv"}]},
           "analysis": {"interface": {"cases": [[75, 150]], "r_ct_ohm_cm2": 40,
                                      "pressure_model": "small-slope", "stack_pressure_mpa": 7.0,
                                      "flat_critical_current_ma_cm2": "ccd"}}}
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(exp))
    assert main(["run", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "out"),
                 "--no-report", "--quiet"]) == 0
    ds = Store.open(tmp_path / "out" / "store.zarr").read("interface/contour_study").load()
    assert ds.attrs["flat_critical_current_ma_cm2"] == pytest.approx(1.5, rel=1e-3)
    assert "echem/events" in ds.attrs["flat_critical_current_source"]
    ref = critical_current("egg-box", 75.0, 150.0, r_ct_ohm_cm2=40.0, conductivity_s_cm=2e-3,
                           thickness_um=1000.0, n_xy=12, stack_pressure_mpa=7.0,
                           flat_critical_current_ma_cm2=ds.attrs["flat_critical_current_ma_cm2"])
    assert float(ds["critical_current_ma_cm2"][0]) == pytest.approx(ref.critical_current_ma_cm2,
                                                                    rel=1e-6)


@pytest.mark.parametrize("interface,where", [
    ({"cases": [[25, 150]], "flat_critical_current_ma_cm2": "ccd"},
     "analysis.interface.flat_critical_current_ma_cm2"),
    ({"cases": [[25, 150]], "r_ct_ohm_cm2": "eis"}, "analysis.interface.r_ct_ohm_cm2"),
    ({"gap_creep": {"duration_s": 3600, "neutron": {"label": "nope", "axis_x_um": 500}}},
     "analysis.interface.gap_creep.neutron.label"),
])
def test_keys_that_need_another_input_are_refused_by_validate_before_a_run(
        tmp_path, capsys, interface, where):
    """Before: ``validate`` said "valid", and ``run`` created the store, then refused with
    "run 'ssbscope validate <folder>'" (a folder, which validate does not take)."""
    import yaml

    from ssbscope.cli import main

    exp = {"name": "no log", "analysis": {"interface": interface}}
    f = tmp_path / "exp.yaml"
    f.write_text(yaml.safe_dump(exp))
    assert main(["validate", str(f)]) == 2
    assert where in capsys.readouterr().out
    assert main(["run", str(f), "--out", str(tmp_path / "out"), "--no-report", "--quiet"]) != 0
    assert not (tmp_path / "out").exists()
