"""The API's contract: request bodies and response models (they are what /docs shows).

Responses that carry open-ended structures (a study's provenance, a harm table's options) type the
fields a client relies on and allow the rest, so adding a provenance entry never breaks a client.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from geo_service.public_text import without_folders

# Where a thing came from, as an answer may show it: a file is named without the server's
# folders ("wards.geojson"), anything else (an ONS layer and query, "api") as it is.
PublicSource = Annotated[
    str,
    AfterValidator(without_folders),
    Field(description="Where it came from: a file name (never its folder), a service or a query."),
]

# -- errors --------------------------------------------------------------------------------------


class ErrorResponse(BaseModel):
    error: str = Field(description="What went wrong and what to change.")


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (401, "No API key (X-API-Key) where one is needed"),
        (403, "An API key that is not valid"),
        (404, "An unknown boundary set, area or force"),
        (
            422,
            "A request that cannot be answered as asked: a parameter or body of the wrong type "
            "or out of range, an unknown name, or a query parameter the route does not take",
        ),
        (503, "The store cannot be read or written now; the message says what an operator must do"),
    )
}


def responses_with_text(description: str, *media_types: str) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses``: ERRORS, and the 200 answer's text forms (``text/csv``, a page)
    beside the JSON its ``response_model`` documents."""
    content = {media_type: {"schema": {"type": "string"}} for media_type in media_types}
    return {**ERRORS, 200: {"content": content, "description": description}}


# -- health --------------------------------------------------------------------------------------


class ForceHeld(BaseModel):
    force: str
    months: int = Field(description="Months stored for the force.")
    first: str
    last: str


class StoreProblem(BaseModel):
    file: str = Field(description="The damaged file, relative to the data folder.")
    problem: str = Field(description='What is wrong: "missing", "damaged (...)", "unreadable".')


class StoreStatus(BaseModel):
    partitions: int = Field(description="Force-months stored.")
    version: str = Field(description="The store manifest's version (the data version's prefix).")
    forces: list[ForceHeld]
    problems: list[StoreProblem] = Field(
        default_factory=list,
        description="Damaged partition files; re-ingest the force and month to repair each.",
    )


class CacheStatus(BaseModel):
    """The on-disk cache of covers, studies and responses (shared by every process using it)."""

    state: Literal["ok", "rebuilt", "busy", "unusable"] = Field(
        description="'ok'; 'rebuilt': the cache database was found damaged, moved aside "
        "(kept for inspection) and replaced by an empty one, which is in use; 'busy': another "
        "process held the cache's lock for over 5 s, so this process computes answers uncached "
        "for up to 30 s; 'unusable': the "
        "cache folder cannot be opened or written, so every answer is computed uncached."
    )
    problem: str | None = Field(
        None,
        description="For 'rebuilt', where the damaged database was kept (named within the "
        "cache folder); for 'busy' and 'unusable', why, in words.",
    )
    entries: int = Field(description="Entries in the cache (covers, studies and responses).")
    capacity: int = Field(description="Bytes the cache may hold; least recently used go first.")
    bytes: int = Field(description="Bytes the cache holds now.")
    hits: int = Field(description="Hotspot studies this process answered from the cache.")
    misses: int = Field(description="Hotspot studies this process computed.")


class WarmUpStatus(BaseModel):
    """Warming the default studies (every area of every set, both default weights) in the
    background; requests are answered meanwhile."""

    state: Literal["warming", "done", "stopped", "failed", "off", "elsewhere"] = Field(
        description="Every server process reports the one warm-up of the shared cache; "
        "'elsewhere': another process warms it and has not published its progress yet; "
        "'off': HOTSPOTS_PRECOMPUTE=0."
    )
    studies: int = Field(0, description="Default studies to warm.")
    done: int = Field(0, description="Studies finished so far (computed, found or refused).")
    computed: int = Field(0, description="Of those, studies computed now (not found cached).")
    refused: int = Field(0, description="Studies the data guard refuses (kept, as the answer).")
    seconds: float = Field(0.0, description="Seconds since warming started (to the end).")


class AdmissionStatus(BaseModel):
    """Admission control of heavy work (studies, pages and comparisons built from them)."""

    workers: int = Field(description="Heavy computations at once.")
    queue: int = Field(description="More that may wait; beyond that a 503 with Retry-After.")
    in_progress: int = Field(description="Running and waiting now.")
    refused: int = Field(description="Requests refused as over the limit since the start.")
    deadline_seconds: float = Field(description="Longest a request waits for its answer.")


