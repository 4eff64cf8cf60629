"""A polite async client for data.police.uk: rate-limited, retried, and honest about the 503 cap.

Rules this client follows, from https://data.police.uk/docs/api-call-limits/ and /docs/method/:

* 15 requests per second on average with bursts of 30: a client-side leaky bucket
  (``AsyncLimiter(30, 2.0)``) paces every attempt, and a 429's ``Retry-After`` pauses all requests.
* At most ``in_flight`` requests at once, so a big area does not open hundreds of sockets.
* A ``poly`` URL longer than 4,094 characters is refused by the server, so it goes as a form POST.
* ``crimes-street`` answers 503 when the area holds more than 10,000 crimes. A 503 *without*
  ``Retry-After`` from crimes-street is taken as that cap (:class:`OverCapError`, split the area);
  a 503 *with* ``Retry-After``, or from any other endpoint, is a transient outage and is retried,
  like 429, other 5xx, timeouts and dropped connections (exponential back-off with jitter).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

DEFAULT_BASE_URL = "https://data.police.uk/api"
BASE_URL_ENV = "HOTSPOTS_POLICE_API"
ATTEMPTS_ENV = "HOTSPOTS_API_ATTEMPTS"
BACKOFF_ENV = "HOTSPOTS_API_BACKOFF"
MAX_GET_URL = 4094
# Longest Retry-After we sit out; a server asking for more is treated as down.
_MAX_RETRY_AFTER = 60.0


class ApiError(Exception):
    """The API could not give an answer (gave up after retries, refused the request, bad reply)."""


class RequestRefused(ApiError):
    """A 4xx answer: the request itself is wrong (unknown force, bad poly), retrying cannot help."""


class OverCapError(Exception):
    """crimes-street refused an area holding more crimes than its cap: split it and ask again."""


class _Transient(Exception):
    """An answer worth retrying; ``retry_after`` is the server's requested pause, if any."""

    def __init__(self, message: str, retry_after: float | None = None, rate_limited: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_limited = rate_limited


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying. 429s get a larger budget: they mean "slower", not "broken"."""

    attempts: int = 6
    backoff: float = 0.5  # first back-off in seconds; doubles each attempt, with jitter
    max_backoff: float = 30.0
    rate_limited_attempts: int = 20

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """Overrides from $HOTSPOTS_API_ATTEMPTS / $HOTSPOTS_API_BACKOFF (tests and slow links)."""
        policy = cls()
        attempts = os.environ.get(ATTEMPTS_ENV)
        backoff = os.environ.get(BACKOFF_ENV)
        return cls(
            attempts=max(1, int(attempts)) if attempts else policy.attempts,
            backoff=max(0.0, float(backoff)) if backoff else policy.backoff,
        )


def resolve_base_url(explicit: str | None = None) -> str:
    """--base-url if given, else $HOTSPOTS_POLICE_API, else the public API."""
    return (explicit or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


@dataclass
class ClientStats:
    requests: int = 0  # logical requests answered (retries not counted)
    attempts: int = 0  # HTTP attempts, retries included
    posts: int = 0
    retries: int = 0
    rate_limited: int = 0


class PoliceApiClient:
    """data.police.uk endpoints the ingest needs; use as ``async with PoliceApiClient(...)``."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        in_flight: int = 8,
        limiter: AsyncLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.stats = ClientStats()
        self._limiter = limiter or AsyncLimiter(30, 2.0)
        self._slots = asyncio.Semaphore(in_flight)
        self._resume_at = 0.0  # monotonic time before which no request may start (Retry-After)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight),
            headers={"User-Agent": "crime-hotspots (community safety hotspot evidence)"},
        )

    async def __aenter__(self) -> PoliceApiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- endpoints --------------------------------------------------------------------------------

    async def available_months(self) -> list[str]:
        """Months police.uk has street crime for (``crimes-street-dates``), oldest first."""
        answer = await self._call("GET", "crimes-street-dates", {})
        if not isinstance(answer, list):
            raise ApiError("crimes-street-dates did not answer a list of months")
        dates = {str(item["date"]) for item in answer if isinstance(item, dict) and "date" in item}
        return sorted(dates)

    async def street_crimes(self, poly: str, month: str) -> list[dict]:
        """All crimes in one ``poly`` ring for a month; OverCapError when the area is too busy."""
        params = {"poly": poly, "date": month}
        url = httpx.URL(f"{self.base_url}/crimes-street/all-crime", params=params)
        method = "POST" if len(str(url)) > MAX_GET_URL else "GET"
        answer = await self._call(method, "crimes-street/all-crime", params, over_cap=True)
        return _list_of_objects(answer, "crimes-street/all-crime")

    async def no_location_crimes(self, force: str, month: str) -> list[dict]:
        """Crimes of a force-month with no map point (``crimes-no-location``, all categories)."""
        params = {"category": "all-crime", "force": force, "date": month}
        answer = await self._call("GET", "crimes-no-location", params)
        return _list_of_objects(answer, "crimes-no-location")

    # -- plumbing ---------------------------------------------------------------------------------

    async def _call(
        self, method: str, endpoint: str, params: dict[str, str], *, over_cap: bool = False
    ) -> Any:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Transient),
            stop=self._stop,
            wait=self._wait,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    answer = await self._attempt(method, endpoint, params, over_cap)
        except _Transient as exc:
            tries = retrying.statistics.get("attempt_number", "several")
            raise ApiError(f"{endpoint} failed {tries} times at {self.base_url}: {exc}") from None
        self.stats.requests += 1
        return answer

    async def _attempt(
        self, method: str, endpoint: str, params: dict[str, str], over_cap: bool
    ) -> Any:
        url = f"{self.base_url}/{endpoint}"
        async with self._slots:
            pause = self._resume_at - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            await self._limiter.acquire()
            self.stats.attempts += 1
            try:
                if method == "POST":
                    self.stats.posts += 1
                    response = await self._http.post(url, data=params)
                else:
                    response = await self._http.get(url, params=params)
            except httpx.TimeoutException:
                raise _Transient("timed out") from None
            except httpx.TransportError as exc:
                raise _Transient(f"cannot connect ({type(exc).__name__}: {exc})") from None
        return self._read(response, endpoint, over_cap)

    def _read(self, response: httpx.Response, endpoint: str, over_cap: bool) -> Any:
        status = response.status_code
        retry_after = _retry_after(response)
        if status == 429:
            self.stats.rate_limited += 1
            if retry_after is not None:
                self._resume_at = max(self._resume_at, time.monotonic() + retry_after)
            raise _Transient("rate limited (429)", retry_after, rate_limited=True)
        if status == 503 and over_cap and retry_after is None:
            raise OverCapError(endpoint)
        if status >= 500:
            raise _Transient(f"server error {status}", retry_after)
        if status == 404 and endpoint == "crimes-no-location":
            force = response.url.params.get("force")
            raise RequestRefused(f"police.uk does not know force {force!r}")
        if status >= 400:
            raise RequestRefused(f"{endpoint} refused the request: HTTP {status}")
        try:
            return orjson.loads(response.content) if response.content else []
        except orjson.JSONDecodeError:
            raise ApiError(f"{endpoint} did not answer JSON (HTTP {status})") from None

    def _stop(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        limit = self.retry.attempts
        if isinstance(exc, _Transient) and exc.rate_limited:
            limit = self.retry.rate_limited_attempts
        return state.attempt_number >= limit

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return exc.retry_after
        ceiling = min(self.retry.max_backoff, self.retry.backoff * 2 ** (state.attempt_number - 1))
        # Jitter, so parts that failed together do not all retry in the same instant.
        return random.uniform(ceiling / 2, ceiling)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.retries += 1


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is not used by police.uk)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def _list_of_objects(answer: Any, endpoint: str) -> list[dict]:
    if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
        raise ApiError(f"{endpoint} did not answer a list of crimes")
    return answer
