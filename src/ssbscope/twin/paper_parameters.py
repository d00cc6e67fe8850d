"""The twin's parameters, one table per paper: value, unit and where it comes from.

The twin's experiments follow these tables. A row is either a number a paper reports (its
figure or table named in ``source``), derived from such numbers (the derivation in ``note``), or
an assumption of the twin (``source`` starts with ``"assumption"`` and ``note`` says why). The
report prints the tables beside the accuracy table, so a reader sees which truth the twin
encodes and which measurement must recover it.

Each paper's module registers its table here with :func:`register`; :func:`table` and
:func:`tables` give them back.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PaperParameter", "register", "table", "tables", "value"]


@dataclass(frozen=True)
class PaperParameter:
    """One parameter of a twin experiment.

    Attributes
    ----------
    name : str
        Parameter name, with its symbol where the paper uses one.
    value : float or str or tuple
        Value in ``unit`` (a tuple for a value per state, e.g. Ra at three states).
    unit : str
        pint-parseable unit (``"um"``, ``"mA/cm**2"``, ``"percent"``, ``"1"``).
    source : str
        Figure/table/section of the paper, or ``"assumption: ..."``.
    note : str
        How the value was derived or why it was assumed.
    """

    name: str
    value: object
    unit: str
    source: str
    note: str = ""

    @property
    def assumed(self) -> bool:
        """True when the twin assumes the value (no paper reports it)."""
        return self.source.lower().startswith("assumption")


#: paper key ("000", "001", "002", "003") -> (citation, rows)
_TABLES: dict[str, tuple[str, tuple[PaperParameter, ...]]] = {}


def register(paper: str, citation: str, rows) -> tuple[PaperParameter, ...]:
    """Register (or replace) the parameter table of one paper's twin experiment.

    Parameters
    ----------
    paper : str
        Short key of the paper (``"000"``, ``"001"``, ``"002"``, ``"003"``).
    citation : str
        Authors, year and DOI as readers see them.
    rows : iterable of PaperParameter

    Returns
    -------
    tuple of PaperParameter
    """
    rows = tuple(rows)
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"paper {paper}: duplicate parameter names in its twin table")
    _TABLES[str(paper)] = (str(citation), rows)
    return rows


def _load() -> None:
    # the paper modules register on import; import the ones that exist
    import importlib

    for mod in ("params_000", "params_001", "params_002"):
        try:
            importlib.import_module(f"ssbscope.twin.{mod}")
        except ModuleNotFoundError as exc:  # a paper without a table yet
            if exc.name != f"ssbscope.twin.{mod}":
                raise


def table(paper: str):
    """One paper's table as a :class:`pandas.DataFrame` (name, value, unit, source, note)."""
    import pandas as pd

    _load()
    if str(paper) not in _TABLES:
        raise KeyError(f"no twin parameter table for paper {paper!r}; have {sorted(_TABLES)}")
    citation, rows = _TABLES[str(paper)]
    df = pd.DataFrame([(r.name, r.value, r.unit, r.source, r.note) for r in rows],
                      columns=["parameter", "value", "unit", "source", "note"])
    df.attrs["citation"] = citation
    return df


def tables() -> dict[str, tuple[str, tuple[PaperParameter, ...]]]:
    """Every registered table: paper key -> (citation, rows)."""
    _load()
    return dict(_TABLES)


def value(paper: str, name: str):
    """The value of one parameter (KeyError naming the table's rows when absent)."""
    _load()
    citation, rows = _TABLES[str(paper)]
    for r in rows:
        if r.name == name:
            return r.value
    raise KeyError(f"paper {paper}: no parameter {name!r}; have {[r.name for r in rows]}")
