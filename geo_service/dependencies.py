"""What routers receive: settings, the stores, the study cache, and the API-key checks."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from boundaries.store import BoundaryStore
from geo_service.admission import Admission
from geo_service.paging import CursorSigner
from geo_service.response_cache import ResponseCache
from geo_service.results import StudyCache, data_version
from geo_service.settings import Settings
from pipelines.store import CrimeStore


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> CrimeStore:
    return request.app.state.store


def get_boundary_store(request: Request) -> BoundaryStore:
    return request.app.state.boundary_store


def get_cache(request: Request) -> StudyCache:
    return request.app.state.cache


def get_response_cache(request: Request) -> ResponseCache:
    return request.app.state.responses


def get_admission(request: Request) -> Admission:
    return request.app.state.admission


def get_cursors(request: Request) -> CursorSigner:
    return request.app.state.cursors


# What a route names to receive them: ``store: StoreDep``.
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[CrimeStore, Depends(get_store)]
BoundaryStoreDep = Annotated[BoundaryStore, Depends(get_boundary_store)]
CacheDep = Annotated[StudyCache, Depends(get_cache)]
ResponsesDep = Annotated[ResponseCache, Depends(get_response_cache)]
AdmissionDep = Annotated[Admission, Depends(get_admission)]
CursorsDep = Annotated[CursorSigner, Depends(get_cursors)]


def current_version(request: Request, *set_names: str) -> str:
    """The data version a response about the boundary set(s) ``set_names`` is computed on (the
    request's pinned store version and the sets' files; see results.data_version)."""
    state = request.app.state
    return data_version(state.store, state.boundary_store, *set_names)


def version_source(request: Request, *set_names: str) -> Callable[[], str]:
    """A function giving :func:`current_version` of the sets at the time it is called: what a
    cached route gives the response cache so a repeat of its URL can take the short way."""
    state = request.app.state
    return functools.partial(data_version, state.store, state.boundary_store, *set_names)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _known_hashes(settings: Settings) -> list[str]:
    if settings.api_keys_file is None or not settings.api_keys_file.exists():
        return []
    lines = settings.api_keys_file.read_text(encoding="utf-8").splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


def check_key(settings: Settings, key: str | None) -> None:
    """401 without a key, 403 with a wrong one; compared in constant time, as hashes."""
    if not key:
        raise HTTPException(401, "this needs an API key: send it in the X-API-Key header")
    offered = hash_key(key)
    if not any(hmac.compare_digest(offered, known) for known in _known_hashes(settings)):
        raise HTTPException(403, "the API key in X-API-Key is not valid")


def require_write_key(
    request: Request, x_api_key: str | None = Header(default=None, alias="X-API-Key")
) -> None:
    check_key(get_settings(request), x_api_key)


def require_read_access(
    request: Request, x_api_key: str | None = Header(default=None, alias="X-API-Key")
) -> None:
    settings = get_settings(request)
    if settings.read_access == "keyed":
        check_key(settings, x_api_key)
