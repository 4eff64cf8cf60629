"""The briefing as a printable page: the sentences, and under each the numbers it rests on, named
in words ("Burglary, 12 months before: 1,074"); the JSON keeps the profile's field paths."""

from __future__ import annotations

import re

from geo_service.pages import template_environment
from geo_service.site import Crumb
from pipelines.attribution import ATTRIBUTION

_environment = template_environment()

# The profile field a briefing number comes from (pipelines/briefing.py), said for a reader.
_FIELD_WORDS = {
    "count": "last 12 months",
    "count_previous": "12 months before",
    "change_pct": "change",
    "rate_per_1000": "crimes and anti-social behaviour incidents per 1,000 residents",
    "parent_rate_per_1000": (
        "crimes and anti-social behaviour incidents per 1,000 residents across the whole set"
    ),
    "streets[0]": "street",
    "crimes": "crimes",
}
_WHOLE_PATHS = {
    "harm.share_of_parent": "share of the whole set's harm",
    "area.population / parent.population": "share of the whole set's residents",
    "hotspots.items": "hot spots listed",
}
_PATH = re.compile(r"^(total|categories\[(\d+)\]|hotspots\.items\[(\d+)\])\.(.+)$")


def source_words(path: str, category_names: list[str]) -> str:
    """``path`` (a profile field, as the JSON names it) in words; an unknown path as it is."""
    if path in _WHOLE_PATHS:
        return _WHOLE_PATHS[path]
    match = _PATH.match(path)
    if match is None or match[4] not in _FIELD_WORDS:
        return path
    if match[1] == "total":
        owner = "All crime"
    elif match[2] is not None and int(match[2]) < len(category_names):
        owner = category_names[int(match[2])]
    elif match[3] is not None:
        owner = f"Hot spot {int(match[3]) + 1}"
    else:
        return path
    return f"{owner}, {_FIELD_WORDS[match[4]]}"


def render_briefing_html(briefing: dict, crumbs: list[Crumb], category_names: list[str]) -> str:
    for sentence in briefing["sentences"]:
        sentence["said_from"] = [
            (source_words(path, category_names), value)
            for path, value in sentence["sources"].items()
        ]
    return _environment.get_template("briefing.html").render(
        b=briefing, crumbs=crumbs, attribution=ATTRIBUTION
    )
