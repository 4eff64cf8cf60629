"""One way to name an area everywhere: by its code (E05012268) or its exact name, any case
("Tormohun", "tormohun"). Every route and command that takes an area resolves it here, so a
name that works on one page works on all of them.

An unknown name is an ``UnknownAreaError`` whose message lists the closest names of the set
(difflib's ratio, the standard library's fuzzy match), so a typo is one click from its fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow.parquet as pq

from boundaries.errors import BoundaryError
from boundaries.store import BoundaryStore
from pipelines.errors import NotFoundError
from pipelines.quoting import quoted

CLOSE_MATCHES = 5
LIST_ALL_UP_TO = 30  # areas named in full in an "unknown area" message for a small set
_MATCH_CUTOFF = 0.5  # difflib ratio below which a name is not offered as "did you mean"


class UnknownAreaError(NotFoundError, BoundaryError):
    """No area of the set has this code or name (HTTP 404); the message offers close matches."""


@dataclass(frozen=True)
class AreaDirectory:
    """The codes and names of one boundary set's areas, in the set's order. ``listed_by`` is
    where the asker can list them all (an address for the service, a command for the CLI)."""

    set_name: str
    codes: tuple[str, ...]
    names: tuple[str, ...]
    listed_by: str = ""

    @property
    def listing(self) -> str:
        return self.listed_by or f"GET /v1/boundaries/{self.set_name}/areas"

    def name_of(self, code: str) -> str:
        return self.names[self.codes.index(code)]

    def resolve(self, value: str) -> str:
        """The code of the area named ``value`` (a code, or a name in any case)."""
        wanted = value.strip()
        if wanted in self.codes:
            return wanted
        folded = wanted.casefold()
        by_code = [c for c in self.codes if c.casefold() == folded]
        if by_code:
            return by_code[0]
        by_name = [c for c, n in zip(self.codes, self.names, strict=True) if n.casefold() == folded]
        if len(by_name) == 1:
            return by_name[0]
        if len(by_name) > 1:  # two areas of one set share a name: only the code can say which
            raise UnknownAreaError(
                f"{len(by_name)} areas of {quoted(self.set_name)} are named {quoted(value)}: "
                f"give the code instead ({', '.join(by_name)})"
            )
        raise UnknownAreaError(self._unknown_message(wanted))

    def resolve_all(self, values: Iterable[str]) -> tuple[str, ...]:
        """Codes of every value, first occurrence kept."""
        return tuple(dict.fromkeys(self.resolve(value) for value in values))

    def close_matches(self, value: str, limit: int = CLOSE_MATCHES) -> list[str]:
        """Names (and codes) of the set nearest to ``value``, best first; names starting with
        it come first, so a half-typed name finds its area."""
        folded = value.casefold()
        starts = [n for n in self.names if folded and n.casefold().startswith(folded)]
        lookup = {n.casefold(): n for n in self.names} | {c.casefold(): c for c in self.codes}
        fuzzy = difflib.get_close_matches(folded, list(lookup), n=limit, cutoff=_MATCH_CUTOFF)
        return list(dict.fromkeys([*starts, *(lookup[m] for m in fuzzy)]))[:limit]

    def _unknown_message(self, value: str) -> str:
        matches = self.close_matches(value)
        if matches:
            hint = f"; did you mean {', '.join(quoted(m) for m in matches)}?"
        elif len(self.codes) <= LIST_ALL_UP_TO:  # a small set: every area fits in the message
            listed = ", ".join(f"{n} ({c})" for c, n in zip(self.codes, self.names, strict=True))
            hint = f"; its areas are {listed} ({self.listing})"
        else:
            hint = f"; {self.listing} lists its {len(self.codes)} areas"
        in_set = f"in boundary set {quoted(self.set_name)}"
        return f"no area with code or name {quoted(value)} {in_set}{hint}"


def area_directory(store: BoundaryStore, set_name: str, listed_by: str = "") -> AreaDirectory:
    """The set's codes and names, read without geometry; BoundaryError for an unknown set."""
    store.describe(set_name)  # the clear "no boundary set named ..." error, with the set list
    # ParquetFile, not read_table: read_table imports pyarrow.dataset (a study needs none).
    table = pq.ParquetFile(store.path(set_name)).read(columns=["code", "name"])
    codes = tuple(str(c) for c in table.column("code").to_pylist())
    names = tuple(str(n) for n in table.column("name").to_pylist())
    return AreaDirectory(set_name, codes, names, listed_by)


def resolve_areas(
    store: BoundaryStore, set_name: str, values: Iterable[str], listed_by: str = ""
) -> tuple[str, ...]:
    """The codes of ``values`` (codes or names) in the set; nothing asked, nothing read."""
    values = tuple(values)
    if not values:
        return ()
    return area_directory(store, set_name, listed_by).resolve_all(values)
