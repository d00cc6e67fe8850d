"""Issue 14, Deliver 2 for XCS inputs: event files and raw HEXITEC streams with values no
detector gives (NaN/inf or negative energies, energies above 10 MeV, stream words outside
0-65535) are refused by default (exit 2, one line) and left out with a recorded count with
``nan_policy: drop``; an ADU -> keV gain/offset no detector has is refused naming the field."""

import json

import numpy as np
import pytest

from ssbscope.cli import main
from ssbscope.compton.events import EVENT_DTYPE, events_to_cube, invalid_events, write_events
from ssbscope.compton.hexitec import (GAIN_RANGE_KEV_PER_ADU, check_energy_scale, frames_to_events,
                                      read_hexitec_raw)
from ssbscope.errors import DataQualityError, InputError
from ssbscope.fuzz import hexitec_stream

BAD = {5: np.nan, 9: -3.0, 40: np.inf, 77: 5.0e4}   # record -> damaged value


def _events(n_frames=400, per_frame=3, seed=0):
    rng = np.random.default_rng(seed)
    n = n_frames * per_frame
    ev = np.zeros(n, EVENT_DTYPE)
    ev["frame"] = np.repeat(np.arange(n_frames), per_frame)
    ev["row"] = rng.integers(0, 80, n)
    ev["col"] = rng.integers(0, 80, n)
    ev["value"] = rng.uniform(60.0, 110.0, n).astype(np.float32)
    return ev


def _damaged():
    ev = _events()
    clean = np.delete(ev.copy(), sorted(BAD))
    for k, v in BAD.items():
        ev["value"][k] = v
    return ev, clean


def test_library_drop_equals_the_clean_events():
    ev, clean = _damaged()
    bad, kinds = invalid_events(ev)
    assert np.flatnonzero(bad).tolist() == sorted(BAD)
    assert kinds == {"n_nonfinite": 2, "n_negative": 1, "n_above_limit": 1}
    with pytest.raises(InputError, match="non-finite photon energy"):
        events_to_cube(ev)
    rep = {}
    for mode in ("discard", "add", "none"):
        got = events_to_cube(ev, invalid="drop", report=rep, charge_sharing=mode)
        # dropped before the charge-sharing test: the same cube as if never recorded
        np.testing.assert_array_equal(got, events_to_cube(clean, charge_sharing=mode))
    assert rep["n_invalid"] == 4 and rep["first_invalid_record"] == 5 and rep["unit"] == "keV"


def _one_error_line(capsys):
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert lines[0].startswith("ssbscope: error: ") and "Traceback" not in cap.err + cap.out
    return lines[0]


def _warnings(ds):
    w = ds.attrs["warnings"]
    return json.loads(w) if isinstance(w, str) else list(w)


