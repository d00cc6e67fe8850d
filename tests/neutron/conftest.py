"""Shared fixtures: one default twin series and its reduction (session scope, ~3 s)."""


import pytest

from ssbscope.testing import realdata_dir

REALDATA = realdata_dir()


@pytest.fixture(scope="session")
def twin():
    from ssbscope.twin.neutron import simulate_radiography

    # static background on (1 % of the open beam, as in the demo) so its correction is tested
    return simulate_radiography(background_fraction=0.01)


@pytest.fixture(scope="session")
def reduced(twin):
    from ssbscope.neutron.stream import reduce_series

    tr = twin.truth
    return reduce_series(twin.images, twin.open_beam, twin.dark, twin.time_s, bin_n=30,
                         beam_roi=tr.rois["beam"], background_roi=tr.rois["background"],
                         gain_adu_per_count=twin.config.gain_adu_per_count,
                         read_noise_adu=twin.config.read_noise_adu)


@pytest.fixture(scope="session")
def true_binned(twin):
    from ssbscope.neutron import median_bin

    return median_bin(twin.truth.transmission, 30)
