"""``analysis.tomo.subvoxel_heights``: the YAML switch of the sub-voxel edges of truncated
scans (:func:`ssbscope.tomo.metrics.refine_edges`).  The field (default off, described, in
``ssbscope schema``), its way into the series stage's parameters and fingerprint (absent when
off, so existing stores stay valid), the stage's provenance attribute, and its plumbing down
to the height computation of both series paths (in memory and chunked)."""

from __future__ import annotations

import numpy as np
import pytest

from ssbscope.config import TomoAnalysis, TomoSeriesSettings
from ssbscope.tomo import metrics as M
from ssbscope.tomo import series as S
from ssbscope.tomo import series_chunked as SC


def _find_props(node, name, out):
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict) and name in props:
            out.append(props[name])
        for v in node.values():
            _find_props(v, name, out)
    elif isinstance(node, list):
        for v in node:
            _find_props(v, name, out)
    return out


def test_field_defaults_off_is_described_and_in_the_schema():
    import io
    import json
    from contextlib import redirect_stdout

    from ssbscope.cli import main

    assert TomoAnalysis().subvoxel_heights is False
    d = TomoAnalysis.model_fields["subvoxel_heights"].description
    for word in ("truncated", "continuous", "voxelised", "refine_edges", "height_method"):
        assert word in d, word
    # per-series override takes it too (unset by default: the shared value)
    assert TomoSeriesSettings.model_fields["subvoxel_heights"].description == d
    an = TomoAnalysis(subvoxel_heights=False, series={"coin": {"subvoxel_heights": True}})
    assert an.for_series("coin").subvoxel_heights is True
    assert an.for_series("other").subvoxel_heights is False
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["schema"]) == 0
    got = _find_props(json.loads(buf.getvalue()), "subvoxel_heights", [])
    assert got and all(p.get("type") == "boolean" and p.get("description") == d for p in got)
    assert any(p.get("default") is False for p in got)


def _exp(tomo_analysis, tmp_path):
    """Two CT series of two cells (anode-free, coin), two scans each (as
    tests/tomo/test_series_overrides.py)."""
    from ssbscope.config import from_dict

    lay_af = [{"name": "Cu", "material": "Cu", "thickness_um": 20},
              {"name": "Li", "material": "Li", "thickness_um": 0},
              {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 100}]
    lay_coin = [{"name": "anode", "material": "Li", "thickness_um": 50},
                {"name": "SPE", "material": "PEO-LiTFSI", "thickness_um": 30}]
    d = {"cells": {"af": {"diameter_mm": 2.0, "layers": lay_af},
                   "coin": {"diameter_mm": 2.0, "layers": lay_coin}},
         "inputs": {"tomo": [
             {"path": f"scans/{s}{k}.h5", "kind": "projections", "series": s, "time_s": 100 * k}
             for s in ("af", "coin") for k in range(2)]},
         "analysis": {"tomo": tomo_analysis}}
    return from_dict(d, base_dir=tmp_path)


def _series_params(exp):
    from ssbscope.pipeline import _fingerprint
    from ssbscope.tomo.stages import input_stages

    return {s.name.split(".")[1]: (s.params, _fingerprint(s, exp.seed, {}))
            for s in input_stages(exp) if s.name.endswith(".series")}


def test_stage_params_and_fingerprint(tmp_path):
    """Off (the default): no parameter, so the fingerprint of an existing store's series stage
    is unchanged; on: a parameter, a new fingerprint for that series only."""
    base = _series_params(_exp({}, tmp_path))
    off = _series_params(_exp({"subvoxel_heights": False}, tmp_path))
    on = _series_params(_exp({"subvoxel_heights": True}, tmp_path))
    one = _series_params(_exp({"series": {"coin": {"subvoxel_heights": True}}}, tmp_path))
    for s in ("af", "coin"):
        assert "subvoxel_heights" not in base[s][0]
        assert off[s][1] == base[s][1]
        assert on[s][0]["subvoxel_heights"] is True and on[s][1] != base[s][1]
    assert one["coin"][0]["subvoxel_heights"] is True and one["coin"][1] == on["coin"][1]
    assert one["af"][1] == base["af"][1]


