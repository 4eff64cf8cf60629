"""Ward boundaries for one local authority from the ONS Open Geography Portal (ArcGIS REST).

The portal publishes each boundary vintage as its own feature service. A request asks layer 0
for the wards of one local authority, as GeoJSON in WGS84, a page at a time:
``<base>/<service>/FeatureServer/0/query?where=LADyyCD='E06000027'&outFields=*&outSR=4326
&f=geojson&resultOffset=0&resultRecordCount=1000``, following pages while the answer says
``exceededTransferLimit``. The local-authority field is read from the layer's own field list
(``<base>/<service>/FeatureServer/0?f=json``), because the LAD vintage joined to a ward layer is
not always the ward vintage (2019 ward layers carry LAD20CD).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import geopandas as gpd
import httpx

from boundaries.errors import BoundaryError
from boundaries.set_titles import authority_name_in_frame, ward_set_title
from boundaries.sets import BoundarySet, prepare_areas
from pipelines.quoting import quoted

DEFAULT_BASE_URL = "https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services"
# Ward vintage -> feature service (generalised, clipped to the coastline: what maps need).
WARD_SERVICES: dict[str, str] = {
    "2019": "Wards_December_2019_Boundaries_UK_BGC",
    "2020": "Wards_December_2020_UK_BGC_V3",
    "2021": "Wards_December_2021_UK_BGC",
    "2022": "Wards_December_2022_Boundaries_UK_BGC",
    "2023": "Wards_December_2023_Boundaries_UK_BGC",
    "2024": "Wards_December_2024_Boundaries_UK_BGC",
    "2025": "Wards_May_2025_Boundaries_UK_BGC",
}
DEFAULT_VINTAGE = "2019"
PAGE_SIZE = 1000
_LAD_CODE = re.compile(r"^[ENSW]0[6-9]\d{6}$")
_LAD_FIELD = re.compile(r"^LAD\d{2}CD$", re.IGNORECASE)


def fetch_wards(
    lad: str,
    name: str,
    vintage: str = DEFAULT_VINTAGE,
    base_url: str = DEFAULT_BASE_URL,
    client: httpx.Client | None = None,
    progress: Callable[[int], None] | None = None,
) -> BoundarySet:
    """Download one local authority's wards of a vintage and prepare them as a set."""
    lad = lad.strip().upper()
    if not _LAD_CODE.match(lad):
        raise BoundaryError(
            f"{quoted(lad)} is not a local authority code (E06/E07/E08/E09/W06/S12/N09 + 6 digits, "
            "e.g. E06000027 for Torbay)"
        )
    service = WARD_SERVICES.get(vintage)
    if service is None:
        raise BoundaryError(
            f"no ONS ward service known for vintage {quoted(vintage)}; "
            f"known: {', '.join(WARD_SERVICES)}"
        )
    layer = f"{base_url.rstrip('/')}/{service}/FeatureServer/0"
    own_client = client is None
    client = client or httpx.Client(timeout=60.0, follow_redirects=True)
    try:
        lad_field = _lad_field(client, layer, service)
        features = _query_all(client, layer, lad_field, lad, progress)
    finally:
        if own_client:
            client.close()
    if not features:
        raise BoundaryError(f"the ONS service {service} has no wards for local authority {lad}")
    frame = gpd.GeoDataFrame.from_features(features, crs="EPSG:4326")
    prepared = prepare_areas(
        frame, name, "ward", vintage, source=f"{layer} where {lad_field}='{lad}'"
    )
    # The service's LADyyNM names the authority: the set's title ("Torbay wards (2022)").
    authority = authority_name_in_frame(frame, lad)
    prepared.title = ward_set_title(authority, vintage) if authority else ""
    return prepared


def _get(client: httpx.Client, url: str, params: dict[str, str | int]) -> dict:
    try:
        response = client.get(url, params=params)
    except httpx.HTTPError as error:
        raise BoundaryError(f"cannot reach the ONS service at {url}: {error}") from None
    if response.status_code == 404:
        raise BoundaryError(f"the ONS service {url} does not exist (HTTP 404)")
    if response.status_code >= 400:
        raise BoundaryError(f"the ONS service answered HTTP {response.status_code} for {url}")
    try:
        body = response.json()
    except ValueError:
        raise BoundaryError(f"the ONS service sent something that is not JSON from {url}") from None
    if not isinstance(body, dict):
        raise BoundaryError(f"unexpected answer from the ONS service at {url}")
    if "error" in body:  # ArcGIS reports failures as HTTP 200 with an error object
        error = body["error"] if isinstance(body["error"], dict) else {}
        details = "; ".join(str(d) for d in error.get("details") or [])
        message = error.get("message", "unknown error")
        raise BoundaryError(
            f"the ONS service refused the request ({error.get('code', '?')}: {message}"
            f"{'; ' + details if details else ''})"
        )
    return body


def _lad_field(client: httpx.Client, layer: str, service: str) -> str:
    description = _get(client, layer, {"f": "json"})
    names = [f.get("name", "") for f in description.get("fields") or [] if isinstance(f, dict)]
    matches = sorted(n for n in names if _LAD_FIELD.match(n))
    if not matches:
        raise BoundaryError(f"the ONS layer {service} has no local authority (LADyyCD) field")
    return matches[-1]  # the newest LAD vintage when a layer carries several


def _query_all(
    client: httpx.Client,
    layer: str,
    lad_field: str,
    lad: str,
    progress: Callable[[int], None] | None,
) -> list[dict]:
    features: list[dict] = []
    offset = 0
    while True:
        page = _get(
            client,
            f"{layer}/query",
            {
                "where": f"{lad_field}='{lad}'",
                "outFields": "*",
                "outSR": "4326",
                "f": "geojson",
                "resultOffset": offset,
                "resultRecordCount": PAGE_SIZE,
            },
        )
        batch = page.get("features")
        if not isinstance(batch, list):
            raise BoundaryError("the ONS service answered without a list of features")
        features.extend(batch)
        if progress:
            progress(len(features))
        exceeded = page.get("exceededTransferLimit") or (page.get("properties") or {}).get(
            "exceededTransferLimit"
        )
        if not exceeded or not batch:
            return features
        offset += len(batch)
