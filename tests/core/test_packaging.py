"""Packaging: the extras a user installs pull no CUDA build of torch (issue 13)."""

import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
# packages whose requirements pull torch (a CUDA build from PyPI on x86_64)
TORCH_PULLERS = {"torch", "taufactor", "torchvision", "triton"}


def _name(req: str) -> str:
    for sep in "<>=!~[; ":
        req = req.split(sep)[0]
    return req.strip().lower()


@pytest.mark.parametrize("extra", ["test", "bench", "export", "viewer", "docs", "excel"])
def test_extras_pull_no_torch(extra):
    meta = tomllib.loads(PYPROJECT.read_text())["project"]
    reqs = meta["dependencies"] + meta["optional-dependencies"].get(extra, [])
    assert not {_name(r) for r in reqs} & TORCH_PULLERS, extra
