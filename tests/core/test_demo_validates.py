"""`ssbscope demo` validates its folder's YAML first, as `ssbscope run` does: a refused
experiment leaves no store behind (before, the demo went straight to the run, which created
the store before building its stages)."""

import yaml


def test_demo_validates_like_run(tmp_path, monkeypatch, capsys):
    import ssbscope.twin.demo as demo
    from ssbscope.cli import main
    from ssbscope.twin.folder import write_ct_experiment

    def bad_folder(root, **kw):
        f = write_ct_experiment(root, design="symmetric", size="tiny")
        doc = yaml.safe_load(f.yaml_path.read_text(encoding="utf-8"))
        doc["analysis"]["correlate"] = {"plated_layer": "Nope"}
        f.yaml_path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        return f

    monkeypatch.setattr(demo, "write_demo_folder", bad_folder)
    assert main(["demo", "--out", str(tmp_path / "d"), "--quiet"]) != 0
    assert "plated_layer" in capsys.readouterr().err
    assert not (tmp_path / "d" / "store.zarr").exists()
