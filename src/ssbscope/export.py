"""Exports of a store to the tools people already use: CSV, Parquet, the Battery Data Format,
TIFF stacks.

``ssbscope export STORE --format csv|parquet|bdf --out DIR [--volumes]`` calls
:func:`export_store`:

- ``csv`` / ``parquet``: every table-like part of every dataset (its variables of 0, 1 or 2
  dimensions: echem time series, cycle tables, metrics, summaries, maps) as one file per
  dataset and dimension group (:func:`tables`), named from the dataset path with ``/`` ->
  ``__`` (``echem__timeseries.csv``; a dataset whose variables span several dimension groups
  gets one file per group, ``tomo__s__metrics__time_s-layer.csv``).  Long format: one column
  per dimension (its coordinate values), one per variable.  Units: CSV headers are
  ``name [unit]`` (the store's pint-parseable spelling); Parquet columns carry ``units`` and
  ``long_name`` in their field metadata and the dataset's attributes in the schema metadata.
- ``bdf``: every echem time series (``echem/timeseries``, ``echem/<label>/timeseries``) in the
  Battery Data Format of the Battery Data Alliance (Linux Foundation Energy),
  https://github.com/battery-data-alliance/battery-data-format (README, "Defining the BDF for
  Cycler Time-Series Data"): header row of preferred labels with fixed units, ``Test Time / s``,
  ``Voltage / V``, ``Current / A`` (required), ``Cycle Count / 1`` and ``Step Count / 1``
  (recommended; monotonically increasing) and ``Net Capacity / Ah`` (optional: charge minus
  discharge since the start), one cell per file, ``<dataset>.bdf.csv``.  Current keeps the
  ssbscope sign convention: positive on charge.
- ``volumes=True`` (``--volumes``): every variable whose last three dimensions are ``z, y, x``
  (reconstructed volumes, label images) as one multi-page TIFF stack per leading index
  (scan), written slice by slice with :mod:`tifffile` so a volume is never held in memory
  whole; voxel size (``voxel_size_um``) in the ImageJ metadata.

Parquet needs :mod:`pyarrow` (``pip install ssbscope[export]``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ssbscope.errors import ParameterError, StoreError

__all__ = ["export_store", "tables", "bdf_table", "write_volume_tiffs", "BDF_COLUMNS",
           "read_csv_table"]

log = logging.getLogger(__name__)

#: BDF preferred labels written by :func:`bdf_table`, in file order.
BDF_COLUMNS = ("Test Time / s", "Voltage / V", "Current / A", "Cycle Count / 1", "Step Count / 1",
               "Net Capacity / Ah")

#: Tables larger than this many rows are skipped (a 3-D cube flattened is no table).
MAX_ROWS = 5_000_000

_SPATIAL = ("z", "y", "x")


def _file_stem(name: str) -> str:
    return name.replace("/", "__")


def _unit(var) -> str:
    return str(var.attrs.get("units", ""))


def _header(name: str, var) -> str:
    u = _unit(var)
    return f"{name} [{u}]" if u else str(name)


def tables(ds, name: str = "dataset"):
    """The table-like parts of a dataset.

    Parameters
    ----------
    ds : xarray.Dataset
    name : str
        Dataset name (file stems and messages).

    Yields
    ------
    stem : str
        File stem: ``name`` with ``/`` -> ``__``, plus ``__<dim>-<dim>`` (or ``__scalars``)
        when the dataset has several dimension groups.
    frame : pandas.DataFrame
        Long format: dimension columns (coordinate values or positions) then variables.
    units : dict
        Column -> unit (empty string for none).
    long_names : dict
        Column -> long name.
    """
    import pandas as pd

    groups: dict[tuple, list[str]] = {}
    for v, var in ds.data_vars.items():
        if var.ndim <= 2:
            groups.setdefault(tuple(var.dims), []).append(str(v))
    several = len(groups) > 1
    for dims, names in groups.items():
        n_rows = int(np.prod([ds.sizes[d] for d in dims])) if dims else 1
        if n_rows > MAX_ROWS:
            log.warning("%s: variables %s have %d rows; not exported as a table", name, names, n_rows)
            continue
        stem = _file_stem(name)
        if several:
            stem += "__" + ("-".join(map(str, dims)) if dims else "scalars")
        cols, units, longs = {}, {}, {}
        if dims:
            index = pd.MultiIndex.from_product(
                [np.asarray(ds[d].values) if d in ds.coords else np.arange(ds.sizes[d]) for d in dims],
                names=list(dims))
            for k, d in enumerate(dims):
                cols[str(d)] = index.get_level_values(k)
                src = ds[d] if d in ds.coords else None
                units[str(d)] = _unit(src) if src is not None else "1"
                longs[str(d)] = str(src.attrs.get("long_name", d)) if src is not None else str(d)
        for v in names:
            var = ds[v]
            vals = np.asarray(var.transpose(*dims).values).reshape(-1)
            cols[v] = vals
            units[v] = _unit(var)
            longs[v] = str(var.attrs.get("long_name", v))
        frame = pd.DataFrame({k: np.asarray(c) for k, c in cols.items()})
        for c in frame.columns:  # numpy StringDType / objects -> plain str for the writers
            if frame[c].dtype == object or str(frame[c].dtype).startswith(("string", "String")):
                frame[c] = frame[c].astype(str)
        yield stem, frame, units, longs


def _write_csv(frame, units, path: Path) -> None:
    out = frame.rename(columns={c: (f"{c} [{units[c]}]" if units.get(c) else c) for c in frame.columns})
    out.to_csv(path, index=False)


def read_csv_table(path):
    """Read a CSV written by :func:`export_store` back: ``(DataFrame, units)`` with the
    ``name [unit]`` headers split into column names and units."""
    import pandas as pd
    import re

    df = pd.read_csv(path)
    units, names = {}, []
    for c in df.columns:
        m = re.match(r"^(.*) \[(.*)\]$", str(c))
        n, u = (m.group(1), m.group(2)) if m else (str(c), "")
        names.append(n)
        units[n] = u
    df.columns = names
    return df, units


def _write_parquet(frame, units, longs, attrs: dict, path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ParameterError("format", "parquet", "needs pyarrow",
                             "pip install 'ssbscope[export]' (or pyarrow), or use --format csv") from e
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [f.with_metadata({"units": units.get(f.name, ""), "long_name": longs.get(f.name, f.name)})
              for f in table.schema]
    meta = dict(table.schema.metadata or {})
    meta[b"ssbscope"] = json.dumps({k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v))
                                    for k, v in attrs.items()}, sort_keys=True).encode()
    table = table.cast(pa.schema(fields, metadata=meta))
    pq.write_table(table, path)


def _monotonic_count(values) -> np.ndarray:
    """1 + the number of changes so far: a monotonically increasing index of runs of equal
    values (BDF ``Step Count`` / ``Cycle Count``)."""
    v = np.asarray(values)
    if v.size == 0:
        return v.astype(np.int64)
    changed = np.concatenate([[0], (v[1:] != v[:-1]).astype(np.int64)])
    return 1 + np.cumsum(changed)


def bdf_table(ds):
    """An echem time series (``echem/.../timeseries``) as a BDF table.

    Parameters
    ----------
    ds : xarray.Dataset
        With ``time_s`` (s since the start of the test), ``voltage_V``, ``current_A`` and
        optionally ``cycle``, ``step`` and ``charge_mAh`` (net charge since the start).

    Returns
    -------
    pandas.DataFrame
        Columns from :data:`BDF_COLUMNS` (those the series has), units fixed by the BDF:
        s, V, A, 1, 1, Ah.

    Raises
    ------
    StoreError
        The dataset lacks time, voltage or current.
    """
    import pandas as pd

    missing = [v for v in ("time_s", "voltage_V", "current_A") if v not in ds.variables]
    if missing:
        raise StoreError(f"echem time series lacks {missing}; a BDF file needs time, voltage and current")
    cols = {"Test Time / s": np.asarray(ds["time_s"].values, float),
            "Voltage / V": np.asarray(ds["voltage_V"].values, float),
            "Current / A": np.asarray(ds["current_A"].values, float)}
    if "cycle" in ds:
        c = np.asarray(ds["cycle"].values)
        cols["Cycle Count / 1"] = c if np.all(np.diff(c) >= 0) else _monotonic_count(c)
    if "step" in ds:
        cols["Step Count / 1"] = _monotonic_count(ds["step"].values)
    if "charge_mAh" in ds:
        cols["Net Capacity / Ah"] = np.asarray(ds["charge_mAh"].values, float) / 1000.0
    return pd.DataFrame(cols)


def _is_echem_series(name: str) -> bool:
    parts = name.split("/")
    return parts[0] == "echem" and parts[-1] == "timeseries"


def write_volume_tiffs(ds, name: str, out: Path) -> list[Path]:
    """Every ``(..., z, y, x)`` variable of ``ds`` as TIFF stacks, one per leading index,
    written one z slice at a time.

    Returns
    -------
    list of Path
        ``<name>__<variable>[__<i>].tif``.
    """
    import itertools

    import tifffile

    written = []
    vs = ds.attrs.get("voxel_size_um")
    for v, var in ds.data_vars.items():
        if var.ndim < 3 or tuple(var.dims[-3:]) != _SPATIAL:
            continue
        lead = var.dims[:-3]
        dt = np.dtype(var.dtype)
        if dt == bool:
            dt = np.dtype(np.uint8)
        for idx in itertools.product(*[range(var.sizes[d]) for d in lead]):
            sub = var.isel(dict(zip(lead, idx)))
            suffix = "".join(f"__{i:03d}" for i in idx)
            path = out / f"{_file_stem(name)}__{v}{suffix}.tif"
            nz, ny, nx = (sub.sizes[d] for d in _SPATIAL)
            kw = {}
            if vs:
                res = 1.0 / float(vs)  # pixels per um
                kw = {"resolution": (res, res), "imagej": True,
                      "metadata": {"spacing": float(vs), "unit": "um", "axes": "ZYX"}}
            slices = (np.asarray(sub.isel(z=k).values).astype(dt, copy=False) for k in range(nz))
            with tifffile.TiffWriter(path, bigtiff=not kw, imagej=bool(kw)) as tw:
                tw.write(slices, shape=(nz, ny, nx), dtype=dt, **{k: w for k, w in kw.items() if k != "imagej"})
            written.append(path)
    return written


def export_store(store, out=None, *, format: str = "csv", volumes: bool = False,
                 names=None) -> list[Path]:
    """Export a store's datasets.

    Parameters
    ----------
    store : Store or path
    out : path, optional
        Output folder (created); default ``export-<format>`` beside the store.
    format : {"csv", "parquet", "bdf"}
        Tables as CSV or Parquet, or the echem time series as BDF.
    volumes : bool
        Also write ``(z, y, x)`` volumes and label images as TIFF stacks.
    names : iterable of str, optional
        Only these datasets (default: all).

    Returns
    -------
    list of Path
        The files written, in dataset order.

    Raises
    ------
    ParameterError
        Unknown format, or Parquet without pyarrow.
    StoreError
        ``store`` is not a store; ``bdf`` on a store without echem time series.
    """
    from ssbscope.store import Store

    if format not in ("csv", "parquet", "bdf"):
        raise ParameterError("format", format, "must be csv, parquet or bdf")
    st = store if isinstance(store, Store) else Store.open(store)
    out = Path(out) if out is not None else st.path.parent / f"export-{format}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        what = "is a file, not a folder" if out.exists() and not out.is_dir() else \
            f"cannot be created ({e.strerror or type(e).__name__})"
        raise StoreError(f"{out}: export folder {what}; pass --out a new or existing "
                         "writable folder") from None
    wanted = list(names) if names is not None else st.names()
    written: list[Path] = []
    for name in wanted:
        ds = st.read(name)
        if format == "bdf":
            if _is_echem_series(name):
                p = out / f"{_file_stem(name)}.bdf.csv"
                bdf_table(ds).to_csv(p, index=False)
                written.append(p)
        else:
            for stem, frame, units, longs in tables(ds, name):
                if format == "csv":
                    p = out / f"{stem}.csv"
                    _write_csv(frame, units, p)
                else:
                    p = out / f"{stem}.parquet"
                    attrs = {k: v for k, v in ds.attrs.items() if not k.startswith("_")}
                    attrs["dataset"] = name
                    _write_parquet(frame, units, longs, attrs, p)
                written.append(p)
        if volumes:
            written += write_volume_tiffs(ds, name, out)
    if format == "bdf" and not any(str(p).endswith(".bdf.csv") for p in written):
        raise StoreError(f"{st.path}: no echem time series (echem/timeseries, echem/<label>/timeseries) "
                         "to write as BDF; export the tables with --format csv")
    return written
