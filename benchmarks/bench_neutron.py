"""Benchmark: clean + normalise + median-bin a stream of sCMOS radiographs (2560 x 2160).

ssbscope's streaming chain (:func:`ssbscope.neutron.stream.iter_binned`: saturated pixels,
temporal gamma-spot filter, static background, Eq. 1 with beam-intensity correction, median of
30 frames) beside a plain numpy/scipy implementation of the same steps (3 x 3
``scipy.ndimage.median_filter`` outlier replacement per frame, the usual approach), in the same
run on the same frames.  Prints frames/s of each and the ratio, plus the machine.

Usage::

    python benchmarks/bench_neutron.py            # 2560 x 2160, one bin of 30 frames
    python benchmarks/bench_neutron.py --quick    # 1280 x 1080, 1 bin
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _machine import machine



def make_stream(n_frames: int, ny: int, nx: int, seed: int = 0):
    """uint16 frames: smooth beam x a striped sample, Poisson-like noise, spots, hot pixels."""
    rng = np.random.default_rng(seed)
    yy = np.linspace(-1, 1, ny, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, nx, dtype=np.float32)[None, :]
    beam = 20000.0 * np.exp(-(yy ** 2 + xx ** 2) / 2.0)
    sample = np.where(np.abs(xx) < 0.6, 0.3 + 0.2 * (np.sin(12 * yy) > 0), 1.0).astype(np.float32)
    dark = np.full((ny, nx), 100.0, np.float32)
    noise = [rng.standard_normal((ny, nx), dtype=np.float32) for _ in range(4)]
    frames = np.empty((n_frames, ny, nx), np.uint16)
    for i in range(n_frames):
        s = 1.0 + 0.01 * np.sin(i / 5.0)
        sig = beam * s * sample
        f = dark + sig + np.sqrt(2.0 * sig) * noise[i % 4]
        n_sp = int(2e-4 * ny * nx)
        ys, xs = rng.integers(0, ny, n_sp), rng.integers(0, nx, n_sp)
        f[ys, xs] += rng.uniform(3000, 60000, n_sp).astype(np.float32)
        frames[i] = np.clip(f, 0, 65535).astype(np.uint16)
    ob = np.stack([np.clip(dark + beam + np.sqrt(2.0 * beam) * noise[k], 0, 65535) for k in range(4)]
                  ).astype(np.uint16)
    df = np.stack([dark] * 3).astype(np.uint16)
    return frames, ob, df


def peer_chain(frames, ob, df, n, beam_roi):
    """Plain numpy/scipy: per frame 3x3 median-filter outlier replacement, Eq. 1, median bin."""
    from scipy.ndimage import median_filter

    obm = np.median(ob.astype(np.float32), axis=0)
    dfm = np.median(df.astype(np.float32), axis=0)
    inv = 1.0 / (obm - dfm)
    ys, xs = beam_roi
    out = []
    for k in range(frames.shape[0] // n):
        norm = np.empty((n,) + frames.shape[1:], np.float32)
        for j in range(n):
            f = frames[k * n + j].astype(np.float32)
            med = median_filter(f, size=3)
            bad = (f >= 65535) | (f - med > 5.0 * np.sqrt(2.0 * np.maximum(med - dfm, 1.0)))
            f = np.where(bad, med, f)
            t = (f - dfm) * inv
            norm[j] = t / np.median(t[ys, xs])
        out.append(np.median(norm, axis=0))
    return np.stack(out)


def ours_chain(frames, ob, df, n, beam_roi):
    from ssbscope.neutron.stream import iter_binned

    t = np.arange(frames.shape[0], dtype=float) * 10.0
    roi = (beam_roi[0].start, beam_roi[0].stop, beam_roi[1].start, beam_roi[1].stop)
    return np.stack([b[4] for b in iter_binned(frames, ob, df, t, bin_n=n, beam_roi=roi)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1280 x 1080, one bin")
    args = ap.parse_args()
    ny, nx, bins = (1080, 1280, 1) if args.quick else (2160, 2560, 1)
    n = 30
    frames, ob, df = make_stream(n * bins, ny, nx)
    beam_roi = (slice(0, ny), slice(int(0.9 * nx), nx))
    print(f"machine: {machine()}")
    print(f"stream: {frames.shape[0]} frames of {ny} x {nx} uint16, median bins of {n}")
    t0 = time.perf_counter()
    ours = ours_chain(frames, ob, df, n, beam_roi)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    peer = peer_chain(frames, ob, df, n, beam_roi)
    t_peer = time.perf_counter() - t0
    fps_o, fps_p = frames.shape[0] / t_ours, frames.shape[0] / t_peer
    diff = np.median(np.abs(ours - peer) / np.maximum(np.abs(peer), 1e-6))
    print(f"ssbscope iter_binned (temporal spot filter): {t_ours:7.2f} s  {fps_o:6.2f} frames/s")
    print(f"numpy/scipy (3x3 median_filter per frame):   {t_peer:7.2f} s  {fps_p:6.2f} frames/s")
    print(f"speed ratio ssbscope / numpy-scipy: {fps_o / fps_p:.2f}x;  median relative difference "
          f"of the binned maps: {diff:.2e}")


if __name__ == "__main__":
    main()
