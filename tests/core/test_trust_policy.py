"""Issue 14, Deliver 2 gaps closed: the NaN-row mask policy settable in the experiment file,
physical range checks on photon energies (config and event files), and compton errors that
name the file once.  Everything goes through ``ssbscope run`` / ``validate`` (exit 2 and one
line when refused)."""

import json

import numpy as np
import pytest

from ssbscope.cli import main


def _one_error_line(capsys):
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert lines[0].startswith("ssbscope: error: ") and "Traceback" not in cap.err + cap.out
    return lines[0]


def _log_with_bad_rows(p):
    """40 rows at 1 mA, 3.5 V + 1 mV/row; row 7 has NaN voltage, row 20 an infinite current."""
    rows = []
    for k in range(40):
        v = "nan" if k == 7 else f"{3.5 + 0.001 * k:.4f}"
        i = "inf" if k == 20 else "0.001"
        rows.append(f"{60.0 * k},{v},{i}")
    p.write_text("time_s,voltage_V,current_A\n" + "\n".join(rows) + "\n")


def test_nan_rows_refused_by_default_and_dropped_with_a_warning_by_yaml(tmp_path, capsys):
    from ssbscope.store import Store

    p = tmp_path / "bad.csv"
    _log_with_bad_rows(p)
    y = tmp_path / "exp.yaml"
    y.write_text(f"name: n\ncell: {{area_cm2: 1.0}}\ninputs:\n  echem:\n    - {{path: '{p}', label: x}}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "strict"), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert str(p) in line and "rows" in line and "7, 20" in line and "nan_policy: drop" in line, line

    y.write_text(f"name: n\ncell: {{area_cm2: 1.0}}\ninputs:\n  echem:\n"
                 f"    - {{path: '{p}', label: x, nan_policy: drop}}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "mask"), "--quiet"]) == 0
    ds = Store.open(tmp_path / "mask")["echem/timeseries"]
    keep = [k for k in range(40) if k not in (7, 20)]
    np.testing.assert_allclose(ds["time_s"].values, [60.0 * k for k in keep])
    np.testing.assert_allclose(ds["voltage_V"].values, [3.5 + 0.001 * k for k in keep])
    warns = ds.attrs["warnings"]  # a list, stored as JSON text
    warns = json.loads(warns) if isinstance(warns, str) else list(warns)
    assert any("dropped 2 row(s) with NaN" in w and "voltage_V" in w and "current_A" in w for w in warns), warns
    # the charge integrates the kept rows only: 1 mA over 39 min of the 40-row log (no inf)
    q = ds["charge_mAh"].values
    assert np.all(np.isfinite(q)) and abs(q[-1] - 1.0 * 39 / 60) < 0.05, q[-1]


def test_nan_policy_does_not_admit_absurd_values_or_eis(tmp_path, capsys):
    p = tmp_path / "v.csv"
    p.write_text("time_s,voltage_V,current_A\n0,3.5,0.001\n60,3500,0.001\n120,3.502,0.001\n")
    y = tmp_path / "exp.yaml"
    y.write_text(f"name: n\ncell: {{area_cm2: 1.0}}\ninputs:\n  echem:\n"
                 f"    - {{path: '{p}', label: x, nan_policy: drop}}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "100 V" in _one_error_line(capsys)
    y.write_text(f"name: n\ninputs:\n  echem:\n    - {{path: '{p}', kind: eis, time_s: 0, nan_policy: drop}}\n")
    assert main(["validate", str(y)]) == 2
    out = capsys.readouterr().out
    assert "nan_policy" in out and "cycling logs only" in out, out


@pytest.mark.parametrize("value, ok", [(115.0, True), (10.0, True), (1000.0, True),
                                       (5.0, False), (1e12, False), (float("nan"), False)])
def test_incident_photon_energy_range(value, ok):
    from pydantic import ValidationError

    from ssbscope.config import ComptonInput

    if ok:
        assert ComptonInput(path="a.ssbevt", e_incident_kev=value).e_incident_kev == value
    else:
        with pytest.raises(ValidationError, match="e_incident_kev"):
            ComptonInput(path="a.ssbevt", e_incident_kev=value)


def test_incident_photon_energy_through_validate(tmp_path, capsys):
    (tmp_path / "a.ssbevt").write_bytes(b"x")
    y = tmp_path / "exp.yaml"
    y.write_text("name: x\ninputs:\n  compton:\n    - {path: a.ssbevt, e_incident_kev: 1.0e12}\n")
    assert main(["validate", str(y)]) == 2
    out = capsys.readouterr().out
    assert "inputs.compton[0].e_incident_kev" in out and "1000" in out, out


def _events(n_frames=400, per_frame=3, seed=0):
    from ssbscope.compton.events import EVENT_DTYPE

    rng = np.random.default_rng(seed)
    n = n_frames * per_frame
    ev = np.zeros(n, EVENT_DTYPE)
    ev["frame"] = np.repeat(np.arange(n_frames), per_frame)
    ev["row"] = rng.integers(0, 80, n)
    ev["col"] = rng.integers(0, 80, n)
    ev["value"] = rng.uniform(60.0, 110.0, n).astype(np.float32)
    return ev


@pytest.mark.parametrize("bad, words", [
    (float("nan"), ["2 event(s) with a non-finite photon energy", "first at record 5"]),
    (5.0e4, ["2 event(s) with a photon energy above 10000 keV", "largest 5e+04 keV", "first at record 5"]),
])
def test_damaged_photon_energies_named_once_through_run(tmp_path, capsys, bad, words):
    from ssbscope.compton.events import write_events

    ev = _events()
    ev["value"][[5, 9]] = bad
    p = write_events(tmp_path / "e.ssbevt", ev, value_unit="keV")
    y = tmp_path / "exp.yaml"
    y.write_text("name: x\ninputs:\n  compton:\n    - {path: e.ssbevt, label: e}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert line.count("e.ssbevt") == 1 and str(p) in line, line
    for w in words:
        assert w in line, line


def test_event_energy_limits_in_the_library():
    """The bounds of events_to_cube: keV events above MAX_EVENT_KEV and ADU events above
    MAX_EVENT_ADU are refused; values at the bound and cosmic-ray-like MeV deposits pass."""
    from ssbscope.compton.events import MAX_EVENT_ADU, MAX_EVENT_KEV, events_to_cube
    from ssbscope.errors import InputError

    ev = _events(n_frames=50)
    ev["value"][3] = 1400.0  # a muon's deposit in 2 mm CdTe: counted out of range, not refused
    cube = events_to_cube(ev, charge_sharing="none")
    assert cube.sum() == ev.size - 1
    ev["value"][3] = MAX_EVENT_KEV * 1.01
    with pytest.raises(InputError, match="above 10000 keV"):
        events_to_cube(ev, charge_sharing="none")
    adu = _events(n_frames=50)
    adu["value"] = 3000.0
    assert events_to_cube(adu, gain_kev_per_unit=0.03, offset_kev=0.0, charge_sharing="none").sum() == adu.size
    adu["value"][0] = MAX_EVENT_ADU * 2
    with pytest.raises(InputError, match="pulse height above 65536 ADU"):
        events_to_cube(adu, gain_kev_per_unit=0.03, offset_kev=0.0, charge_sharing="none")
