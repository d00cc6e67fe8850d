"""Pipeline stage of the correlation area: ``correlate/states``.

:func:`input_stages` adds one stage, ``correlate.states``, to ``ssbscope run`` when the
experiment has an echem cycling log and at least one imaging series: every CT series
(``inputs.tomo[].series``, read from the CT metrics ``tomo/<series>/metrics``) and every
neutron radiograph series whose ``time_s`` puts it on the echem clock
(``neutron/input/<label>``: its bin times, else its frame times).

Which echem log
    ``analysis.correlate.log`` (an echem input's label) when given; else the first cycling
    log of the series' cell (``inputs.echem[].cell`` equal to the series' cell, see
    :meth:`ssbscope.config.Experiment.cell_of`); else, for a series of the top-level cell, the
    main log ``echem/timeseries``; a series of a named cell without a log of its own is not
    correlated (another cell's log is another clock).
    The areal charge is ``charge_mAh / electrode_area_cm2`` of the *series'* cell (so named
    cells work), NaN with a warning when that cell has no area.

Plated layer
    ``analysis.correlate.plated_layer``, else the lowest layer (stacking order) of the
    series' cell whose material is Li.  Its ``thickness_mean_um`` and ``layer_volume_um3``
    changes since the series' first scan are compared with Faraday's law.  CT footprint area
    for the volume change per area: the metrics' ``footprint_area_um2`` attribute when
    present, else :func:`ssbscope.correlate.states.footprint_area_um2` (median of layer
    volume / mean thickness over the other layers).

Dataset ``correlate/states`` (one dimension ``time_s``, s since the start of the echem log;
rows of every series concatenated and sorted by time, the ``series`` variable tells them apart):

==================================  =========  ==============================================
variable                            units      meaning
==================================  =========  ==============================================
series, modality, echem_log         (str)      series name, "tomo"/"neutron"/"compton", log key
charge_mah_cm2                      mAh cm-2   net charge since the start of the log
charge_mah                          mAh        the same in mAh
charge_since_first_mah_cm2          mAh cm-2   net charge since the series' first scan
voltage_V                           V          voltage at the scan time
state, state_source                 (str)      YAML ``state`` of the scan, else
                                               :func:`ssbscope.echem.state_at`
r_ct_ohm, eis_time_s, eis_label     ohm, s     nearest impedance spectrum (``echem/eis``)
plated_thickness_um                 um         CT mean thickness of the plated layer
plated_thickness_change_um          um         its change since the first scan
faraday_thickness_change_um         um         Faraday's law for charge_since_first
faraday_residual_pct                %          thickness residual (NaN for |dq| < 0.05)
plated_volume_change_um3            um3        CT plated-layer volume change
plated_volume_change_per_area_um    um         the same per CT footprint area
faraday_volume_residual_pct         %          volume residual (NaN for |dq| < 0.05)
neutron_li_volume_change_um3        um3        neutron: Li volume change in li_roi
neutron_li_change_per_area_um       um         the same over the electrode area, signed
neutron_li_change_sigma_um          um         its standard deviation (counting noise)
neutron_li_residual_pct             %          its residual (NaN for |dq| < 0.05)
==================================  =========  ==============================================

Neutron series
    One row per median bin (``time_s_bin``), else per frame.  The CT columns are NaN.  When
    the input declares ``li_roi`` (and ``pixel_size_um``), the neutron stage writes the Li
    volume change in that region, ``li_volume_change_roi_um3`` (Beer–Lambert per pixel,
    integrated over the region; geometry in :mod:`ssbscope.neutron.lithium`: the beam passes
    side-on through the cell, so a pixel measures Li path length along the beam and the
    region sum times the pixel area is a Li *volume*).  Its change since the series' first
    row, divided by the cell's electrode area, is the dense-Li thickness equivalent
    ``neutron_li_change_per_area_um`` (times -1 when ``li_roi.gains_on_charge`` is false, so
    that it always compares with ``faraday_thickness_change_um``), and
    ``neutron_li_residual_pct = 100 (neutron_li_change_per_area_um - faraday_thickness_change_um)
    / faraday_thickness_change_um``.  The comparison holds when the region spans the whole
    electrode width and every row where that electrode gains or loses Li.  Without
    ``li_roi`` the neutron columns are NaN.  Tomo rows have NaN neutron columns.
"""

