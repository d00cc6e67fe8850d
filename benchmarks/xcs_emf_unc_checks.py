"""Checks of the XCS series' ``emf_unc`` terms on one outside-check run (tests/outside/outside_xcs.py).

``emf_unc = hypot(emf_unc_counting, emf_unc_tail)`` of ``compton/<series>/emf``.  After one
``ssbscope run`` of the outside writer's series (seed ``--seed``), the series stage is redone
here from the stored per-pixel cubes (angle alignment, flood correction, window coefficients,
unmixing; it reproduces the stored EMF and counting error exactly) and:

* ``counting``: parametric bootstrap - every pixel's raw counts redrawn as Poisson
  (``--draws`` times), aligned, summed and unmixed again; the EMFs' scatter over the draws
  divided by ``emf_unc_counting`` (1 when the propagation, which treats the aligned bins as
  independent Poisson counts, is right despite the re-binning's correlations);
* ``tail``: the exposures kept, the Am-241 flood redrawn with the writer's own detector
  (``--draws`` floods); the EMFs' scatter over the floods divided by ``emf_unc_tail``.

Measured (seed 2, 60 draws / seed 14, 100 draws): counting 0.99 / 0.995 (per EMF 0.87-1.13,
the draws' own standard error 7-9 %); tail (seed 2) 0.97 over 30 floods, 1.045 over 40
(the same for every EMF: one flood moves them together; standard error 11-13 %).

    PYTHONPATH=src python benchmarks/xcs_emf_unc_checks.py [--seed 2] [--draws 60] [--check counting,tail]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "outside"))

import outside_xcs as ox  # noqa: E402


def main():
    from ssbscope.cli import main as cli
    from ssbscope.compton.electron_momentum import detector_efficiency, perturbed_coefficients, weight_perturbations
    from ssbscope.compton.regions import align_to_angle
    from ssbscope.compton.series import detector_correction, unmix_emf, window_coefficients
    from ssbscope.store import Store

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--draws", type=int, default=60)
    ap.add_argument("--check", default="counting,tail")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        ox.write_series(root / "exp", seed=a.seed)
        assert cli(["run", str(root / "exp" / "experiment.yaml"), "--out", str(root / "out"), "--quiet",
                    "--no-report"]) == 0
        st = Store.open(root / "out" / "store.zarr")
        ds = st.read("compton/xcs/emf").load()
        labels = ds["exposure"].values
        raw, ang, flood = {}, {}, None
        for lab in labels.ravel():
            cu = st.read(f"compton/input/{lab}/cube").load()
            full = np.asarray(cu["energy_edges_kev"].values, float)
            i0 = int(np.searchsorted(full, 60.0 - 1e-9))
            raw[lab] = np.asarray(cu["counts"].values, float)[:, :, i0:]
            ang[lab] = np.asarray(cu["angle_deg"].values, float)
            flood = np.asarray(st.read(f"compton/input/{lab}/spectrum")["flood_counts"].values, float)
    edges = full[i0:]
    frac = ds["fraction"].values
    mon = np.array(ox.MONITORS)
    mask = np.ones(ox.N_PIX * np.array([1, 1]), bool)

    def coefficients(fspec):
        C, resp = detector_correction(edges, full, fspec, flood_line_kev=59.5409, sensor_thickness_mm=2.0)
        return window_coefficients(edges, 115.0, 90.0, correction=C), resp

    (ca, cb), resp = coefficients(flood)

    def aligned(counts):
        return {k: align_to_angle(v, edges, ang[k], mask=mask).sum(axis=(0, 1)) for k, v in counts.items()}

    def emfs(spectra, a_, b_):
        out = []
        for si in range(labels.shape[0]):
            r = np.stack([spectra[lab] for lab in labels[si]])
            out.append(unmix_emf(r, frac[si], np.stack([a_] * r.shape[0]), np.stack([b_] * r.shape[0]),
                                 monitors=mon).emf)
        return np.array(out)

    r0 = aligned(raw)
    v0 = emfs(r0, ca, cb)
    print(f"seed {a.seed}: redone - stored EMF max |diff| {np.abs(v0 - ds['emf'].values).max():.1e}")
    rng = np.random.default_rng([a.seed, 99])
    if "counting" in a.check:
        reps = np.array([emfs(aligned({k: rng.poisson(v).astype(float) for k, v in raw.items()}), ca, cb)
                         for _ in range(a.draws)])
        ratio = reps.std(axis=0, ddof=1) / ds["emf_unc_counting"].values
        print(f"counting: scatter / emf_unc_counting over {a.draws} draws (state x component):\n"
              f"{np.round(ratio, 3)}\n  mean {ratio.mean():.3f}  rms {np.sqrt(np.mean(ratio ** 2)):.3f}")
    if "tail" in a.check:
        eff = lambda x: detector_efficiency(x, thickness_mm=2.0, material="CdZnTe")  # noqa: E731
        a0, b0 = window_coefficients(edges, 115.0, 90.0)
        vals, terms = [], []
        for k in range(a.draws):
            fr = np.random.default_rng([a.seed, 777, k])
            n = fr.poisson(300_000)
            which = fr.random(n)
            et = np.where(which < 0.8, 59.5409, np.where(which < 0.9, 26.3446, fr.uniform(15, 70, n)))
            erec = ox._detect(fr, et)
            shared = fr.random(n) < 0.05
            fspec = np.histogram(erec[~shared & (erec > 1.0)], full)[0].astype(float)
            (fa, fb), rsp = coefficients(fspec)
            vals.append(emfs(r0, fa, fb))
            var = 0.0
            for lo_, hi_ in perturbed_coefficients(edges, np.stack([a0, b0]), weight_perturbations(rsp), eff):
                var = var + (0.5 * (emfs(r0, hi_[0], hi_[1]) - emfs(r0, lo_[0], lo_[1]))) ** 2
            terms.append(np.sqrt(var))
        ratio = np.std(vals, axis=0, ddof=1) / np.mean(terms, axis=0)
        print(f"tail: scatter over {a.draws} floods / emf_unc_tail (state x component):\n{np.round(ratio, 3)}\n"
              f"  mean {ratio.mean():.3f}")


if __name__ == "__main__":
    main()