class DataFreshness(BaseModel):
    """How fresh the stored crimes are, from the store and the last `hotspots update` check
    (the service never asks police.uk itself)."""

    line: str = Field(description='"data to 2020-12, checked 2026-12-01, updated 2026-11-28"')
    data_to: str | None = Field(description="Newest month stored, YYYY-MM.")
    data_age_days: int | None = Field(description="Days from the end of the newest month to today.")
    checked: str | None = Field(description="Date of the last update check; null: never.")
    updated: str | None = Field(description="Date the stored data last changed.")
    newer_months_available: dict[str, str] = Field(
        description="Force -> newest month police.uk offered at the last check, not yet loaded."
    )
    warnings: list[str]


class Health(BaseModel):
    status: Literal["ok", "empty", "degraded"] = Field(
        description="'empty' until crimes are loaded; 'degraded' when a stored file is damaged "
        "(store.problems names it) or the store cannot be read."
    )
    version: str = Field(description="Version of the crime-hotspots software.")
    api_version: str
    read_access: str
    store: StoreStatus
    boundary_sets: list[str]
    cache: CacheStatus
    admission: AdmissionStatus
    warm_up: WarmUpStatus
    freshness: DataFreshness
    attribution: str


# -- boundaries ----------------------------------------------------------------------------------


class BoundarySetSummary(BaseModel):
    name: str
    title: str = Field(
        default="",
        description="The set's name for people, as pages show it (its name when none was given).",
    )
    scheme: str
    vintage: str
    areas: int
    source: PublicSource = ""
    created: str = ""


class BoundarySets(BaseModel):
    sets: list[BoundarySetSummary]


class Area(BaseModel):
    code: str
    name: str
    km2: float = Field(description="Area in km², measured in British National Grid.")
    population: float | None = Field(
        default=None, description="Resident population, when attached to the set."
    )
    members: list[str] | None = Field(default=None, description="Ward codes of a cluster.")


class AreaList(BaseModel):
    set: BoundarySetSummary
    areas: list[Area]


class CustomSetRequest(BaseModel):
    """Custom areas drawn as GeoJSON (WGS84 longitude/latitude unless a legacy ``crs`` says)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(examples=["paignton-town-centre"], max_length=80)
    scheme: Literal["custom"]
    title: str | None = Field(
        default=None,
        description="The set's name for people, shown on pages and maps (default: its name).",
        examples=["Paignton town centre"],
        max_length=120,
    )
    vintage: str | None = Field(default=None, description="A year or date; default today.")
    geojson: dict[str, Any] = Field(
        description="A GeoJSON FeatureCollection, Feature or Polygon/MultiPolygon; each "
        "feature's code is its 'code'/'id' property, its name the 'name' property."
    )


class ClusterSetRequest(BaseModel):
    """Clusters of an existing ward set: each cluster is the union of its wards."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(examples=["torbay-clusters"], max_length=80)
    scheme: Literal["cluster"]
    title: str | None = Field(
        default=None,
        description="The set's name for people, shown on pages and maps (default: its name).",
        examples=["Torbay ward clusters"],
        max_length=120,
    )
    vintage: str | None = Field(default=None, description="Default: the ward set's vintage.")
    wards: str = Field(description="Name of the stored set the ward codes belong to.")
    mapping: dict[str, str | list[str]] = Field(
        description="Ward code -> cluster name, or cluster name -> list of ward codes.",
        examples=[{"E05002064": "Paignton", "E05002065": "Paignton", "E05002066": "Torquay"}],
    )


NewBoundarySet = Annotated[CustomSetRequest | ClusterSetRequest, Field(discriminator="scheme")]


class BoundarySetCreated(BoundarySetSummary):
    notes: list[str] = Field(default_factory=list, description="Repairs and automatic choices.")
    unassigned: list[str] = Field(
        default_factory=list, description="Wards of the ward set left in no cluster."
    )


class Deleted(BaseModel):
    deleted: str


# -- hotspots ------------------------------------------------------------------------------------


class Provenance(BaseModel):
    """Every choice behind a result; the fields listed are always present."""

    model_config = ConfigDict(extra="allow")
    data_version: str = Field(description="Fingerprint of the stored crimes and boundary set.")
    method: str
    resolution: int
    window: dict[str, Any] = Field(
        description="Months asked, stored and missing; no_location_crimes is force-wide "
        "(no_location_scope says which forces and why)."
    )
    categories: list[str] | str
    weights: dict[str, Any]
    permutations: int
    seed: int
    alpha: float
    multiple_testing: str
    region: dict[str, Any]
    crimes: dict[str, Any]
    attribution: str
    backtest: dict[str, Any] | None = Field(
        default=None,
        description="The newest recorded backtest (POST /v1/backtest runs one) with these "
        "settings: pai, "
        "hit_rate, hits, test_crimes, area_share, train, test, run_at, data_version, stale and "
        "the run's best setting; null when none is recorded (backtest_hint says how to run one).",
    )
    freshness: dict[str, Any] | None = Field(
        default=None,
        description="How fresh the store is (as GET /health reports it): line, data_to, "
        "checked, updated, newer_months_available, warnings.",
    )


