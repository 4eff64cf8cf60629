"""The briefing as a printable page: the sentences, and under each the numbers it rests on."""

from __future__ import annotations

from geo_service.pages import template_environment
from geo_service.site import Crumb
from pipelines.attribution import ATTRIBUTION

_environment = template_environment()


def render_briefing_html(briefing: dict, crumbs: list[Crumb]) -> str:
    return _environment.get_template("briefing.html").render(
        b=briefing, crumbs=crumbs, attribution=ATTRIBUTION
    )
