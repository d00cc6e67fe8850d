"""The papers ssbscope implements, and how to cite them to readers.

The science of each area follows one of these papers; code and data refer to them by short
ids (``"000"`` ... ``"004"``, the file names of the project's paper copies).  Readers never see
those ids: :func:`cite` turns any id in a text into "authors year", and the report lists the
full references with their DOIs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Paper", "PAPERS", "cite", "cited", "reference"]


@dataclass(frozen=True)
class Paper:
    """One source paper: ``short`` is how the text cites it ("Huang et al. 2024")."""

    short: str
    journal: str
    doi: str
    title: str


PAPERS = {  # titles as published (bibliographic data of the copies in ../shared/papers/)
    "000": Paper("Huang et al. 2024", "Cell Rep. Phys. Sci. 5, 101995 (2024)",
                 "10.1016/j.xcrp.2024.101995",
                 "Correlating lithium-ion transport and interfacial lithium microstructure "
                 "evolution in solid-state batteries during the first cycle"),
    "001": Paper("Sandoval et al. 2025", "EES Batteries (2025)", "10.1039/d5eb00111k",
                 "Visualizing diverse lithium growth and stripping behaviors in anode-free "
                 "solid-state batteries with operando X-ray tomography"),
    "002": Paper("Cao et al. 2023", "Adv. Funct. Mater. (2023)", "10.1002/adfm.202307998",
                 "Nondestructively visualizing and understanding the mechano-electro-chemical "
                 "origins of \u201csoft short\u201d and \u201ccreeping\u201d in all-solid-state batteries"),
    "003": Paper("Zhang et al. 2024", "Energy Environ. Sci. 17, 1448 (2024)", "10.1039/d3ee03322h",
                 "Influence of contouring the lithium metal/solid electrolyte interface on the "
                 "critical current for dendrites"),
    "004": Paper("Dixit et al. 2021", "Energy Environ. Sci. (2021)", "10.1039/d1ee00638j",
                 "Status and prospect of in situ and operando characterization of all "
                 "solid-state batteries"),
}

# "003_103f2bf5a3479ade", "003_" (an id with or without its hash); a following "Fig."/"Table"/
# "Eq." gets a comma: "Zhang et al. 2024, Fig. 3"
_ID = re.compile(r"(?<![0-9A-Za-z])(00[0-4])_(?:[0-9a-f]{16})?(?:(\s+)(?=(?:Figs?|Tables?|Eqs?|Sec)\b))?")


def cite(text: str) -> str:
    """``text`` with every paper id replaced by the paper's "authors year"."""
    def rep(m):
        p = PAPERS[m.group(1)]
        return p.short + (", " if m.group(2) else "")

    return _ID.sub(rep, str(text))


def cited(text: str) -> list[str]:
    """Ids of the papers a text cites, by id or by "authors year", in id order."""
    s = str(text)
    return [k for k, p in PAPERS.items() if p.short in s or re.search(rf"(?<![0-9]){k}_", s)]


def reference(key: str) -> str:
    """Full reference of a paper: authors year, title, journal, doi."""
    p = PAPERS[key]
    return f"{p.short}: {p.title}. {p.journal}, doi:{p.doi}"