def _continuous_roi(seed=4, nz=44, n=24, contrast=-4e-5, noise=4e-6):
    """A continuous (partial-volume) rough surface around slice 22 (rms 1 voxel) in a
    truncated scan: every slice carries the exterior's level a(z) (a 170x-contrast ramp) times
    an in-plane cupping (tests/tomo/test_truncated_heights.py's kind of volume, smaller)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    yy, xx = np.indices((n, n))
    fp = np.hypot(yy - (n - 1) / 2, xx - (n - 1) / 2) < n / 2 - 1
    f = gaussian_filter(rng.standard_normal((n, n)), 3, mode="wrap")
    h = 22.0 + 1.0 * f / f[fp].std()
    z = np.arange(nz)[:, None, None]
    chi = np.clip(h[None] - z, 0.0, 1.0)
    a = 2.3e-3 + 170 * abs(contrast) / (1 + np.exp(-(np.arange(nz) - 22.0) / 4))
    G = 1 + 0.05 * ((yy - n / 2) ** 2 + (xx - n / 2) ** 2) / (n / 2) ** 2
    local = contrast * (chi - chi[:, fp].mean(axis=1)[:, None, None])
    v = a[:, None, None] * G[None] + local + noise * rng.standard_normal(chi.shape)
    return v, h, fp


def test_truncated_heights_honour_the_switch():
    """The chain's truncated-scan heights (:func:`SC._truncated_heights`, called by
    ``_measure``): whole voxels when off, sub-voxel and closer to the continuous surface when
    on (the library function's own accuracy: tests/tomo/test_subvoxel_edges.py)."""
    v, h, fp = _continuous_roi()
    vs = 3.0
    sc = SC._Scan(v, None, np.zeros(v.shape, np.uint8), v.shape[0])
    h0 = np.where(fp, h.mean() * vs, np.nan)
    got = {}
    for sub in (False, True):
        hm, _, _, _ = SC._truncated_heights(sc, h0, (0, 22), "Li", "PEO-LiTFSI", vs, fp,
                                            {"energy_kev": 115.0}, "Li|SPE", subvoxel=sub)
        x = hm[fp] / vs
        got[sub] = (float(np.mean(np.abs(x - np.round(x)) < 1e-9)),
                    float(np.sqrt(np.mean((x - h[fp]) ** 2))))
    assert got[False][0] == 1.0, got                       # whole voxels
    assert got[True][0] < 0.2, got                         # fractions of a voxel
    assert got[True][1] < 0.8 * got[False][1], got         # and nearer the surface


def test_series_paths_forward_the_switch(monkeypatch):
    """analyse_series (in memory) and analyse_series_chunked hand ``subvoxel_heights`` and
    ``truncated`` to the one implementation (``_analyse``); measure_scan to ``_measure``; the
    series stage to analyse_series_chunked, with the choice in the metrics' attributes."""
    seen = []

    def fake_analyse(*a, **kw):
        seen.append((kw["truncated"], kw["subvoxel_heights"]))
        raise RuntimeError("stop")

    monkeypatch.setattr(SC, "_analyse", fake_analyse)
    for sub in (False, True):
        for f in (S.analyse_series, SC.analyse_series_chunked):
            with pytest.raises(RuntimeError, match="stop"):
                f([np.zeros((4, 4, 4))], [], 1.0, truncated={"energy_kev": 1.0},
                  subvoxel_heights=sub)
    assert seen == [({"energy_kev": 1.0}, False)] * 2 + [({"energy_kev": 1.0}, True)] * 2

    def fake_measure(*a, **kw):
        seen.append(("measure", kw["truncated"], kw["subvoxel"]))
        raise RuntimeError("stop")

    monkeypatch.setattr(SC, "_measure", fake_measure)

    class Seg:
        labels = np.zeros((4, 4, 4), np.uint8)
        phases = ("Li",)

    class Region:
        inner = np.ones((4, 4), bool)

    with pytest.raises(RuntimeError, match="stop"):
        S.measure_scan(np.zeros((4, 4, 4)), Seg(), Region(), [], 1.0, median=False,
                       truncated={}, subvoxel_heights=True)
    assert seen[-1] == ("measure", {}, True)


def test_series_stage_forwards_and_records(monkeypatch, tmp_path):
    import types

    import xarray as xr

    from ssbscope.tomo import stages as ST

    seen = {}

    def fake_chunked(vols, layers, vs, **kw):
        seen.update(kw)
        return "res"

    monkeypatch.setattr(SC, "analyse_series_chunked", fake_chunked)
    monkeypatch.setattr(ST, "series_datasets",
                        lambda res, *a, series, **kw: {f"tomo/{series}/metrics": xr.Dataset()})
    ds = xr.Dataset({"volume": (("z", "y", "x"), np.zeros((2, 2, 2), np.float32))},
                    attrs={"voxel_size_um": 3.0, "truncated": 1, "energy_kev": 115.0})
    ctx = types.SimpleNamespace(work_dir=tmp_path, memory_limit_bytes=None,
                                progress=lambda it, desc=None: it)
    for sub, word in ((False, "whole voxels"), (True, "sub-voxel (partial-volume sum)")):
        out = ST._series_stage(ctx, {"k": ds}, series="coin", scan_keys=["k"], time_s=[0.0],
                               states=["a"], layers=[], subvoxel_heights=sub)
        assert seen["subvoxel_heights"] is sub and seen["truncated"] == {"energy_kev": 115.0}
        at = out["tomo/coin/metrics"].attrs
        assert at["subvoxel_heights"] == int(sub) and word in at["height_method"]
    # a scan that is not truncated: heights sub-voxel already, the switch said not to apply
    at = ST._height_method(False, True)
    assert "truncated scans only" in at["height_method"]
    assert "edge" not in ST._height_method(False, False)["height_method"]
