"""XCS-CT correlation: a segmented CT mapped into the detector pixel grid per sheet position."""

import numpy as np
import pytest

from ssbscope.compton.correlate import ct_to_detector, inscribed_patch
from ssbscope.errors import EmptyResultError, InputError, ParameterError
from ssbscope.twin.xcs import CoinCell, XcsGeometry

NAMES = {1: "a", 2: "b", 3: "c", 4: "d"}


def layered(nz=60, n=40, vox=10.0, bounds=(200.0, 250.0)):
    """Codes 1 / 2 / 3 below / between / above ``bounds`` (µm), whole field filled."""
    zc = (np.arange(nz) + 0.5) * vox
    lab = np.full((nz, n, n), 3, np.uint8)
    lab[zc < bounds[1]] = 2
    lab[zc < bounds[0]] = 1
    return lab


def test_layered_volume_analytic_fractions_fractional_voxels():
    lab = layered()
    r = ct_to_detector(lab, 10.0, [225.0, 203.0], phase_names=NAMES)
    # sheet 100-350 µm: 100 a, 50 b, 100 c; sheet 78-328 µm (voxels cut): 122 a, 50 b, 78 c
    assert np.allclose(r.volume_fractions.sel(phase=["a", "b", "c"]).values,
                       [[0.4, 0.2, 0.4], [122 / 250, 50 / 250, 78 / 250]], atol=1e-12)
    seen = r.seen.values
    f = r.fractions.values
    assert np.allclose(f[0, 0][seen[0]], 0.4) and np.allclose(f[1, 2][seen[1]], 78 / 250)
    # total volume = field area x sheet height (0.4 x 0.4 mm^2 x 0.25 mm)
    assert r.volume_mm3.values.sum(axis=(1, 2, 3)) == pytest.approx([0.04, 0.04], rel=1e-12)


def test_boundary_centred_in_sheet_is_half_half():
    lab = layered(bounds=(300.0, 300.0))  # codes 1 below 300 µm, 3 above
    r = ct_to_detector(lab, 10.0, [300.0, 297.0], phase_names=NAMES)
    vf = r.volume_fractions
    assert vf.sel(position="position 1", phase="a") == pytest.approx(0.5, abs=1e-12)
    assert vf.sel(position="position 1", phase="c") == pytest.approx(0.5, abs=1e-12)
    # 3 µm lower (172-422 µm): 128/250 below the boundary
    assert vf.sel(position="position 2", phase="a") == pytest.approx(0.512, abs=1e-12)


def test_fractions_sum_to_one_in_cell_zero_outside_and_volume_conserved():
    vox, n = 20.0, 120  # 2.4 mm field, cylinder of radius 1 mm, void outside
    yy, xx = np.mgrid[:n, :n] + 0.5 - n / 2
    cyl = np.hypot(yy, xx) * vox < 1000.0
    lab = layered(nz=30, n=n, vox=vox, bounds=(200.0, 400.0))
    lab[:, ~cyl] = 0
    r = ct_to_detector(lab, vox, [300.0], phase_names=NAMES)
    s = r.fractions.values[0].sum(axis=0)
    seen = r.seen.values[0]
    assert np.allclose(s[seen], 1.0, atol=1e-12) and np.all(s[~seen] == 0)
    # pixels whose object-plane square lies wholly outside the cylinder see nothing
    a = XcsGeometry().object_pixel_mm
    c = (np.arange(80) - 39.5) * a
    far = np.hypot(c[:, None], c[None, :]) > 1.0 + a * np.sqrt(2) / 2
    assert not seen[far[::-1, ::-1]].any()
    # volume: voxel columns in the cylinder x sheet height (0.25 mm), exactly
    assert r.volume_mm3.values.sum() == pytest.approx(cyl.sum() * (vox * 1e-3) ** 2 * 0.25, rel=1e-12)
    # void is not a phase
    assert "void" not in list(r.fractions["phase"].values)


def test_magnification_maps_known_offset_to_right_pixel():
    vox, n = 10.0, 300  # 3 mm field
    lab = np.ones((10, n, n), np.uint8)
    # marker 20 x 20 µm at object (y, x) = (+1.000, -0.500) mm from the axis
    y0, x0 = 1000.0, -500.0
    j, i = int(y0 / vox + n / 2), int(x0 / vox + n / 2)
    lab[:, j:j + 2, i:i + 2] = 2
    r = ct_to_detector(lab, vox, [50.0], phase_names=NAMES)
    f = r.fractions.sel(phase="b").values[0]
    row, col = np.unravel_index(np.argmax(f), f.shape)
    # pinhole projection: detector coordinate = -(150/160) x object coordinate, pixel 0.25 mm
    m = 150.0 / 160.0
    yd, xd = -m * (y0 + vox) * 1e-3, -m * (x0 + vox) * 1e-3  # marker centre (mm)
    assert (row, col) == (int(np.floor(yd / 0.25 + 40)), int(np.floor(xd / 0.25 + 40)))
    assert (row, col) == (36, 41)
    assert np.count_nonzero(f) == 1
    a = 1000 * 0.25 * 160 / 150
    assert f[row, col] == pytest.approx(4 * vox**2 / a**2, rel=1e-9)


