"""The first lines ``hotspots analyse`` prints: what was studied and what is shown, in words.

Under the default scope a ward is judged against its whole boundary set, so two regions are in
play: the study region (the set: its cells and crimes are what each cell is compared with) and
the areas shown (their cells are the ones written). The summary names both, with each one's
cells and crimes, so a reader never takes the set's crime count for the ward's. Pure functions
of the written columns and provenance (no pandas), tested on their own and through the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.wording import counted


def study_summary(columns: Mapping[str, Sequence[Any]], provenance: Mapping[str, Any]) -> str:
    """One paragraph: the study region, the areas shown (when they are part of it), the
    window, weights and the hot spot cells (Local Moran's I: high-high cluster cells) among
    those shown."""
    window = provenance["window"]
    region = provenance.get("study_region", {})
    shown_cells = len(columns["hotspot"])
    hot = sum(columns["hotspot"])
    studied_cells = region.get("cells") or shown_cells
    settings = (
        f"Resolution {provenance['resolution']}, {window['first']}..{window['last']}, "
        f"weights {provenance['weights']['name']} {provenance['weights']['version']}."
    )
    # Local Moran's I's flagged cells are its significant high-high clusters, not Gi* hot spots.
    lisa = provenance.get("statistics", {}).get("statistic") == "Local Moran's I"
    noun = "high-high cluster cell" if lisa else "hot spot cell"
    hot_words = (
        f"{counted(hot, noun)} (adjusted p <= {provenance['alpha']}, "
        f"{provenance['multiple_testing']})"
    )
    studied = (
        f"{counted(studied_cells, 'cell')} and "
        f"{counted(provenance['crimes']['in_region'], 'crime')}"
    )
    if _shows_part_of_the_region(provenance):
        place = _place(columns)
        shown_crimes = sum(int(count) for count in columns["count"])
        return (
            f"Study region: all of {region.get('boundary_set', 'the boundary set')} "
            f"({studied}); each cell is judged against it. "
            f"Shown: {place} ({counted(shown_cells, 'cell')} and "
            f"{counted(shown_crimes, 'crime')} in its map cells), with {hot_words} in {place}. "
            f"{settings}"
        )
    region_words = _region_words(columns, provenance)
    return f"Study region: {region_words} ({studied}); {hot_words}. {settings}"


def _shows_part_of_the_region(provenance: Mapping[str, Any]) -> bool:
    """Whether named areas are shown out of a larger study region (the default scope)."""
    region = provenance.get("study_region", {})
    return region.get("scope") == "set" and provenance.get("shown_areas", "all") != "all"


def _region_words(columns: Mapping[str, Sequence[Any]], provenance: Mapping[str, Any]) -> str:
    region = provenance.get("study_region", {})
    set_name = region.get("boundary_set", "the boundary set")
    if isinstance(region.get("areas", "all"), str):
        return f"all of {set_name}"
    return f"{_place(columns)} of {set_name}, studied alone"


def _place(columns: Mapping[str, Sequence[Any]]) -> str:
    """The shown areas by name (code where a name is missing), in the order first met."""
    names: dict[str, None] = {}
    codes = columns["area_code"]
    for code, name in zip(codes, columns.get("area_name", codes), strict=True):
        names.setdefault(str(name or code))
    return _listed(list(names)) if names else "the named areas (no cells)"


def _listed(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    if len(names) <= 3:
        return f"{', '.join(names[:-1])} and {names[-1]}"
    return f"{len(names)} areas"
