"""Outside check of the XCS contract: an operando series made without ssbscope, run by the CLI.

:mod:`outside_xcs` writes a Li_xSi | Li6PS5Cl | Li_yFePO4 micro-cell at three states of charge
and three sheet-beam heights with numpy and xraylib only (``.ssbevt`` event files in ADU as
the README specifies them, a per-pixel ``calibration.npz``, an Am-241 flood, an
``angle_map.npy`` of its own camera, an experiment.yaml from the README's XCS section), the
truth apart.  ``ssbscope run`` then gives ``compton/<series>/emf`` (EMF per state and
component with its uncertainty, the Li content x from two reference points) and
``compton/<series>/maps``.  Nothing here imports ssbscope except the CLI entry point and the
store reader.

Tolerances.  The noise is Poisson (about 3e5 photons per exposure, 64 pixels): ssbscope's
``emf_unc`` (0.3-0.8 %) is its 1-sigma.  The reference is ``emf_detected``, the EMF of each
component's spectrum after the detector's Gaussian resolution (1.0 keV FWHM at 94 keV; the
README says the resolution is not deconvolved: the material's own EMF, ``emf_material``, is
14-16 % higher).  No allowance for a bias is left: ssbscope's 0.2 keV bins used to lower the
EMF by 0.3 % (a flat profile assumed in the bins cut by the |p_z| = 1 and 5 window edges)
and the per-pixel re-binning of the angle alignment by a further 0.7-1.0 % (counts spread
flat over each bin, which widens the resolution); both now interpolate the cumulative
counts by cubics (ssbscope.compton.electron_momentum._window_weights, align_to_angle).
Measured with this seed, measured - truth: before -0.6 to -2.0 % (mean -1.19 %, chi2 of the
9 z-scores 73.7, max |z| 4.5), now -0.9 to +0.6 % (mean -0.19 %, chi2 9.7, max |z| 2.0);
over 5 seeds (11, 1-4) the mean went from -1.06 % to -0.05 % (-0.02 +- 0.05 % over 14 seeds).
``emf_unc`` covers the seed-to-seed scatter: over seeds 1-14 the 126 z-scores have mean
-0.20 and standard deviation 1.13 (92 % within 2 sigma; seeds 2 and 14 fail a check below),
over seeds 15-28 mean +0.01 and 1.02 (97 %; seed 18 fails, max |z| 3.05), over all 28 1.08
(benchmarks/outside_xcs_seeds.py).  With the z-scores' own correlations (the components of a
state are unmixed from the same exposures, down to -0.8) a correct ``emf_unc`` gives a standard
deviation of 1.00 +- 0.055 over 28 seeds and 1.1 failing seeds on average: 1.08 and 3 have
probabilities 7 % and 9 %.  Each term was checked on its own (benchmarks/xcs_emf_unc_checks.py):
the counting error, which treats the angle-aligned bins as independent although the re-binning
mixes neighbours, against a Poisson bootstrap of every pixel's raw counts through alignment and
unmixing, scatter / emf_unc_counting 0.99 (seed 2, 60 draws) and 0.995 (seed 14, 100 draws);
the tail term against redrawn floods with the exposures kept, 0.97 (30 floods) and 1.05 (40).
There is no background subtraction in the series' windows and the calibration file is exact,
so neither adds an error here.  The flood's Poisson-ML tail fit gives
0.087-0.114 +- 0.007 for the true 0.12 exponential tail over seeds 1-14 (under-read by ~0.02:
deficits below one FWHM are taken as peak width; the former fit gave 0.115-0.147 or 0.46 and
stopped seeds 7, 12, 13); each seed's mean EMF error follows it (correlation 0.83, +0.19 %
per 0.01 of tail fraction; sd 0.18 %, 0.10 % with that removed), which ``emf_unc_tail``
(about a quarter of the counting error, in quadrature) now carries: z standard deviation
1.15 -> 1.12 over 10 seeds (seed 14: chi2 30 without the tail term, 28.4 with it).  This
writer's tail is the same in keV at every energy, the default of the flood correction;
``flood_tail_scaling: charge_sharing`` (the model of charge shared below a neighbour's
threshold, a smaller tail at 94 keV) lowers every EMF of seed 11 by 0.33-0.41 % and raises its
chi2 from 12.0 to 26.7, so that option belongs to a detector whose tail is charge sharing; the
YAML leaves it at its default, ``auto``, which reads from the flood's 26.34 keV line that this
tail does not change with energy and takes ``none``.  So every EMF lies within
3 sigma of the truth, the 9 z-scores' chi2 is below its 99th percentile (21.7 for 9), and
the mean relative error within 3 standard errors of a mean of 9 (about 0.5 %).
"""
from __future__ import annotations

import numpy as np
import pytest

from outside_xcs import write_series

pytestmark = pytest.mark.slow(seconds=30)

COMPONENTS = ("anode", "separator", "cathode")


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    from ssbscope.cli import main
    from ssbscope.store import Store
    root = tmp_path_factory.mktemp("outside_xcs")
    truth = write_series(root / "exp")
    assert main(["run", str(root / "exp" / "experiment.yaml"), "--out", str(root / "out"),
                 "--quiet", "--no-report"]) == 0
    st = Store.open(root / "out" / "store.zarr")
    return st, st.read("compton/xcs/emf").load(), truth


