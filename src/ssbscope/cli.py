"""Command line: a thin layer over the library.

Commands
--------
ssbscope demo [--out DIR]          twin of the papers' experiments, analysed end to end
ssbscope run EXPERIMENT.yaml       run an experiment file (resumes an interrupted run)
ssbscope validate EXPERIMENT.yaml  list every problem of an experiment file
ssbscope twin DESIGN --out DIR     write a twin experiment folder (files, YAML, truth)
ssbscope echem FILE                summary of a potentiostat file
ssbscope report STORE              (re)write the HTML report of a store

Errors print one line naming the problem and the fix, and exit with code 2; ``--debug``
shows the traceback.
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
    d.add_argument("--seed", type=int, default=0, help="twin seed (default 0)")

    r = sub.add_parser("run", parents=[common], help="run an experiment file")
    r.add_argument("experiment", help="experiment YAML file")
    r.add_argument("--out", default=None, help="output folder (default: <experiment name>-ssbscope beside the file)")
    r.add_argument("--scheduler", default=None, help="address of a dask.distributed scheduler (default: local)")
    r.add_argument("--memory-limit", default=None, help="memory the run may use, e.g. 4GB (shared by the "
                   "--workers); sets the reconstruction's block size (default: resources.memory_limit)")
    r.add_argument("--workers", type=int, default=None, help="start a local Dask cluster of N worker "
                   "processes for the run (default: resources.workers, else local threads)")

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

    rep = sub.add_parser("report", parents=[common], help="write the HTML report of a store")
    rep.add_argument("store")
    rep.add_argument("--out", default=None, help="report path (default: report.html beside the store)")
    return p


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
    folder = write_demo_folder(out / "experiment", size=args.size, seed=args.seed, modalities=only)
    if not args.quiet:
        print(f"twin experiment folder: {folder.root} ({len(folder.files)} raw files, "
              f"{folder.yaml_path.name}, truth in {folder.truth_path.name})")
    # exactly what `ssbscope run <folder>/experiment.yaml --out <out>` does
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
    from ssbscope.config import load
    from ssbscope.workflow import run_experiment

    exp = load(args.experiment)
    out = args.out or str(Path(args.experiment).resolve().parent / f"{Path(args.experiment).stem}-ssbscope")
    res = run_experiment(exp, out, scheduler=args.scheduler, quiet=args.quiet,
                         memory_limit=args.memory_limit, workers=args.workers)
    if not args.quiet:
        from ssbscope.store import Store

        print(_summary_table(Store.open(res.store_path)))
        print(f"store:  {res.store_path}\nreport: {res.report_path}")
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
        print(f"{args.experiment}: valid")
    return 0


def _cmd_echem(args) -> int:
    from ssbscope import echem

    kwargs = {"format": args.format} if args.format else {}
    df = echem.read(args.file, **kwargs)
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
    out = build_report(st, args.out)
    if not args.quiet:
        print(f"report: {out}")
    return 0


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
               "echem": _cmd_echem, "report": _cmd_report}[args.command]
    try:
        return handler(args)
    except SsbscopeError as e:
        if args.debug:
            raise
        print(f"ssbscope: error: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError) as e:
        if args.debug:
            raise
        print(f"ssbscope: error: {type(e).__name__}: {e} (re-run with --debug for the traceback)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ssbscope: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
