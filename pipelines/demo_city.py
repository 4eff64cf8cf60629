"""A generated demo city: wards, ward clusters and 24 months of clustered crime, all synthetic.

``hotspots demo`` uses it to show the whole product with no network and no download. Nothing here
is real: the city lies in the North Sea (about 53.9N 1.2E, open water, so it can never be
mistaken for a real town on a map), its wards and streets are invented, and the crimes are drawn
from a seeded random generator. It goes through exactly the path real data takes: police.uk
archive-layout CSVs are written to a folder and loaded with the archive ingest, and the wards and
clusters are prepared and stored like any boundary set.

Everything that could reach a page says it is synthetic: the force slug (``demo-city-synthetic``),
the set names, the sets' ``source`` and ``notes``, and ``extra["synthetic"] = True`` in each set's
stored description (see geo_service/synthetic.py for how pages detect it).

The same seed gives the same city, byte for byte: numpy's PCG64 stream, drawn in a fixed order.
"""

from __future__ import annotations

import csv
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPoint, Polygon

from boundaries.clusters import build_clusters
from boundaries.sets import BoundarySet, prepare_areas
from boundaries.store import BoundaryStore
from pipelines.categories import CATEGORY_NAMES
from pipelines.ingest.archive import ArchiveIngestReport, ingest_archive
from pipelines.ingest.archive_csv import HEADER
from pipelines.months import months_between
from pipelines.store import CrimeStore

DEMO_FORCE = "demo-city-synthetic"
WARDS_SET = "demo-city-synthetic-wards"
CLUSTERS_SET = "demo-city-synthetic-clusters"
DEFAULT_SEED = 2024
FIRST_MONTH, LAST_MONTH = "2023-01", "2024-12"
SYNTHETIC_NOTE = (
    "SYNTHETIC DEMO DATA: a generated city in the North Sea; not a real place, not real crime"
)
REPORTED_BY = "Demo City Constabulary (synthetic)"

# The city: an ellipse (metres) around a point of open sea.
_CENTRE_LNG, _CENTRE_LAT = 1.20, 53.90
_RADIUS_X, _RADIUS_Y = 4200.0, 3000.0
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LNG = 111_320.0 * float(np.cos(np.radians(_CENTRE_LAT)))
_WARD_NAMES = (
    "Northgate", "Castle Hill", "Fenwick Park", "Westfield", "Market Quarter", "Old Town",
    "Eastmoor", "Riverside", "Greenacre", "Harbourside", "St Aldric's", "Southbank",
)  # fmt: skip
_CLUSTERS = ("Northern wards", "Central wards", "Southern wards")
_STREET_STEMS = (
    "Anchor", "Beacon", "Chapel", "Dock", "Elm", "Ferry", "Granary", "Hawthorn", "Inkerman",
    "Juniper", "Keel", "Lantern", "Mill", "Netting", "Orchard", "Pilot", "Quay", "Rope",
    "Saltings", "Tannery", "Upper", "Victoria", "Wharf", "Yarrow",
)  # fmt: skip
_STREET_KINDS = ("Street", "Road", "Lane", "Close", "Way", "Terrace", "Avenue", "Row")

# Background crime: roughly the mix of an English town (share of all crimes).
_BACKGROUND_MIX = {
    "violent-crime": 0.30, "anti-social-behaviour": 0.25, "criminal-damage-arson": 0.09,
    "public-order": 0.07, "other-theft": 0.07, "vehicle-crime": 0.06, "burglary": 0.05,
    "shoplifting": 0.05, "drugs": 0.02, "other-crime": 0.015, "bicycle-theft": 0.01,
    "robbery": 0.008, "possession-of-weapons": 0.007,
}  # fmt: skip
_BACKGROUND_PER_MONTH = 900
_NO_LOCATION_SHARE = 0.01