def _table(ds, truth, key="emf_detected"):
    m = np.array([[float(ds["emf"].sel(state=s["state"], component=c)) for c in COMPONENTS]
                  for s in truth["states"]])
    u = np.array([[float(ds["emf_unc"].sel(state=s["state"], component=c)) for c in COMPONENTS]
                  for s in truth["states"]])
    t = np.array([[s[key][c] for c in COMPONENTS] for s in truth["states"]])
    return m, u, t


def test_states_times_and_fractions(outside):
    _, ds, truth = outside
    assert list(ds["state"].values) == [s["state"] for s in truth["states"]]
    np.testing.assert_allclose(ds["time_s"].values, [s["time_s"] for s in truth["states"]])
    # sheet fractions of the declared layers with each state's anode thickness (top hat, 60 um)
    for k, s in enumerate(truth["states"]):
        bounds = np.cumsum([0.0, 100.0, s["anode_thickness_um"], 80.0, 80.0])
        for i, h in enumerate(truth["heights_um"]):
            lo, hi = h - 30.0, h + 30.0
            exp = [max(0.0, min(hi, bounds[j + 2]) - max(lo, bounds[j + 1])) / 60.0 for j in range(3)]
            np.testing.assert_allclose(ds["fraction"].values[k, i], exp, atol=1e-6)


def test_events_calibrated_and_charge_sharing_discarded(outside):
    st, _, truth = outside
    for label, f in truth["files"].items():
        a = st.read(f"compton/input/{label}/cube").attrs
        assert a["n_events"] == f["n_records"]
        # one photon per frame: exactly the two halves of every shared photon are discarded
        assert a["n_charge_sharing_discarded"] == 2 * f["n_shared"], label
        sp = st.read(f"compton/input/{label}/spectrum")
        # per-pixel ADU calibration + angle alignment put the Compton peak at E_C (93.87 keV)
        assert abs(float(sp["peak_centre_kev"]) - 93.87) < 0.2, (label, float(sp["peak_centre_kev"]))


def test_emf_per_state_and_component(outside):
    # measured - truth (%): anode -0.40/-0.92/+0.56, separator -0.10/+0.16/-0.87, cathode
    # -0.40/+0.25/+0.05 (before the cubic window and re-binning rules: -1.4/-2.0/-0.6,
    # -1.1/-0.9/-1.9, -1.3/-0.6/-0.8)
    _, ds, truth = outside
    m, u, t = _table(ds, truth)
    assert np.all(np.isfinite(m)) and np.all(u > 0) and np.all(u < 0.015 * m)
    z = (m - t) / u
    assert np.all(np.abs(z) < 3), z
    assert np.sum(z ** 2) < 21.67, z                   # chi2(9) 99th percentile; was 73.7
    rel = (m - t) / t
    sem = np.sqrt(np.sum((u / t) ** 2)) / rel.size     # standard error of the mean (~0.17 %)
    assert abs(rel.mean()) < 3 * sem, (rel.mean(), sem)
    # the material's own EMF is far above: the resolution is not deconvolved (README)
    _, _, tm = _table(ds, truth, "emf_material")
    assert np.all(m < 0.92 * tm)


def test_tail_scaling_chosen_from_the_flood(outside):
    """flood_tail_scaling is not declared (default auto): the flood's 26.34 keV line, whose tail
    this writer makes the same in keV as at 59.54 keV, is fitted better with the tail carried
    unchanged ("none") than by the charge-sharing model.  Seed 11: deviance difference -5.3,
    just short of the threshold 6, so "inconclusive" and the fallback "none" with a warning
    attribute; over 20 floods of this writer -11.3 +- 6.7, 14 chosen none, 6 inconclusive,
    none charge sharing (choose_tail_scaling)."""
    st, _, truth = outside
    for label in truth["files"]:
        a = st.read(f"compton/input/{label}/spectrum").attrs
        assert a["flood_tail_scaling_requested"] == "auto"
        assert a["flood_tail_scaling"] == "none", a["flood_tail_scaling_reason"]
        delta, thr = a["flood_tail_scaling_delta_deviance"], a["flood_tail_scaling_threshold"]
        assert delta < 0, a["flood_tail_scaling_reason"]           # the data favour "none"
        if delta <= -thr:
            assert a["flood_tail_scaling_status"] == "chosen" and "flood_tail_scaling_warning" not in a
        else:
            assert a["flood_tail_scaling_status"] == "inconclusive"
            assert "inconclusive" in a["flood_tail_scaling_warning"]


