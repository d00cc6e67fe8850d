"""ssbscope.testing.realdata_dir: env override, search above the working directory, fallback."""

from __future__ import annotations

from ssbscope import testing
from ssbscope.testing import REALDATA_ENV, realdata_dir


def test_env_override_is_used_as_given(tmp_path, monkeypatch):
    monkeypatch.setenv(REALDATA_ENV, str(tmp_path / "elsewhere"))
    assert realdata_dir("hexitec") == tmp_path / "elsewhere" / "hexitec"  # even if missing


def test_found_above_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(REALDATA_ENV, raising=False)
    (tmp_path / "shared" / "realdata" / "neutron").mkdir(parents=True)
    work = tmp_path / "clone" / "sub"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    # the package itself may sit beside a real shared/ folder: search only from the cwd
    monkeypatch.setattr(testing, "__file__", str(work / "ssbscope" / "testing.py"))
    assert realdata_dir("neutron") == tmp_path / "shared" / "realdata" / "neutron"


def test_missing_gives_a_non_existing_path(tmp_path, monkeypatch):
    monkeypatch.delenv(REALDATA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(testing, "__file__", str(tmp_path / "pkg" / "testing.py"))
    p = realdata_dir("ct_volume", "x.tiff")
    assert p == tmp_path / "shared" / "realdata" / "ct_volume" / "x.tiff"
    assert not p.exists()