@dataclass(frozen=True)
class _Hotspot:
    """A cluster of crime: where (metres from the centre), how tight, how many, of what."""

    name: str
    x: float
    y: float
    sigma: float
    first_rate: float  # expected crimes in the first month
    last_rate: float  # ... and in the last: different values make it emerge or fade
    mix: dict[str, float]
    place: str  # the "On or near ..." of its busiest point


_HOTSPOTS = (
    _Hotspot("night-time economy", 200, 150, 160, 170, 190,
             {"violent-crime": 0.45, "public-order": 0.2, "anti-social-behaviour": 0.25,
              "theft-from-the-person": 0.05, "drugs": 0.05}, "Nightclub"),
    _Hotspot("retail park", -2300, -700, 130, 110, 120,
             {"shoplifting": 0.7, "other-theft": 0.15, "anti-social-behaviour": 0.15},
             "Shopping Area"),
    _Hotspot("station", 900, -500, 110, 60, 60,
             {"robbery": 0.15, "theft-from-the-person": 0.25, "bicycle-theft": 0.2,
              "anti-social-behaviour": 0.4}, "Train Station"),
    _Hotspot("harbour burglaries", -1500, 1700, 320, 40, 45,
             {"burglary": 0.6, "vehicle-crime": 0.4}, "Marina"),
    _Hotspot("emerging estate", 2600, 900, 260, 5, 95,
             {"criminal-damage-arson": 0.35, "anti-social-behaviour": 0.35,
              "violent-crime": 0.3}, "Parking Area"),
    _Hotspot("fading estate", -600, -2000, 280, 85, 12,
             {"burglary": 0.4, "vehicle-crime": 0.35, "criminal-damage-arson": 0.25},
             "Petrol Station"),
)  # fmt: skip
_OUTCOMES = (
    "Investigation complete; no suspect identified",
    "Unable to prosecute suspect",
    "Under investigation",
    "Status update unavailable",
    "Offender given a caution",
    "Awaiting court outcome",
    "Local resolution",
)


@dataclass
class DemoCity:
    seed: int
    wards: gpd.GeoDataFrame  # code, name, cluster, geometry (EPSG:4326)
    crimes: pd.DataFrame  # police.uk archive columns (HEADER), one row per crime
    months: list[str] = field(default_factory=list)

    def clusters(self) -> dict[str, list[str]]:
        """Cluster name -> its ward codes."""
        grouped = self.wards.groupby("cluster")["code"]
        return {name: sorted(codes) for name, codes in grouped}


@dataclass
class DemoReport:
    city: DemoCity
    ingest: ArchiveIngestReport
    wards: BoundarySet
    clusters: BoundarySet


def generate_city(seed: int = DEFAULT_SEED) -> DemoCity:
    """The city for ``seed``: same seed, same wards and the same crimes in the same order."""
    rng = np.random.Generator(np.random.PCG64(seed))
    outline = _outline()
    wards = _wards(rng, outline)
    snap_xy, snap_names = _snap_points(rng, outline)
    months = months_between(FIRST_MONTH, LAST_MONTH)
    frames = [
        _month_crimes(rng, seed, month, index, len(months), outline, snap_xy, snap_names)
        for index, month in enumerate(months)
    ]
    return DemoCity(seed, wards, pd.concat(frames, ignore_index=True), months)


def write_archive(city: DemoCity, folder: Path) -> list[Path]:
    """The crimes as police.uk archive files: ``YYYY-MM/YYYY-MM-demo-city-synthetic-street.csv``."""
    paths = []
    for month, rows in city.crimes.groupby("Month", sort=True):
        path = Path(folder) / month / f"{month}-{DEMO_FORCE}-street.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(HEADER)
            writer.writerows(rows[HEADER].itertuples(index=False, name=None))
        paths.append(path)
    return paths


def ward_set(city: DemoCity) -> BoundarySet:
    """The wards as a boundary set marked synthetic in its source, notes and ``extra``."""
    prepared = prepare_areas(
        city.wards[["code", "name", "geometry"]],
        WARDS_SET,
        "ward",
        vintage=LAST_MONTH[:4],
        code_field="code",
        name_field="name",
        source=f"synthetic: generated by `hotspots demo` (pipelines/demo_city.py seed {city.seed})",
    )
    return _mark(prepared, city.seed)