from __future__ import annotations

import json
import logging

import numpy as np

__all__ = ["input_stages", "OUTPUT"]

log = logging.getLogger(__name__)

#: The store key this area writes.
OUTPUT = "correlate/states"


def _is_li(material: str) -> bool:
    return str(material).strip().lower() in ("li", "li metal", "lithium")


def _tomo_series(exp) -> dict:
    """series -> list of its tomo input items (in file order), for the series the tomo area
    measures (its cell declares at least two layers; other scans are only reconstructed)."""
    out: dict = {}
    for item in getattr(exp.inputs, "tomo", []) or []:
        out.setdefault(item.series, []).append(item)
    return {s: its for s, its in out.items() if len(exp.cell_of(its[0]).layers) >= 2}


def _cell_key(exp, items):
    """Name of the cell of a series (a key of cells:) or None for the top-level cell."""
    for it in items:
        if getattr(it, "cell", None) is not None:
            return it.cell
    ser = getattr(items[0], "series", None) if items else None
    return ser if ser in exp.cells else None


def _cell(exp, key):
    return exp.cells[key] if key is not None else exp.cell


def _choose_log(exp, cyc: list, cyc_items: list, key, series: str) -> tuple[str, str]:
    """(store key of the log, why) for a series of cell ``key``."""
    from ssbscope.echem.stages import _dataset_name
    from ssbscope.errors import ConfigError

    want = exp.analysis.correlate.log
    if want is not None:
        for rec in cyc:
            if want in (rec["label"], rec["name"]):
                return _dataset_name(rec["name"]), "analysis.correlate.log"
        known = ", ".join(repr(r["label"]) for r in cyc)
        raise ConfigError(exp.base_dir or "experiment", [(
            "analysis.correlate.log", f"{want!r} is not the label of a cycling echem input "
            f"(labels: {known}); give one of them or remove the field")])
    for rec, item in zip(cyc, cyc_items):
        if getattr(item, "cell", None) == key and key is not None:
            return _dataset_name(rec["name"]), f"the log of cell {key!r}"
    if key is not None:
        # another cell's log is another clock: such a series is not correlated (name the log
        # with analysis.correlate.log when it does share the clock)
        log.info("series %r (cell %r): no echem cycling log of that cell; not correlated "
                 "(set analysis.correlate.log to use another cell's log)", series, key)
        return None, f"no log of cell {key!r}"
    return _dataset_name(cyc[0]["name"]), "main log"


def _plated_layer(exp, cell, series: str):
    from ssbscope.errors import ConfigError

    want = exp.analysis.correlate.plated_layer
    names = [la.name for la in cell.layers]
    if want is not None:
        if names and want not in names:
            raise ConfigError(exp.base_dir or "experiment", [(
                "analysis.correlate.plated_layer", f"{want!r} is not a layer of the cell of series "
                f"{series!r} (layers: {', '.join(names)}); name one of them")])
        return want, "analysis.correlate.plated_layer"
    for la in cell.layers:
        if _is_li(la.material):
            return la.name, "lowest Li layer of the cell"
    return None, "no Li layer in the cell and no analysis.correlate.plated_layer: no Faraday residual"


