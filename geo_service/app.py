"""The FastAPI application: one factory, routers per resource, errors as JSON."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from boundaries.store import BoundaryStore
from geo_service.admission import Admission
from geo_service.api_docs import install_api_docs
from geo_service.errors import install_error_documentation, install_error_handlers
from geo_service.fast_answers import FastAnswers
from geo_service.freshness import FreshnessMiddleware
from geo_service.head_requests import HeadAsGet
from geo_service.maps.assets import mount_static
from geo_service.models import ERRORS
from geo_service.openapi_examples import install_parameter_examples
from geo_service.paging import CursorSigner
from geo_service.precompute import precompute_lifespan
from geo_service.response_cache import ResponseCache
from geo_service.results import StudyCache
from geo_service.routers import (
    allocate,
    backtest,
    boundaries,
    compare,
    coverage,
    displacement,
    health,
    hotspots,
    maps,
    profiles,
    start,
    weights,
)
from geo_service.settings import Settings
from geo_service.unknown_params import reject_unknown_query_parameters
from pipelines.attribution import ATTRIBUTION
from pipelines.cache import open_cache
from pipelines.store import CrimeStore, pinned_reads


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="Crime hotspots",
        version="1",
        description="Hotspots of harmful crime, area profiles and maps from police.uk open data. "
        + ATTRIBUTION,
        lifespan=precompute_lifespan,  # warms the study cache in the background at start-up
        # A misspelled parameter is a 422 naming it, on every route, not silently ignored.
        dependencies=[Depends(reject_unknown_query_parameters)],
        responses=ERRORS,  # every route documents every error (422: any unknown parameter)
        docs_url=None,  # /docs and /redoc come from vendored files: install_api_docs below
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = CrimeStore(settings.data_dir)
    app.state.boundary_store = BoundaryStore(settings.data_dir)
    # One on-disk cache for studies, responses and covers, shared with the CLI and workers.
    app.state.disk_cache = open_cache(settings.cache_dir, settings.cache_bytes)
    app.state.admission = Admission(
        settings.study_workers, settings.study_queue, settings.request_deadline
    )
    app.state.cache = StudyCache(
        app.state.store, app.state.boundary_store, app.state.disk_cache, app.state.admission
    )
    app.state.cursors = CursorSigner(settings.data_dir)  # signs page cursors of /v1/hotspots
    app.state.responses = ResponseCache(app.state.disk_cache, app.state.admission)
    install_error_handlers(app)
    # A URL validated and answered before is answered from the cache without routing; inside
    # the freshness and store-pinning middlewares, so its headers are the full way's.
    app.add_middleware(FastAnswers)
    app.add_middleware(FreshnessMiddleware)  # X-Data-Freshness on every answer, a line on pages
    app.include_router(health.router)
    routers = (boundaries, hotspots, profiles, maps, weights, coverage)
    planning = (compare, allocate, displacement, backtest)
    for module in routers + planning:
        app.include_router(module.router, prefix="/v1")
    app.include_router(start.router)  # the pages a person starts from: /, /areas/...
    app.add_middleware(PinStoreVersion)
    app.add_middleware(HeadAsGet)  # outermost: HEAD is answered wherever GET is
    install_parameter_examples(app)
    install_error_documentation(app)
    install_api_docs(app)
    mount_static(app)  # Leaflet for the map pages, served here: council networks block CDNs
    return app


class PinStoreVersion:
    """Every request reads one store version: the first read pins the manifest, and the study,
    its window, its coverage and the data version it reports all come from that one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with pinned_reads():
            await self.app(scope, receive, send)