def build_demo(
    crimes: CrimeStore, boundaries: BoundaryStore, seed: int = DEFAULT_SEED
) -> DemoReport:
    """Generate the city and load it through the normal ingest and boundary paths."""
    city = generate_city(seed)
    with tempfile.TemporaryDirectory(prefix="hotspots-demo-") as folder:
        write_archive(city, Path(folder))
        report = ingest_archive(crimes, Path(folder), force=DEMO_FORCE)
    wards = ward_set(city)
    boundaries.save(wards, replace=True)
    clustered = build_clusters(wards, city.clusters(), CLUSTERS_SET).clusters
    clustered.source = f"synthetic: {clustered.source} (seed {seed})"
    clustered = _mark(clustered, seed)
    boundaries.save(clustered, replace=True)
    return DemoReport(city, report, wards, clustered)


# -- geography ------------------------------------------------------------------------------------


def _outline() -> Polygon:
    angles = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    return Polygon(np.column_stack([_RADIUS_X * np.cos(angles), _RADIUS_Y * np.sin(angles)]))


def _wards(rng: np.random.Generator, outline: Polygon) -> gpd.GeoDataFrame:
    """12 wards: Voronoi cells of a jittered 4 x 3 grid of centres, cut to the city outline."""
    columns, rows = 4, 3
    xs = (np.arange(columns) + 0.5) / columns * 2 * _RADIUS_X - _RADIUS_X
    ys = (np.arange(rows)[::-1] + 0.5) / rows * 2 * _RADIUS_Y - _RADIUS_Y  # north row first
    centres = np.array([(x, y) for y in ys for x in xs])
    centres[:, 0] *= 0.8  # pull the outer centres in so every cell keeps a fair share of land
    centres += rng.uniform(-350, 350, size=centres.shape)
    cells = shapely.voronoi_polygons(MultiPoint(centres), extend_to=outline.envelope)
    records = []
    for number, centre in enumerate(centres):
        cell = next(c for c in shapely.get_parts(cells) if c.contains(shapely.Point(centre)))
        ward = cell.intersection(outline)
        records.append(
            {
                "code": f"DCS-W{number + 1:02d}",
                "name": _WARD_NAMES[number],
                "cluster": _CLUSTERS[number // columns],
                "geometry": _to_lnglat(ward),
            }
        )
    return gpd.GeoDataFrame(records, geometry="geometry", crs="EPSG:4326")


def _snap_points(rng: np.random.Generator, outline: Polygon) -> tuple[np.ndarray, list[str]]:
    """police.uk publishes crimes at anonymised map points on streets: invent ~1,800 of them."""
    candidates = rng.uniform([-_RADIUS_X, -_RADIUS_Y], [_RADIUS_X, _RADIUS_Y], size=(2400, 2))
    points = candidates[shapely.contains_xy(outline, candidates[:, 0], candidates[:, 1])]
    # Points in the same 300 m square share a street, as neighbouring snap points do.
    square = np.floor(points / 300.0).astype(np.int64)
    streets = {}
    names = []
    for key in map(tuple, square):
        if key not in streets:
            stem = _STREET_STEMS[int(rng.integers(len(_STREET_STEMS)))]
            kind = _STREET_KINDS[int(rng.integers(len(_STREET_KINDS)))]
            streets[key] = f"On or near {stem} {kind}"
        names.append(streets[key])
    # Each hotspot's centre is a snap point of its own, named for the place there.
    places = np.array([(h.x, h.y) for h in _HOTSPOTS])
    names += [f"On or near {h.place}" for h in _HOTSPOTS]
    return np.vstack([points, places]), names


def _to_lnglat(geometry: Polygon) -> Polygon:
    return shapely.transform(
        geometry,
        lambda xy: np.column_stack(
            [_CENTRE_LNG + xy[:, 0] / _M_PER_DEG_LNG, _CENTRE_LAT + xy[:, 1] / _M_PER_DEG_LAT]
        ),
    )


# -- crimes ---------------------------------------------------------------------------------------


def _month_crimes(
    rng: np.random.Generator,
    seed: int,
    month: str,
    index: int,
    months: int,
    outline: Polygon,
    snap_xy: np.ndarray,
    snap_names: list[str],
) -> pd.DataFrame:
    # Summer and December are busier, as in most places.
    season = (
        1.0
        + 0.12 * np.cos((int(month[5:]) - 7) / 12 * 2 * np.pi)
        + (0.08 if month.endswith("-12") else 0.0)
    )
    xy_parts: list[np.ndarray] = []
    category_parts: list[np.ndarray] = []
    background = int(rng.poisson(_BACKGROUND_PER_MONTH * season))
    # Background density falls away from the centre, so the middle of town is busier.
    xy_parts.append(rng.normal(0, [_RADIUS_X * 0.55, _RADIUS_Y * 0.55], size=(background, 2)))
    category_parts.append(_categories(rng, _BACKGROUND_MIX, background))
    progress = index / max(1, months - 1)
    for spot in _HOTSPOTS:
        rate = spot.first_rate + (spot.last_rate - spot.first_rate) * progress
        count = int(rng.poisson(rate * season))
        xy_parts.append(rng.normal([spot.x, spot.y], spot.sigma, size=(count, 2)))
        category_parts.append(_categories(rng, spot.mix, count))
    xy = np.vstack(xy_parts)
    categories = np.concatenate(category_parts)
    inside = shapely.contains_xy(outline, xy[:, 0], xy[:, 1])
    xy, categories = xy[inside], categories[inside]
    from scipy.spatial import cKDTree  # only building a demo needs it (0.15 s to import)

    _, nearest = cKDTree(snap_xy).query(xy)
    snapped = snap_xy[nearest]
    lng = _CENTRE_LNG + snapped[:, 0] / _M_PER_DEG_LNG
    lat = _CENTRE_LAT + snapped[:, 1] / _M_PER_DEG_LAT
    unlocated = rng.random(len(xy)) < _NO_LOCATION_SHARE
    outcome = np.array(_OUTCOMES)[rng.integers(len(_OUTCOMES), size=len(xy))]
    names = np.array(snap_names, dtype=object)[nearest]
    asb = categories == "anti-social-behaviour"
    ids = [
        "" if is_asb else hashlib.sha256(f"{seed}:{month}:{row}".encode()).hexdigest()
        for row, is_asb in enumerate(asb)
    ]
    return pd.DataFrame(
        {
            "Crime ID": ids,
            "Month": month,
            "Reported by": REPORTED_BY,
            "Falls within": REPORTED_BY,
            "Longitude": np.where(unlocated, "", np.char.mod("%.6f", lng)),
            "Latitude": np.where(unlocated, "", np.char.mod("%.6f", lat)),
            "Location": np.where(unlocated, "No Location", names),
            "LSOA code": "",
            "LSOA name": "",
            "Crime type": [CATEGORY_NAMES[c] for c in categories],
            # police.uk gives anti-social behaviour no outcome
            "Last outcome category": np.where(asb, "", outcome),
            "Context": "",
        }
    )


def _categories(rng: np.random.Generator, mix: dict[str, float], count: int) -> np.ndarray:
    slugs = list(mix)
    shares = np.array([mix[s] for s in slugs], dtype=np.float64)
    return np.array(slugs, dtype=object)[
        rng.choice(len(slugs), size=count, p=shares / shares.sum())
    ]


def _mark(boundary_set: BoundarySet, seed: int) -> BoundarySet:
    boundary_set.notes = [SYNTHETIC_NOTE, *boundary_set.notes]
    boundary_set.extra = {
        **boundary_set.extra,
        "synthetic": True,
        "generator": "pipelines.demo_city",
        "seed": seed,
        "force": DEMO_FORCE,
    }
    return boundary_set
