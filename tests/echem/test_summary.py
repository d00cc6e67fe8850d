"""Summary (what `ssbscope echem FILE` prints) on synthetic logs with known answers."""

import json

import numpy as np
import pytest

from echem_synth import ccd_log, charge_with_short, full_cell_log
from ssbscope.echem import EchemSummary, summarize
from ssbscope.errors import ParameterError


def test_full_cell_summary():
    df, truth = full_cell_log(n_cycles=2, dt_s=30.0, noise_mV=1.0)
    s = summarize(df, area_cm2=1.54, mass_mg=10.0)
    assert isinstance(s, EchemSummary)
    assert s.n_cycles == 2
    np.testing.assert_allclose(s.coulombic_efficiency, truth["ce"], atol=1e-3)
    assert s.total_charge_mAh == pytest.approx(sum(truth["charge_mAh"]), rel=2e-3)
    assert s.total_discharge_mAh == pytest.approx(sum(truth["discharge_mAh"]), rel=2e-3)
    assert s.shorts == [] and not s.stepped_protocol and s.ccd_ma_cm2 is None
    d = s.to_dict()
    json.dumps(d)  # serialisable
    assert d["total_charge_mAh_cm2"] == pytest.approx(s.total_charge_mAh / 1.54)
    assert d["total_charge_mAh_g"] == pytest.approx(s.total_charge_mAh / 0.01)
    assert len(d["cycles"]) == 2
    assert "CE_percent" in s.to_text()


def test_ccd_and_short_in_summary():
    df, truth = ccd_log(critical_step=3, n_steps=5)
    s = summarize(df, area_cm2=0.785)
    assert s.stepped_protocol and s.ccd_ma_cm2 == pytest.approx(truth)
    s2 = summarize(df)
    assert s2.ccd_ma_cm2 is None and "area_cm2" in s2.ccd_note
    hard = summarize(charge_with_short("hard", dt_s=30.0))
    assert [e.kind for e in hard.shorts] == ["hard"]
    d = hard.to_dict()
    assert d["shorts"][0]["kind"] == "hard" and d["shorts"][0]["end_s"] is None
    json.dumps(d)


def test_bad_area():
    df, _ = full_cell_log(n_cycles=1, dt_s=60.0)
    with pytest.raises(ParameterError, match="area_cm2"):
        summarize(df, area_cm2=0.0)
