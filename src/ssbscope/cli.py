"""Command line: a thin layer over the library.

Commands
--------
ssbscope demo [--out DIR]          twin of the papers' experiments, analysed end to end
ssbscope run EXPERIMENT.yaml       run an experiment file (resumes an interrupted run)
ssbscope validate EXPERIMENT.yaml  list every problem of an experiment file
ssbscope twin DESIGN --out DIR     write a twin experiment folder (files, YAML, truth)
ssbscope echem FILE                summary of a potentiostat file
ssbscope report STORE              (re)write the HTML report of a store
ssbscope schema                    JSON Schema of the experiment file (for editors)
ssbscope init [--modalities ...]   commented template experiment file
ssbscope export STORE              tables to CSV/Parquet, echem to BDF, volumes to TIFF
ssbscope check STORE               verify every dataset against its recorded checksums

Errors print one line naming the problem and the fix, and exit with code 2; ``--debug``
shows the traceback.  Every error reaching the command line is reported this way: the
``ssbscope.errors`` classes with their own message; an unreadable input (``OSError``,
``UnicodeDecodeError``, a pandas parser error, ...) as ``InputError`` naming the file where the
exception names one; anything else as an internal error, one line with its type and
"re-run with --debug for the traceback" (exit 2 as well; a bug to report).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from ssbscope.errors import SsbscopeError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from ssbscope import __version__

    top = argparse.ArgumentParser(add_help=False)
    top.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    top.add_argument("--quiet", "-q", action="store_true", help="no progress bars or summary (for scripts)")
    # the same flags after the command; SUPPRESS keeps a flag given before the command
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    common.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no progress output")

    p = argparse.ArgumentParser(prog="ssbscope", parents=[top],
                                description="Operando imaging of solid-state Li batteries: CT, Compton, "
                                            "neutron and electrochemistry on one time axis.")
    p.add_argument("--version", action="version", version=f"ssbscope {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", parents=[common], help="run the built-in digital twin end to end")
    d.add_argument("--out", default="ssbscope-demo", help="output folder (default: ./ssbscope-demo)")
    d.add_argument("--scheduler", default=None, help="address of a dask.distributed scheduler (default: local)")
    d.add_argument("--size", choices=["tiny", "small", "medium"], default="small", help="twin size (default: small)")
    d.add_argument("--only", default=None, help="comma-separated modalities (echem,tomo,compton,neutron,transport,interface)")
    d.add_argument("--coin-ct", action=argparse.BooleanOptionalAction, default=True, help="with tomo: also the coin cell's 115 keV phase-contrast CT series (Huang et al. 2024), whose segmentation gives the XCS series' sheet fractions (on by default; --no-coin-ct: the XCS unmixing uses the declared layers)")
    d.add_argument("--seed", type=int, default=0, help="twin seed (default 0)")

    r = sub.add_parser("run", parents=[common], help="run an experiment file")
    r.add_argument("experiment", help="experiment YAML file")
    r.add_argument("--out", default=None, help="output folder (default: <experiment name>-ssbscope beside the file)")
    r.add_argument("--scheduler", default=None, help="address of a dask.distributed scheduler (default: local)")
    r.add_argument("--memory-limit", default=None, help="memory the run may use, e.g. 4GB (shared by the "
                   "--workers); sets the reconstruction's block size (default: resources.memory_limit)")
    r.add_argument("--workers", type=int, default=None, help="start a local Dask cluster of N worker "
                   "processes for the run (default: resources.workers, else local threads)")
    r.add_argument("--no-report", dest="report", action="store_false", help="write the store only, "
                   "no report.html (`ssbscope report STORE` writes it later from the store)")

    t = sub.add_parser("twin", parents=[common],
                       help="write a digital-twin experiment folder (raw files, experiment.yaml, truth.json)")
    t.add_argument("design", choices=["anode-free", "symmetric", "xcs", "demo"],
                   help="anode-free Cu | Li6PS5Cl | Li CT series, symmetric Li | Li6PS5Cl | Li CT "
                        "series, XCS series of the NMC622 | PEO | Li coin cell, or the whole demo folder")
    t.add_argument("--out", required=True, help="folder to write")
    t.add_argument("--size", choices=["tiny", "small", "medium"], default="small")
    t.add_argument("--seed", type=int, default=0)

    v = sub.add_parser("validate", parents=[common], help="check an experiment file")
    v.add_argument("experiment")

    e = sub.add_parser("echem", parents=[common], help="summarise a potentiostat file")
    e.add_argument("file")
    e.add_argument("--area-cm2", type=float, default=None, help="electrode area (cm²)")
    e.add_argument("--mass-mg", type=float, default=None, help="active mass (mg)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--format", default=None, help="force a reader (mpr, mpt, gamry, csv, neware, arbin, maccor, novonix)")

    ck = sub.add_parser("check", parents=[common],
                        help="verify a store: every dataset against its checksums, every finished stage's outputs")
    ck.add_argument("store")

    rep = sub.add_parser("report", parents=[common], help="write the HTML report of a store")
    rep.add_argument("store")
    rep.add_argument("--out", default=None, help="report path (default: report.html beside the store)")
    _add_user_parsers(sub, common)
    return p


def _add_user_parsers(sub, common) -> None:
    """``schema``, ``init`` and ``export``: the experiment file and the store in users' tools."""
    sub.add_parser("schema", parents=[common], help="print the JSON Schema of the experiment file")
    i = sub.add_parser("init", parents=[common], help="write a commented template experiment file")
    i.add_argument("--modalities", default=None,
                   help="comma-separated areas whose sections are written (default: all), e.g. echem,tomo")
    i.add_argument("--out", default=None, help="file to write (default: stdout)")
    x = sub.add_parser("export", parents=[common],
                       help="export a store's tables (CSV/Parquet), echem series (BDF), volumes (TIFF)")
    x.add_argument("store")
    x.add_argument("--format", choices=["csv", "parquet", "bdf"], default="csv",
                   help="csv or parquet: every table-like dataset; bdf: echem time series in the "
                        "Battery Data Format (default: csv)")
    x.add_argument("--out", default=None, help="folder to write (default: export-<format> beside the store)")
    x.add_argument("--volumes", action="store_true", help="also write volumes and label images as TIFF stacks")


