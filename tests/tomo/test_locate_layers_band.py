"""Label-based layer location (tomo.series.locate_layers, used by transport on stores without
``layer_z_vox``) across a rough interface's 2-slice undeclared band (issue 13).

The grey-level location skips a short undeclared band whose level lies between its two
neighbouring layers' levels as their interface's ramp (tests/tomo/test_layer_interface_band.py).
``locate_layers`` sees labels only; the band's level now comes from the segmentation's
level -> phase map (``class_phase``: one undeclared level) or from the grey volume.  Before,
a 2-slice undeclared band refused the scan whatever its level."""

import numpy as np
import pytest
import xarray as xr

from ssbscope.errors import EmptyResultError
from ssbscope.tomo.series import UNDECLARED, locate_layers, phase_order

LAYERS = [{"name": "Cu", "material": "Cu", "thickness_um": 10},
          {"name": "Li", "material": "Li", "thickness_um": 0},
          {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 44},
          {"name": "counter", "material": "Li", "thickness_um": 40}]
GREY = {0: 1.0, 1: 2.0, 2: 4.0}  # Li, Li6PS5Cl, Cu


def _stack(band_len, band_grey, rng=None):
    """Labels and grey values: Cu 10, Li 6, an undeclared band, LPSCl 44, Li 40 slices."""
    cls = [2] * 10 + [0] * 6 + [UNDECLARED] * band_len + [1] * 44 + [0] * 40
    lab = np.broadcast_to(np.array(cls, np.uint8)[:, None, None], (len(cls), 6, 6)).copy()
    grey = np.array([GREY.get(c, band_grey) for c in cls], float)
    rng = rng or np.random.default_rng(0)
    vol = grey[:, None, None] + rng.normal(0, 0.02, lab.shape)
    return lab, vol


def _loc(lab, **kw):
    order = phase_order(LAYERS, 22.0)
    return locate_layers(lab, LAYERS, order, np.ones(lab.shape[1:], bool), 1.0, **kw)


@pytest.mark.parametrize("how", ["class_phase", "volume"])
def test_two_slice_band_between_li_and_lpscl_is_the_interface_ramp(how):
    lab, vol = _stack(2, 1.45)
    kw = ({"class_phase": (0, UNDECLARED, 1, 2)} if how == "class_phase" else {"volume": vol})
    loc = _loc(lab, **kw)
    assert loc.band("Cu") == (0, 10) and loc.band("Li") == (10, 16)
    assert loc.band("LPSCl") == (18, 62) and loc.band("counter") == (62, 102)
    assert ("undeclared", 16, 18) in loc.ignored


def test_without_the_band_level_a_two_slice_band_is_still_refused():
    lab, _ = _stack(2, 1.45)
    with pytest.raises(EmptyResultError):
        _loc(lab)
    # one undeclared level above Cu's (a steel plunger's): not between Li and Li6PS5Cl
    with pytest.raises(EmptyResultError):
        _loc(lab, class_phase=(0, 1, 2, UNDECLARED))
    # two undeclared levels: the map cannot say which; without the volume: refused
    with pytest.raises(EmptyResultError):
        _loc(lab, class_phase=(UNDECLARED, 0, UNDECLARED, 1, 2))


@pytest.mark.parametrize("band_len, band_grey, ok", [
    (2, 1.45, True), (1, 5.0, True),        # one slice: the partial-volume slice, as before
    (2, 5.0, False), (2, 0.5, False),       # brighter than Cu / darker than Li: no ramp
    (2, 3.0, False),                         # between LPSCl and Cu, not Li and LPSCl
    (17, 1.45, False)])                      # too long for a ramp
def test_band_level_from_the_grey_volume(band_len, band_grey, ok):
    lab, vol = _stack(band_len, band_grey)
    if ok:
        loc = _loc(lab, volume=vol)
        assert loc.band("Li") == (10, 16)
        assert loc.band("LPSCl") == (16 + band_len, 60 + band_len)
    else:
        with pytest.raises(EmptyResultError):
            _loc(lab, volume=vol)


def test_transport_locates_old_stores_with_the_class_map():
    """transport's fallback for labels without layer_z_vox passes the stored class map."""
    from ssbscope.transport.stages import _layer_bands

    lab, _ = _stack(2, 1.45)
    ds = xr.Dataset({"labels": (("time_s", "z", "y", "x"), lab[None]),
                     "cell_mask": (("y", "x"), np.ones(lab.shape[1:], bool))},
                    coords={"time_s": [0.0]},
                    attrs={"phases": '["Li", "Li6PS5Cl", "Cu"]', "voxel_size_um": 1.0,
                           "classes": '["Li", "undeclared", "Li6PS5Cl", "Cu"]'})
    bands = _layer_bands(ds, LAYERS, 0)
    assert bands["Li"] == (10, 16) and bands["LPSCl"] == (18, 62)