def _series_records(exp) -> tuple[list, list]:
    """(series records, EIS labels per cell key) for the stage's parameters."""
    from ssbscope.echem.stages import _input_items

    cyc, eis = _input_items(exp)
    items = list(getattr(exp.inputs, "echem", []) or [])
    cyc_items = [it for it in items if it.kind != "eis"]
    eis_items = [it for it in items if it.kind == "eis"]
    recs = []
    for series, its in _tomo_series(exp).items():
        key = _cell_key(exp, its)
        cell = _cell(exp, key)
        log_key, why = _choose_log(exp, cyc, cyc_items, key, series)
        if log_key is None:
            continue
        layer, layer_why = _plated_layer(exp, cell, series)
        recs.append({"series": series, "modality": "tomo", "key": f"tomo/{series}/metrics",
                     "cell": key, "log": log_key, "log_choice": why,
                     "area_cm2": cell.electrode_area_cm2, "plated_layer": layer,
                     "plated_layer_choice": layer_why,
                     "eis_labels": [r["label"] for r, it in zip(eis, eis_items)
                                    if getattr(it, "cell", None) == key]})
    n_items = list(getattr(exp.inputs, "neutron", []) or [])
    if n_items:
        from ssbscope.neutron.stages import input_stages as neutron_stages

        for item, st in zip(n_items, neutron_stages(exp)):
            if item.time_s is None:
                log.info("neutron input %s has no time_s: its frames are not on the echem clock "
                         "and are not correlated", item.path)
                continue
            key = getattr(item, "cell", None)
            cell = _cell(exp, key)
            out = st.outputs[0]
            log_key, why = _choose_log(exp, cyc, cyc_items, key, out)
            if log_key is None:
                continue
            li_roi = getattr(item, "li_roi", None)
            recs.append({"series": "neutron/" + out.split("/")[-1], "modality": "neutron",
                         "key": out, "cell": key, "log": log_key, "log_choice": why,
                         "area_cm2": cell.electrode_area_cm2, "plated_layer": None,
                         "plated_layer_choice": (
                             "neutron: Li volume change in li_roi over the electrode area"
                             if li_roi is not None else "neutron: no li_roi, no Li change"),
                         "li_gains_on_charge": bool(li_roi.gains_on_charge) if li_roi is not None else True,
                         "eis_labels": [r["label"] for r, it in zip(eis, eis_items)
                                        if getattr(it, "cell", None) == key]})
    groups: dict = {}
    for item in getattr(exp.inputs, "compton", []) or []:
        if item.beam_height_um is not None:  # exposures unmixed as a series (compton/<series>/emf)
            groups.setdefault(item.series, []).append(item)
    for series, its in groups.items():
        if all(it.time_s is None for it in its):
            log.info("XCS series %r has no time_s: not on the echem clock, not correlated", series)
            continue
        key = _cell_key(exp, its)
        cell = _cell(exp, key)
        log_key, why = _choose_log(exp, cyc, cyc_items, key, f"compton/{series}")
        if log_key is None:
            continue
        recs.append({"series": f"compton/{series}", "modality": "compton",
                     "key": f"compton/{series}/emf", "cell": key, "log": log_key,
                     "log_choice": why, "area_cm2": cell.electrode_area_cm2, "plated_layer": None,
                     "plated_layer_choice": "compton: states on the clock (EMF in compton/<series>/emf)",
                     "eis_labels": [r["label"] for r, it in zip(eis, eis_items)
                                    if getattr(it, "cell", None) == key]})
    return recs, eis


def _times_and_states(ds, rec):
    """(times, yaml states or None, thickness, volume, footprint) of one series' dataset."""
    from ssbscope.correlate.states import footprint_area_um2
    from ssbscope.errors import InputError

    if rec["modality"] == "neutron":
        if "time_s_bin" in ds.variables:
            t = np.asarray(ds["time_s_bin"].values, dtype=np.float64)
        elif "time_s" in ds.variables:
            t = np.asarray(ds["time_s"].values, dtype=np.float64)
        else:
            raise InputError(f"{rec['key']}: the neutron series has no frame times; give "
                             "frame_interval_s (or TIME_S / DATE-OBS headers)")
        return t, None, None, None, None
    if rec["modality"] == "compton":  # one row per state of the series
        t = np.asarray(ds["time_s"].values, dtype=np.float64)
        states = [str(x) for x in ds["state"].values.tolist()]
        keep = np.isfinite(t)
        return t[keep], [st for st, k in zip(states, keep) if k], None, None, None
    t = np.asarray(ds["time_s"].values, dtype=np.float64)
    states = None
    if "state" in ds.variables:
        states = ["" if s is None else str(s) for s in ds["state"].values.tolist()]
        states = [s if s.lower() not in ("nan", "none") else "" for s in states]
    layer = rec["plated_layer"]
    th = vol = area = None
    if layer is not None:
        layers = [str(x) for x in ds["layer"].values.tolist()] if "layer" in ds.coords else []
        if layer not in layers:
            raise InputError(f"{rec['key']}: the CT metrics have no layer {layer!r} (layers: "
                             f"{', '.join(layers) or 'none'}); add it to analysis.tomo.thickness "
                             "or set analysis.correlate.plated_layer")
        k = layers.index(layer)
        if "thickness_mean_um" in ds:
            th = np.asarray(ds["thickness_mean_um"].isel(layer=k).values, dtype=np.float64)
        if "layer_volume_um3" in ds:
            vol = np.asarray(ds["layer_volume_um3"].isel(layer=k).values, dtype=np.float64)
            area = ds.attrs.get("footprint_area_um2")
            rec["footprint_area_source"] = "CT metrics attribute footprint_area_um2"
            if area is None and "thickness_mean_um" in ds:
                others = [j for j in range(len(layers)) if j != k] or [k]
                area = footprint_area_um2(ds["layer_volume_um3"].isel(layer=others).values,
                                          ds["thickness_mean_um"].isel(layer=others).values)
                rec["footprint_area_source"] = ("median of layer_volume_um3 / thickness_mean_um "
                                                "over the other layers")
    return t, states, th, vol, area


