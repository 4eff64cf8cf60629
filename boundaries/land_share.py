"""The share of each H3 cell's area that lies inside a region, computed hierarchically: whole
interior cells from one centre fill, exact geometry only for a thin band of cells along the
region's boundary.

Rule. Land share = area(cell ∩ region) / area(cell), both measured on the cell's boundary polygon
(H3's vertices) in ETRS89-LAEA (EPSG:3035, equal-area). A cell touches the region when its share is
above 0.

Method (each step vectorised; ``benchmarks/h3_cover.py`` times the alternatives):
1. The areas are merged into one region in WGS84 (a coverage union: shared edges cancel, so a cell
   across two wards is interior; a general union when the areas overlap or leave gaps).
2. Centre fill: the cells whose centre lies inside the region, by h3ronpy's polygon tiler (H3 in
   Rust, "contains centroid") in one call. Measured on London's 704 wards at resolution 9, this is
   13 ms against 100-230 ms for H3's "full", "overlap" or "bbox_overlap" containment.
3. Rim band: the region's boundary (outer rings and holes) sampled every quarter of the
   resolution's mean edge length, the cell of each sample and its 1-ring. A cell that meets the
   boundary holds a boundary point within an eighth of a mean edge of a sample; reaching a cell
   outside the sample cell's 1-ring takes at least one local edge length (0.80-1.03 of the mean
   across Great Britain at resolutions 7-10), so every cell that meets the boundary is in the band.
4. Off the band a cell lies wholly on one side of the boundary: share 1 when its centre is inside
   (step 2), 0 otherwise. Band cells get their polygon in EPSG:3035: properly inside the prepared
   region gives 1, disjoint gives 0, and only the cells the boundary crosses are intersected
   exactly (shapely's vectorised ``intersection``, against the region cut into tiles).

The band is a few cells wide along the boundary, so the exact work grows with the region's
perimeter, not its area: an 8,648 km² square at resolution 9 has 86,000 cells and ~2,500 band
cells.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

import h3
import h3ronpy
import numpy as np
import pyarrow as pa
import shapely
from h3ronpy.vector import ContainmentMode, coordinates_to_cells, geometry_to_cells

from pipelines import arrow_numpy

if TYPE_CHECKING:
    from pyproj import Transformer

EQUAL_AREA = "EPSG:3035"  # ETRS89-LAEA Europe: areas in m², true to scale everywhere in the UK
SAMPLES_PER_EDGE = 4  # boundary samples per mean H3 edge length: the band's safety margin
OUTLINE_EDGE_M = 1_000.0  # longest outline edge handed to H3 (see ``land_shares``)
TILE_EDGES = 20  # side of the tiles the region is cut into for exact intersections, in H3 edges
METRES_PER_DEGREE = 111_320.0  # the most a degree of latitude or longitude spans (equator)
_h3 = h3.api.basic_int


def land_shares(
    geometries: Iterable[object], resolution: int, region: object | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every cell touching the geometries (sorted uint64) and the share of its area inside them.

    ``region`` is the geometries merged (``merged_region``), when the caller has it already.
    """
    if region is None:
        region = merged_region(list(geometries))
    if region.is_empty:
        return np.zeros(0, np.uint64), np.zeros(0, np.float64)
    projected = equal_area(region)
    # The rule measures straight edges between the areas' vertices in EPSG:3035; H3 reads edges
    # as straight in degrees. Over a long edge (a custom square's 93 km side) the two lines part
    # by tens of metres, so the fills run on the EPSG:3035 outline with no edge longer than
    # OUTLINE_EDGE_M, taken back to WGS84: both lines then agree within a millimetre.
    outline = shapely.transform(
        shapely.segmentize(projected, OUTLINE_EDGE_M), _to_wgs84, interleaved=False
    )
    centred = _centre_fill(outline, resolution)
    band = _rim_band(outline, resolution)
    tile_m = _h3.average_hexagon_edge_length(resolution, unit="m") * TILE_EDGES
    band_shares = _exact_shares(band, projected, tile_m)
    interior = np.setdiff1d(centred, band, assume_unique=True)
    touching = band_shares > 0
    cells = np.concatenate([interior, band[touching]])
    shares = np.concatenate([np.ones(len(interior)), band_shares[touching]])
    order = np.argsort(cells)
    return cells[order], shares[order]


def merged_region(geometries: list[object]) -> object:
    """The areas as one (multi)polygon in WGS84. Boundary sets tile without overlaps, so a coverage
    union (which only cancels shared edges) is exact and ~20x faster than a general union; custom
    areas that overlap or leave gaps fall back to the general one."""
    valid = shapely.make_valid(np.asarray(geometries, dtype=object))
    if len(valid) == 1:
        return _polygonal(valid[0])
    merged = shapely.coverage_union_all(valid)
    if not shapely.is_valid(merged):  # overlapping or gapped input: not a coverage
        merged = shapely.union_all(valid)
    return _polygonal(merged)


def equal_area(geometry: object) -> object:
    """A WGS84 geometry in EPSG:3035 (metres, equal-area)."""
    return shapely.transform(geometry, _to_equal_area, interleaved=False)


def cell_polygons(cells: np.ndarray) -> np.ndarray:
    """The cells' boundary polygons (H3's vertices) in EPSG:3035, for exact areas and overlaps."""
    boundaries = [_h3.cell_to_boundary(int(c)) for c in cells]
    sizes = np.fromiter((len(b) for b in boundaries), dtype=np.int64, count=len(boundaries))
    latlng = np.array([vertex for b in boundaries for vertex in b], dtype=np.float64)
    if len(latlng) == 0:
        return np.zeros(0, dtype=object)
    x, y = _equal_area().transform(latlng[:, 1], latlng[:, 0])
    rings = shapely.linearrings(
        np.column_stack([x, y]), indices=np.repeat(np.arange(len(cells)), sizes)
    )
    return shapely.polygons(rings)


