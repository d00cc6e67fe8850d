"""The registry of analysis areas: each modality declares itself once.

An area is a package ``ssbscope.<name>`` (or a third-party package) whose ``AREA`` attribute is
an :class:`Area`: its YAML input list and analysis section, the module with its pipeline
stages, the module with its report section and the store keys it writes.  The workflow
(:func:`ssbscope.workflow.stages_for`), the report (:func:`ssbscope.report.build_report`) and
the experiment-file checks (:func:`ssbscope.config.validate_file`) iterate over
:func:`registry`, so a new modality (X-ray diffraction, say) is one new package::

    # xrdscope/__init__.py
    from ssbscope.areas import Area
    AREA = Area("xrd", "X-ray diffraction", stages="xrdscope.stages",
                report="xrdscope.report", store_keys=("xrd/<series>/patterns",))

registered in its ``pyproject.toml`` as an entry point of the group ``ssbscope.areas``::

    [project.entry-points."ssbscope.areas"]
    xrd = "xrdscope:AREA"

Stage modules define ``input_stages(experiment) -> list[Stage]`` (the user's inputs; the demo
is a run like any other) and optionally ``demo_stages(experiment)``: in-memory twin studies run
when the experiment file names the area under ``twin.modalities``.  Report modules define
``section(store) -> Section | None``.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Area", "registry", "area", "BUILTIN"]

log = logging.getLogger(__name__)

#: Built-in area packages, in pipeline and report order (imaging before the areas that
#: combine them).
BUILTIN = ("echem", "tomo", "compton", "neutron", "correlate", "interface", "transport")


@dataclass(frozen=True)
class Area:
    """How one modality plugs into ssbscope.

    Parameters
    ----------
    name : str
        Short name: the YAML keys ``inputs.<name>`` / ``analysis.<name>`` and the first part
        of its store keys (``<name>/<series or label>/<product>``).
    title : str
        Heading of its report section.
    stages : str, optional
        Module with ``input_stages(exp)`` (and optionally ``demo_stages(exp)``).
    report : str, optional
        Module with ``section(store)``.
    inputs : bool
        Whether the experiment file lists raw inputs of this area (``inputs.<name>``).
    store_keys : tuple of str
        The datasets it writes, with ``<series>``/``<label>`` standing for names (documentation and
        ``ssbscope schema``).
    input_model, analysis_model : str, optional
        ``"module:Class"`` of the pydantic models of one ``inputs.<name>`` entry and of
        ``analysis.<name>`` (subclasses of the experiment file's base model); the experiment
        schema (:mod:`ssbscope.config`) is assembled from them.
    input_description, analysis_description : str
        What the ``inputs.<name>`` list and the ``analysis.<name>`` section hold (schema).
    """

    name: str
    title: str
    stages: str | None = None
    report: str | None = None
    inputs: bool = False
    store_keys: tuple = ()
    input_model: str | None = None
    analysis_model: str | None = None
    input_description: str = ""
    analysis_description: str = ""

    def module(self, which: str):
        """The imported ``stages`` or ``report`` module (None when the area has none)."""
        path = getattr(self, which)
        return importlib.import_module(path) if path else None

    def model(self, which: str):
        """The pydantic class named by ``input_model`` or ``analysis_model`` (None if unset)."""
        ref = getattr(self, which)
        if not ref:
            return None
        mod, _, cls = ref.partition(":")
        return getattr(importlib.import_module(mod), cls)


def _entry_point_areas() -> list:
    from importlib.metadata import entry_points

    out = []
    for ep in entry_points(group="ssbscope.areas"):
        try:
            obj = ep.load()
        except Exception as e:  # a broken plugin must not break ssbscope
            log.warning("area plugin %s (%s) cannot be loaded: %s", ep.name, ep.value, e)
            continue
        if isinstance(obj, Area):
            out.append(obj)
        else:
            log.warning("area plugin %s: %s is not an ssbscope.areas.Area", ep.name, ep.value)
    return out


@lru_cache(maxsize=1)
def registry() -> tuple:
    """Every area: the built-in ones in :data:`BUILTIN` order, then plugins (entry points of
    the group ``ssbscope.areas``) by name."""
    areas = [importlib.import_module(f"ssbscope.{name}").AREA for name in BUILTIN]
    seen = {a.name for a in areas}
    for a in sorted(_entry_point_areas(), key=lambda a: a.name):
        if a.name in seen:
            log.warning("area plugin %r has the name of an area already registered; ignored", a.name)
            continue
        areas.append(a)
        seen.add(a.name)
    return tuple(areas)


def area(name: str) -> Area:
    """The registered area called ``name`` (KeyError if none)."""
    for a in registry():
        if a.name == name:
            return a
    raise KeyError(name)