#: Neutron columns of correlate/states: name -> (units, long_name).
_NEUTRON_COLS = {
    "neutron_li_volume_change_um3": ("um^3", "neutron: Li volume change in li_roi since the series' first row "
                                     "(positive = Li gained in the region)"),
    "neutron_li_change_per_area_um": ("um", "neutron: Li volume change over the cell's electrode area, "
                                      "signed to compare with faraday_thickness_change_um (x -1 when "
                                      "li_roi.gains_on_charge is false)"),
    "neutron_li_change_sigma_um": ("um", "standard deviation of neutron_li_change_per_area_um "
                                   "(counting and beam-correction noise of the neutron bins)"),
    "neutron_li_residual_pct": ("percent", "100 (neutron_li_change_per_area_um - faraday_thickness_change_um) / "
                                "faraday_thickness_change_um; NaN where |charge_since_first_mah_cm2| < 0.05"),
}


def _neutron_li_columns(tab, ds, rec, t):
    """Add the neutron Li columns to one series' table (NaN unless a neutron series with li_roi)."""
    from ssbscope.correlate.states import MIN_CHARGE_MAH_CM2, faraday_residual

    n = tab.sizes["time_s"]
    cols = {k: np.full(n, np.nan) for k in _NEUTRON_COLS}
    note = None
    if rec["modality"] == "neutron" and ds is not None:
        if "li_volume_change_roi_um3" in ds and "time_s_bin" in ds.variables and len(t) == n:
            order = np.argsort(np.asarray(t, dtype=np.float64), kind="stable")
            vol = np.asarray(ds["li_volume_change_roi_um3"].values, dtype=np.float64)[order]
            sig = (np.asarray(ds["li_volume_change_roi_sigma_um3"].values, dtype=np.float64)[order]
                   if "li_volume_change_roi_sigma_um3" in ds else np.full(n, np.nan))
            dv = vol - vol[0]
            cols["neutron_li_volume_change_um3"] = dv
            area = rec.get("area_cm2")
            if area:
                sign = 1.0 if rec.get("li_gains_on_charge", True) else -1.0
                per_area = sign * dv / (float(area) * 1e8)
                cols["neutron_li_change_per_area_um"] = per_area
                # sigma relative to the reference bin; with the first row as reference it is exact
                cols["neutron_li_change_sigma_um"] = np.hypot(sig, sig[0]) / (float(area) * 1e8) \
                    if sig[0] > 0 else sig / (float(area) * 1e8)
                cols["neutron_li_residual_pct"] = np.asarray(faraday_residual(
                    per_area, tab["charge_since_first_mah_cm2"].values,
                    min_charge_mah_cm2=MIN_CHARGE_MAH_CM2), dtype=np.float64).reshape(n)
                note = "Li volume change in li_roi over the electrode area"
            else:
                note = "Li volume change in li_roi; no electrode area: no per-area change or residual"
        elif "li_thickness_change_roi_um" in ds:
            note = "li_roi without pixel_size_um: no Li volume, no Faraday residual"
        else:
            note = "no li_roi: no Li change"
    for k, (u, ln) in _NEUTRON_COLS.items():
        tab[k] = ("time_s", cols[k], {"units": u, "long_name": ln})
    return note


