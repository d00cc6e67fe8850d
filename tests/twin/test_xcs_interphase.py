"""The XCS twin's anode/SPE interphase (Huang et al. 2024, Table 1 and Fig. 3A) and its table.

Checks against independent references: Faraday's law (the Li plated into the interphase,
averaged over the cathode's disc, equals the charge passed), the paper's anode volume change on
discharge (-1.4 %, which sets the bulk share of the stripped Li), the paper's signs of the EMF
changes (up on charge, down on discharge, above pristine after it), and Fig. 3A's centre > edge.
No photon is simulated (fast)."""

import numpy as np
import pytest

from ssbscope.twin import paper_parameters as pp
from ssbscope.twin import xcs


@pytest.fixture(scope="module")
def states():
    cell = xcs.CoinCell()
    raw = xcs.states_from_echem(cell=cell, labels=("pristine", "fully charged", "fully discharged"))
    return cell, raw, xcs.interphase_states(raw, cell)


def test_table_000_registered():
    df = pp.table("000")
    assert df.attrs["citation"] == "Huang et al. 2024, doi:10.1016/j.xcrp.2024.101995"
    assert pp.value("000", "EMF anode at anode/SPE interphase (pristine, charged, discharged)") == (1.28, 1.73, 1.41)
    assert pp.value("000", "Ra anode/SPE (pristine, charged, discharged)") == (5.1, 5.4, 6.1)
    assert pp.value("000", "anode volume change (charge, discharge)") == (3.7, -1.4)
    assert pp.value("000", "cathode diameter") == 14.0 and pp.value("000", "anode diameter") == 16.0
    # every twin-model row is marked as an assumption or derived, with its reason
    for _, row in df.iterrows():
        if str(row["parameter"]).startswith("twin "):
            assert row["source"].startswith(("assumption", "derived")) and row["note"], row["parameter"]
    # the paper's own relative changes follow from its EMF values (Table 1)
    e = np.array(pp.value("000", "EMF anode at anode/SPE interphase (pristine, charged, discharged)"))
    np.testing.assert_allclose(100 * (e[1:] / e[0] - 1), (35.2, 10.2), atol=0.1)


def test_interphase_li_follows_faraday_and_volume(states):
    cell, raw, st = states
    mats = xcs.interphase_materials()
    t0 = 1000 * cell.anode_thickness_mm
    li_rho = mats["Li0"].density_g_cm3

    def li_um(s, radius):
        lay = [ly for ly in cell.with_state(s).layers() if ly.name == "interphase"][0]
        comps = xcs.disc_components(lay, radius)
        return 1000 * lay.thickness_mm * sum(f for m, f in comps if m.name == "Li" and m.density_g_cm3 == li_rho)

    plated = 1000 * raw[1].anode_thickness_mm - t0  # Faraday (states_from_echem)
    assert plated > 10
    # charge: the interphase's Li over the cathode's disc grows by Faraday's thickness
    assert li_um(st[1], cell.cathode_radius_mm) - li_um(st[0], cell.cathode_radius_mm) == pytest.approx(plated, rel=1e-6)
    # discharge: the whole anode (bulk + interphase) shrinks by the paper's 1.4 % of the charged anode
    tot = [1000 * (s.anode_thickness_mm + s.interphase_thickness_mm) for s in st]
    assert tot[0] == pytest.approx(t0)
    assert (tot[2] - tot[1]) / (t0 * 1.037) == pytest.approx(-0.014, abs=1e-6)
    # the Li the bulk did not give stays in the interphase (above pristine)
    assert li_um(st[2], 6.0) > li_um(st[0], 6.0)


def test_interphase_emf_truth_trend_and_lateral(states):
    from ssbscope.twin.xcs_series import _interphase_truth

    cell, raw, st = states
    tr = _interphase_truth(cell.with_state(st[0]), st, xcs.DetectorModel(), (0.0, 1.0), (1.0, 5.0), 6.0)
    e = np.array(tr["emf"])
    # the paper's signs: up on charge, down on discharge, still above pristine
    assert e[1] > e[0] * 1.03 and e[0] < e[2] < e[1]
    rel = np.array(tr["relative_change_pct"])
    assert rel[0] == 0 and 5 < rel[1] < 10 and 1 < rel[2] < rel[1] / 1.5
    # the EMF range of Eqs. 3-5 at the interphase: Li metal is the ceiling
    li = xcs.Layer("x", 1, 1, ((xcs.interphase_materials()["Li0"], 1.0),))
    from ssbscope.twin.xcs_series import resolved_emf as _resolved_emf

    assert e.max() < _resolved_emf([li], "x", xcs.DetectorModel())
    # Fig. 3A: centre > edge > rim once charged; uniform when pristine
    c, ed, rim = (np.array(tr[k]) for k in ("centre_emf", "edge_emf", "rim_emf"))
    assert c[0] == pytest.approx(ed[0]) == pytest.approx(rim[0])
    assert c[1] > ed[1] > rim[1] and c[2] > ed[2] > rim[2]
    ring = np.array(tr["ring_emf"][1])
    inside = np.array(tr["ring_radius_mm"]) <= cell.cathode_radius_mm
    assert np.all(np.diff(ring[inside]) < 0)
