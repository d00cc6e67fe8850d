"""Raw HEXITEC 80 x 80 stream reader on the real sample in shared/realdata/hexitec/."""


import numpy as np
import pytest

from ssbscope.compton import (
    events_to_cube,
    frames_to_events,
    read_hexitec_caltable,
    read_hexitec_raw,
)
from ssbscope.errors import FileFormatError
from ssbscope.testing import realdata_dir

HEX = realdata_dir("hexitec")
RAW = HEX / "hexitecgse_Science_Output-RawMode+hits.dat"
CAL = HEX / "hexitecgse_HEXITEC_CalTable_80x80.dat"
pytestmark = pytest.mark.skipif(not RAW.exists(), reason="shared/realdata/hexitec not present")


def test_real_stream_frames_and_hits():
    fr = read_hexitec_raw(RAW)
    assert fr.frames.shape == (30, 80, 80)
    assert fr.raw_mode and fr.present.all()
    assert fr.n_incomplete > 0  # the sample ends inside a 31st frame
    assert np.all(np.diff(fr.timestamps) > 0)
    assert np.median(fr.frames) == pytest.approx(1005, abs=10)
    ev, base, noise = frames_to_events(fr)
    per_frame = np.bincount(ev["frame"], minlength=30)
    assert 30 <= per_frame.mean() <= 50  # ~40 hits per frame
    assert per_frame.min() > 10
    assert ev["value"].min() > 3000 and ev["value"].max() < 11_000  # hits of 3,400-10,000 ADU
    assert 2 < np.median(noise) < 20  # ADU noise of the baseline
    # the hits bin into a cube (pulse heights; unit gain)
    cube = events_to_cube(ev, gain_kev_per_unit=1.0, offset_kev=0.0, e_max_kev=12000.0,
                          bin_width_kev=100.0, charge_sharing="none")
    assert cube.sum() == ev.size


def test_caltable_layout():
    off, tab = read_hexitec_caltable(CAL)
    raw = np.fromfile(CAL, dtype="<i4")
    assert off == raw[0] and tab.shape == (80, 80)
    # first row: groups of four words are columns (c+60, c+40, c+20, c)
    assert tab[0, 60] == raw[1] and tab[0, 40] == raw[2] and tab[0, 20] == raw[3] and tab[0, 0] == raw[4]


def test_truncated_and_foreign_streams(tmp_path):
    data = RAW.read_bytes()
    t = tmp_path / "cut.dat"
    t.write_bytes(data[: 4 * 3000])  # inside the first frame
    with pytest.raises(FileFormatError, match="no complete frame"):
        read_hexitec_raw(t)
    f = tmp_path / "zeros.dat"
    f.write_bytes(b"\x00" * 4000)
    with pytest.raises(FileFormatError, match="sync"):
        read_hexitec_raw(f)
    odd = tmp_path / "odd.dat"
    odd.write_bytes(data[:4001])
    with pytest.raises(FileFormatError, match="int32"):
        read_hexitec_raw(odd)
