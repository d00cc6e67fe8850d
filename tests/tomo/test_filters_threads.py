"""The parallel kernels of :mod:`ssbscope.tomo.filters` (and the FBP's gridding) launched from several threads at once
(as Dask's thread pool runs the chunked stages' slabs) give the serial results, under the
threading layer numba picks here and under ``workqueue``, which is not threadsafe (numba
terminates the process on a concurrent launch; the kernels then take turns).

Each case runs in a subprocess: the threading layer is chosen once per process (at the first
parallel launch), and a failure under ``workqueue`` is an abort, not an exception."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import json, threading
    import numba, numpy as np, scipy.ndimage as ndi
    from ssbscope.tomo import filters as F
    from ssbscope.tomo.recon import fbp

    rng = np.random.default_rng(0)
    vols = [rng.random((24, 48, 48)).astype(np.float32) for _ in range(2)]
    blobs = [ndi.gaussian_filter(v, 1.5) > 0.5 for v in vols]  # blobs to open
    dots = [v > 0.95 for v in vols]  # sparse voxels: many components

    ang = np.linspace(0, np.pi, 60, endpoint=False)
    sinos = [rng.random((60, 48)).astype(np.float32) for _ in range(2)]

    def run(i):  # filters' kernels and the FBP's gridding (ssbscope.tomo.recon)
        return (F.median3(vols[i]), F.opening(blobs[i], 2), F.label(dots[i], 26),
                fbp(sinos[i], ang, 23.5))

    ref = [run(0), run(1)]  # serial (the first launch selects the layer)
    got, errors = [[], []], []
    barrier = threading.Barrier(2)

    def worker(i):
        try:
            for _ in range(12):
                barrier.wait()
                got[i].append(run(i))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    th = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    same = all(np.array_equal(a[0], r[0]) and np.array_equal(a[1], r[1])
               and np.array_equal(a[2][0], r[2][0]) and a[2][1] == r[2][1]
               and np.array_equal(a[3], r[3])
               for i, r in enumerate(ref) for a in got[i])
    print(json.dumps({"layer": numba.threading_layer(), "serialised": F.kernels_serialised(),
                      "runs": [len(g) for g in got], "same": bool(same), "errors": errors,
                      "n_labels": [r[2][1] for r in ref],
                      "opened": [float(r[1].mean()) for r in ref]}))
""")


def _run(layer=None) -> dict:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["NUMBA_NUM_THREADS"] = "2"  # a pool of its own per layer, even on one core
    env.pop("NUMBA_THREADING_LAYER", None)
    if layer:
        env["NUMBA_THREADING_LAYER"] = layer
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       env=env, timeout=300)
    # an abort (workqueue's "Concurrent access has been detected") ends with a signal
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def _check(out):
    assert not out["errors"], out
    assert out["runs"] == [12, 12], out
    assert out["same"], out
    assert all(n > 100 for n in out["n_labels"]), out  # the masks hold many components
    assert all(0.05 < f < 0.95 for f in out["opened"]), out  # the opening keeps some


def test_concurrent_kernels_equal_serial_under_the_default_layer():
    out = _run()
    _check(out)
    # omp or tbb here run concurrently; workqueue (no OpenMP / TBB) would take turns
    assert out["serialised"] is (out["layer"] == "workqueue"), out


def test_concurrent_kernels_take_turns_under_workqueue():
    out = _run("workqueue")
    assert out["layer"] == "workqueue", out
    assert out["serialised"] is True, out
    _check(out)