def test_beam_width_cuts_the_field():
    lab = np.ones((10, 300, 300), np.uint8)  # 3 x 3 mm
    g = XcsGeometry(beam_width_mm=1.0)
    r = ct_to_detector(lab, 10.0, [50.0], geometry=g, phase_names=NAMES)
    assert r.volume_mm3.values.sum() == pytest.approx(1.0 * 3.0 * 0.1, rel=1e-12)  # z: 100 µm
    assert r.beam_height_um == pytest.approx(250.0)


def test_tiled_patch_whose_period_is_one_pixel():
    a = 1000 * 0.25 * 160 / 150  # object pixel (µm)
    vox = a / 8  # the 8-voxel patch repeats exactly once per pixel
    lab = np.ones((12, 8, 8), np.uint8)
    lab[:, :3, :] = 2  # 3/8 of each column is phase b
    r = ct_to_detector(lab, vox, [6 * vox], tile_radius_mm=3.0, phase_names=NAMES)
    seen = r.seen.values[0]
    assert np.allclose(r.fractions.sel(phase="b").values[0][seen], 3 / 8, atol=1e-12)
    c = (np.arange(80) - 39.5) * a / 1000
    disc = np.hypot(c[:, None], c[None, :]) <= 3.0
    assert np.array_equal(seen, disc[::-1, ::-1])
    # the sheet (0.25 mm) lies inside the 0.4 mm high patch
    assert r.volume_mm3.values.sum() == pytest.approx(disc.sum() * (a / 1000) ** 2 * 0.25, rel=1e-9)


def test_matches_layered_xcs_cell_volumes():
    """The XCS twin's layered cell voxelised at 5 µm reproduces its analytic sheet volumes."""
    cell = CoinCell()
    zi = cell.interfaces_mm()
    vox = 5.0
    nz = round(cell.height_mm * 1000 / vox)
    zc = (np.arange(nz) + 0.5) * vox / 1000
    names = {k + 1: name for k, name in enumerate(zi)}
    lab = np.zeros((nz, 20, 20), np.uint8)
    for k, (lo, hi) in enumerate(zi.values()):
        lab[(zc >= lo) & (zc < hi)] = k + 1
    heights = cell.beam_centres_mm()
    r = ct_to_detector(lab, vox, [1000 * h for h in heights.values()], phase_names=names,
                       position_names=list(heights))
    comps = {"cathode": ("cathode",), "SPE": ("SPE",), "anode": ("anode",)}
    got = r.component_volumes_mm3(comps)
    area = (20 * vox / 1000) ** 2
    want = np.array([[cell.component_volumes_mm3(h, 0.25, area)[c] for c in comps]
                     for h in heights.values()])
    assert np.allclose(got, want, rtol=1e-9, atol=1e-15)
    # region 2: 89 % of the sheet in Li, 11 % in the SPE (Fig. 1D of 000_)
    vf = r.volume_fractions.sel(position="region 2")
    assert float(vf.sel(phase="anode")) == pytest.approx(0.89, abs=1e-9)


def test_mask_volumes_patch_and_inputs_untouched():
    lab = layered(n=200)  # 2 x 2 mm
    before = lab.copy()
    r = ct_to_detector(lab, 10.0, [225.0], phase_names=NAMES)
    assert np.array_equal(lab, before)
    m = np.zeros((80, 80), bool)
    m[40:42, 40:42] = True  # four object pixels, fully inside the field
    a = 0.25 * 160 / 150
    assert r.volumes_mm3(m).sum() == pytest.approx(4 * a * a * 0.25, rel=1e-9)
    with pytest.raises(EmptyResultError, match="no pixel"):
        r.volumes_mm3(np.zeros((80, 80), bool))
    # masks from fractions: the 2 x 2 mm field covers 7.5 object pixels a side
    ma = r.mask(["a", "b"], 0, min_fraction=0.59)  # 0.4 + 0.2 of every seen pixel
    assert np.array_equal(ma, r.seen.values[0]) and 56 <= ma.sum() <= 81
    assert not r.mask("c", "position 1", min_fraction=0.5).any()
    with pytest.raises(InputError, match="not among"):
        r.mask("zz", 0)
    with pytest.raises(InputError, match="shape"):
        r.volumes_mm3(np.ones((4, 4), bool))
    with pytest.raises(InputError, match="none of the phases"):
        r.component_volumes_mm3({"x": ("nope",)})
    cyl = layered(nz=4, n=20)
    yy, xx = np.mgrid[:20, :20] + 0.5 - 10
    cyl[:, np.hypot(yy, xx) > 8] = 0
    p = inscribed_patch(cyl)
    assert p.shape[1] == p.shape[2] and (p != 0).all() and p.shape[1] >= 10


