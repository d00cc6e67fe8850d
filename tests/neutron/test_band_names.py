"""P1-P4 of Cao et al. 2023 (doi:10.1002/adfm.202307998, Fig. 2D-E) named from a profile and
the bands' positions and signs (ssbscope.neutron.band_names)."""

import numpy as np
import pytest

from ssbscope.errors import InputError
from ssbscope.neutron.band_names import li_foil_rows, name_bands


def _profile(flip=False):
    # rows: rod (0.8) | Li foil 10-15 (0.3) | SE 15-40 (0.55) | cathode 40-43 (0.6) | rod (0.8)
    p = np.full(50, 0.8)
    p[10:15] = 0.3
    p[15:40] = 0.55
    p[40:43] = 0.6
    return p[::-1].copy() if flip else p


@pytest.mark.parametrize("flip", [False, True])
def test_bands_named_by_position_and_sign(flip):
    prof = _profile(flip)
    g = li_foil_rows(prof)
    assert g.li_rows == ((35, 40) if flip else (10, 15))
    assert g.se_face_px == (35.0 if flip else 15.0)
    # P4 beyond the foil (collector side), P3 in the foil, P2 at the SE|Li interface, P1
    # cathode; a weak extra depletion in the cathode and an extra enrichment stay unnamed
    pos = np.array([8.0, 11.5, 16.0, 41.0, 41.5, 28.0])
    sign = np.array([+1, -1, +1, -1, -1, +1])
    ratio = np.array([0.8, 1.3, 0.9, 1.1, 1.02, 0.99])
    if flip:
        pos = 49.0 - pos
    names, _ = name_bands(pos, sign, ratio, prof)
    assert names == ["P4", "P3", "P2", "P1", "", ""]


def test_flat_profile_has_no_foil():
    with pytest.raises(InputError, match="flat"):
        li_foil_rows(np.ones(20))
