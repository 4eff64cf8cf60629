"""The area profile's response model: the contract the JSON, the page and the briefing share."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from pipelines.attribution import ATTRIBUTION

Trend = Literal["up", "down", "same"]


class MonthWindow(BaseModel):
    first: str
    last: str
    months: list[str]
    months_missing: list[str]  # not stored for at least one force of the profile
    has_data: bool  # at least one month of the window is stored


class AreaInfo(BaseModel):
    code: str
    name: str
    population: float | None
    area_km2: float


class ParentInfo(BaseModel):
    boundary_set: str
    scheme: str
    vintage: str
    areas: int
    population: float | None
    definition: str


class WeightsInfo(BaseModel):
    name: str
    version: str
    title: str
    unit: str  # per crime, as the table states it
    total_unit: str  # the unit of a sum of weights


class CategoryRow(BaseModel):
    category: str  # police.uk slug, or "all-crime" for the total row
    name: str
    count: int  # the last 12 months
    count_previous: int | None  # the 12 months before; None when none of them is stored
    change_pct: float | None  # None without a previous count above zero
    trend: Trend | None
    rate_per_1000: float | None  # None when population is not loaded
    parent_count: int
    parent_rate_per_1000: float | None
    rank: int | None  # 1 = highest among the set's areas
    rank_of: int
    rank_by: Literal["rate", "count"]
    harm: float


class HarmSummary(BaseModel):
    total: float
    total_previous: float | None
    change_pct: float | None
    trend: Trend | None
    per_1000: float | None
    parent_total: float
    parent_per_1000: float | None
    share_of_parent: float | None  # 0..1
    rank: int | None
    rank_of: int
    rank_by: Literal["rate", "count"]


class TrendPoint(BaseModel):
    month: str
    window: Literal["current", "previous"]
    count: int | None  # None: no force of the profile has this month stored
    harm: float | None
    complete: bool  # every force of the profile has this month stored


class Hotspot(BaseModel):
    rank: int
    h3: str
    lat: float
    lng: float
    crimes: int
    harm: float
    z: float
    p_adjusted: float
    confidence: str
    streets: list[str]


class HotspotSection(BaseModel):
    available: bool
    reason: str | None = None  # why there is no list, when there is none
    resolution: int | None = None
    first: str | None = None
    last: str | None = None
    weights: str
    adjustments: list[str] = []
    items: list[Hotspot] = []


class OutcomeRow(BaseModel):
    outcome: str
    count: int
    share: float  # of the area's crimes (anti-social behaviour excluded)


class OutcomeSection(BaseModel):
    crimes: int  # the area's crimes in the window, anti-social behaviour excluded
    anti_social_behaviour: int  # ASB incidents: police.uk gives them no outcome
    items: list[OutcomeRow]


class DataNotes(BaseModel):
    forces: list[str]
    no_location_current: int
    no_location_previous: int
    map_points: int  # distinct snapped map points of the area's crimes, last 12 months
    shared_edge_points: int  # map points on a boundary shared by two areas, settled by rule
    months_missing: dict[str, list[str]]  # force -> months of both windows not stored
    population: str
    messages: list[str]


class AreaProfile(BaseModel):
    area: AreaInfo
    parent: ParentInfo
    window: MonthWindow
    previous_window: MonthWindow
    weights: WeightsInfo
    categories: list[CategoryRow]
    total: CategoryRow
    harm: HarmSummary
    trend: list[TrendPoint]
    hotspots: HotspotSection
    outcomes: OutcomeSection
    notes: DataNotes
    attribution: str = ATTRIBUTION
    data_version: str | None = None
