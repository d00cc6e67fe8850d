"""Pore + crack volume through the whole CT chain with the pure-phase levels (tomo.levels).

Projections -> ``ssbscope run`` (flat/dark, centre, FBP) -> registration, 3x3x3 median,
segmentation -> partial volume of the electrolyte between the pure-phase levels, summed over
the neighbourhood of the low-attenuation voxels
(:func:`ssbscope.tomo.series_chunked._local_pore_crack_volume`) -> metrics.  The cell is the
per-paper anode-free twin (:func:`ssbscope.twin.ct.anode_free_001`, case A, coarse-grained
Li6PS5Cl pellet, one pellet for the series: 0.55 % porosity in pores of 1.5-2.6 voxels radius
plus pre-existing empty cracks, 1.6 % of the pellet in all; Li-filled cracks grow by
displacement after the ~1 mAh/cm2 plateau) at 0, 1.5 and 3 mAh/cm2, 32 x 32 x 48 voxels of
3 um, 240 projections at the twin's flux (3e4 photons per pixel: about 17 % noise per voxel on
the electrolyte).

Truth: the phantom's pore, empty-crack and Li-filled-crack voxels (codes 8, 9, 10) inside the
region the metric integrates -- the electrolyte band the analysis located minus 2 slices at
each face, over the cell's inner columns (``cell_mask`` eroded by 1).  The band location is
measured, so the comparison isolates the levels and the partial volume; 99 / 60 / 71 % of all
the phantom's pore + crack voxels lie in that region (the Li-filled cracks reach the pellet's
faces and rim).

Measured (scan seeds 0, 1, 2): pore + crack volume 0.954 / 0.913 / 0.999 of truth; the old
class-median levels of the same (median-filtered) labels summed over the whole band 0.911 /
0.131 / 0.632.  Other noise seeds (scan seeds +10, +20): 0.952 / 0.926 / 0.994 and 0.923 /
0.907 / 0.954 (old 0.859 / 0.269 / 0.589 and 0.738 / 0.292 / 0.562).  The old estimate can
land near the truth on one scan by chance (pristine: 0.91, 0.86), so the comparison is on the
worst scan of the series.  What is left is a bias of about -5 % (-9 % at 1.5 mAh/cm2): the
levels are not its cause (with the mean of the phantom's pore-free matrix voxels, more than 3
voxels from any pore, as the matrix level the same neighbourhood sums 0.943 / 0.925 / 0.985
at seed 0), nor the detection (0-3 % of the true pore voxels lie outside the neighbourhood):
the reconstructed pores' grey-value deficit summed within 2 voxels of the true pores is 4-10 %
short of their voxel count (seeds 0, 10, 20) and shrinks further with the radius (the grey
values around a pore sit above that matrix mean).  The xfail this test carried (pristine scan
1.17 of truth, then 1.00, 1.05) was measured with the sum over the whole band, before the
neighbourhood sum and the twin's sub-voxel pellet faces.  That sum, with today's levels,
still scatters: 1.04 / 0.89 / 1.03 (seeds +10: 1.22 / 1.05 / 1.02; +20: 1.11 / 1.03 / 0.87),
the matrix level's random error (0.3-1.1 % of the contrast against the pore-free matrix
mean) times the band's ~40 voxels per pore voxel; the neighbourhood holds ~5 per pore voxel.
"""


import numpy as np
import pytest
import scipy.ndimage as ndi

VS = 3.0
E_KEV = 22.0
CHARGES = (0.0, 1.5, 3.0)
N_ANGLES = 240