def cell_centres(cells: np.ndarray) -> np.ndarray:
    """(lat, lng) of each cell's centre, vectorised (h3ronpy; equal to h3's within 1e-13°)."""
    if len(cells) == 0:
        return np.zeros((0, 2), dtype=np.float64)
    batch = pa.record_batch(h3ronpy.vector.cells_to_coordinates(_arrow(cells)))
    lat, lng = (arrow_numpy.to_numpy(batch.column(name)) for name in ("lat", "lng"))
    return np.column_stack([lat, lng]).astype(np.float64)


def cells_to_strings(cells: np.ndarray) -> pa.Array:
    """The cells' hexadecimal H3 strings, vectorised."""
    return pa.array(h3ronpy.cells_to_string(_arrow(cells)), type=pa.string())


def _centre_fill(region: object, resolution: int) -> np.ndarray:
    """The cells whose centre lies inside the region (sorted, distinct)."""
    cells = geometry_to_cells(region, resolution, containment_mode=ContainmentMode.ContainsCentroid)
    return _distinct(arrow_numpy.to_uint64(cells, drop_nulls=True))


def _rim_band(outline: object, resolution: int) -> np.ndarray:
    """Every cell that meets the outline's boundary, and some of their neighbours (sorted)."""
    spacing_m = _h3.average_hexagon_edge_length(resolution, unit="m") / SAMPLES_PER_EDGE
    samples = shapely.segmentize(shapely.boundary(outline), spacing_m / METRES_PER_DEGREE)
    lng_lat = shapely.get_coordinates(samples)
    sampled = coordinates_to_cells(lng_lat[:, 1].copy(), lng_lat[:, 0].copy(), resolution)
    sampled = arrow_numpy.to_uint64(sampled, drop_nulls=True)
    disks = h3ronpy.grid_disk(_arrow(_distinct(sampled)), 1, flatten=True)
    return _distinct(arrow_numpy.to_uint64(disks, drop_nulls=True))


def _exact_shares(cells: np.ndarray, projected_region: object, tile_m: float) -> np.ndarray:
    """Each cell's share inside the region (EPSG:3035): containment first, then intersection."""
    polygons = cell_polygons(cells)
    shapely.prepare(projected_region)
    shares = np.zeros(len(cells), dtype=np.float64)
    inside = shapely.contains_properly(projected_region, polygons)
    crossed = ~inside & shapely.intersects(projected_region, polygons)
    shares[inside] = 1.0
    clipped = _clipped_areas(polygons[crossed], projected_region, tile_m)
    shares[crossed] = np.minimum(clipped / shapely.area(polygons[crossed]), 1.0)
    return shares


def _clipped_areas(polygons: np.ndarray, region: object, tile_m: float) -> np.ndarray:
    """area(polygon ∩ region) for each polygon. The region is first cut into square tiles along
    the polygons, so each exact intersection handles a tile's few vertices, not the whole outline
    (London's: 2,300 vertices); a polygon across tiles sums its pieces."""
    if len(polygons) == 0:
        return np.zeros(0, dtype=np.float64)
    west, south, east, north = shapely.total_bounds(polygons)
    columns, rows = np.meshgrid(
        np.arange(west, east, tile_m), np.arange(south, north, tile_m), indexing="xy"
    )
    tiles = shapely.box(
        columns.ravel(), rows.ravel(), columns.ravel() + tile_m, rows.ravel() + tile_m
    )
    used = np.unique(shapely.STRtree(tiles).query(polygons)[1])
    pieces = shapely.intersection(tiles[used], region)
    polygon_index, piece_index = shapely.STRtree(pieces).query(polygons, predicate="intersects")
    areas = shapely.area(shapely.intersection(polygons[polygon_index], pieces[piece_index]))
    return np.bincount(polygon_index, weights=areas, minlength=len(polygons))


def _polygonal(geometry: object) -> object:
    """Only the polygons of a geometry (``make_valid`` can leave lines or points beside them)."""
    parts = shapely.get_parts(geometry)
    polygons = parts[np.isin(shapely.get_type_id(parts), (3, 6))]  # Polygon, MultiPolygon
    if len(polygons) == 1:
        return polygons[0]
    return shapely.multipolygons(shapely.get_parts(polygons))


def _distinct(cells: np.ndarray) -> np.ndarray:
    """Sorted distinct cells (numpy's hash-based ``unique`` is ~40x slower on uint64 here)."""
    ordered = np.sort(cells)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _arrow(cells: np.ndarray) -> pa.Array:
    return arrow_numpy.from_numpy(np.asarray(cells, dtype=np.uint64), pa.uint64())


def _to_equal_area(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _equal_area().transform(x, y)


def _to_wgs84(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _equal_area().transform(x, y, direction="INVERSE")


@functools.cache
def _equal_area() -> Transformer:
    # EPSG:3035 from WGS84 (ETRS89 = WGS84 at this precision, as PROJ's own choice): the same
    # numbers as ``Transformer.from_crs(WGS84, EQUAL_AREA, always_xy=True)`` to the last bit,
    # built in 0.2 ms instead of ~0.1-0.2 s of PROJ database reads in every new process.
    # pyproj is imported here, by the first cover computed: a study whose cover is in the cache
    # needs no projection (~0.03 s of imports).
    from pyproj import Transformer

    return Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        "+step +proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80"
    )