def test_bad_inputs():
    lab = layered()
    with pytest.raises(InputError, match="integer"):
        ct_to_detector(lab.astype(float), 10.0, [225.0])
    with pytest.raises(ParameterError, match="voxel_size_um"):
        ct_to_detector(lab, 0.0, [225.0])
    with pytest.raises(EmptyResultError, match="misses"):
        ct_to_detector(lab, 10.0, [5000.0])
    with pytest.raises(EmptyResultError, match="outside the cell"):
        ct_to_detector(np.zeros((4, 4, 4), np.uint8), 10.0, [20.0])
    with pytest.raises(InputError, match="position_names"):
        ct_to_detector(lab, 10.0, [225.0], position_names=["a", "b"])
    with pytest.raises(ParameterError, match="tile_radius_mm"):
        ct_to_detector(lab, 10.0, [225.0], tile_radius_mm=-1.0)


def test_ct_component_fractions_of_a_roi_ct_match_the_declared_stack():
    """A region-of-interest CT (part of a flat stack, pores in the Li counted as Li like phase 0
    of a segmentation) seen through the camera: inside the CT the components' fractions are the
    CT's, outside the declared layers'; an interphase inside the Li is carved from the anode."""
    from ssbscope.compton.correlate import ct_component_fractions
    from ssbscope.compton.series import sheet_layer_fractions

    names = ["can", "anode", "interphase", "SPE", "cathode", "cap"]
    t = np.array([250.0, 370.0, 30.0, 30.0, 65.0, 300.0])
    phases = ["Li", "PEO-LiTFSI", "NMC622", "steel"]
    mat = {"can": 3, "anode": 0, "interphase": 0, "SPE": 1, "cathode": 2, "cap": 3}
    vs, z_off = 2.0, 210.0  # the CT spans 210-740 um: the cathode's top 5 um and the cap lie outside
    zc = z_off + (np.arange(265) + 0.5) * vs
    tops = np.cumsum(t)
    col = np.array([mat[names[int(np.searchsorted(tops, z, side="right"))]] for z in zc], np.uint8)
    lab = np.broadcast_to(col[:, None, None], (265, 12, 12)).copy()
    heights = [435.0, 520.0, 552.5, 620.0]
    comps = ["anode", "interphase", "SPE", "cathode"]
    r = ct_component_fractions(lab, vs, phases, heights, 250.0, z_offset_um=z_off, components=comps,
                               layer_thickness_um=t, layer_names=names, component_phases={
                                   "anode": ["Li"], "SPE": ["PEO-LiTFSI"], "cathode": ["NMC622"]},
                               within={"interphase": "anode"}, tile_radius_mm=6.0)
    ref = np.array([sheet_layer_fractions(t, h, 250.0)[[1, 2, 3, 4]] for h in heights])
    np.testing.assert_allclose(r.fractions, ref, atol=vs / 250 + 1e-9)
    assert r.coverage[-1] < 1.0 and np.all(r.coverage[:-1] == 1.0)
    assert "within" in r.how["interphase"] or "inside" in r.how["interphase"]
    # a component phase the CT does not have is refused
    with pytest.raises(InputError, match="not a phase"):
        ct_component_fractions(lab, vs, phases, heights, 250.0, z_offset_um=z_off, components=comps,
                               layer_thickness_um=t, layer_names=names, component_phases={"anode": ["Cu"]})


def test_defaults_do_not_come_from_the_twin():
    """Analysis code takes nothing from ``ssbscope.twin`` (issue 12): ``ct_to_detector``'s
    default camera is :data:`PAPER_SHEET` (Huang et al. 2024's sheet and pinhole camera), equal
    to the twin's ``XcsGeometry()``, and unnamed codes read ``phase <code>``.  A subprocess
    checks that calling it with its defaults imports no twin module (the old defaults
    imported ``ssbscope.twin.xcs`` and ``ssbscope.twin.ct``)."""
    import subprocess
    import sys

    from ssbscope.compton.correlate import PAPER_SHEET
    from ssbscope.twin.xcs import XcsGeometry

    g = XcsGeometry()
    assert (PAPER_SHEET.beam_height_mm, PAPER_SHEET.beam_width_mm, PAPER_SHEET.n_pixels,
            PAPER_SHEET.object_pixel_mm) == (g.beam_height_mm, g.beam_width_mm, g.n_pixels,
                                             g.object_pixel_mm)
    code = ("import sys, numpy as np\n"
            "from ssbscope.compton.correlate import ct_to_detector\n"
            "lab = np.zeros((60, 8, 8), np.uint8); lab[:30] = 3; lab[30:] = 7\n"
            "r = ct_to_detector(lab, 10.0, [300.0])\n"
            "print(sorted(m for m in sys.modules if m.startswith('ssbscope.twin')))\n"
            "print([str(p) for p in r.volume_fractions.coords['phase'].values])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "[]", out
    assert out[1] == "['phase 3', 'phase 7']", out
