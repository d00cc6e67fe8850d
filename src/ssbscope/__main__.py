"""``python -m ssbscope``: the same command line as ``ssbscope``."""

from ssbscope.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
