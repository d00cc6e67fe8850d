"""Where a CT scan sits on the electrochemical clock when the YAML gives no time_s: the
file's acquisition start against its cell's log start, else the state the log first reaches."""

from __future__ import annotations

import h5py
import pytest
import yaml

from ssbscope.config import load
from ssbscope.errors import ConfigError
from ssbscope.tomo.stages import scan_times


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from ssbscope.twin.folder import write_ct_experiment

    return write_ct_experiment(tmp_path_factory.mktemp("times") / "exp", design="symmetric",
                               size="tiny")


def _without_times(folder, tmp_path, strip_file_dates=False):
    data = yaml.safe_load(folder.yaml_path.read_text())
    for it in data["inputs"]["tomo"]:
        it.pop("time_s")
        it["path"] = str(folder.root / it["path"])
        if strip_file_dates:
            with h5py.File(it["path"], "r+") as h:
                for key in ("process/acquisition/start_date", "process/acquisition/end_date"):
                    if key in h:
                        del h[key]
    for it in data["inputs"]["echem"]:
        it["path"] = str(folder.root / it["path"])
    p = tmp_path / "exp.yaml"
    p.write_text(yaml.safe_dump(data))
    return load(p)


def test_time_from_the_files_acquisition_start(folder, tmp_path):
    exp = _without_times(folder, tmp_path)
    want = [r["time_s"] for r in __import__("json").loads(folder.truth_path.read_text())
            ["tomo"]["symmetric"]["scans"]]
    got = [t for _, _, t in scan_times(exp, "symmetric")]
    assert got == pytest.approx(want, abs=1e-3)


def test_time_from_the_state_the_log_reaches(folder, tmp_path):
    exp = _without_times(folder, tmp_path, strip_file_dates=True)
    got = [t for _, _, t in scan_times(exp, "symmetric")]
    # pristine: the start of the log; plated 1.5 / 3.0 mAh/cm2: the end of each 0.5 mA/cm2
    # plating step (3 h each after a 1 h rest), found within 0.02 % of the charge
    assert got[0] == pytest.approx(0.0, abs=1e-6)
    assert got[1] == pytest.approx(3600 + 3 * 3600, abs=10)
    assert got[2] == pytest.approx(3600 + 3 * 3600 + 3600 + 3 * 3600, abs=10)


def test_a_state_the_log_never_reaches_is_a_clear_error(folder, tmp_path):
    exp = _without_times(folder, tmp_path, strip_file_dates=True)
    data = exp.model_dump(mode="json")
    data["inputs"]["tomo"][2]["state"] = "plated 9 mAh/cm2"
    from ssbscope.config import from_dict

    with pytest.raises(ConfigError, match=r"inputs.tomo\[2\].time_s.*plated 9 mAh/cm2"):
        scan_times(from_dict(data), "symmetric")