YAML = """\
name: anode-free twin, coarse pellet
cell:
  diameter_mm: 0.1
  layers:
    - {name: Cu, material: Cu, thickness_um: 12}
    - {name: Li, material: Li, thickness_um: 0}
    - {name: LPSCl, material: Li6PS5Cl, thickness_um: 39}
    - {name: counter, material: Li, thickness_um: 40}
inputs:
  tomo:
    - {path: scans/s000.h5, kind: projections, series: cell, time_s: 0, energy_kev: 22}
    - {path: scans/s001.h5, kind: projections, series: cell, time_s: 10800}
    - {path: scans/s002.h5, kind: projections, series: cell, time_s: 21600}
analysis:
  tomo:
    interfaces: ["Li|LPSCl"]
"""


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    from ssbscope.cli import main
    from ssbscope.store import Store
    from ssbscope.twin import ct
    from ssbscope.twin.ct_files import write_dxchange

    d = tmp_path_factory.mktemp("levels_chain")
    (d / "scans").mkdir()
    phs = [ct.anode_free_001(q, 0.0, n_xy=32, n_z=48, voxel_size_um=VS, e_kev=E_KEV,
                             grain="coarse", max_charge_mah_cm2=4, seed=0, case="A") for q in CHARGES]
    for k, ph in enumerate(phs):
        write_dxchange(d / "scans" / f"s{k:03d}.h5",
                       ph.scan(n_angles=N_ANGLES, flux_photons=3e4, seed=k))
    (d / "exp.yaml").write_text(YAML)
    assert main(["run", str(d / "exp.yaml"), "--out", str(d / "out"), "--quiet"]) == 0
    return phs, Store.open(d / "out" / "store.zarr")


def _regions(store, k):
    lab = store["tomo/cell/labels"].load()
    inner = ndi.binary_erosion(lab["cell_mask"].values, iterations=1)
    names = list(lab["layer"].values)
    lz = lab["layer_z_vox"].values[k]
    bands = {n: (int(a), int(b)) for n, (a, b) in zip(names, lz) if a >= 0}
    stack = (min(a for a, _ in bands.values()), max(b for _, b in bands.values()))
    return lab, inner, bands, stack


def test_pore_crack_volume_through_the_chain(chain):
    phs, store = chain
    met = store["tomo/cell/metrics"].load()
    vol = store["tomo/cell/volumes"]["volume"].values
    assert list(met["phase"].values) == ["Li", "Li6PS5Cl", "Cu"]
    assert "phase_level" in met and (met["phase_level_method"].values[:, :2] == "mode").all()
    new, old = [], []
    for k, ph in enumerate(phs):
        lab, inner, bands, (z0s, z1s) = _regions(store, k)
        e0, e1 = bands["LPSCl"]
        assert ph.truth["pore_crack_volume_um3"] > 0
        # truth: pore + crack voxels (codes 8 pore, 9 empty crack, 10 Li-filled crack) in the
        # region the metric integrates (registration shifts are 0 here: one phantom frame)
        assert np.abs(lab["shift_vox"].values[k]).max() < 0.5
        pc = np.isin(ph.labels, [8, 9, 10])[e0 + 2:e1 - 2][:, inner]
        truth = float(pc.sum()) * VS ** 3
        assert truth > 0.5 * ph.truth["pore_crack_volume_um3"]
        new.append(float(met["pore_crack_volume_um3"].values[k]) / truth)
        # the old levels: class medians of the raw values in the stack (same labels)
        labels = lab["labels"].values[k][z0s:z1s][:, inner]
        raw = vol[k][z0s:z1s][:, inner]
        lo, hi = float(np.median(raw[labels == 0])), float(np.median(raw[labels == 1]))
        x = vol[k][e0 + 2:e1 - 2][:, inner].astype(np.float64)
        old.append(float(((x - hi) / (lo - hi)).sum()) * VS ** 3 / truth)
        # the levels stored are those the volume used
        lv = met["phase_level"].values[k]
        assert lv[0] < lv[1] and np.all(met["phase_level_unc"].values[k, :2] > 0)
    new, old = np.array(new), np.array(old)
    assert np.all(np.abs(new - 1) < 0.10), (new, old)
    # the pure levels beat the class medians on the series' worst scan
    assert np.abs(old - 1).max() > np.abs(new - 1).max() + 0.1, (new, old)
