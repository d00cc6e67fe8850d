"""Captions describe the data shown (issue 15 §4): a user's own cycling log and impedance
spectrum get no twin captions ("numbered as in Huang et al. 2024, Fig. 1E", "scan states",
the paper's R_ct trend) and no legend entry for a resistance the fit did not resolve."""

import shutil

import numpy as np
import pytest

from ssbscope.testing import realdata_dir

SSB = realdata_dir("potentiostat") / "hybriddrt_PEIS_SSB.mpr"


@pytest.mark.skipif(not SSB.exists(), reason="shared/realdata/potentiostat not present")
def test_echem_captions_of_a_users_log_and_spectrum_name_no_twin_or_paper_states(tmp_path):
    from ssbscope.config import from_dict
    from ssbscope.pipeline import run
    from ssbscope.report.echem import section
    from ssbscope.store import Store
    from ssbscope.workflow import stages_for

    t = np.arange(0.0, 7200.0, 60.0)
    cur = np.where(t < 3600, 1e-4, -1e-4)
    v = 3.5 + 0.2 * np.where(t < 3600, t / 3600, 2 - t / 3600)
    (tmp_path / "log.csv").write_text("time_s,voltage_V,current_A\n" + "".join(
        f"{a},{b},{c}\n" for a, b, c in zip(t, v, cur)))
    shutil.copy(SSB, tmp_path / "ssb.mpr")  # EC-Lab PEIS of an NCM/LPSCl cell: R_s not resolved
    exp = from_dict({"name": "mine", "cell": {"area_cm2": 1.0},
                     "inputs": {"echem": [{"path": "log.csv"},
                                          {"path": "ssb.mpr", "kind": "eis", "label": "ssb"}]}},
                    base_dir=tmp_path)
    st = Store.create(tmp_path / "s.zarr")
    run(stages_for(exp), st, raw_dir=tmp_path / "raw", config=exp, quiet=True)
    assert st.read("echem/states").sizes["state"] == 0
    assert np.isnan(st.read("echem/eis")["r_s_ohm"].values[0])
    html = section(st).html
    assert "Main cell: voltage vs time." in html
    assert "Main cell: voltage vs capacity, charge and discharge." in html
    assert "Nyquist plot of each impedance spectrum" in html
    assert "R_ct of each spectrum&#x27;s fit (error bars: the fit&#x27;s 1σ; R_s not resolved" in html \
        or "R_ct of each spectrum's fit (error bars: the fit's 1σ; R_s not resolved" in html
    for twin_text in ("Fig. 1E", "scan states", "Fig. 2A", "falls on charge", "twin"):
        assert twin_text not in html, twin_text
