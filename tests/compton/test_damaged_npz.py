"""A damaged calibration, angle map or spectral cube (.npz / .npy cut short, a header broken)
is one FileFormatError naming the file, never numpy's BadZipFile / EOFError / SyntaxError
(issue 14: a calibration .npz cut in half reached the CLI as 'BadZipFile: File is not a zip
file' without the file's name)."""

import numpy as np
import pytest

from ssbscope.compton.input_stages import _read_cube, read_angle_map, read_calibration
from ssbscope.errors import FileFormatError


def _cut(path, frac):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * frac)])
    return path


@pytest.mark.parametrize("frac", [0.0, 0.1, 0.5, 0.9])
def test_cut_calibration_npz_names_the_file(tmp_path, frac):
    p = tmp_path / "cal.npz"
    np.savez(p, gain_kev_per_unit=np.full((80, 80), 0.1), offset_kev=np.zeros((80, 80)))
    read_calibration(p)  # intact: reads
    _cut(p, frac)
    with pytest.raises(FileFormatError, match="cal.npz"):
        read_calibration(p)


@pytest.mark.parametrize("name", ["angles.npy", "angles.npz"])
@pytest.mark.parametrize("frac", [0.05, 0.3, 0.7])
def test_cut_angle_map_names_the_file(tmp_path, name, frac):
    p = tmp_path / name
    a = np.full((8, 8), 90.0)
    np.save(p, a) if name.endswith(".npy") else np.savez(p, angle_deg=a)
    assert read_angle_map(p).shape == (8, 8)
    _cut(p, frac)
    with pytest.raises(FileFormatError, match=name.replace(".", r"\.")):
        read_angle_map(p)


def test_broken_npy_header_names_the_file(tmp_path):
    """A header dict whose text is not a Python literal: numpy raises SyntaxError/ValueError."""
    p = tmp_path / "angles.npy"
    np.save(p, np.full((4, 4), 90.0))
    raw = bytearray(p.read_bytes())
    i = raw.index(b"{")
    raw[i:i + 6] = b"{(((((("
    p.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match="angles.npy"):
        read_angle_map(p)


def test_cut_cube_npz_names_the_file(tmp_path):
    p = tmp_path / "cube.npz"
    np.savez(p, counts=np.ones((4, 4, 10)), energy_edges_kev=np.linspace(80, 120, 11))
    cube, edges = _read_cube(p, None)[:2]
    assert cube.shape == (4, 4, 10) and edges.shape == (11,)
    _cut(p, 0.6)
    with pytest.raises(FileFormatError, match="cube.npz"):
        _read_cube(p, None)