def test_li_content_changes_between_states(outside):
    # anode EMF rises 0.080, 0.146 (truth) with x 1 -> 1.75 -> 2.5; separator constant;
    # cathode falls 0.011, 0.022.  Measured (dm - dt) / du: -0.9, +0.5, +1.3 and +1.5, -0.9, +0.6
    _, ds, truth = outside
    m, u, t = _table(ds, truth)
    dm, dt = m[1:] - m[0], t[1:] - t[0]
    du = np.sqrt(u[1:] ** 2 + u[0] ** 2)
    assert np.all(np.abs(dm - dt) < 3 * du), (dm, dt, du)
    assert dm[1, 0] > 10 * du[1, 0]                       # the anode's Li gain is resolved
    assert m[2, 0] > m[1, 0] > m[0, 0]


def test_li_content_x_from_reference_points(outside):
    # reference points: the truth's detected EMF of the anode at x = 1.0 and 2.5 (slope 0.097
    # EMF per unit x, so a 1 % EMF bias moves x by 0.12): measured 0.95, 1.71, 2.58
    # +- 0.05-0.06 for 1.0, 1.75, 2.5 (before the cubic rules 0.83, 1.57, 2.42: -3.4 sigma)
    _, ds, truth = outside
    x = ds["x"].values
    xu = ds["x_unc"].values
    xt = np.array([s["x"] for s in truth["states"]])
    assert np.all(np.abs(x - xt) < 3 * xu), (x, xu, xt)
    assert x[2] > x[1] > x[0]


def test_emf_maps_agree_with_the_series(outside):
    # a laterally uniform cell: every 4 x 4-pixel block gives its component's EMF.  Against the
    # truth the 36 block z-scores have chi2 43.8 (before the cubic rules 107.2, mean z -1.3),
    # max |z| 2.5
    st, ds, truth = outside
    mp = st.read("compton/xcs/maps").load()
    assert mp["emf"].sizes["block_row"] == 2 and mp["emf"].sizes["block_col"] == 2
    assert bool(mp["block_inside"].all())
    zt = []
    for s in truth["states"]:
        for c in COMPONENTS:
            blk = mp["emf"].sel(state=s["state"], component=c).values
            unc = mp["emf_unc"].sel(state=s["state"], component=c).values
            assert np.all(np.isfinite(blk))
            chi2 = np.sum(((blk - float(ds["emf"].sel(state=s["state"], component=c))) / unc) ** 2)
            assert chi2 < 20, (s["state"], c, blk, unc)          # 4 blocks: chi2(4) < 20
            zt.append((blk - s["emf_detected"][c]) / unc)
    zt = np.array(zt)
    assert np.all(np.abs(zt) < 3.5), zt                   # 36 blocks: P(any > 3.5) ~ 2 %
    assert np.sum(zt ** 2) < 58.6, zt                      # chi2(36) 99th percentile


def test_readme_documents_the_xcs_input_files():
    """The event-file layout this check writes (outside_xcs.write_ssbevt) is the README's."""
    from pathlib import Path
    readme = Path(__file__).resolve().parents[2].joinpath("README.md").read_text(encoding="utf-8")
    for s in (r"`SSBEVT\x00\x01`", "(uint64)", "(uint32)", '"value_unit": "keV" or "adu"',
              "`frame` (uint32", "`row` (uint8)", "`col` (uint8)", "`flags` (uint16", "`value` (float32",
              "`gain_kev_per_unit`", "`offset_kev`", "`angle_map:`", "not for the detector's Gaussian "
              "resolution", "n_charge_sharing_discarded"):
        assert s in readme, s


def test_unresolved_flood_gives_no_emf_with_the_reason(tmp_path, caplog):
    """A flood too weak to measure the tail (200 events, about 160 in the line: a tail
    fraction's standard error 0.14-0.27 > 0.05 at 300 line counts): the input stage and the
    series stage both go on, name the flood in a warning, store the reason and give no EMF
    (NaN) rather than one biased low by the uncorrected tail (the series stage raised
    InputError before)."""
    import logging

    from ssbscope.cli import main
    from ssbscope.store import Store
    truth = write_series(tmp_path / "exp", seed=3, events_per_monitor=5_000, flood_events=200)
    with caplog.at_level(logging.WARNING):
        assert main(["run", str(tmp_path / "exp" / "experiment.yaml"), "--out", str(tmp_path / "out"),
                     "--quiet", "--no-report"]) == 0
    st = Store.open(tmp_path / "out" / "store.zarr")
    sp = st.read("compton/input/s0_z1/spectrum")
    assert sp.attrs["tail_correction"].startswith("failed: tail not resolved"), sp.attrs["tail_correction"]
    assert not np.isfinite(float(sp["emf"])) and "am241_flood.ssbevt" in sp.attrs["emf_reason"]
    ds = st.read("compton/xcs/emf").load()
    assert np.all(np.isnan(ds["emf"].values)) and np.all(np.isnan(ds["emf_unc"].values))
    assert len(ds["state"]) == len(truth["states"])
    for why in ds["tail_not_resolved"].values:
        assert "am241_flood.ssbevt" in why and "tail not resolved" in why, why
    series_warn = [r.getMessage() for r in caplog.records if "series xcs" in r.getMessage()]
    assert series_warn and all("am241_flood.ssbevt" in w for w in series_warn), series_warn
    mp = st.read("compton/xcs/maps").load()
    assert np.all(np.isnan(mp["emf"].values))
