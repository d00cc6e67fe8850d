"""Benchmark: segmentation of a noisy twin CT scan, thresholds vs random forest, same run.

The anode-free twin (Cu | plated Li | Li6PS5Cl with pores, cracks, Li filaments | Li
counter | steel plunger; :func:`ssbscope.twin.ct.anode_free_001`, 3 um voxels, 22 keV) at
1.5 mAh/cm2 (training scan) and 3.0 mAh/cm2 (test scan, another noise draw) is projected with
Poisson noise and reconstructed (FBP).  The forest is trained on the training scan's true
labels on 4 planes ``y = const`` (the "trained on twin truth" case) and scored on the test
scan, which it never saw, inside the cell's inner columns and the declared stack:

* ``threshold``: the series' grey levels (3x3x3 median, exact 1-D k-means of the slices'
  medians, :func:`ssbscope.tomo.series.segment_scan`), fitted on the test scan itself;
* ``ssbscope forest``: :func:`ssbscope.tomo.trainable.train_segmenter` /
  :func:`~ssbscope.tomo.trainable.forest_segment_scan` (slabs and tiles with the features'
  halo), 50 trees of depth 12;
* ``skimage forest``: the peer, ``skimage.future.fit_segmenter`` /
  ``predict_segmenter`` on ``multiscale_basic_features`` of the whole volume with the same
  scales and the same forest settings.

Reported: voxel accuracy, Li volume error (Li + filaments + pores + cracks: the darkest
phase), dark voxels found inside the electrolyte (pores, cracks, filaments), the forest's
volume uncertainty (expected misassigned volume) and the times (training: features of the
labelled blocks + fit; prediction: one scan).

Usage::

    python benchmarks/bench_segmentation.py [--n-xy 128] [--flux 3e4] [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _machine import machine

LAYERS = [{"name": "Cu", "material": "Cu", "thickness_um": 12},
          {"name": "Li", "material": "Li", "thickness_um": 0},
          {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 63},
          {"name": "counter", "material": "Li", "thickness_um": 40}]
CLASSES = ("Li", "Li6PS5Cl", "Cu", "void", "undeclared")
TRUTH_CLASS = {"li": 1, "li_filament": 1, "lpscl": 2, "cu": 3, "void": 4, "pore": 4,
               "crack": 4, "steel": 5}


def _scan(q, n_xy, n_z, flux, seed):
    import ssbscope.tomo as tomo
    from ssbscope.twin import ct

    ph = ct.anode_free_001(q, 0.0, n_xy=n_xy, n_z=n_z, voxel_size_um=3.0, e_kev=22.0,
                           max_charge_mah_cm2=4, seed=0)
    sc = ph.scan(n_angles=int(1.5 * n_xy), flux_photons=flux, seed=seed)
    p = tomo.flat_dark_correct(sc.projections, sc.flats, sc.darks)
    v = tomo.reconstruct(p, sc.angles_rad, tomo.find_center(p, sc.angles_rad))
    truth = np.zeros(ph.labels.shape, np.uint8)
    for name, k in TRUTH_CLASS.items():
        truth[ph.labels == ct.CODES[name]] = k
    return ph, np.asarray(v, np.float32), truth


def main(argv=None) -> None:
    from ssbscope.tomo import series as S
    from ssbscope.tomo import trainable as T
    from ssbscope.tomo.filters import median3

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-xy", type=int, default=128)
    ap.add_argument("--n-z", type=int, default=56)
    ap.add_argument("--flux", type=float, default=3e4)
    ap.add_argument("--trees", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="n_xy 64")
    a = ap.parse_args(argv)
    n_xy = 64 if a.quick else a.n_xy
    print(machine())
    t0 = time.perf_counter()
    ph0, v0, tr0 = _scan(1.5, n_xy, a.n_z, a.flux, 1)
    ph1, v1, tr1 = _scan(3.0, n_xy, a.n_z, a.flux, 2)
    print(f"twin scans {v0.shape}, {int(1.5 * n_xy)} angles, flux {a.flux:g}: "
          f"{time.perf_counter() - t0:.1f} s")
    order = S.phase_order(LAYERS, 22.0)
    region = S.cell_region(v1)
    ys = np.linspace(0, n_xy, 6)[1:-1].round().astype(int)
    lab = np.zeros_like(tr0)
    lab[:, ys] = tr0[:, ys]
    cmap = T.phase_map(CLASSES, order.phases)
    truth = cmap[tr1.astype(int) - 1]

    rows = []
    t = time.perf_counter()
    med = median3(v1)
    thr = S.segment_scan(med, LAYERS, order, region, 3.0, median=False)
    rows.append(("threshold (median + k-means levels)", 0.0, time.perf_counter() - t,
                 thr.labels, thr.location, None))

    t = time.perf_counter()
    seg = T.train_segmenter(v0, lab, CLASSES, n_estimators=a.trees, max_depth=12,
                            random_state=0)
    t_train = time.perf_counter() - t
    t = time.perf_counter()
    fs, sums = T.forest_segment_scan(v1, seg, LAYERS, order, region, 3.0)
    t_pred = time.perf_counter() - t
    unc = T.segmentation_uncertainty(sums, fs.location, LAYERS, order.phases, 3.0)
    rows.append(("ssbscope forest", t_train, t_pred, fs.labels, fs.location, unc))

    try:
        from skimage.feature import multiscale_basic_features
        from skimage.future import fit_segmenter, predict_segmenter
        from sklearn.ensemble import RandomForestClassifier

        def feats(v):
            return multiscale_basic_features(v, sigma_min=0.5, sigma_max=4, num_sigma=4)

        t = time.perf_counter()
        clf = fit_segmenter(lab, feats(v0), RandomForestClassifier(
            n_estimators=a.trees, max_depth=12, min_samples_leaf=2, random_state=0))
        t_train = time.perf_counter() - t
        t = time.perf_counter()
        pk = predict_segmenter(feats(v1), clf)  # 1-based classes
        t_pred = time.perf_counter() - t
        rows.append(("skimage forest (fit/predict_segmenter)", t_train, t_pred,
                     cmap[pk.astype(int) - 1].astype(np.uint8), fs.location, None))
    except ImportError as exc:  # pragma: no cover
        print(f"skimage.future unavailable ({exc})")

    z0, z1 = thr.location.stack_vox
    inner = np.zeros(truth.shape, bool)
    inner[z0:z1] = region.inner[None]
    cell = np.zeros(truth.shape, bool)
    cell[z0:z1] = region.mask[None]
    e0, e1 = thr.location.band("LPSCl")
    el = np.zeros(truth.shape, bool)
    el[e0 + 2:e1 - 2] = region.inner[None]
    dark = ph1.mask("pore", "crack", "li_filament")
    v3 = 27.0
    li_true = float((truth[cell] == 0).sum()) * v3
    print(f"test scan: Li volume (cell, stack) {li_true:.4g} um^3; dark voxels in the "
          f"electrolyte {int(dark[el].sum())}")
    print("| method | accuracy | Li volume error | dark voxels in electrolyte (true "
          f"{int(dark[el].sum())}) | found of them | train s | predict s |")
    print("|---|---|---|---|---|---|---|")
    for name, tt, tp, labels, loc, u in rows:
        acc = float((labels[inner] == truth[inner]).mean())
        err = float((labels[cell] == 0).sum()) * v3 - li_true
        nd = int((labels[el] == 0).sum())
        hit = int(((labels == 0) & dark)[el].sum())
        extra = f" (uncertainty {u.volume_unc_um3['Li']:.3g})" if u is not None else ""
        print(f"| {name} | {acc:.4f} | {100 * err / li_true:+.2f} %{extra} | {nd} | {hit} | "
              f"{tt:.2f} | {tp:.2f} |")


if __name__ == "__main__":
    main()
