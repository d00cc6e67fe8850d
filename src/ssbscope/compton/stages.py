"""Pipeline stages of the XCS area, 000_290f30815ae66793.

The area's stages all read a user's files (:mod:`ssbscope.compton.input_stages`): one stage
per ``inputs.compton`` entry and one ``compton.series.<series>`` per operando series, with the
XCS-CT correlation when ``analysis.compton.ct_series`` names a CT series of the same cell.
The demo writes the coin cell's XCS series and CT series as files
(:mod:`ssbscope.twin.demo`); no in-memory XCS study is left.
"""

from __future__ import annotations

from .input_stages import input_stages

__all__ = ["input_stages"]
