"""HTML summary of a store for Jupyter (:meth:`ssbscope.store.Store._repr_html_`).

Reads only the Zarr metadata (``zarr.json`` files), never array data, so it is instant
on stores of any size.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

__all__ = ["store_summary", "store_html"]


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _size_on_disk(d: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(d):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def _arrays(d: Path, meta: dict) -> dict:
    """``{array name: metadata}`` of one dataset group (consolidated metadata when present)."""
    cm = (meta.get("consolidated_metadata") or {}).get("metadata")
    if isinstance(cm, dict) and cm:
        return {k: v for k, v in cm.items() if "/" not in k and v.get("node_type") == "array"}
    out = {}
    for sub in sorted(p for p in d.iterdir() if (p / "zarr.json").is_file()):
        try:
            m = json.loads((sub / "zarr.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if m.get("node_type") == "array":
            out[sub.name] = m
    return out


def _label_arrays(d: Path, attrs: dict) -> dict:
    """``{variable: metadata}`` of the label images a dataset stores as NGFF labels of an image
    (``attrs["ome_labels"]``, :meth:`ssbscope.store.Store.write`), with the dataset's dims."""
    try:
        where = json.loads(attrs.get("ome_labels") or "{}")
    except (TypeError, ValueError):
        return {}
    out = {}
    for vname, rel in sorted(where.items()) if isinstance(where, dict) else ():
        zj = Path(os.path.normpath(d / rel)) / rel.rsplit("/", 1)[-1] / "zarr.json"
        try:
            m = json.loads(zj.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        a = m.get("attributes") or {}
        dims = a.get("ssbscope_dims") or m.get("dimension_names")
        shape = m.get("shape") or ()
        if dims and m.get("dimension_names") and len(dims) < len(shape):
            # the axes of its image a lower-dimensional label was broadcast along (ssbscope.ome)
            shape = [n for d, n in zip(m["dimension_names"], shape) if d in dims]
        out[vname] = {**m, "dimension_names": dims, "shape": shape,
                      "data_type": a.get("ssbscope_dtype") or m.get("data_type")}
    return out


def store_summary(store) -> list[dict]:
    """One dict per dataset: ``name``, ``size_bytes``, ``stage``, ``created_utc``, ``ome``
    (``"image"``/``"label"``/None), ``n_images`` (OME multiscales in the dataset),
    ``pyramid_levels`` (coarser levels of each image) and ``variables`` (``name``, ``dims``,
    ``shape``, ``dtype``, ``units``, ``coord``), pyramid levels left out."""
    from ssbscope.ome import pyramid_paths

    out = []
    for name in store.names():
        d = store.path.joinpath(*name.split("/"))
        try:
            meta = json.loads((d / "zarr.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        attrs = meta.get("attributes", {})
        try:
            prov = json.loads(attrs.get("provenance") or "{}")
        except ValueError:
            prov = {}
        ome = attrs.get("ome") if isinstance(attrs.get("ome"), dict) else None
        hidden = set(pyramid_paths(ome))
        arrays = {**_arrays(d, meta), **_label_arrays(d, attrs)}
        dims_all = {dn for m in arrays.values() for dn in (m.get("dimension_names") or [])}
        variables = []
        for an in sorted(arrays):
            if an in hidden:
                continue
            m = arrays[an]
            variables.append({"name": an, "dims": tuple(m.get("dimension_names") or ()),
                              "shape": tuple(m.get("shape") or ()),
                              "dtype": str(m.get("data_type")),
                              "units": str(m.get("attributes", {}).get("units", "")),
                              "coord": an in dims_all or an.endswith(("_um", "_s")) and
                              len(m.get("shape") or ()) == 1})
        kind = None
        n_images = len((ome or {}).get("multiscales", []))
        if ome:
            kind = "label" if "image-label" in ome else "image"
        out.append({"name": name, "size_bytes": _size_on_disk(d), "stage": prov.get("stage"),
                    "created_utc": prov.get("created_utc"), "ome": kind,
                    "pyramid_levels": len(hidden) // max(n_images, 1), "n_images": n_images,
                    "variables": variables})
    return out


def store_html(store) -> str:
    """HTML of a store: its path and metadata, then one collapsible row per dataset with its
    variables (dims, shape, dtype, units), size on disk and the stage that wrote it."""
    e = html.escape
    rows = store_summary(store)
    attrs = store.attrs
    total = sum(r["size_bytes"] for r in rows)
    exp = attrs.get("experiment")
    exp_name = exp.get("name", "-") if isinstance(exp, dict) else (exp or "-")
    head = (f"<div class='ssbscope-store'><b>ssbscope.Store</b> <code>{e(str(store.path))}</code>"
            f" &mdash; {len(rows)} datasets, {_human(total)} on disk"
            f"<br><small>experiment: {e(str(exp_name))};"
            f" ssbscope {e(str(attrs.get('ssbscope_version', '?')))};"
            f" created {e(str(attrs.get('created_utc', '?')))}</small>")
    parts = [head, "<table><thead><tr><th style='text-align:left'>dataset</th>"
             "<th>variables</th><th>size</th><th>stage</th><th>OME-Zarr</th></tr></thead><tbody>"]
    for r in rows:
        var_rows = "".join(
            f"<tr><td><code>{e(v['name'])}</code></td><td>({e(', '.join(v['dims']))})</td>"
            f"<td>{e(' × '.join(map(str, v['shape'])) or 'scalar')}</td><td>{e(v['dtype'])}</td>"
            f"<td>{e(v['units'])}</td></tr>" for v in r["variables"])
        ome = ""
        if r["ome"]:  # levels of each image (a dataset may hold several, e.g. height and thickness maps)
            n = r.get("n_images", 1)
            ome = (f"{r['ome']} ({r['pyramid_levels'] + 1} levels)" if n <= 1
                   else f"{n} {r['ome']}s ({r['pyramid_levels'] + 1} levels each)")
        parts.append(
            f"<tr><td style='text-align:left'><details><summary><code>{e(r['name'])}</code></summary>"
            f"<table><thead><tr><th>variable</th><th>dims</th><th>shape</th><th>dtype</th>"
            f"<th>units</th></tr></thead><tbody>{var_rows}</tbody></table></details></td>"
            f"<td>{len(r['variables'])}</td><td>{_human(r['size_bytes'])}</td>"
            f"<td>{e(str(r['stage'] or ''))}</td><td>{e(ome)}</td></tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)
