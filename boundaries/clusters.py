"""Ward clusters: named groups of wards whose geometry is the union of their wards.

A mapping comes from a CSV (``ward_code,cluster`` columns; header names are detected), a YAML
file (``cluster: [ward codes]`` or ``ward code: cluster``) or a Python dict in either shape. A
ward code the ward set does not have, or a ward put in two clusters, is an error naming them;
wards left in no cluster are allowed (a partial grouping) but reported back by code.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import shapely
import yaml

from boundaries.errors import BoundaryError
from boundaries.geometry import polygonal_part
from boundaries.sets import BoundarySet, check_name, check_vintage, finish_set
from pipelines.quoting import quoted

_WARD_HEADERS = ("ward_code", "ward", "code", "wd19cd", "wd22cd", "wd25cd", "wd23cd", "wd24cd")
_CLUSTER_HEADERS = ("cluster", "cluster_name", "group", "name")
_SHOWN = 8


@dataclass
class ClusterResult:
    clusters: BoundarySet
    unassigned: list[str] = field(default_factory=list)  # wards in no cluster


def read_mapping(path: Path) -> dict[str, str]:
    """Ward code -> cluster name from a CSV or YAML file."""
    path = Path(path)
    if not path.exists():
        raise BoundaryError(f"cluster mapping file {path} does not exist")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise BoundaryError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
        return normalise_mapping(data)
    if path.suffix.lower() in (".csv", ".txt"):
        return _read_csv(text, path)
    raise BoundaryError(f"cluster mapping {path} must be a .csv or .yaml file")


def _read_csv(text: str, path: Path) -> dict[str, str]:
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        raise BoundaryError(f"{path} is empty; expected rows of ward_code,cluster")
    header = [h.strip().lower() for h in rows[0]]
    ward_col = next((header.index(h) for h in _WARD_HEADERS if h in header), None)
    cluster_col = next((header.index(h) for h in _CLUSTER_HEADERS if h in header), None)
    if ward_col is None or cluster_col is None or ward_col == cluster_col:
        raise BoundaryError(
            f"{path} needs a ward code column ({'/'.join(_WARD_HEADERS[:3])}) and a cluster "
            f"column ({'/'.join(_CLUSTER_HEADERS[:2])}); its header is {','.join(rows[0])}"
        )
    pairs: list[tuple[str, str]] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) <= max(ward_col, cluster_col):
            raise BoundaryError(f"{path} line {number} has too few columns: {','.join(row)}")
        pairs.append((row[ward_col].strip(), row[cluster_col].strip()))
    return _from_pairs(pairs)


def normalise_mapping(data: object) -> dict[str, str]:
    """Accept {cluster: [ward codes]} or {ward code: cluster}; return ward code -> cluster."""
    if not isinstance(data, dict) or not data:
        raise BoundaryError(
            "a cluster mapping must be a non-empty mapping of cluster name -> list of ward codes "
            "or ward code -> cluster name"
        )
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        if isinstance(value, list | tuple):
            pairs.extend((str(ward).strip(), str(key).strip()) for ward in value)
        elif isinstance(value, str | int):
            pairs.append((str(key).strip(), str(value).strip()))
        else:
            raise BoundaryError(
                f"cluster mapping entry {quoted(key)} must be a name or a list of codes"
            )
    return _from_pairs(pairs)


def _from_pairs(pairs: list[tuple[str, str]]) -> dict[str, str]:
    clusters_of: dict[str, set[str]] = defaultdict(set)
    for ward, cluster in pairs:
        if not ward or not cluster:
            raise BoundaryError("a cluster mapping row has an empty ward code or cluster name")
        clusters_of[ward].add(cluster)
    twice = {w: sorted(c) for w, c in clusters_of.items() if len(c) > 1}
    if twice:
        listed = "; ".join(f"{w} in {' and '.join(c)}" for w, c in list(twice.items())[:_SHOWN])
        raise BoundaryError(f"wards put in more than one cluster: {listed}")
    return {ward: next(iter(c)) for ward, c in clusters_of.items()}


def cluster_code(cluster: str) -> str:
    """A stable code for a cluster name: lower-case words joined by '-'."""
    code = re.sub(r"[^a-z0-9]+", "-", cluster.lower()).strip("-")
    if not code:
        raise BoundaryError(f"cluster name {quoted(cluster)} has no letters or digits")
    return code


def check_not_own_wards(name: str, wards_name: str) -> None:
    """Refuse a cluster set named after the ward set it is built from: saving it would replace
    those wards (and their title) with the clusters, and the wards could not be rebuilt from it."""
    if name == wards_name:
        raise BoundaryError(
            f"a cluster set cannot replace the ward set it is built from ({quoted(wards_name)}); "
            f"give the cluster set another name, e.g. {quoted(wards_name + '-clusters')}"
        )


def build_clusters(
    wards: BoundarySet,
    mapping: dict[str, str] | dict[str, list[str]],
    name: str,
    vintage: str | None = None,
) -> ClusterResult:
    """Union the wards of each cluster into a new set of scheme ``cluster``."""
    check_name(name)
    check_not_own_wards(name, wards.name)
    ward_to_cluster = normalise_mapping(mapping)
    if not ward_to_cluster:
        raise BoundaryError(
            "the mapping puts no ward in any cluster; give each cluster at least one ward code"
        )
    known = set(wards.codes)
    unknown = sorted(set(ward_to_cluster) - known)
    if unknown:
        raise BoundaryError(
            f"ward codes not in {wards.name}: {_listing(unknown)}; "
            f"check the mapping against `hotspots boundaries counts {wards.name}`"
        )
    codes_of: dict[str, str] = {}
    for cluster in sorted(set(ward_to_cluster.values())):
        code = cluster_code(cluster)
        if code in codes_of:
            raise BoundaryError(
                f"clusters {quoted(codes_of[code])} and {quoted(cluster)} have the same code"
            )
        codes_of[code] = cluster
    areas = wards.areas.set_index("code")
    rows = []
    for code, cluster in codes_of.items():
        members = sorted(w for w, c in ward_to_cluster.items() if c == cluster)
        union = polygonal_part(shapely.union_all(areas.loc[members].geometry.values))
        rows.append(
            {"code": code, "name": cluster, "members": ";".join(members), "geometry": union}
        )
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=wards.areas.crs)
    vintage = check_vintage(vintage) if vintage else wards.vintage
    unassigned = sorted(known - set(ward_to_cluster))
    notes = [f"{len(rows)} clusters of {len(ward_to_cluster)} wards from {wards.name}"]
    if unassigned:
        notes.append(f"wards in no cluster: {_listing(unassigned)}")
    clusters = finish_set(
        frame,
        name=name,
        scheme="cluster",
        vintage=vintage,
        source=f"clusters of {wards.name}",
        notes=notes,
        extra={"wards": wards.name, "mapping": dict(sorted(ward_to_cluster.items()))},
    )
    return ClusterResult(clusters, unassigned)


def _listing(codes: list[str]) -> str:
    shown = ", ".join(codes[:_SHOWN])
    return shown + (f" and {len(codes) - _SHOWN} more" if len(codes) > _SHOWN else "")
