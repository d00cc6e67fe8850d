"""Assemble the pipeline of an experiment from the registered areas and run it.

Each area (:mod:`ssbscope.areas`) names a stages module that defines

- ``input_stages(experiment) -> list[Stage]``: stages for the experiment file's inputs and
  analysis settings (``ssbscope run``; ``ssbscope demo`` is a run of a twin-written folder);
- optionally ``demo_stages(experiment) -> list[Stage]``: in-memory twin studies, run when the
  experiment file names the area under ``twin.modalities``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ssbscope.config import Experiment
from ssbscope.errors import ConfigError
from ssbscope.pipeline import RunResult, Stage, prune, run

__all__ = ["AREAS", "stages_for", "run_experiment", "ExperimentRun"]

log = logging.getLogger(__name__)

def __getattr__(name):
    if name == "AREAS":  # names of the registered areas, in pipeline order
        from ssbscope.areas import registry

        return tuple(a.name for a in registry())
    raise AttributeError(name)


def stages_for(exp: Experiment) -> list[Stage]:
    """The stages of an experiment: every registered area's ``input_stages`` (the YAML's
    inputs and analysis), then the in-memory twin studies of the areas named in
    ``twin.modalities`` (those whose twin does not write raw files yet).

    Parameters
    ----------
    exp : Experiment

    Raises
    ------
    ConfigError
        Inputs of a modality whose real-data stages do not exist.
    """
    from ssbscope.areas import registry

    stages: list[Stage] = []
    for area in registry():
        items = getattr(exp.inputs, area.name, None)
        mod = area.module("stages")
        if mod is None or not hasattr(mod, "input_stages"):
            if items:
                raise ConfigError(exp.base_dir or "experiment", [(f"inputs.{area.name}",
                                  f"ssbscope {area.name} cannot read real inputs yet; remove these inputs")])
            continue
        stages.extend(mod.input_stages(exp))
    if exp.twin is not None:
        for area in registry():
            if area.name not in exp.twin.modalities:
                continue
            mod = area.module("stages")
            if mod is None or not hasattr(mod, "demo_stages"):
                log.info("area %s has no in-memory twin study; skipped", area.name)
                continue
            stages.extend(mod.demo_stages(exp))
    return stages


@dataclass(frozen=True)
class ExperimentRun:
    """Outcome of :func:`run_experiment`: the pipeline result and the report path (None when
    the run was asked not to write one)."""

    result: RunResult
    store_path: Path
    report_path: Path | None


def truth_file(exp: Experiment) -> Path | None:
    """The twin's ground truth beside an experiment file (``truth.json``), if any."""
    if not exp.base_dir:
        return None
    p = Path(exp.base_dir) / "truth.json"
    return p if p.is_file() else None


def run_experiment(exp: Experiment, out_dir, *, scheduler: str | None = None,
                   quiet: bool = False, memory_limit=None,
                   workers: int | None = None, report: bool = True) -> ExperimentRun:
    """Run an experiment into ``out_dir`` (store ``store.zarr`` and ``report.html``), resuming
    an interrupted run.

    ``report=False`` (``ssbscope run --no-report``) writes the store only; ``ssbscope report
    STORE`` writes the report later from it.

    ``memory_limit`` (``"4GB"`` or bytes) and ``workers`` (LocalCluster processes) default to
    the experiment file's ``resources:`` (:func:`ssbscope.pipeline.run`).

    A ``truth.json`` beside the experiment file (written by the twin) is kept in the store's
    attributes for the report, which shows it beside the measured values; no stage reads it.
    """
    import json

    from ssbscope.report import build_report
    from ssbscope.store import Store

    out = Path(out_dir)
    attrs = {"experiment": exp.model_dump(mode="json")}
    tf = truth_file(exp)
    attrs["truth"] = None
    if tf is not None:
        try:
            attrs["truth"] = json.loads(tf.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(tf, [("(file)", f"twin truth file cannot be read ({e}); remove or fix it")]) from None
    store = Store.create(out / "store.zarr")
    stages = stages_for(exp)
    res = getattr(exp, "resources", None)
    if memory_limit is None and res is not None:
        memory_limit = res.memory_limit
    if workers is None and res is not None and scheduler is None:
        workers = res.workers
    # one writer per store: a second run on the same --out refuses (StoreLockedError)
    with store.lock():
        store.update_attrs(attrs)
        prune(stages, store)  # datasets of inputs/settings this experiment no longer has
        result = run(stages, store, raw_dir=out / "raw", seed=exp.seed, config=exp,
                     scheduler=scheduler, quiet=quiet, memory_limit=memory_limit,
                     workers=workers)
        report_path = None
        if report:  # a step of its own (a minute on the demo): one line at its start and end
            import sys
            import time

            from ssbscope.progress import PREFIX

            t0 = time.perf_counter()
            if not quiet:
                print(f"{PREFIX} report: start", file=sys.stderr, flush=True)
            report_path = build_report(store, out / "report.html", title=exp.name, quiet=quiet)
            if not quiet:
                print(f"{PREFIX} report: done in {time.perf_counter() - t0:.1f} s", file=sys.stderr,
                      flush=True)
    return ExperimentRun(result=result, store_path=store.path, report_path=report_path)
