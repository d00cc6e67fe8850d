"""CLI: one-line errors with exit code 2, --debug tracebacks."""

import subprocess
import sys


from ssbscope.cli import main


def test_validate_bad_file_exits_2(tmp_path, capsys):
    f = tmp_path / "bad.yaml"
    f.write_text("cell:\n  layers:\n    - {name: a, material: Li, thickness_um: -3}\n")
    assert main(["validate", str(f)]) == 2
    out = capsys.readouterr().out
    assert "cell.layers[0].thickness_um: must be >= 0" in out


def test_validate_good_file(tmp_path, capsys):
    f = tmp_path / "ok.yaml"
    f.write_text("name: ok\n")
    assert main(["validate", str(f)]) == 0
    assert "valid" in capsys.readouterr().out


def test_error_is_one_line_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "ssbscope.cli", "report", str(tmp_path / "nope.zarr")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no such store" in lines[0] and "Traceback" not in r.stderr


def test_debug_shows_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "ssbscope.cli", "--debug", "report", str(tmp_path / "nope.zarr")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_no_command_prints_help(capsys):
    assert main([]) == 2


def test_run_with_unwritable_output(tmp_path, capsys):
    f = tmp_path / "exp.yaml"
    f.write_text("name: x\n")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", str(f), "--out", str(blocker / "out")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_closed_output_pipe_is_not_an_internal_error(monkeypatch, capsys):
    # `ssbscope echem FILE | head -1` printed "internal error BrokenPipeError ... please report
    # it" (audit of issue 14): a reader closing the pipe ends the command quietly, 128 + SIGPIPE
    import ssbscope.cli as cli

    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_cmd_schema", closed)
    assert cli.main(["schema"]) == 141
    assert "internal error" not in capsys.readouterr().err