def test_event_file_through_run(tmp_path, capsys):
    from ssbscope.store import Store

    ev, clean = _damaged()
    write_events(tmp_path / "e.ssbevt", ev, value_unit="keV")
    write_events(tmp_path / "c.ssbevt", clean, value_unit="keV")
    y = tmp_path / "exp.yaml"
    y.write_text("name: x\ninputs:\n  compton:\n    - {path: e.ssbevt, label: e}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "strict"), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert "e.ssbevt" in line and "nan_policy: drop" in line, line

    y.write_text("name: x\ninputs:\n  compton:\n    - {path: e.ssbevt, label: e, nan_policy: drop}\n"
                 "    - {path: c.ssbevt, label: c}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "drop"), "--quiet"]) == 0
    st = Store.open(tmp_path / "drop")
    a, c = st["compton/input/e/cube"], st["compton/input/c/cube"]
    w = _warnings(a)
    assert any("dropped 4 event(s) with an invalid photon energy (NaN or infinite: 2, negative: 1, "
               "above 10000 keV: 1; first at record 5)" in x for x in w), w
    assert a.attrs["n_invalid_events_dropped"] == 4 and a.attrs["n_events"] == ev.size
    np.testing.assert_array_equal(a["counts"].values, c["counts"].values)
    assert a.attrs["n_out_of_range_events"] == c.attrs["n_out_of_range_events"]


def _stream_with_bad_words(n_frames=6):
    words = np.frombuffer(hexitec_stream(n_frames=n_frames), "<i4").copy()
    per_frame = 4 + 80 * (1 + 8 + 80) + 1

    def at(f, r, c):
        return f * per_frame + 4 + r * 89 + 9 + c

    words[at(2, 10, 11)] = -5
    words[at(4, 0, 79)] = 70000
    return words.tobytes()


def test_hexitec_stream_words_out_of_range(tmp_path, capsys):
    from ssbscope.store import Store

    p = tmp_path / "s.dat"
    p.write_bytes(_stream_with_bad_words())
    with pytest.raises(DataQualityError, match=r"2 pixel value\(s\) outside 0-65535 ADU .* first in frame 2 "
                                               r"at row 10, col 11"):
        read_hexitec_raw(p)
    fr = read_hexitec_raw(p, nan_policy="drop")
    assert fr.n_out_of_range == 2 and not fr.present[2, 10, 11] and not fr.present[4, 0, 79]
    assert fr.present.sum() == 6 * 6400 - 2
    y = tmp_path / "exp.yaml"
    base = "name: x\ninputs:\n  compton:\n    - {path: s.dat, label: s, format: hexitec-raw, gain_kev_per_adu: 0.03"
    y.write_text(base + "}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "strict"), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert "s.dat" in line and "outside 0-65535 ADU" in line and "nan_policy: drop" in line, line
    y.write_text(base + ", nan_policy: drop}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "drop"), "--quiet"]) == 0
    a = Store.open(tmp_path / "drop")["compton/input/s/cube"]
    assert any("dropped 2 pixel value(s) outside 0-65535 ADU" in x for x in _warnings(a))
    # the hits are those of the stream with the two words absent (value 0: no hit)
    ev, _, _ = frames_to_events(fr)
    assert a.attrs["n_events"] == ev.size


@pytest.mark.parametrize("gain, offset, words", [
    (float("nan"), 0.0, "gain_kev_per_adu = nan is not finite"),
    (0.0, 0.0, "gain_kev_per_adu = 0 is <= 0"),
    (-0.03, 0.0, "is <= 0"),
    (30.0, 0.0, "gain_kev_per_adu = 30 is outside the physical range"),   # eV per ADU given as keV
    (1e-6, 0.0, "is outside the physical range"),
    (0.03, float("inf"), "offset_kev = inf is not finite"),
    (0.03, -5000.0, "offset_kev = -5000 is outside the physical range"),
    (1e-3, -900.0, "maps every pulse height to a negative energy"),
])
def test_energy_scale_refused_naming_the_field(gain, offset, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(")):
        check_energy_scale(gain, offset, source="x")
    g, o = np.full((4, 4), 0.03), np.zeros((4, 4))
    g[1, 2], o[1, 2] = gain, offset   # one bad pixel of a per-pixel calibration
    with pytest.raises(InputError, match=r"\(1 of 16 pixels, first at \(1, 2\)\)"):
        check_energy_scale(g, o, source="x", gain_field="gain_kev_per_unit")


def test_energy_scale_accepts_real_detectors():
    check_energy_scale(0.0286, -0.5)                  # HEXITEC, baseline-subtracted pulse heights
    check_energy_scale(0.03, -30.0)                   # raw ADC values on a ~1000 ADU baseline
    check_energy_scale(np.full((80, 80), 1.0), 0.0)   # values already in keV (unit gain)
    lo, hi = GAIN_RANGE_KEV_PER_ADU
    check_energy_scale(lo, 0.0)
    check_energy_scale(hi, 0.0)


@pytest.mark.parametrize("field, value, words", [
    ("gain_kev_per_adu", "30", "gain_kev_per_adu = 30 is outside the physical range"),
    ("gain_kev_per_adu", ".nan", "gain_kev_per_adu"),
    ("offset_kev", "-5000", "offset_kev = -5000 is outside"),
    ("nan_policy", "mask", "nan_policy"),
])
def test_energy_scale_and_policy_in_the_experiment_file(tmp_path, capsys, field, value, words):
    y = tmp_path / "exp.yaml"
    write_events(tmp_path / "e.ssbevt", _events(10), value_unit="adu")
    y.write_text(f"name: x\ninputs:\n  compton:\n    - {{path: e.ssbevt, gain_kev_per_adu: 0.03, {field}: {value}}}\n"
                 .replace("gain_kev_per_adu: 0.03, gain_kev_per_adu", "gain_kev_per_adu"))
    assert main(["validate", str(y)]) == 2
    out = capsys.readouterr().out
    assert "inputs.compton[0]" in out and words in out, out
    assert main(["run", str(y), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    _one_error_line(capsys)


def test_calibration_file_with_absurd_gain(tmp_path, capsys):
    g = np.full((80, 80), 0.03)
    g[3, 4] = np.inf
    np.savez(tmp_path / "cal.npz", gain_kev_per_unit=g, offset_kev=np.zeros((80, 80)))
    write_events(tmp_path / "e.ssbevt", _events(10), value_unit="adu")
    y = tmp_path / "exp.yaml"
    y.write_text("name: x\ninputs:\n  compton:\n    - {path: e.ssbevt, calibration: cal.npz}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert "cal.npz" in line and "gain_kev_per_unit = inf is not finite (1 of 6400 pixels, first at (3, 4))" in line, line
