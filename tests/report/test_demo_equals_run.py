"""`ssbscope demo` is exactly `ssbscope run` on the experiment folder it writes.

The run is the shared ``tiny_demo_rerun`` (tests/conftest.py; started early by
tests/report/test_demo_run.py beside the building of ``tiny_demo``), so this comparison waits
for neither when the suite runs on two workers.
"""

import hashlib

import pytest
import xarray as xr

from ssbscope.store import Store


def _digest(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# slow: it needs both demo runs; its own weight is small (tests/conftest.py), so that it runs late
@pytest.mark.slow(seconds=5)
def test_demo_is_exactly_a_run_of_its_experiment_folder(tiny_demo, tiny_demo_rerun):
    """`ssbscope demo` leaves DIR/experiment/experiment.yaml; `ssbscope run` on it elsewhere
    gives the same analysis datasets, value for value (and no dataset holds twin truth).

    The run recomputes every stage from the raw files (its own output folder, nothing to
    resume); it writes no report (``--no-report``): the datasets are what is compared.  It runs
    on ``ssbscope twin demo``'s folder, written apart from the demo's so that this run and the
    demo's own run go on at the same time on two workers; the folder is byte for byte the one
    the demo wrote (same seed, same bytes: checked below), so this is the run of the demo's
    folder.
    """
    demo_dir = tiny_demo
    exp, other = tiny_demo_rerun / "experiment", tiny_demo_rerun / "run"
    yaml_path = demo_dir / "experiment" / "experiment.yaml"
    assert yaml_path.is_file() and (demo_dir / "experiment" / "truth.json").is_file()
    mine, demos = _digest(exp), _digest(demo_dir / "experiment")
    assert len(demos) > 10 and mine == demos, sorted(set(mine.items()) ^ set(demos.items()))[:6]

    a, b = Store.open(demo_dir / "store.zarr"), Store.open(other / "store.zarr")
    assert a.names() == b.names()
    for name in a.names():
        assert "/twin/" not in name or name.split("/")[0] in ("neutron", "tomo"), name
        da_, db_ = a.read(name).load(), b.read(name).load()
        xr.testing.assert_identical(da_.drop_attrs(deep=False), db_.drop_attrs(deep=False))
        # attributes too, except provenance (UTC time): no timing or run-dependent value in data
        # (files a twin study writes into the run's raw/ folder are named by their path there,
        # input files by their path in the experiment folder)
        def norm(attrs, out, folder):
            paths = ((str(out / "raw"), "<out>/raw"), (str(folder), "<experiment>"))

            def sub(v):
                for p, r in paths:
                    v = v.replace(p, r)
                return v

            return {k: sub(v) if isinstance(v, str) else v
                    for k, v in attrs.items() if k != "provenance"}

        assert norm(da_.attrs, demo_dir, demo_dir / "experiment") == norm(db_.attrs, other, exp), name
