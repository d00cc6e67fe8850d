"""`ssbscope run` on the experiment folder that `ssbscope demo` writes: the run itself.

In a file of its own, first among the long files, so that pytest-xdist starts this run (the
shared ``tiny_demo_rerun``, ~2 min on 2 cores) on one worker while the other builds the shared
``tiny_demo``.  tests/report/test_demo_equals_run.py compares the two, value for value, late in
the suite when both are built, so that neither worker waits for the other.
"""

import pytest

from ssbscope.store import Store


@pytest.mark.slow(seconds=130)
def test_the_demo_folder_runs_into_a_store_and_no_report(tiny_demo_rerun):
    """`ssbscope run --no-report` on the folder: a complete store (every stage ran), no report."""
    run = tiny_demo_rerun / "run"
    assert (run / "store.zarr").is_dir() and not (run / "report.html").exists()
    st = Store.open(run / "store.zarr")
    assert len(st.names()) > 20
    assert {"echem", "tomo", "compton", "neutron", "interface", "correlate"} <= {n.split("/")[0] for n in st.names()}
