"""One exception hierarchy for ssbscope.

Every error names *where* the problem is (a file, a field, a parameter), *what* is wrong
and *what to do*.  The CLI prints ``str(error)`` on one line and exits with code 2; the
traceback is shown only with ``--debug``.

The classes also derive from the matching built-in exception (``ValueError``,
``OSError``, ...) so callers that already catch those keep working.

Examples
--------
>>> from ssbscope.errors import ParameterError
>>> raise ParameterError("area_cm2", -1.0, "must be > 0", "pass the electrode area in cm^2")
Traceback (most recent call last):
...
ssbscope.errors.ParameterError: area_cm2=-1.0: must be > 0; pass the electrode area in cm^2
"""

from __future__ import annotations

__all__ = [
    "SsbscopeError",
    "InputError",
    "FileFormatError",
    "UnsupportedFormatError",
    "MissingColumnError",
    "DataQualityError",
    "ParameterError",
    "ConfigError",
    "StoreError",
    "PipelineError",
    "EmptyResultError",
    "ConvergenceError",
    "reader_boundary",
]


class SsbscopeError(Exception):
    """Base class of every error ssbscope raises on purpose."""


class InputError(SsbscopeError, ValueError):
    """Input data (a file or an array) cannot be used as given."""


class FileFormatError(InputError):
    """A file is missing, empty, truncated or not in the expected layout.

    Parameters
    ----------
    path : str or path-like
        The file.
    problem : str
        What is wrong.
    fix : str, optional
        What the user can do.
    """

    def __init__(self, path, problem: str, fix: str | None = None):
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        msg = f"{self.path}: {problem}"
        if fix:
            msg += f"; {fix}"
        super().__init__(msg)


class UnsupportedFormatError(FileFormatError):
    """A recognised format that ssbscope does not read (yet)."""


class MissingColumnError(FileFormatError):
    """A table lacks a required column (or the column mapping names a missing one)."""


class DataQualityError(InputError):
    """The data read, but its values cannot be analysed (NaNs, non-monotonic time, ...)."""


class ParameterError(SsbscopeError, ValueError):
    """A function argument is out of its valid range.

    Parameters
    ----------
    name : str
        Parameter name (with unit suffix, e.g. ``area_cm2``).
    value : object
        The value given.
    problem : str
        What is wrong with it (``"must be > 0"``).
    fix : str, optional
        What to do instead.
    """

    def __init__(self, name: str, value, problem: str, fix: str | None = None):
        self.name = name
        self.value = value
        msg = f"{name}={value!r}: {problem}"
        if fix:
            msg += f"; {fix}"
        super().__init__(msg)


class ConfigError(SsbscopeError, ValueError):
    """An experiment file does not match the schema.

    ``problems`` lists ``(location, message)`` pairs, e.g.
    ``("cell.layers[2].thickness_um", "must be > 0")``.
    """

    def __init__(self, path, problems: list[tuple[str, str]]):
        self.path = str(path)
        self.problems = list(problems)
        first = "; ".join(f"{loc}: {msg}" for loc, msg in self.problems[:3])
        more = f" (+{len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
        super().__init__(
            f"{self.path}: {len(self.problems)} problem(s): {first}{more}; "
            f"run 'ssbscope validate {self.path}' for the full list"
        )


class StoreError(SsbscopeError, OSError):
    """The experiment store cannot be opened, read or written."""


class PipelineError(SsbscopeError, RuntimeError):
    """A pipeline stage is mis-declared or failed."""


class EmptyResultError(InputError):
    """An analysis found nothing to measure (e.g. no Li phase); the reason is in the message."""


class ConvergenceError(SsbscopeError, RuntimeError):
    """An iterative solver or fit did not converge within its stated tolerance."""


def reader_boundary(catch, convert):
    """Decorator factory for public readers: every failure becomes an ssbscope error.

    Parameters
    ----------
    catch : tuple of exception types
        What the reader's parsing libraries raise on damaged bytes (``OSError``, ``ValueError``,
        pandas' parser errors, ``struct.error`` ...).
    convert : callable ``(path, exc) -> SsbscopeError``
        Builds the one-line error naming the file (or files) the reader was given as its
        first argument; it must never quote the file's content.

    ssbscope errors raised inside the reader pass unchanged; anything in ``catch`` is
    re-raised as ``convert(path, exc)``, chained to the original (shown with ``--debug``).
    """
    import functools

    def deco(func):
        @functools.wraps(func)
        def wrapper(path, *args, **kwargs):
            try:
                return func(path, *args, **kwargs)
            except SsbscopeError:
                raise
            except catch as e:
                raise convert(path, e) from e

        return wrapper

    return deco
