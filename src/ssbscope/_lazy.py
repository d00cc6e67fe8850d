"""Lazy attribute loading for subpackages (keeps ``import ssbscope.x`` fast)."""

from __future__ import annotations

import importlib


def attach(package: str, mapping: dict[str, str]):
    """Return ``(__getattr__, __dir__, __all__)`` resolving ``name -> package.module.name``.

    Parameters
    ----------
    package : str
        The subpackage's ``__name__``.
    mapping : dict
        Public name -> module (relative to ``package``) that defines it.
    """

    def __getattr__(name: str):
        if name in mapping:
            mod = importlib.import_module(f"{package}.{mapping[name]}")
            return getattr(mod, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(mapping)

    return __getattr__, __dir__, sorted(mapping)
