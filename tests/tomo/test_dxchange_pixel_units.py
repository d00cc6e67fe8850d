"""Data Exchange pixel size: the ``units`` attribute of ``pixel_size_x``/``_y`` is honoured.

Before, ``/measurement/instrument/detector/pixel_size_x`` was read as µm whatever its
``units`` said, so a file written in metres (as APS/TomoPy files often are: 6.5e-7) gave a
voxel size of 6.5e-7 µm.  Now m, mm, µm (um, micron), nm and any pint length are converted,
an attribute that is no length is refused naming the file and the field, and no attribute
keeps µm (README, X-ray CT).
"""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from ssbscope.errors import InputError
from ssbscope.tomo.io import read_projections


def _write(path, value, units=None, y=None, y_units=None):
    with h5py.File(path, "w") as h:
        h["exchange/data"] = np.full((4, 3, 5), 900, np.uint16)
        h["exchange/data_white"] = np.full((2, 3, 5), 1000, np.uint16)
        h["exchange/data_dark"] = np.zeros((2, 3, 5), np.uint16)
        th = h.create_dataset("exchange/theta", data=np.linspace(0, 180, 4, endpoint=False))
        th.attrs["units"] = "degrees"
        d = h.create_dataset("measurement/instrument/detector/pixel_size_x", data=value)
        if units is not None:
            d.attrs["units"] = units
        if y is not None:
            dy = h.create_dataset("measurement/instrument/detector/pixel_size_y", data=y)
            if y_units is not None:
                dy.attrs["units"] = y_units
    return path


@pytest.mark.parametrize("value, units, expect_um", [
    (6.5e-7, "m", 0.65), (6.5e-7, b"m", 0.65), (0.0065, "mm", 6.5), (6.5, "um", 6.5),
    (6.5, "µm", 6.5), (6.5, "\u03bcm", 6.5), (6.5, "micron", 6.5), (6.5, "microns", 6.5),
    (650.0, "nm", 0.65), (6.5e-4, "cm", 6.5), (65000.0, "angstrom", 6.5), (6.5, "micrometer", 6.5),
    (3.24, None, 3.24), (3.24, "", 3.24),
])
def test_pixel_size_units(tmp_path, value, units, expect_um):
    pd_ = read_projections(_write(tmp_path / "s.h5", value, units))
    assert pd_.metadata["pixel_size_um"] == pytest.approx(expect_um, rel=1e-9)


def test_pixel_size_y_read_with_its_units(tmp_path):
    pd_ = read_projections(_write(tmp_path / "s.h5", 6.5e-7, "m", y=0.00065, y_units="mm"))
    assert pd_.metadata["pixel_size_um"] == pytest.approx(0.65)
    assert pd_.metadata["pixel_size_y_um"] == pytest.approx(0.65)


@pytest.mark.parametrize("units", ["furlongs per fortnight", "keV", "s", "pixels?"])
def test_unparseable_units_refused_naming_file_and_field(tmp_path, units):
    with pytest.raises(InputError) as err:
        read_projections(_write(tmp_path / "bad.h5", 6.5, units))
    msg = str(err.value)
    assert "bad.h5" in msg and "pixel_size_x" in msg and repr(units) in msg


def test_bad_y_units_refused(tmp_path):
    with pytest.raises(InputError, match="pixel_size_y"):
        read_projections(_write(tmp_path / "s.h5", 6.5, "um", y=6.5, y_units="volts"))


@pytest.mark.parametrize("value", [0.0, -1.0, np.nan])
def test_non_positive_pixel_size_refused(tmp_path, value):
    with pytest.raises(InputError, match="pixel_size_x"):
        read_projections(_write(tmp_path / "s.h5", value, "um"))