def _summary_table(store) -> str:
    rows = []
    for name in store.names():
        ds = store.read(name)
        dims = ", ".join(f"{k}={v}" for k, v in ds.sizes.items())
        rows.append((name, ", ".join(list(ds.data_vars)[:5]) + (" …" if len(ds.data_vars) > 5 else ""), dims))
    w0 = max([len(r[0]) for r in rows] + [7])
    w1 = max([len(r[1]) for r in rows] + [9])
    lines = [f"{'dataset':<{w0}}  {'variables':<{w1}}  sizes", f"{'-' * w0}  {'-' * w1}  -----"]
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def _cmd_demo(args) -> int:
    from ssbscope.config import load
    from ssbscope.twin.demo import write_demo_folder
    from ssbscope.workflow import run_experiment

    only = [m.strip() for m in args.only.split(",")] if args.only else None
    t0 = time.perf_counter()
    out = Path(args.out)
    folder = write_demo_folder(out / "experiment", size=args.size, seed=args.seed, modalities=only,
                               coin_ct=getattr(args, "coin_ct", True))
    if not args.quiet:
        print(f"twin experiment folder: {folder.root} ({len(folder.files)} raw files, "
              f"{folder.yaml_path.name}, truth in {folder.truth_path.name})")
    # exactly what `ssbscope run <folder>/experiment.yaml --out <out>` does: validate, then run
    from ssbscope.config import validate_file
    from ssbscope.errors import ConfigError

    problems = validate_file(folder.yaml_path)
    if problems:
        raise ConfigError(folder.yaml_path, problems)
    res = run_experiment(load(folder.yaml_path), out, scheduler=args.scheduler, quiet=args.quiet)
    if not args.quiet:
        from ssbscope.store import Store

        st = Store.open(res.store_path)
        print(_summary_table(st))
        print(f"\nstages run: {len(res.result.ran)}, resumed: {len(res.result.skipped)}, "
              f"{time.perf_counter() - t0:.1f} s")
        print(f"store:  {res.store_path}")
        print(f"report: {res.report_path}")
        print(f"same analysis: ssbscope run {folder.yaml_path} --out OTHER_DIR")
    return 0


def _cmd_run(args) -> int:
    from ssbscope.config import load, validate_file
    from ssbscope.errors import ConfigError
    from ssbscope.workflow import run_experiment

    problems = validate_file(args.experiment)  # missing files, inputs under the wrong modality
    if problems:
        raise ConfigError(args.experiment, problems)
    exp = load(args.experiment)
    out = args.out or str(Path(args.experiment).resolve().parent / f"{Path(args.experiment).stem}-ssbscope")
    res = run_experiment(exp, out, scheduler=args.scheduler, quiet=args.quiet,
                         memory_limit=args.memory_limit, workers=args.workers,
                         report=args.report)
    if not args.quiet:
        from ssbscope.store import Store

        print(_summary_table(Store.open(res.store_path)))
        print(f"store:  {res.store_path}\nreport: {res.report_path or 'not written (--no-report)'}")
    return 0


def _cmd_twin(args) -> int:
    if args.design == "demo":
        from ssbscope.twin.demo import write_demo_folder

        folder = write_demo_folder(args.out, size=args.size, seed=args.seed)
    elif args.design == "xcs":
        from ssbscope.twin.xcs_series import write_xcs_series

        photons = {"tiny": 30_000, "small": 100_000, "medium": 300_000}[args.size]
        xs = write_xcs_series(args.out, n_photons=photons, seed=args.seed)
        if not args.quiet:
            print(f"wrote the XCS series into {xs.folder}")
            print(f"run it:  ssbscope run {xs.yaml_path}")
        return 0
    else:
        from ssbscope.twin.folder import write_ct_experiment

        folder = write_ct_experiment(args.out, design=args.design.replace("-", "_"),
                                     size=args.size, seed=args.seed)
    if not args.quiet:
        print(f"wrote {len(folder.files)} files into {folder.root}")
        print(f"run it:  ssbscope run {folder.yaml_path}")
    return 0


