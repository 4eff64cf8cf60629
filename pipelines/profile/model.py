"""The area profile's response model: the contract the JSON, the page and the briefing share."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from pipelines.attribution import ATTRIBUTION

Direction = Literal["up", "down", "same"]  # the raw direction of a change
# The tested change: up or down only when the test says so (pipelines.analysis.rates).
Trend = Literal["up", "down", "no-significant-change"]
Comparison = Literal["higher", "similar", "lower"]


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
    title: str = ""  # the set's name for people ("Torbay wards (2019)"); "" when it has none
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
    count: int | None  # the last 12 months; None only when suppressed (1-4, shown "<5")
    count_previous: int | None  # the 12 months before; None when none is stored, or suppressed
    change_pct: float | None  # None without a previous count above zero
    direction: Direction | None  # the raw direction of the change, tested or not
    trend: Trend | None  # up or down only when the change test is significant at 5 %
    change_p: float | None  # exact conditional test of the two Poisson counts
    rate_per_1000: float | None  # None when population is not loaded
    rate_low: float | None  # exact Poisson 95 % interval of the rate
    rate_high: float | None
    parent_count: int | None
    parent_rate_per_1000: float | None
    compared_with_parent: Comparison | None  # the rate's interval against the parent's rate
    rank: int | None  # 1 = highest among the set's areas
    rank_of: int
    rank_by: Literal["rate", "count"]
    harm: float | None  # None when suppressed (a category's harm would reveal its count)
    suppressed: bool = False  # the count is 1-4 and the profile was asked to suppress it


class HarmSummary(BaseModel):
    total: float
    total_previous: float | None
    change_pct: float | None
    direction: Direction | None
    trend: Trend | None  # up or down only when the compound Poisson z test is significant
    change_p: float | None
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
    count: int | None  # None: no force of the profile has this month stored, or suppressed
    harm: float | None
    complete: bool  # every force of the profile has this month stored
    suppressed: bool = False  # a count of 1-4 left out of a published profile


class Hotspot(BaseModel):
    rank: int
    h3: str
    lat: float
    lng: float
    crimes: int | None  # None when suppressed (1-4)
    harm: float | None
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
    count: int | None  # None when suppressed (1-4)
    share: float | None  # of the area's crimes (anti-social behaviour excluded)
    suppressed: bool = False


class OutcomeSection(BaseModel):
    crimes: int | None  # the area's crimes in the window, anti-social behaviour excluded
    anti_social_behaviour: int | None  # ASB incidents: police.uk gives them no outcome
    items: list[OutcomeRow]


class DataNotes(BaseModel):
    forces: list[str]
    no_location_current: int = Field(
        description="Force-wide: crimes the forces recorded in the profile's 12 months with no "
        "map point, across the whole force area (they cannot be placed in any area)."
    )
    no_location_previous: int = Field(description="The same for the 12 months before.")
    map_points: int  # distinct snapped map points of the area's crimes, last 12 months
    shared_edge_points: int  # map points on a boundary shared by two areas, settled by rule
    months_missing: dict[str, list[str]]  # force -> months of both windows not stored
    population: str
    messages: list[str]


class StatisticsInfo(BaseModel):
    """How every interval, comparison and arrow on the profile was decided."""

    confidence: float
    alpha: float
    rate_interval: str
    parent_comparison: str
    count_change_test: str
    harm_change_test: str
    exposure: str
    suppression: str | None  # the rule, when small counts are suppressed


class AreaProfile(BaseModel):
    """One area on one page: what happened there in the last 12 months, beside the year before
    and the whole boundary set, with the hot spots inside it and the limits of the data."""

    area: AreaInfo = Field(description="The area: code, name, size and residents if loaded.")
    parent: ParentInfo = Field(
        description="What the area is compared with: the whole boundary set it belongs to."
    )
    window: MonthWindow = Field(description="The months profiled (12, ending at `to`).")
    previous_window: MonthWindow = Field(
        description="The 12 months before, for the change figures."
    )
    weights: WeightsInfo = Field(description="The harm table the harm figures use.")
    categories: list[CategoryRow] = Field(
        description="One row per police.uk crime category: counts, rates, harm and change."
    )
    total: CategoryRow = Field(description="All crime (anti-social behaviour included).")
    harm: HarmSummary = Field(description="Total harm and the categories that carry most of it.")
    trend: list[TrendPoint] = Field(description="Crimes month by month over both windows.")
    hotspots: HotspotSection = Field(
        description="The area's significant hot spot cells (Gi*), or why there are none."
    )
    outcomes: OutcomeSection = Field(description="Last recorded outcomes of the area's crimes.")
    notes: DataNotes = Field(description="Months missing, crimes without location, caveats.")
    statistics: StatisticsInfo = Field(
        description="The tests behind the numbers: confidence, alpha, methods, suppression."
    )
    attribution: str = Field(default=ATTRIBUTION, description="The data's licence notice.")
    data_version: str | None = Field(
        default=None, description="Fingerprint of the stored crimes and boundaries used."
    )