def _states_stage(ctx, inputs, *, series: list, eis_key=None):
    from ssbscope.correlate.states import MIN_CHARGE_MAH_CM2, combine_series, states_table

    eis = inputs[eis_key].load() if eis_key else None
    tables, info = [], {}
    for rec in series:
        rec = dict(rec)
        lg = inputs[rec["log"]]
        lt = np.asarray(lg["time_s"].values, dtype=np.float64)
        q_mah = np.asarray(lg["charge_mAh"].values, dtype=np.float64)
        area = rec["area_cm2"]
        if area:
            q_cm2 = q_mah / float(area)
        else:
            log.warning("series %s: its cell has no area (cell area_cm2 / diameter_mm): "
                        "charge_mah_cm2 and the Faraday residuals are NaN", rec["series"])
            q_cm2 = np.full(lt.shape, np.nan)
        t, states, th, vol, fp = _times_and_states(inputs[rec["key"]], rec)
        e_t = e_r = e_l = None
        if eis is not None and eis.sizes.get("state", 0):
            labels = [str(x) for x in eis["label"].values.tolist()]
            keep = [j for j, lab in enumerate(labels) if lab in set(rec["eis_labels"])]
            if keep:
                e_t = eis["time_s"].values[keep]
                e_r = eis["r_ct_ohm"].values[keep]
                e_l = [labels[j] for j in keep]
        tab = states_table(t, lt, q_cm2, lg["voltage_V"].values, log_current_a=lg["current_A"].values,
                           log_charge_mah=q_mah, states=states, plated_thickness_um=th,
                           plated_volume_um3=vol, footprint_area_um2=fp, eis_time_s=e_t,
                           eis_r_ct_ohm=e_r, eis_label=e_l, series=rec["series"],
                           modality=rec["modality"], echem_log=rec["log"])
        li_note = _neutron_li_columns(tab, inputs[rec["key"]] if rec["modality"] == "neutron" else None,
                                      rec, t)
        if li_note is not None:
            rec["neutron_li"] = li_note
        tables.append(tab)
        info[rec["series"]] = {k: rec.get(k) for k in (
            "modality", "key", "cell", "log", "log_choice", "area_cm2", "plated_layer",
            "plated_layer_choice", "footprint_area_source")} | {
            k: rec[k] for k in ("neutron_li", "li_gains_on_charge") if k in rec} | {
            "footprint_area_um2": float(tab.attrs["footprint_area_um2"])}
    out = combine_series(tables)
    out.attrs.update({
        "series": json.dumps(info, sort_keys=True, default=str),
        "faraday": "dense Li, ssbscope.echem.faraday.lithium_thickness_um: 3 mAh cm-2 = 14.5 um",
        "residual_rule": f"100 (measured - Faraday) / Faraday change since the series' first scan; "
                         f"NaN where |charge since the first scan| < {MIN_CHARGE_MAH_CM2} mAh cm-2",
        "neutron": "neutron rows: the Li volume change in the input's li_roi (Beer-Lambert per pixel, "
                   "summed over the region times the pixel area; the beam passes side-on through the "
                   "cell) over the electrode area, neutron_li_change_per_area_um, against Faraday's "
                   "law, neutron_li_residual_pct; NaN without li_roi",
    })
    return {OUTPUT: out}


def input_stages(exp) -> list:
    """The correlation stage of an experiment's real inputs (``ssbscope run``).

    Parameters
    ----------
    exp : ssbscope.config.Experiment

    Returns
    -------
    list of ssbscope.pipeline.Stage
        ``[Stage("correlate.states")]`` reading the echem logs it needs, the CT metrics of
        every series (``tomo/<series>/metrics``), the neutron series on the echem clock and
        ``echem/eis`` when there are EIS inputs; writes ``correlate/states``.  Empty when the
        experiment has no echem cycling log or no imaging series.
    """
    from ssbscope.echem.stages import _input_items
    from ssbscope.pipeline import Stage

    cyc, _ = _input_items(exp)
    if not cyc:
        return []
    recs, eis = _series_records(exp)
    if not recs:
        return []
    eis_key = "echem/eis" if eis else None
    ins = list(dict.fromkeys([r["log"] for r in recs] + [r["key"] for r in recs]
                             + ([eis_key] if eis_key else [])))
    return [Stage("correlate.states", _states_stage, inputs=tuple(ins), outputs=(OUTPUT,),
                  params={"series": recs, "eis_key": eis_key})]