def _cmd_validate(args) -> int:
    from ssbscope.config import validate_file

    problems = validate_file(args.experiment)
    if problems:
        for loc, msg in problems:
            print(f"{args.experiment}: {loc}: {msg}")
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 2
    if not args.quiet:
        from ssbscope.config import load
        from ssbscope.schema import input_formats

        for loc, desc in input_formats(load(args.experiment)):
            print(f"  {loc}: {desc}")
        print(f"{args.experiment}: valid")
    return 0


def _cmd_echem(args) -> int:
    from ssbscope import echem

    from ssbscope.errors import MissingColumnError

    kwargs = {"format": args.format} if args.format else {}
    try:
        df = echem.read(args.file, **kwargs)
    except MissingColumnError as e:  # no mapping here: say what the experiment YAML takes
        from ssbscope.echem.stages import yaml_column_error

        err = yaml_column_error(e, args.file, where=(
            f"under an input {{path: {Path(args.file).name}, ...}} of an experiment file and use "
            "'ssbscope run' (ssbscope echem takes no mapping)"))
        if err is None:
            raise
        raise err from e
    summ = echem.summarize(df, area_cm2=args.area_cm2, mass_mg=args.mass_mg)
    d = summ.to_dict()
    if args.json:
        print(json.dumps(d, indent=2, default=str))
    else:
        print(summ.to_text() if hasattr(summ, "to_text") else "\n".join(f"{k}: {v}" for k, v in d.items()))
    return 0


def _cmd_report(args) -> int:
    from ssbscope.report import build_report
    from ssbscope.store import Store

    st = Store.open(args.store)
    out = build_report(st, args.out, quiet=args.quiet)
    if not args.quiet:
        print(f"report: {out}")
    return 0


def _cmd_schema(args) -> int:
    from ssbscope.schema import schema_text

    sys.stdout.write(schema_text())
    return 0


def _cmd_init(args) -> int:
    from ssbscope.schema import template

    text = template(args.modalities.split(",") if args.modalities else None)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    if out.exists():
        raise FileExistsError(f"{out} exists; choose another --out or delete it")
    out.write_text(text, encoding="utf-8")
    if not args.quiet:
        print(f"wrote {out}; replace the PATH/TO/... paths, then: ssbscope validate {out}")
    return 0


def _cmd_export(args) -> int:
    from ssbscope.export import export_store

    written = export_store(args.store, args.out, format=args.format, volumes=args.volumes)
    if not args.quiet:
        for p in written:
            print(p)
        print(f"{len(written)} file(s) written", file=sys.stderr)
    return 0


def _cmd_check(args) -> int:
    from ssbscope.store import Store

    from ssbscope.store import StoreLockedError

    st = Store.open(args.store)
    try:
        with st.lock():  # not while a run writes it (that run's in-flight state is no problem)
            problems = st.check(mark=True)  # the next run recomputes what is damaged
    except StoreLockedError:
        raise
    except OSError:  # a read-only store (no lock file can be written): check without the lock
        problems = st.check()
    for p in problems:
        print(f"{st.path}: {p}")
    if problems:
        print(f"ssbscope: check: {len(problems)} problem(s) in {st.path}; re-run the experiment "
              "(same command, same --out) to recompute the damaged results", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"{st.path}: {len(st.names())} dataset(s) verified (sha256 of every file), "
              "every finished stage's outputs present")
    return 0


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error_line(e: BaseException) -> str:
    """The one line printed for an exception that is not an ssbscope error."""
    fn = getattr(e, "filename", None)
    if isinstance(e, OSError) and fn:
        what = e.strerror or type(e).__name__
        return f"{fn}: cannot be read ({what}); check the path (a data file is expected)"
    return (f"internal error {type(e).__name__}: {_one_line(str(e))[:200]} "
            "(re-run with --debug for the traceback, and please report it)")


def main(argv=None) -> int:
    """Entry point of the ``ssbscope`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else (logging.ERROR if args.quiet else logging.WARNING),
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    handler = {"demo": _cmd_demo, "run": _cmd_run, "validate": _cmd_validate, "twin": _cmd_twin,
               "echem": _cmd_echem, "report": _cmd_report, "schema": _cmd_schema, "init": _cmd_init,
               "export": _cmd_export, "check": _cmd_check}[args.command]
    try:
        return handler(args)
    except BrokenPipeError:  # `ssbscope ... | head`: the reader closed the pipe; not an error
        import os

        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # no real stdout (captured): nothing left to silence
            pass
        return 141  # 128 + SIGPIPE, as a shell tool killed by it
    except SsbscopeError as e:
        if args.debug:
            raise
        print(f"ssbscope: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the CLI boundary: one line, exit 2, never a traceback
        if args.debug:
            raise
        print(f"ssbscope: error: {_error_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ssbscope: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
