"""The machine a benchmark ran on, printed beside every timing."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or the platform's description)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """One line: cores, CPU model, numpy and Python versions, load average."""
    import numpy as np

    try:
        load = f", load average {os.getloadavg()[0]:.1f}"
    except OSError:
        load = ""
    return (f"{os.cpu_count()} CPUs, {cpu_model()}, numpy {np.__version__}, "
            f"Python {platform.python_version()}{load}")