class HotspotCell(BaseModel):
    """One H3 cell of the region. Ranked lists add rank and cumulative shares."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    h3: str
    lat: float
    lng: float
    area_code: str
    area_name: str
    area_km2: float
    count: int = Field(description="Crimes in the cell.")
    value: float = Field(description="Harm (or count) the statistics are computed on.")
    z: float | None
    p: float | None
    p_adjusted: float | None
    class_: int | str = Field(
        alias="class",
        description="Gi*: -3..3 (cold..hot, by confidence: 3 = 99 %, 2 = 95 %, 1 = 90 %); "
        "LISA: HH, LL, HL, LH or ns.",
    )
    hotspot: bool = Field(
        description="A hot spot: classed hot (Gi*) or HH (LISA) with adjusted p <= alpha. "
        "The 90 % class at alpha 0.05 is not a hot spot."
    )
    high_count: bool = Field(
        description="A high-count place: the cell's own crime count is significantly above "
        "the region's negative-binomial expectation (provenance.high_count_places). A "
        "concentration, not a Gi* hot spot."
    )
    high_count_p_adjusted: float | None = Field(
        description="Adjusted p of the high-count test (one-sided negative-binomial excess)."
    )
    streets: list[str] = Field(description="The most frequent 'On or near' locations.")
    rank: int | None = None
    cumulative_area_share: float | None = None
    cumulative_value_share: float | None = None


class PageInfo(BaseModel):
    offset: int = Field(description="Position of the first cell of this page in the answer.")
    limit: int = Field(description="Cells asked for (limit).")
    returned: int = Field(description="Cells in this page.")
    total: int = Field(description="Cells in the whole answer.")
    next_cursor: str | None = Field(
        description="Pass as cursor (same query otherwise) for the next page; null on the last."
    )


class HotspotAnswer(BaseModel):
    """What every page of a hotspot answer carries, JSON or GeoJSON, before its cells."""

    provenance: Provenance
    page: PageInfo
    note: str | None = Field(
        default=None,
        description="Why a ranked list holds fewer rows than top asked for (absent when it "
        "does not).",
        examples=[
            "top=10 asked, 5 returned: only 5 of the region's 180 cells are significant "
            "hot spots at alpha 0.05 with fdr_bh control, and the list holds no others"
        ],
    )


class Hotspots(HotspotAnswer):
    cells: list[HotspotCell]


class HighCountPlace(BaseModel):
    """One cell whose own crime count is significantly above the region's expectation."""

    model_config = ConfigDict(extra="allow")
    rank: int
    h3: str
    lat: float
    lng: float
    area_code: str
    area_name: str
    count: int = Field(description="Crimes in the cell.")
    high_count_p_adjusted: float = Field(description="Adjusted one-sided excess p.")
    hotspot: bool = Field(description="Whether the cell is also a Gi* hot spot.")
    streets: list[str]


class HighCountPlaces(BaseModel):
    """High-count places, most crimes first: a concentration answer, not Gi* hot spots."""

    provenance: Provenance
    test: dict[str, Any] = Field(description="The test, its null, fitted dispersion and alpha.")
    places: list[HighCountPlace]


class CellFeature(BaseModel):
    type: Literal["Feature"]
    geometry: dict[str, Any]
    properties: HotspotCell


class HotspotFeatures(HotspotAnswer):
    type: Literal["FeatureCollection"]
    features: list[CellFeature]


# -- weights and coverage ------------------------------------------------------------------------


class WeightTable(BaseModel):
    name: str
    version: str
    title: str
    source: PublicSource
    unit: str
    default: float | None
    options: dict[str, Any]
    weights: dict[str, float] = Field(description="Weight of one crime, by police.uk category.")
    derivations: dict[str, str] = Field(description="How each weight was derived.")


class WeightTables(BaseModel):
    tables: list[WeightTable]


class CoverageMonth(BaseModel):
    force: str
    month: str
    status: Literal["stored", "missing"]
    source: PublicSource | None
    source_rows: int
    stored: int
    no_location: int
    rejected: dict[str, int]
    warnings: dict[str, int]
    provenance: list[dict[str, Any]]
    revisions: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Each republication `hotspots update` loaded: when, rows before and after, "
        "rows added, removed and changed (by crime ID; changed_fields names what changed).",
    )


class ForceCoverage(BaseModel):
    force: str
    first: str
    last: str
    months_held: int
    source_rows: int
    stored: int
    no_location: int
    rejected: dict[str, int]
    gaps: list[str] = Field(description="Months missing inside the stored range.")
    months: list[CoverageMonth]


class Coverage(BaseModel):
    forces: list[ForceCoverage]
